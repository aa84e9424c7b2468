"""The scrubber (gan_lessons.widgets): precomputed frames, slider, headless fallback, live mode."""
import io
import re

import numpy as np
import pytest
import torch
from IPython.utils.capture import capture_output
from PIL import Image

from gan_lessons import models, toy, train, widgets
from gan_lessons.history import History

pytestmark = pytest.mark.usefixtures("one_thread")  # fixture in conftest.py


@pytest.fixture(scope="module")
def h1d():
    torch.manual_seed(0)
    G, D = models.MLPGenerator(1, 1, hidden=16), models.MLPDiscriminator(1, hidden=16)
    return train.train(G, D, toy.Gaussian1D(), 50, batch_size=64, record_every=10, progress=False)


@pytest.fixture(scope="module", autouse=True)
def ipython_shell(tmp_path_factory):
    """An IPython shell, so `display` goes through it and `capture_output` sees the outputs."""
    import os

    from IPython.core.interactiveshell import InteractiveShell

    os.environ.setdefault("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
    return InteractiveShell.instance()


@pytest.fixture
def widget_mode(monkeypatch):
    monkeypatch.delenv("GAN_LESSONS_HEADLESS", raising=False)


@pytest.fixture
def headless_mode(monkeypatch):
    monkeypatch.setenv("GAN_LESSONS_HEADLESS", "1")


def _pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_scrub_precomputes_every_frame_and_the_slider_spans_the_snapshots(h1d, widget_mode):
    s = widgets.scrub(h1d)
    assert isinstance(s, widgets.Scrubber)
    assert sorted(s.frames) == list(range(len(h1d)))  # all drawn before the widget is shown
    assert all(png.startswith(b"\x89PNG") for png in s.frames.values())
    assert (s.slider.min, s.slider.max, s.play.max) == (0, len(h1d) - 1, len(h1d) - 1)
    assert s.slider.value == len(h1d) - 1 and s.image.value == s.frames[len(h1d) - 1]
    assert s.link.source == (s.play, "value") and s.link.target == (s.slider, "value")
    bundle = s._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_moving_the_slider_swaps_the_picture_without_drawing(h1d, widget_mode, monkeypatch):
    s = widgets.scrub(h1d)
    last = s.image.value
    monkeypatch.setattr(s.renderer, "png", lambda i: pytest.fail("a precomputed frame was drawn again"))
    s.slider.value = 1
    assert s.image.value == s.frames[1] != last
    assert s.label.value.startswith(f"step {h1d[1]['step']} ")
    assert not np.array_equal(_pixels(s.image.value), _pixels(last))


def test_max_frames_subsamples_evenly_keeping_first_and_last(h1d, widget_mode):
    s = widgets.scrub(h1d, max_frames=3)
    assert s.indices == [0, 2, 5] and s.slider.max == 2
    assert widgets.frame_indices(100, 40)[:2] == [0, 3] and widgets.frame_indices(100, 40)[-1] == 99
    assert len(widgets.frame_indices(100, 40)) == 40


def test_blitted_frames_do_not_depend_on_drawing_order(h1d):
    r = widgets.FrameRenderer(h1d)
    first = r.rgb(2)
    r.rgb(0), r.rgb(5)
    np.testing.assert_array_equal(r.rgb(2), first)
    assert not np.array_equal(r.rgb(0), first)


def test_headless_scrub_shows_a_captioned_still_and_a_player_for_the_site(h1d, headless_mode):
    """One picture with a caption where JavaScript does not run (GitHub, an untrusted JupyterLab
    notebook), and one offline player that only the course's HTML site renders."""
    with capture_output() as cap:
        result = widgets.scrub(h1d)
    assert result is None  # no widget
    assert len(cap.outputs) == 3
    png_out, caption, player = cap.outputs
    assert "image/png" in png_out.data and "application/vnd.jupyter.widget-view+json" not in png_out.data
    assert png_out.metadata == {"gan_lessons": "still"} and caption.metadata == {"gan_lessons": "still"}
    text = caption.data["text/markdown"]
    assert f"step {h1d.last_step}" in text and "run this cell" in text and "slider" in text
    assert player.metadata == {"gan_lessons": "player"}
    assert "text/html" not in player.data and player.data["text/plain"] == "", \
        "frontends without our renderer must show nothing for the player, not a broken one"
    html = player.data[widgets.PLAYER_MIME]
    assert "<script" in html and "Animation(" in html
    assert html.count("data:image/png;base64,") == len(h1d)  # 6 snapshots <= 30 frames: all of them
    assert not re.search(r"https?://", html), "the animation must not need the network"
    assert "fa fa-" not in html  # icons are plain characters, not a web font


def test_headless_animation_subsamples_to_max_frames():
    torch.manual_seed(0)
    G, D = models.MLPGenerator(1, 1, hidden=8), models.MLPDiscriminator(1, hidden=8)
    h = train.train(G, D, toy.Gaussian1D(), 40, batch_size=16, record_every=1, progress=False)
    html = widgets.animation_html(h, max_frames=5, dpi=30)
    assert html.count("data:image/png;base64,") == 5


def test_empty_history_gives_the_clear_error(widget_mode):
    with pytest.raises(ValueError, match="empty history"):
        widgets.scrub(History("1d", {"loss": "bce"}))
    with pytest.raises(TypeError, match="needs a History"):
        widgets.scrub("history.pt")


def test_live_scrubber_follows_training_then_scrubs(widget_mode):
    torch.manual_seed(0)
    G, D = models.MLPGenerator(1, 1, hidden=16), models.MLPDiscriminator(1, hidden=16)
    live = widgets.LiveScrubber(min_interval=0)  # draw every snapshot
    with capture_output() as cap:
        h = train.train(G, D, toy.Gaussian1D(), 40, batch_size=32, record_every=10, progress=False,
                        callback=live.update)
    assert len(cap.outputs) == 1  # displayed once, at the first snapshot
    assert live.updates == len(h) == 5 and live.drawn == 5
    s = live.scrubber
    assert s.slider.max == len(h) - 1 and s.slider.value == len(h) - 1
    assert s.label.value.startswith("step 40 ")
    s.slider.value = 0  # scrub back afterwards
    assert s.label.value.startswith("step 0 ")
    assert not np.array_equal(_pixels(s.image.value), _pixels(s.frames[len(h) - 1]))


def test_live_scrubber_skips_drawing_when_snapshots_come_fast(widget_mode):
    torch.manual_seed(0)
    G, D = models.MLPGenerator(1, 1, hidden=8), models.MLPDiscriminator(1, hidden=8)
    live = widgets.LiveScrubber(min_interval=3600)  # only the first and the final snapshot
    with capture_output():
        h = train.train(G, D, toy.Gaussian1D(), 20, batch_size=16, record_every=2, progress=False,
                        callback=live.update)
    assert live.updates == len(h) == 11 and live.drawn == 2
    assert live.scrubber.slider.max == 10 and live.scrubber.label.value.startswith("step 20 ")
    live.scrubber.slider.value = 4  # a skipped snapshot is drawn when scrubbed to
    assert 4 in live.scrubber.frames


def test_live_scrubber_headless_updates_one_picture(headless_mode):
    torch.manual_seed(0)
    G, D = models.MLPGenerator(1, 1, hidden=8), models.MLPDiscriminator(1, hidden=8)
    live = widgets.LiveScrubber(min_interval=0)
    with capture_output() as cap:
        train.train(G, D, toy.Gaussian1D(), 20, batch_size=16, record_every=10, progress=False, callback=live.update)
        live.finish()
    assert live.scrubber is None  # no widget
    new_pictures = [o for o in cap.outputs if "image/png" in o.data and not getattr(o, "update", False)]
    assert len(new_pictures) == 1, "one picture, updated in place"
    assert all(o.metadata.get("gan_lessons") in ("still", "player") for o in cap.outputs)
    assert any("Animation(" in o.data.get(widgets.PLAYER_MIME, "") for o in cap.outputs)


def test_live_finish_before_training_is_a_clear_error():
    with pytest.raises(ValueError, match="callback=live.update"):
        widgets.LiveScrubber().finish()

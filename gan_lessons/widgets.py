"""The scrubber: move through a training run's snapshots with a slider or a Play button (lessons 05-07).

    history = gl.train.train(G, D, data, steps, record_every=20)
    gl.widgets.scrub(history)                     # a Play button and a slider over the snapshots

    live = gl.widgets.LiveScrubber()              # or watch it while it trains ...
    history = gl.train.train(G, D, data, steps, callback=live.update)
    # ... and scrub the same picture afterwards.

Each frame shows the view that fits the run (1-D, 2-D or images, see `gan_lessons.plots`) next to
the training curves, with a marker at the frame's step. The frames are drawn once, to PNG bytes,
before the widget appears; moving the slider then only swaps the bytes of one `ipywidgets.Image`,
so a frame is instant (no matplotlib work while you scrub).

Headless fallback: when the environment variable ``GAN_LESSONS_HEADLESS=1`` is set (the tests,
papermill and `gan-lessons run` set it) no widget is created. `scrub` then displays two static
outputs instead: the last frame as a PNG image (what GitHub and any viewer show) and a
self-contained JavaScript animation (matplotlib's ``to_jshtml`` player, at most 30 frames
embedded, no network access) that gives an exported HTML page a working offline scrubber.
Tag cells that show a scrubber ``nbval-ignore-output``.
"""
import io
import numbers
import os
import re
import time

import numpy as np

from .history import History
from .plots import frames

DEFAULT_DPI = 80  # frames on screen; the HTML animation uses 60 to keep notebooks small


def headless():
    """True when GAN_LESSONS_HEADLESS is set to 1 (or true/yes): show static output, not widgets."""
    return os.environ.get("GAN_LESSONS_HEADLESS", "").strip().lower() in ("1", "true", "yes", "on")


def _check_options(who, max_frames=None, dpi=DEFAULT_DPI, interval=200, **counts):
    """Clear errors for a frame count, dpi or interval that cannot work (0, negative, not a number)."""
    for name, value in dict(counts, max_frames=max_frames).items():
        if value is not None and (not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{who}: {name} must be a whole number >= 1 (or None for every snapshot), got {value!r}.")
    for name, value in (("dpi", dpi), ("interval", interval)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
            raise ValueError(f"{who}: {name} must be a positive number, got {value!r} "
                             f"(defaults: dpi={DEFAULT_DPI}, interval=200 ms).")


def frame_indices(n, max_frames=None):
    """Indices of at most `max_frames` snapshots out of n, evenly spread, first and last included."""
    _check_options("frame_indices", max_frames)
    if n <= 0:
        return []
    if max_frames is None or n <= max_frames:
        return list(range(n))
    if max_frames < 2:
        return [n - 1]
    return sorted(set(np.linspace(0, n - 1, max_frames).round().astype(int).tolist()))


def _new_figure(history, dpi):
    """A figure outside pyplot (so frames never pile up in a notebook or leak memory)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=frames.FIGSIZE[history.kind], dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _encode_png(rgb, colors=128):
    """uint8 [h, w, 3] -> PNG bytes with a palette of `colors` colours (about 3x smaller than
    full colour, and the plots have few colours anyway)."""
    from PIL import Image

    buf = io.BytesIO()
    img = Image.fromarray(rgb)
    if colors:
        img = img.quantize(colors=colors, method=Image.Quantize.FASTOCTREE)
    img.save(buf, format="png", compress_level=6)
    return buf.getvalue()


class FrameRenderer:
    """Draws the scrubber's frames (view + curves) as PNG bytes, quickly (used by `Scrubber`).

    The curves are the same in every frame except for the step marker, so they are drawn once and
    kept as a background bitmap; each frame redraws only the view and the marker on top of it
    (matplotlib's "blitting"). If the history has grown (live training), the background is redrawn.
    """

    def __init__(self, history, dpi=DEFAULT_DPI, colors=128):
        frames._check_history(history, "FrameRenderer")
        self.history = history
        self.dpi = dpi
        self.colors = colors
        self.fig = _new_figure(history, dpi)
        self._n = None  # number of snapshots the background was drawn with

    def _background(self):
        fig, h = self.fig, self.history
        fig.clear()
        self.view, loss_ax, out_ax = frames.layout(fig, h.kind)
        frames.plot_curves(h, -1, (loss_ax, out_ax), marker=False)
        step = h[-1]["step"]
        self.markers = [a.axvline(step, animated=True, **frames.MARKER_STYLE) for a in (loss_ax, out_ax)]
        self.view.set_visible(False)
        fig.canvas.draw()
        self.background = fig.canvas.copy_from_bbox(fig.bbox)
        self.view.set_visible(True)
        self._n = len(h)

    def rgb(self, i):
        """Snapshot i's frame as a uint8 [h, w, 3] array."""
        if self._n != len(self.history):
            self._background()
        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        self.view.cla()
        frames.plot_frame(self.history, i, self.view)
        self.fig.draw_artist(self.view)
        step = self.history[i]["step"]
        for m in self.markers:
            m.set_xdata([step, step])
            self.fig.draw_artist(m)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def png(self, i):
        """Snapshot i's frame as PNG bytes."""
        return _encode_png(self.rgb(i), self.colors)


def render_frame(history, i, dpi=DEFAULT_DPI):
    """Snapshot i (view + curves) as PNG bytes."""
    return FrameRenderer(history, dpi).png(i)


def render_frames(history, indices=None, dpi=DEFAULT_DPI):
    """PNG bytes for each snapshot index in `indices` (default: all), sharing one renderer."""
    renderer = FrameRenderer(history, dpi)
    indices = range(len(history)) if indices is None else indices
    return [renderer.png(i) for i in indices]


class Scrubber:
    """A Play button and a slider over a history's snapshots, above the frame (made by `scrub`).

    Made by `scrub(history)`; `.widget` is the ipywidgets box (shown when the Scrubber is the last
    expression of a cell). `.slider.value` is the frame number; `.indices[k]` the snapshot it shows.
    """

    def __init__(self, history, max_frames=None, dpi=DEFAULT_DPI, interval=200, precompute=True):
        import ipywidgets as widgets

        self.history = history
        self.dpi = dpi
        self.max_frames = max_frames
        self.indices = frame_indices(len(history), max_frames)
        self.frames = {}  # snapshot index -> PNG bytes
        self._n_drawn_with = len(history)  # the curves in the frames cover this many snapshots
        self.renderer = FrameRenderer(history, dpi)
        self.precompute_s = 0.0
        if precompute:
            from tqdm.auto import tqdm

            t0 = time.perf_counter()
            for i in tqdm(self.indices, desc="drawing the frames", leave=False, disable=len(self.indices) < 30):
                self.frame(i)
            self.precompute_s = time.perf_counter() - t0
        last = max(len(self.indices) - 1, 0)
        self.play = widgets.Play(min=0, max=last, value=last, step=1, interval=interval,
                                 description="Play", layout=widgets.Layout(width="auto"))
        self.slider = widgets.IntSlider(min=0, max=last, value=last, description="snapshot",
                                        continuous_update=True, readout=False,
                                        layout=widgets.Layout(width="420px"))
        # The browser keeps Play and the slider in step by itself (no round trip to the kernel).
        self.link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.label = widgets.Label()
        self.label.add_class("gan-lessons-step")
        # Natural size (the box would otherwise stretch the picture and blur it).
        width = int(round(frames.FIGSIZE[history.kind][0] * dpi))
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=f"{width}px", max_width="100%"))
        self.slider.observe(self._on_slider, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.play, self.slider, self.label]), self.image])
        self.widget.add_class("gan-lessons-scrubber")
        if self.indices:
            self.show(self.slider.value)

    # -- frames ---------------------------------------------------------------------------------
    def frame(self, i):
        """PNG bytes of snapshot i, drawn on first use and kept."""
        if i not in self.frames:
            self.frames[i] = self.renderer.png(i)
        return self.frames[i]

    def show(self, k):
        """Show frame k (a slider position): swap the image's bytes, update the step label."""
        i = self.indices[k]
        self.image.value = self.frame(i)
        s = self.history[i]
        self.label.value = f"step {s['step']}  ({k + 1}/{len(self.indices)})"

    def _on_slider(self, change):
        self.show(change["new"])

    # -- growing while training (LiveScrubber) ----------------------------------------------------
    def refresh(self, follow=True):
        """Take in snapshots appended since the last call; move to the newest one if `follow`."""
        if len(self.history) != self._n_drawn_with:
            # Every frame shows the whole curves, which just got longer: redraw frames when next shown.
            self.frames.clear()
            self._n_drawn_with = len(self.history)
        self.indices = frame_indices(len(self.history), self.max_frames)
        last = max(len(self.indices) - 1, 0)
        self.play.max = last
        self.slider.max = last
        if follow:
            if self.slider.value == last:
                self.show(last)  # same value: no change event, so draw it ourselves
            else:
                self.slider.value = last
                self.play.value = last

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self):
        return f"Scrubber({len(self.indices)} frames of {self.history!r})"


# -- the headless fallback --------------------------------------------------------------------------
_ICONS = {"fa-minus": "&minus;", "fa-fast-backward": "&#10073;&#9664;&#9664;", "fa-step-backward": "&#10073;&#9664;",
          "fa-play fa-flip-horizontal": "&#9664;", "fa-pause": "&#10073;&#10073;", "fa-play": "&#9654;",
          "fa-step-forward": "&#9654;&#10073;", "fa-fast-forward": "&#9654;&#9654;&#10073;", "fa-plus": "+"}


def _offline_jshtml(html):
    """matplotlib's jshtml loads its button icons from a CDN; use plain characters instead."""
    html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*"\s*/?>', "", html)
    for cls, char in _ICONS.items():
        html = html.replace(f'<i class="fa {cls}"></i>', char)
    return html.replace('<img id="_anim_img', '<img alt="a snapshot of the training run" id="_anim_img')


def _html_player(pngs, interval):
    """matplotlib's offline JavaScript player (the HTMLWriter behind ``to_jshtml``) around ready PNGs."""
    import base64
    import tempfile
    from pathlib import Path

    from matplotlib.animation import HTMLWriter
    from matplotlib.figure import Figure

    writer = HTMLWriter(fps=1000 / interval, embed_frames=True, default_mode="once")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "scrubber.html")
        writer.setup(Figure(figsize=(1, 1)), path, dpi=72)
        writer.frame_format = "png"
        writer._saved_frames = [base64.encodebytes(png).decode("ascii") for png in pngs]
        writer.finish()
        return path.read_text()


def animation_html(history, max_frames=30, dpi=60, interval=250):
    """A self-contained HTML/JavaScript scrubber of at most `max_frames` snapshots (frames embedded
    as PNG, no network), for exported notebooks (used by `scrub` when headless)."""
    frames._check_history(history, "animation_html")
    pngs = render_frames(history, frame_indices(len(history), max_frames), dpi)
    try:
        html = _html_player(pngs, interval)
    except (AttributeError, TypeError):  # a matplotlib whose HTMLWriter changed: let it draw the frames
        from matplotlib.animation import FuncAnimation

        indices = frame_indices(len(history), max_frames)
        fig = _new_figure(history, dpi)
        anim = FuncAnimation(fig, lambda k: frames.draw_frame(fig, history, indices[k]), frames=len(indices),
                             interval=interval, repeat=False, init_func=lambda: None)
        html = anim.to_jshtml(embed_frames=True, default_mode="once")
    return _offline_jshtml(html)


# How a headless scrubber is stored in a notebook, so that each place that shows it shows one thing:
# - the last frame as a PNG with a caption, marked "still": what GitHub, and JupyterLab before the
#   cell is run, show (JupyterLab does not run a committed notebook's JavaScript until it is trusted);
# - the JavaScript player under its own MIME type, marked "player": JupyterLab and GitHub know no
#   renderer for it and show its empty text/plain; the course's HTML site (`gan-lessons site`)
#   drops the still picture and shows the player in its place (`course.notebooks.site_outputs`).
PLAYER_MIME = "application/vnd.gan-lessons.player+html"
OUTPUT_ROLE = "gan_lessons"  # output metadata key: "still" or "player"


def still_caption(history):
    """The caption under the still picture of a headless scrubber: what it is and how to scrub."""
    return (f"*The run's last snapshot (step {history.last_step}; {len(history)} snapshots recorded). "
            "A still picture: run this cell to scrub through the whole run with a slider and a Play button "
            "(in JupyterLab or Colab); in the course's HTML pages the frames play here.*")


def _display_static(history, max_frames=30, dpi=DEFAULT_DPI, interval=250):
    import base64

    from IPython.display import display

    png = render_frame(history, len(history) - 1, dpi)
    display({"image/png": base64.b64encode(png).decode("ascii"),
             "text/plain": f"<last frame of the run: step {history.last_step}>"}, raw=True,
            metadata={OUTPUT_ROLE: "still"})
    _display_caption(history)
    _display_player(history, max_frames, interval)


def _display_caption(history):
    from IPython.display import display

    text = still_caption(history)
    display({"text/markdown": text, "text/plain": text.strip("*")}, raw=True, metadata={OUTPUT_ROLE: "still"})


def _display_player(history, max_frames=30, interval=250):
    from IPython.display import display

    display({PLAYER_MIME: animation_html(history, max_frames, interval=interval), "text/plain": ""}, raw=True,
            metadata={OUTPUT_ROLE: "player"})


def scrub(history, max_frames=None, dpi=DEFAULT_DPI, interval=200, headless_frames=30):
    """Scrub through a training run: Play button + slider over its snapshots (lessons 05, 06, 07).

    history: what `train` returned (or `History.load(path)`).
    max_frames: show at most this many snapshots, evenly spread (default: all of them).
    dpi: resolution of the frames (80: readable, small and quick to draw).
    interval: milliseconds between frames when playing.
    Returns a `Scrubber` (shown when it is the last expression of the cell). When
    GAN_LESSONS_HEADLESS=1 (executing notebooks for the repository and the site), shows the last
    frame as a still picture with a caption saying how to scrub, plus an offline HTML player of at
    most `headless_frames` snapshots for the course's HTML pages (see PLAYER_MIME), and returns None.
    """
    frames._check_history(history, "scrub")
    _check_options("scrub", max_frames, dpi, interval, headless_frames=headless_frames)
    if headless():
        _display_static(history, headless_frames, dpi, interval)
        return None
    return Scrubber(history, max_frames=max_frames, dpi=dpi, interval=interval)


class LiveScrubber:
    """A scrubber that follows training as it happens, then stays scrubbable.

        live = gl.widgets.LiveScrubber()
        history = gl.train.train(G, D, data, steps, record_every=20, callback=live.update)

    The picture appears with the first snapshot and moves to each new one. Drawing a frame takes
    ~0.1 s, so when snapshots come faster than that, some are drawn only when you scrub to them
    (training never waits more than ~1/3 of its time for pictures). When GAN_LESSONS_HEADLESS=1 it
    shows one picture that is updated in place instead of a widget; call `finish()` after
    training (optional) to add the offline animation there as well.

    Reused for another run (`update` gets a different History, e.g. the training cell was run
    again), it switches to the new run, says so once, and shows it as a new picture; the
    earlier run's picture stays as it was (scrub its history to look at it again).
    """

    def __init__(self, dpi=DEFAULT_DPI, interval=200, min_interval=None):
        self.dpi = dpi
        self.interval = interval
        self.min_interval = min_interval  # None: adapt to how long a frame takes to draw
        self.history = None
        self.scrubber = None
        self._handle = None  # headless: the display handle of the picture
        self._last_draw = -float("inf")
        self._draw_s = 0.1
        self._shown = False
        self.updates = 0
        self.drawn = 0

    def _due(self, history):
        """Draw now? Always for the first and the run's final snapshot; otherwise when the time since
        the last drawing is at least twice a drawing's duration (or `min_interval`)."""
        final = history.last_step >= history.meta.get("config", {}).get("steps", float("inf"))
        wait = self.min_interval if self.min_interval is not None else 2 * self._draw_s
        return self.drawn == 0 or final or time.perf_counter() - self._last_draw >= wait

    def _switch(self, history):
        """A new run: forget the old one's widget and counters, so the new run gets its own picture."""
        print(f"LiveScrubber: a new run ({history!r}); showing it from now on. The earlier run's picture "
              "stays as it was.")
        self.scrubber, self._handle, self._shown = None, None, False
        self.updates = self.drawn = 0
        self._last_draw = -float("inf")

    def update(self, history):
        """Give it to `train(..., callback=live.update)`; called with the history after each snapshot."""
        if not isinstance(history, History):
            raise TypeError("LiveScrubber.update is called by train with the run's History (pass "
                            f"callback=live.update to train); got {type(history).__name__}.")
        if self.history is not None and history is not self.history:
            self._switch(history)
        self.history = history
        self.updates += 1
        due = self._due(history)
        t0 = time.perf_counter()
        if headless():
            if due:
                from IPython.display import Image, display

                png = render_frame(history, len(history) - 1, self.dpi)
                if self._handle is None:
                    self._handle = display(Image(data=png, format="png"), display_id=True,
                                           metadata={OUTPUT_ROLE: "still"})
                else:  # an update replaces the output's metadata too: keep the mark
                    self._handle.update(Image(data=png, format="png"), metadata={OUTPUT_ROLE: "still"})
        elif self.scrubber is None:
            self.scrubber = Scrubber(history, dpi=self.dpi, interval=self.interval, precompute=False)
            if not self._shown:
                from IPython.display import display

                display(self)
        elif due:
            self.scrubber.refresh(follow=True)
        else:  # a longer slider, same picture; the new frames are drawn when scrubbed to
            self.scrubber.refresh(follow=False)
        if due:
            self.drawn += 1
            self._last_draw = time.perf_counter()
            self._draw_s = self._last_draw - t0

    def finish(self):
        """Headless: add the offline animation below the picture. With widgets: show the newest
        snapshot (in case the last one was skipped). Returns self."""
        if self.history is None:
            raise ValueError("LiveScrubber.finish(): no snapshots yet. Pass live.update as train's "
                             "callback first: train(..., callback=live.update).")
        if headless():
            from IPython.display import Image

            if self._handle is None:
                _display_static(self.history, dpi=self.dpi, interval=self.interval)
            else:  # the picture that followed training becomes the last frame; the player goes below it
                self._handle.update(Image(data=render_frame(self.history, len(self.history) - 1, self.dpi),
                                          format="png"), metadata={OUTPUT_ROLE: "still"})
                _display_caption(self.history)
                _display_player(self.history, interval=self.interval)
        elif self.scrubber is not None:
            self.scrubber.refresh(follow=True)
        return self

    @property
    def widget(self):
        return None if self.scrubber is None else self.scrubber.widget

    def _repr_mimebundle_(self, **kwargs):
        if self.scrubber is None:
            return {"text/plain": "LiveScrubber (waiting for the first snapshot: pass live.update as "
                                  "train's callback)"}
        self._shown = True
        return self.scrubber._repr_mimebundle_(**kwargs)

    def __repr__(self):
        return f"LiveScrubber({self.updates} updates, {self.drawn} drawn)"


__all__ = ["scrub", "Scrubber", "LiveScrubber", "headless", "render_frame", "render_frames",
           "animation_html", "frame_indices"]

"""The views in gan_lessons.plots: each kind draws the right things, errors are clear."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

from gan_lessons import models, plots, toy, train  # noqa: E402
from gan_lessons.history import History  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_thread")  # fixture in conftest.py


def _run(G, D, data, steps, **kw):
    torch.manual_seed(0)
    return train.train(G, D, data, steps, progress=False, **kw)


@pytest.fixture(scope="module")
def h1d():
    return _run(models.MLPGenerator(1, 1, hidden=16), models.MLPDiscriminator(1, hidden=16), toy.Gaussian1D(), 30,
                batch_size=64, record_every=10)


@pytest.fixture(scope="module")
def h2d():
    return _run(models.MLPGenerator(2, 2, hidden=16), models.MLPDiscriminator(2, hidden=16), toy.Ring2D(), 20,
                batch_size=64, record_every=10)


@pytest.fixture(scope="module")
def h2d_critic():
    return _run(models.MLPGenerator(2, 2, hidden=16), models.MLPCritic(2, hidden=16), toy.Ring2D(), 10,
                batch_size=32, record_every=5, loss="wgan-gp")


@pytest.fixture(scope="module")
def himg():
    images = torch.rand(64, 1, 28, 28) * 2 - 1  # the views do not care what the pictures are
    return _run(models.MLPGenerator(8, (1, 28, 28), hidden=32), models.MLPDiscriminator((1, 28, 28), hidden=32),
                images, 10, batch_size=16, record_every=5, n_fixed=16)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _line(ax, label_start):
    lines = [l for l in ax.get_lines() if l.get_label().startswith(label_start)]
    assert len(lines) == 1, [l.get_label() for l in ax.get_lines()]
    return lines[0]


def test_1d_view_draws_densities_d_and_optimal_d(h1d):
    ax = plots.plot_snapshot(h1d, -1)
    s, meta = h1d[-1], h1d.meta
    np.testing.assert_allclose(_line(ax, "$p_{data}$").get_ydata(), meta["p_data"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(_line(ax, "$p_g$").get_ydata(), s["p_g"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(_line(ax, "D(x)").get_ydata(), s["d_grid"].numpy(), rtol=1e-6)
    # D* = p_data / (p_data + p_g) wherever it is drawn (it is left out where both densities vanish).
    d_star = _line(ax, "$D^*").get_ydata()
    expected = (meta["p_data"] / (meta["p_data"] + s["p_g"])).numpy()
    shown = np.isfinite(d_star)
    assert shown.sum() > 50
    np.testing.assert_allclose(d_star[shown], expected[shown], rtol=1e-4)
    assert ax.get_legend() is not None and ax.get_xlabel() == "x"
    assert f"step {s['step']}" in ax.get_title()


def test_1d_view_draws_the_z_to_x_mapping(h1d):
    ax = plots.plot_snapshot(h1d, 1)
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = lines.get_segments()
    z = h1d.meta["z_line"][::2]
    assert len(segments) == len(z)
    upper_ends = np.array([seg[1][0] for seg in segments])  # each line ends at x = G(z)
    np.testing.assert_allclose(upper_ends, h1d[1]["x_of_z"][::2].numpy(), rtol=1e-6)
    lower = np.array([seg[0][0] for seg in segments])
    assert np.all(np.diff(lower) > 0)  # z values spread left to right, in order


def test_2d_view(h2d):
    ax = plots.plot_snapshot(h2d, -1)
    assert len([a for a in ax.get_images() if isinstance(a, AxesImage)]) == 1  # D's heat map
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert {c.get_label() for c in scatters} == {"real", "generated"}
    fake = [c for c in scatters if c.get_label() == "generated"][0]
    np.testing.assert_allclose(fake.get_offsets(), h2d[-1]["samples"][:500].numpy(), rtol=1e-6)
    quivers = [c for c in ax.collections if isinstance(c, Quiver)]
    assert len(quivers) == 1 and quivers[0].N == h2d.meta["field_xy"].shape[0] ** 2
    assert f"modes covered {h2d[-1]['modes_covered']}/8" in ax.get_title()


def test_2d_view_of_a_critic_run_uses_the_scores_range(h2d_critic):
    ax = plots.plot_snapshot(h2d_critic, -1)
    (im,) = ax.get_images()
    d = h2d_critic[-1]["d_grid"]
    assert im.get_clim() == pytest.approx((float(d.min()), float(d.max())))


def test_images_view_shows_samples_with_scores(himg):
    ax = plots.plot_snapshot(himg, -1)
    (im,) = ax.get_images()
    assert im.get_array().shape[0] > 4 * 28  # a 4x4 mosaic of 28x28 samples
    texts = [t.get_text() for t in ax.texts]
    assert texts == [f"{v:.2f}" for v in himg[-1]["sample_scores"][:16].tolist()]


def test_curves_for_bce_have_the_half_line_and_a_step_marker(h1d):
    ax_loss, ax_out = plots.plot_curves(h1d, 1)
    labels = [l.get_label() for l in ax_out.get_lines()]
    assert "1/2" in labels and "mean D(x), real" in labels and "mean D(G(z)), fake" in labels
    np.testing.assert_allclose(_line(ax_loss, "D loss").get_ydata(), h1d.series("d_loss"), equal_nan=True)
    markers = [l for l in ax_loss.get_lines() if list(l.get_xdata()) == [h1d[1]["step"]] * 2]
    assert len(markers) == 1


def test_curves_for_a_critic_show_scores_and_no_half_line(h2d_critic):
    _, ax_out = plots.plot_curves(h2d_critic)
    labels = [l.get_label() for l in ax_out.get_lines()]
    assert "1/2" not in labels and "mean critic(x), real" in labels
    assert ax_out.get_ylabel() == "mean critic score"


def test_curves_on_one_axes_use_a_twin(h1d):
    fig, ax = plt.subplots()
    ax_loss, ax_out = plots.plot_curves(h1d, ax=ax)
    assert ax_loss is ax and ax_out is not ax and len(fig.axes) == 2


def test_plot_history_and_show_snapshot_make_figures(h1d, h2d, himg):
    for h in (h1d, h2d, himg):
        fig = plots.plot_history(h)
        assert len(fig.axes) == 3
        fig = plots.show_snapshot(h, 0)
        assert len(fig.axes) == 1


@pytest.mark.parametrize("fn", [plots.plot_snapshot, plots.plot_curves, plots.plot_history, plots.show_snapshot])
def test_empty_history_gives_the_clear_error(fn):
    with pytest.raises(ValueError, match="empty history"):
        fn(History("1d", {"loss": "bce"}))


def test_bad_index_and_bad_history(h1d):
    with pytest.raises(IndexError, match=r"out of range; this history has 4 snapshots"):
        plots.plot_snapshot(h1d, 4)
    with pytest.raises(TypeError, match="needs a History"):
        plots.plot_snapshot([1, 2, 3])

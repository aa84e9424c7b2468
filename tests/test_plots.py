"""The pictures in gan_lessons.plots: each view draws the right things (checked against the data it
was given, recomputed here with NumPy), and errors are clear."""
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
    lines = [line for line in ax.get_lines() if line.get_label().startswith(label_start)]
    assert len(lines) == 1, [line.get_label() for line in ax.get_lines()]
    return lines[0]


def test_1d_view_draws_densities_d_and_optimal_d(h1d):
    ax = plots.plot_frame(h1d, -1)
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
    ax = plots.plot_frame(h1d, 1)
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = lines.get_segments()
    z = h1d.meta["z_line"][::2]
    assert len(segments) == len(z)
    upper_ends = np.array([seg[1][0] for seg in segments])  # each line ends at x = G(z)
    np.testing.assert_allclose(upper_ends, h1d[1]["x_of_z"][::2].numpy(), rtol=1e-6)
    lower = np.array([seg[0][0] for seg in segments])
    assert np.all(np.diff(lower) > 0)  # z values spread left to right, in order


def test_2d_view(h2d):
    ax = plots.plot_frame(h2d, -1)
    assert len([a for a in ax.get_images() if isinstance(a, AxesImage)]) == 1  # D's heat map
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert {c.get_label() for c in scatters} == {"real", "generated"}
    fake = [c for c in scatters if c.get_label() == "generated"][0]
    np.testing.assert_allclose(fake.get_offsets(), h2d[-1]["samples"][:500].numpy(), rtol=1e-6)
    quivers = [c for c in ax.collections if isinstance(c, Quiver)]
    assert len(quivers) == 1 and quivers[0].N == h2d.meta["field_xy"].shape[0] ** 2
    assert f"modes covered {h2d[-1]['modes_covered']}/8" in ax.get_title()


def test_2d_view_of_a_critic_run_uses_the_scores_range(h2d_critic):
    ax = plots.plot_frame(h2d_critic, -1)
    (im,) = ax.get_images()
    d = h2d_critic[-1]["d_grid"]
    assert im.get_clim() == pytest.approx((float(d.min()), float(d.max())))


def test_images_view_shows_samples_with_scores(himg):
    ax = plots.plot_frame(himg, -1)
    (im,) = ax.get_images()
    samples = himg[-1]["samples"].numpy()  # uint8 [16, 28, 28]
    mosaic = np.asarray(im.get_array())
    cell_h, cell_w = 28 + 9 + 2, 28 + 2  # image + label rows + white line
    assert mosaic.shape == (4 * cell_h + 2, 4 * cell_w + 2)  # a 4x4 grid of 28x28 samples
    for k in (0, 5, 15):
        r, c = divmod(k, 4)
        np.testing.assert_array_equal(mosaic[2 + r * cell_h:2 + r * cell_h + 28, 2 + c * cell_w:2 + c * cell_w + 28],
                                      samples[k])
    texts = [t.get_text() for t in ax.texts]
    assert texts == [f"{v:.2f}" for v in himg[-1]["sample_scores"][:16].tolist()]


def test_curves_for_bce_have_the_half_line_and_a_step_marker(h1d):
    ax_loss, ax_out = plots.plot_curves(h1d, 1)
    labels = [line.get_label() for line in ax_out.get_lines()]
    assert "1/2" in labels and "mean D(x), real" in labels and "mean D(G(z)), fake" in labels
    np.testing.assert_allclose(_line(ax_loss, "D loss").get_ydata(), h1d.series("d_loss"), equal_nan=True)
    markers = [line for line in ax_loss.get_lines() if list(line.get_xdata()) == [h1d[1]["step"]] * 2]
    assert len(markers) == 1


def test_curves_for_a_critic_show_scores_and_no_half_line(h2d_critic):
    _, ax_out = plots.plot_curves(h2d_critic)
    labels = [line.get_label() for line in ax_out.get_lines()]
    assert "1/2" not in labels and "mean critic(x), real" in labels
    assert ax_out.get_ylabel() == "mean critic score"


def test_curves_for_a_critic_draw_the_gap_and_the_penalty_share(h2d_critic):
    ax_loss, ax_out = plots.plot_curves(h2d_critic)
    real, fake = np.array(h2d_critic.series("d_real")), np.array(h2d_critic.series("d_fake"))
    np.testing.assert_allclose(_line(ax_out, "gap").get_ydata(), real - fake, equal_nan=True)
    # a WGAN-GP critic's loss contains the penalty: the label says so, and the dotted line is its share
    loss = _line(ax_loss, "critic loss")
    assert "penalty" in loss.get_label()
    np.testing.assert_allclose(loss.get_ydata(), h2d_critic.series("d_loss"), equal_nan=True)
    share = np.array(h2d_critic.series("d_loss")) + real - fake
    np.testing.assert_allclose(_line(ax_loss, "λ·penalty").get_ydata(), share, equal_nan=True)
    assert np.nanmin(share) >= -1e-5  # the penalty is a mean of squares


def test_curves_for_a_clipped_critic_have_no_penalty_line():
    torch.manual_seed(0)
    h = _run(models.MLPGenerator(2, 2, hidden=16), models.MLPCritic(2, hidden=16), toy.Ring2D(), 4,
             batch_size=32, record_every=2, loss="wgan-clip")
    ax_loss, ax_out = plots.plot_curves(h)
    labels = [line.get_label() for line in ax_loss.get_lines()]
    assert "critic loss" in labels and not any("penalty" in label for label in labels)
    assert any(line.get_label().startswith("gap") for line in ax_out.get_lines())


def test_curves_on_one_axes_use_a_twin(h1d):
    fig, ax = plt.subplots()
    ax_loss, ax_out = plots.plot_curves(h1d, ax=ax)
    assert ax_loss is ax and ax_out is not ax and len(fig.axes) == 2


def test_plot_history_and_show_frame_make_figures(h1d, h2d, himg):
    for h in (h1d, h2d, himg):
        fig = plots.plot_history(h)
        assert len(fig.axes) == 3
        fig = plots.show_frame(h, 0)
        assert len(fig.axes) == 1


@pytest.mark.parametrize("fn", [plots.plot_frame, plots.plot_curves, plots.plot_history, plots.show_frame])
def test_empty_history_gives_the_clear_error(fn):
    with pytest.raises(ValueError, match="empty history"):
        fn(History("1d", {"loss": "bce"}))


def test_bad_index_and_bad_history(h1d):
    with pytest.raises(IndexError, match=r"out of range; this history has 4 snapshots"):
        plots.plot_frame(h1d, 4)
    with pytest.raises(TypeError, match="needs a History"):
        plots.plot_frame([1, 2, 3])


# -- one home for every picture ----------------------------------------------------------------------
def test_every_public_plot_function_is_reachable_from_gl_plots():
    from gan_lessons.plots import diagnostics, frames, images

    for module in (frames, images, diagnostics):
        for name in module.__all__:
            assert getattr(plots, name) is getattr(module, name), name
    from gan_lessons import classifiers, metrics, pretrained, probes

    for module in (probes, metrics, classifiers, pretrained):
        assert not [n for n in vars(module) if n.startswith(("plot_", "show_"))], module.__name__


def test_importing_the_package_does_not_import_matplotlib():
    import subprocess
    import sys

    code = ("import sys, gan_lessons, gan_lessons.metrics, gan_lessons.probes, gan_lessons.latent, "
            "gan_lessons.pretrained; print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the image grid ----------------------------------------------------------------------------------
def _to_uint8(x):
    """The reference: [-1, 1] -> 0..255 with NumPy (clip, shift, scale, round)."""
    return np.round((np.clip(np.asarray(x, dtype=np.float64), -1, 1) + 1) * 127.5).astype(np.uint8)


def _cell(mosaic, r, c, cell_h=30, cell_w=30, pad=2):
    return mosaic[pad + r * cell_h:pad + r * cell_h + 28, pad + c * cell_w:pad + c * cell_w + 28]


def test_image_grid_places_float_images_row_by_row():
    x = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ax = plots.plot_image_grid(x, ncols=4, title="ten")
    mosaic = np.asarray(ax.get_images()[0].get_array())
    assert mosaic.shape == (3 * 30 + 2, 4 * 30 + 2) and mosaic.dtype == np.uint8
    for k in range(10):
        got, want = _cell(mosaic, *divmod(k, 4)).astype(int), _to_uint8(x[k, 0].numpy()).astype(int)
        assert np.abs(got - want).max() <= 1, k  # float32 vs float64 rounding at .5 at most
    assert (_cell(mosaic, 2, 2) == 255).all() and (_cell(mosaic, 2, 3) == 255).all()  # the unfilled cells
    assert (mosaic[:2] == 255).all() and (mosaic[:, 30:32] == 255).all()  # white lines between images
    assert ax.get_title() == "ten"


def test_image_grid_takes_history_samples_and_three_dim_floats():
    u8 = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    mosaic = np.asarray(plots.plot_image_grid(u8, ncols=3).get_images()[0].get_array())
    for k in range(6):
        np.testing.assert_array_equal(_cell(mosaic, *divmod(k, 3)), u8[k].numpy())  # uint8 shown as it is
    x = torch.tensor([-1.3, -1.0, 0.0, 1.0, 1.2]).repeat_interleave(28 * 28 // 4 + 1)[:28 * 28].view(1, 28, 28)
    cell = _cell(np.asarray(plots.plot_image_grid(x).get_images()[0].get_array()), 0, 0)
    np.testing.assert_array_equal(cell, _to_uint8(x[0].numpy()))  # [N, 28, 28] floats; a little outside: clipped
    assert cell.min() == 0 and cell.max() == 255


def test_image_grid_labels_and_row_labels():
    x = torch.zeros(4, 1, 28, 28)
    ax = plots.plot_image_grid(x, ncols=2, labels=["a", "b", "c", "d"], row_labels=["top", "bottom"])
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c", "d"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["top", "bottom"]
    assert np.asarray(ax.get_images()[0].get_array()).shape == (2 * (28 + 9 + 2) + 2, 2 * 30 + 2)


def test_image_grid_rejects_what_it_cannot_show():
    with pytest.raises(ValueError, match="one channel"):
        plots.plot_image_grid(torch.rand(4, 3, 28, 28))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        plots.plot_image_grid(torch.full((4, 28, 28), 255.0))
    with pytest.raises(TypeError, match="uint8"):
        plots.plot_image_grid(torch.zeros(4, 28, 28, dtype=torch.int64))
    with pytest.raises(ValueError, match="NaN"):
        plots.plot_image_grid(torch.full((2, 28, 28), float("nan")))
    with pytest.raises(ValueError, match="ncols"):
        plots.plot_image_grid(torch.zeros(2, 28, 28), ncols=0)


def test_nearest_neighbours_figure_shows_each_fake_above_its_nearest_real_images():
    g = torch.Generator().manual_seed(2)
    real = torch.rand(40, 1, 28, 28, generator=g) * 2 - 1
    fake = torch.cat([real[[3, 17]], torch.rand(1, 1, 28, 28, generator=g) * 2 - 1])  # two copies, one new
    fig = plots.plot_nearest_neighbours(fake, real, k=2, n=3)
    (ax,) = fig.axes
    mosaic = np.asarray(ax.get_images()[0].get_array())
    cell_h = 28 + 9 + 2
    # The reference: squared distances by brute force in NumPy, nearest first.
    d = np.sqrt(((fake.flatten(1).numpy()[:, None, :].astype(np.float64)
                  - real.flatten(1).numpy()[None, :, :]) ** 2).sum(-1))  # [3, 40]
    order = np.argsort(d, axis=1)[:, :2]
    assert list(order[:2, 0]) == [3, 17]
    for j in range(3):
        assert np.abs(_cell(mosaic, 0, j, cell_h).astype(int) - _to_uint8(fake[j, 0]).astype(int)).max() <= 1
        for r in range(2):
            want = _to_uint8(real[order[j, r], 0])
            assert np.abs(_cell(mosaic, r + 1, j, cell_h).astype(int) - want.astype(int)).max() <= 1
    labels = [t.get_text() for t in ax.texts]
    assert labels[3:] == [f"d={d[j, order[j, r]]:.1f}" for r in range(2) for j in range(3)]
    assert labels[3] == "d=0.0" and labels[4] == "d=0.0"  # the copies are found at distance 0
    assert [t.get_text() for t in ax.get_yticklabels()] == ["generated", "nearest 1", "nearest 2"]


# -- one question each ---------------------------------------------------------------------------------
def test_score_histograms_count_what_numpy_counts():
    g = torch.Generator().manual_seed(3)
    real, fake = torch.rand(200, generator=g) ** 0.3, torch.rand(150, generator=g) ** 3
    ax = plots.plot_score_histograms(real, fake, bins=10, title="t")
    heights = [p.get_height() for p in ax.patches]
    edges = np.linspace(0, 1, 11)
    np.testing.assert_array_equal(heights[:10], np.histogram(real.numpy(), bins=edges)[0])
    np.testing.assert_array_equal(heights[10:20], np.histogram(fake.numpy(), bins=edges)[0])
    with pytest.raises(ValueError, match="sigmoid"):
        plots.plot_score_histograms(torch.randn(50) * 5, torch.rand(50))


def test_generator_loss_curves_follow_the_formulas():
    ax0, ax1 = plots.plot_generator_loss_curves(marks={"D trained": 0.01})
    sat, nonsat = ax0.get_lines()[:2]
    p = np.asarray(sat.get_xdata(), dtype=float)
    np.testing.assert_allclose(sat.get_ydata(), np.log(1 - p), rtol=1e-9)
    np.testing.assert_allclose(nonsat.get_ydata(), -np.log(p), rtol=1e-9)
    d_sat, d_nonsat = ax1.get_lines()[:2]
    np.testing.assert_allclose(d_sat.get_ydata(), -p, rtol=1e-9)  # d/dl log(1 - sigmoid(l)) = -p
    np.testing.assert_allclose(d_nonsat.get_ydata(), -(1 - p), rtol=1e-9)  # d/dl -log sigmoid(l) = -(1 - p)
    assert "D trained: 0.01" in [t.get_text() for t in ax0.texts]


def test_generator_loss_curves_marks_stand_apart_from_the_axis():
    """A mark near 0 (a confident D) must be visible: off the y axis, with a dot on each curve."""
    ax0, ax1 = plots.plot_generator_loss_curves(marks={"our D": 0.0035})
    p = 0.0035
    for ax, want in ((ax0, [np.log(1 - p), -np.log(p)]), (ax1, [-p, -(1 - p)])):
        assert ax.get_xlim()[0] < 0 < p  # the dashed line is not drawn on top of the axis
        dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
        assert [float(d.get_xdata()[0]) for d in dots] == pytest.approx([p, p])
        assert [float(d.get_ydata()[0]) for d in dots] == pytest.approx(want)
        lo, hi = ax.get_ylim()
        assert all(lo < y < hi for y in want)  # -log(0.0035) = 5.66 fits in the left plot
        assert "our D: 0.0035" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        plots.plot_generator_loss_curves(marks={"bad": 1.0})
    plt.close("all")


def test_plot_series_draws_one_line_per_run():
    h = History("1d")
    for s in range(3):
        h.append({"step": s, "d_fake": 0.1 * s})
    ax = plots.plot_series({"a": h, "b": h}, "d_fake", hline=0.5)
    assert len(ax.lines) == 3
    assert list(ax.lines[0].get_ydata()) == pytest.approx([0.0, 0.1, 0.2])
    ax = plots.plot_series({"a": h}, lambda s: 2 * s["d_fake"])
    assert list(ax.lines[0].get_ydata()) == pytest.approx([0.0, 0.2, 0.4])
    with pytest.raises(ValueError, match="dict"):
        plots.plot_series([h])


class _LeftRight:
    """A stand-in classifier: class 0 left of x1 = 0, class 1 right of it, always certain."""

    def predict_proba(self, points):
        right = (points[:, 0] > 0).float()
        return torch.stack([1 - right, right], 1)


def test_decision_boundary_colours_each_side_by_its_class():
    from matplotlib.colors import to_rgb

    x = torch.tensor([[-2.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [2.0, 1.0]])
    y = torch.tensor([0, 0, 1, 1])
    fig, ax = plt.subplots()
    out = plots.plot_decision_boundary(_LeftRight(), x, y, ax=ax, title="t", resolution=40)
    assert out is ax
    image = np.asarray(ax.get_images()[0].get_array())  # rows = x2, columns = x1
    for column, c in ((0, 0), (-1, 1)):  # certain: full strength, 1 - 0.45 (1 - colour)
        np.testing.assert_allclose(image[:, column], np.tile(1 - 0.45 * (1 - np.array(to_rgb(f"C{c}"))), (40, 1)),
                                   rtol=1e-6)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(scatters[0].get_offsets(), x[:2].numpy())
    with pytest.raises(ValueError, match="2-D data"):
        plots.plot_decision_boundary(_LeftRight(), torch.randn(5, 3), torch.zeros(5, dtype=torch.long))


def test_plot_sweep_puts_each_run_in_its_cell():
    modes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    rows = []
    for k in (1, 5):
        for ratio in (0.2, 1.0, 5.0):
            h = History("2d", {"modes": modes, "bounds": (-2.0, 2.0)})
            h.append({"step": 10, "samples": torch.full((7, 2), float(k) / 10 + ratio / 100)})
            rows.append({"k": k, "ratio": ratio, "history": h, "modes_covered": k % 4, "n_modes": 4})
    fig = plots.plot_sweep(rows)
    assert len(fig.axes) == 6
    ax = fig.axes[1 * 3 + 2]  # row k=5, column ratio=5.0
    np.testing.assert_allclose(ax.collections[0].get_offsets(), modes.numpy())
    np.testing.assert_allclose(ax.collections[1].get_offsets(), np.full((7, 2), 0.5 + 0.05))
    assert ax.get_title() == "k=5, lr_d/lr_g=5\nmodes 1/4"

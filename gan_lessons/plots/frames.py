"""The scrubber's views of a training run: one snapshot of a `History`, drawn with matplotlib.

Every view draws *one* snapshot (index ``i``, default the last) onto axes you give it, so the
lessons and the scrubber (`gan_lessons.widgets`) share the same pictures:

- `plot_frame(history, i=-1, ax=None)`: the view that fits the history's kind:
  - 1-D data (`plot_1d`): the "learning process" picture of Goodfellow et al. (2014), figure 1:
    the data density p_data, the generator's density p_g, the discriminator D(x), the optimal
    discriminator D*(x) = p_data(x) / (p_data(x) + p_g(x)), and, underneath, how the generator
    maps noise z (lower line) to samples x = G(z) (upper line).
  - 2-D data (`plot_2d`): D's output as a heat map, real and generated samples, the direction D
    pushes the fakes (arrows), and "modes covered: m/K" in the title.
  - images (`plot_images`): a grid of generated samples, each with D's score on it.
- `plot_curves(history, i=-1, ax=None)`: the losses of D and G, and the mean output of D on real
  and on generated data (with the 1/2 line for the original GAN; for Wasserstein runs the critic's
  scores and their gap E f(x) - E f(G(z)), with the penalty's share of the critic loss drawn
  apart), with a marker at snapshot i's step.
- `plot_history(history, i=-1)`: the view and the curves side by side in one new figure (what one
  frame of the scrubber shows; `draw_frame` draws it onto a figure you give).
- `show_frame(history, i=-1)`: only the view, in one new figure.

The functions that make a figure use pyplot, so in a notebook the figure appears below the cell;
they also return it. End the line with ``;`` (or assign the result) so Jupyter shows it once.
An empty history raises the clear error of `History.require_snapshots`.
"""
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.collections import LineCollection

from ..history import History
from .images import plot_image_grid

# Colours shared by all views (the paper's figure 1: data black, G green, D blue).
C_DATA, C_G, C_D, C_DSTAR = "black", "tab:green", "tab:blue", "tab:orange"
C_REAL, C_FAKE = "black", "tab:red"
MARKER_STYLE = dict(color="tab:purple", lw=1.2, alpha=0.8)  # the current-step line on the curves


def _np(x):
    """A tensor, list or array -> float numpy array."""
    if torch.is_tensor(x):
        return x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=float)


def _check_history(history, who):
    if not isinstance(history, History):
        raise TypeError(f"{who} needs a History (what gan_lessons.train.train returns, or "
                        f"History.load(path)); got {type(history).__name__}.")
    history.require_snapshots(who)


def _snapshot(history, i, who):
    """Snapshot i (negative counts from the end), with a clear error when i is out of range."""
    _check_history(history, who)
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"{who}: i must be a snapshot index (an int), got {i!r}.")
    n = len(history)
    if not -n <= i < n:
        raise IndexError(f"{who}: snapshot index {i} is out of range; this history has {n} snapshots "
                         f"(use 0..{n - 1}, or -1 for the last).")
    return history[int(i)]


def _is_bce(history):
    return history.meta.get("loss", "bce") == "bce"


# -- 1-D: the learning process ---------------------------------------------------------------------
def plot_1d(history, i=-1, ax=None):
    """Goodfellow et al.'s figure 1 for snapshot i of a 1-D run (used by `plot_frame`). Returns the axes.

    Upper part: p_data (black, dash-dot), p_g (green), D(x) (blue, dashed) and the optimal
    D*(x) = p_data / (p_data + p_g) (orange, dotted; original GAN only). Lower part: each line
    joins a noise value z (bottom line) to the sample x = G(z) it becomes (upper line).
    """
    s = _snapshot(history, i, "plot_1d")
    meta = history.meta
    ax = ax if ax is not None else plt.figure(figsize=(6, 4), dpi=90).add_subplot()
    x = _np(meta["grid"])
    p_data = _np(meta["p_data"])
    # Fixed limits for the whole run, so the picture does not jump while scrubbing.
    top = max(1.05, 1.25 * float(p_data.max()))
    x_line, z_line = -0.08 * top, -0.40 * top

    ax.plot(x, p_data, color=C_DATA, ls="-.", lw=1.6, label=r"$p_{data}$")
    if "p_g" in s:
        ax.plot(x, _np(s["p_g"]), color=C_G, lw=1.8, label=r"$p_g$ (generator)")
    if "d_grid" in s:
        d = _np(s["d_grid"])
        label = "D(x)"
        if not _is_bce(history):  # unbounded critic scores: squeeze into [0, 1] to share the axis
            d = (d - d.min()) / max(float(d.max() - d.min()), 1e-12)
            label = "critic(x), rescaled to [0, 1]"
        ax.plot(x, d, color=C_D, ls="--", lw=1.6, label=label)
    if "d_star" in s:
        d_star = _np(s["d_star"]).copy()
        # Where neither density has mass, D* is 0/0 (undefined): leave a gap rather than noise.
        if "p_g" in s:
            d_star[p_data + _np(s["p_g"]) < 1e-3 * float(p_data.max())] = np.nan
        ax.plot(x, d_star, color=C_DSTAR, ls=":", lw=1.8, label=r"$D^*(x)=p_{data}/(p_{data}+p_g)$")

    # The mapping x = G(z): noise values spread evenly on the lower line, their images on the upper.
    ax.axhline(x_line, color="0.3", lw=0.8)
    ax.axhline(z_line, color="0.3", lw=0.8)
    lo, hi = float(x[0]), float(x[-1])
    if "x_of_z" in s and "z_line" in meta:
        z = _np(meta["z_line"])[::2]
        gz = _np(s["x_of_z"])[::2]
        margin = 0.15 * (hi - lo)
        z_pos = lo + margin + (z - z.min()) / max(float(z.max() - z.min()), 1e-12) * (hi - lo - 2 * margin)
        segments = np.stack([np.stack([z_pos, np.full_like(z, z_line)], 1),
                             np.stack([gz, np.full_like(z, x_line)], 1)], 1)  # [n, 2 ends, (x, y)]
        ax.add_collection(LineCollection(segments, colors=C_G, linewidths=0.8, alpha=0.8))
        ax.plot(z_pos, np.full_like(z, z_line), "|", color="0.2", ms=6)
    ax.text(lo, x_line, " x", va="bottom", ha="left", fontsize=9)
    ax.text(lo, z_line, " z", va="bottom", ha="left", fontsize=9)

    ax.set_xlim(lo, hi)
    ax.set_ylim(z_line - 0.06 * top, top)
    ax.set_yticks([0, 0.5, 1.0])
    ax.set_xlabel("x")
    ax.set_ylabel("density / D(x)")
    ax.set_title(f"step {s['step']}: the learning process", fontsize=10)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    return ax


# -- 2-D: heat map, samples, gradient field --------------------------------------------------------
def _real_points(meta, n=400):
    """n real samples drawn from the toy's modes (fixed seed: the same dots in every frame)."""
    if "modes" not in meta:
        return None
    gen = torch.Generator().manual_seed(0)
    modes = torch.as_tensor(meta["modes"], dtype=torch.float32)
    std = torch.as_tensor(meta.get("mode_std", torch.full((len(modes),), 0.05)), dtype=torch.float32)
    which = torch.randint(len(modes), (n,), generator=gen)
    return _np(modes[which] + torch.randn(n, 2, generator=gen) * std[which, None])  # [n, 2]


def plot_2d(history, i=-1, ax=None, n_fake=500):
    """Snapshot i of a 2-D run (used by `plot_frame`). Returns the axes.

    Background: D(x) as a heat map (bright = "real"; for critics, the score). Black dots: real
    samples; red dots: generated ones. Arrows: the direction G's loss pushes a fake at that point,
    minus its gradient (lengths relative to the longest arrow in this frame).
    """
    s = _snapshot(history, i, "plot_2d")
    meta = history.meta
    ax = ax if ax is not None else plt.figure(figsize=(4.6, 4.4), dpi=90).add_subplot()
    lo, hi = meta["bounds"]
    if "d_grid" in s:
        d = _np(s["d_grid"])  # [n, n], rows = y, columns = x (meshgrid 'xy')
        if _is_bce(history):
            vmin, vmax, cmap = 0.0, 1.0, "RdBu_r"
        else:
            vmin, vmax, cmap = float(d.min()), float(d.max()), "RdBu_r"
        ax.imshow(d, origin="lower", extent=(lo, hi, lo, hi), cmap=cmap, vmin=vmin, vmax=vmax,
                  alpha=0.55, interpolation="bilinear")
    real = _real_points(meta)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=3, c=C_REAL, alpha=0.5, lw=0, label="real")
    fake = _np(s["samples"])[:n_fake]
    ax.scatter(fake[:, 0], fake[:, 1], s=4, c=C_FAKE, alpha=0.7, lw=0, label="generated")
    if "field" in s and "field_xy" in meta:
        xy = _np(meta["field_xy"])  # [F, F, 2]
        f = _np(s["field"])  # [F, F, 2]
        norm = float(np.sqrt((f ** 2).sum(-1)).max())
        spacing = (hi - lo) / (xy.shape[0] - 1)
        f = f / max(norm, 1e-12) * 0.9 * spacing  # the longest arrow spans 0.9 grid cells
        ax.quiver(xy[..., 0], xy[..., 1], f[..., 0], f[..., 1], angles="xy", scale_units="xy", scale=1,
                  color="0.15", width=0.004, alpha=0.8)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    title = f"step {s['step']}"
    if "modes_covered" in s:
        n_modes = len(meta["modes"]) if "modes" in meta else "?"
        title += f": modes covered {s['modes_covered']}/{n_modes}"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=7, markerscale=3, framealpha=0.7)
    ax.tick_params(labelsize=7)
    return ax


# -- images: samples with D's score ----------------------------------------------------------------
def plot_images(history, i=-1, ax=None, n=25):
    """Snapshot i of an image run: the first n samples (from the run's fixed noise, so the same
    sample evolves across frames), D's score under each. Returns the axes.

    (Used by `plot_frame` and the scrubber.) The grid is `gan_lessons.plots.plot_image_grid`.
    """
    s = _snapshot(history, i, "plot_images")
    ax = ax if ax is not None else plt.figure(figsize=(4.4, 4.6), dpi=90).add_subplot()
    imgs = s["samples"][:n]  # uint8 [n, 28, 28] (or floats in [-1, 1] in a hand-made history)
    scores = _np(s["sample_scores"])[:len(imgs)] if "sample_scores" in s else None
    labels = None if scores is None else [f"{score:.2f}" for score in scores]
    plot_image_grid(imgs, ax=ax, ncols=math.ceil(math.sqrt(len(imgs))), labels=labels)
    who = "D(x)" if _is_bce(history) else "critic score"
    ax.set_title(f"step {s['step']}: samples, {who} under each", fontsize=10)
    return ax


VIEWS = {"1d": plot_1d, "2d": plot_2d, "images": plot_images}


def plot_frame(history, i=-1, ax=None):
    """The view that fits the history's kind (1-D, 2-D or images) for snapshot i (lesson 06).

    ax: the matplotlib axes to draw on (default: a new figure). Returns the axes.
    The scrubber draws it next to the curves (`draw_frame`); this is the view alone.
    """
    _check_history(history, "plot_frame")
    return VIEWS[history.kind](history, i, ax)


# -- curves ----------------------------------------------------------------------------------------
def plot_curves(history, i=-1, ax=None, marker=True):
    """Training curves with a marker at snapshot i's step (used by the scrubber). Returns (ax_loss, ax_out).

    Top: D's and G's losses. Bottom: the mean of D(x) on real data and of D(G(z)) on fakes with
    the 1/2 line (where both end when G matches the data perfectly).
    Wasserstein runs: the critic's loss is labelled with what it contains ("+ penalty" for
    "wgan-gp", where the dotted line is the penalty's share, lambda * penalty = critic loss +
    gap); the bottom shows the mean critic scores and their gap E f(x) - E f(G(z)) (bold, with a
    0 line). Adding a constant to a critic changes neither loss, so only the gap has a meaning.
    ax: None (a new figure), a pair of axes (losses, outputs), or one axes (losses on it,
    outputs on a twin axis on the right).
    marker: draw the vertical line at snapshot i's step (the scrubber draws its own).
    """
    s = _snapshot(history, i, "plot_curves")
    if ax is None:
        fig = plt.figure(figsize=(5, 4), dpi=90)
        ax_loss, ax_out = fig.subplots(2, 1, sharex=True)
    elif isinstance(ax, (list, tuple, np.ndarray)):
        if len(ax) != 2:
            raise ValueError(f"plot_curves: ax must be one axes or a pair (losses, outputs), got {len(ax)} axes.")
        ax_loss, ax_out = ax
    else:
        ax_loss, ax_out = ax, ax.twinx()
    steps = np.asarray(history.steps)
    bce = _is_bce(history)
    if bce:
        _bce_curves(history, steps, ax_loss, ax_out)
    else:
        _critic_curves(history, steps, ax_loss, ax_out)
    ax_loss.set_ylabel("loss", fontsize=8)
    ax_loss.legend(loc="upper right" if bce else "best", fontsize=7, frameon=not bce, framealpha=0.7)
    ax_out.set_xlabel("generator step", fontsize=8)

    for a in {ax_loss, ax_out}:
        if marker:
            a.axvline(s["step"], **MARKER_STYLE)
        a.tick_params(labelsize=7)
        if len(steps) > 1:  # a little room on the right, so the marker on the last step shows
            a.set_xlim(steps[0], steps[-1] + 0.02 * (steps[-1] - steps[0]))
    return ax_loss, ax_out


def _bce_curves(history, steps, ax_loss, ax_out):
    ax_loss.plot(steps, history.series("d_loss"), color=C_D, lw=1.2, label="D loss")
    ax_loss.plot(steps, history.series("g_loss"), color=C_G, lw=1.2, label="G loss")
    ax_out.plot(steps, history.series("d_real"), color=C_REAL, lw=1.2, label="mean D(x), real")
    ax_out.plot(steps, history.series("d_fake"), color=C_FAKE, lw=1.2, label="mean D(G(z)), fake")
    ax_out.axhline(0.5, color="0.5", ls=":", lw=1, label="1/2")
    ax_out.set_ylim(-0.03, 1.03)
    ax_out.set_ylabel("mean D output", fontsize=8)
    ax_out.legend(loc="lower right", fontsize=7, frameon=False)


def _critic_curves(history, steps, ax_loss, ax_out):
    """A Wasserstein run: the critic loss says what it contains, and the gap is drawn."""
    real, fake = np.asarray(history.series("d_real")), np.asarray(history.series("d_fake"))
    gap = real - fake  # E f(x) - E f(G(z)): the critic's estimate of the distance
    d_loss = np.asarray(history.series("d_loss"))
    if history.meta.get("loss") == "wgan-gp":
        ax_loss.plot(steps, d_loss, color=C_D, lw=1.2, label="critic loss (incl. λ·penalty)")
        # d_loss = E f(G(z)) - E f(x) + lambda * penalty = -gap + lambda * penalty (same batches)
        ax_loss.plot(steps, d_loss + gap, color=C_D, ls=":", lw=1.2, label="λ·penalty")
    else:
        ax_loss.plot(steps, d_loss, color=C_D, lw=1.2, label="critic loss")
    ax_loss.plot(steps, history.series("g_loss"), color=C_G, lw=1.2, label="G loss")
    ax_out.plot(steps, real, color=C_REAL, lw=1.0, label="mean critic(x), real")
    ax_out.plot(steps, fake, color=C_FAKE, lw=1.0, label="mean critic(G(z)), fake")
    ax_out.plot(steps, gap, color=C_DSTAR, lw=2.0, label="gap: real - fake")
    ax_out.axhline(0.0, color="0.5", ls=":", lw=1)
    ax_out.set_ylabel("mean critic score", fontsize=8)
    ax_out.legend(loc="best", fontsize=7, framealpha=0.7)


# -- figures for the lessons (and the scrubber's frames) ------------------------------------------
FIGSIZE = {"1d": (9.0, 4.0), "2d": (7.6, 3.8), "images": (7.6, 3.8)}


def layout(fig, kind):
    """Split `fig` into (view_ax, loss_ax, out_ax): the view on the left, two curves on the right."""
    gs = fig.add_gridspec(2, 2, width_ratios=(1.45 if kind == "1d" else 1.0, 1.0), wspace=0.25, hspace=0.12,
                          left=0.06, right=0.98, top=0.92, bottom=0.12)
    view = fig.add_subplot(gs[:, 0])
    loss_ax = fig.add_subplot(gs[0, 1])
    out_ax = fig.add_subplot(gs[1, 1], sharex=loss_ax)
    loss_ax.tick_params(labelbottom=False)
    return view, loss_ax, out_ax


def draw_frame(fig, history, i):
    """Clear `fig` and draw snapshot i's view and the curves on it (used by the scrubber)."""
    fig.clear()
    view, loss_ax, out_ax = layout(fig, history.kind)
    plot_frame(history, i, view)
    plot_curves(history, i, (loss_ax, out_ax))
    return fig


def plot_history(history, i=-1, dpi=90):
    """Snapshot i's view next to the training curves, in one new figure (one frame of the scrubber). Returns it."""
    _check_history(history, "plot_history")
    _snapshot(history, i, "plot_history")
    fig = plt.figure(figsize=FIGSIZE[history.kind], dpi=dpi)
    return draw_frame(fig, history, i)


def show_frame(history, i=-1, dpi=90):
    """Only snapshot i's view, in one new figure. Returns the figure."""
    _check_history(history, "show_frame")
    size = (6.5, 4.2) if history.kind == "1d" else (4.6, 4.6)
    fig = plt.figure(figsize=size, dpi=dpi)
    plot_frame(history, i, fig.add_subplot())
    fig.tight_layout()
    return fig


__all__ = ["plot_frame", "plot_curves", "plot_history", "show_frame", "plot_1d", "plot_2d", "plot_images",
           "draw_frame", "layout"]

"""Pictures that answer one question each about a model or a set of runs (lessons 01, 03-05).

- `plot_decision_boundary(model, x, y)`: what a classifier predicts over the plane (lesson 01).
- `plot_score_histograms(real_probs, fake_probs)`: does D separate real from fake (lesson 03)?
- `plot_generator_loss_curves()`: the two generator losses and their slopes against D(G(z)) (lesson 04).
- `plot_series({label: history}, key)`: one quantity against the generator step, one line per run
  (lesson 04).
- `plot_sweep(rows)`: the final samples of each run of `gan_lessons.experiments.balance_sweep`
  (lesson 05).
"""
import matplotlib.pyplot as plt
import torch
from matplotlib.colors import to_rgb

from ..classifiers import _as_features, _as_labels
from ..probes import generator_loss_curves


def _new_axes(n, figsize):
    fig, axes = plt.subplots(1, n, figsize=figsize, dpi=80)
    return fig, axes


# -- lesson 01: a classifier over the plane ----------------------------------------------------------
def plot_decision_boundary(model, x, y, ax=None, title=None, resolution=200, margin=1.0):
    """Colour the plane by the class `model` predicts, shade by its confidence, and overlay the data (lesson 01).

    model: anything with predict_proba(points [M, 2]) -> [M, C]. x [N, 2], y [N]. Returns the axes.
    """
    x = _as_features(x, "plot_decision_boundary").cpu()
    if x.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary draws 2-D data, x has {x.shape[1]} features.")
    y = _as_labels(y, x.shape[0], "plot_decision_boundary").cpu()
    lo, hi = (x.min(0).values - margin).tolist(), (x.max(0).values + margin).tolist()
    g1, g2 = torch.linspace(lo[0], hi[0], resolution), torch.linspace(lo[1], hi[1], resolution)
    grid = torch.cartesian_prod(g1, g2)  # [R*R, 2], second coordinate fastest
    proba = model.predict_proba(grid).cpu()  # [R*R, C]
    conf, pred = proba.max(1)
    colours = torch.tensor([to_rgb(f"C{c}") for c in range(proba.shape[1])])  # [C, 3]
    # Pale where the model is unsure (conf near 1/C), full colour where it is sure.
    strength = ((conf - 1 / proba.shape[1]) / (1 - 1 / proba.shape[1])).clamp(0, 1)[:, None]
    rgb = 1 - 0.45 * strength * (1 - colours[pred])  # [R*R, 3], blend towards white
    image = rgb.view(resolution, resolution, 3).transpose(0, 1)  # rows = x2, columns = x1
    if ax is None:
        _, ax = plt.subplots(figsize=(3.5, 3.2), dpi=80)
    ax.imshow(image.numpy(), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), aspect="auto")
    pred_image = pred.view(resolution, resolution).T  # [R, R], rows = x2
    for c in range(proba.shape[1]):  # the edge of each class's region is a decision boundary
        if 0 < int((pred_image == c).sum()) < pred_image.numel():
            ax.contour(g1.numpy(), g2.numpy(), (pred_image == c).float().numpy(), levels=[0.5],
                       colors="k", linewidths=0.8)
    for c in range(int(y.max()) + 1):
        ax.scatter(x[y == c, 0], x[y == c, 1], s=6, color=f"C{c}", label=f"class {c}")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


# -- lessons 03-04: one training step, looked at closely ---------------------------------------------
def plot_score_histograms(real_probs, fake_probs, ax=None, title=None, bins=30):
    """Histograms of D(x) on real data and D(G(z)) on fakes, on [0, 1] (lesson 03).

    A discriminator that tells them apart puts the real scores near 1 and the fake ones near 0.
    Returns the matplotlib axes.
    """
    real = torch.as_tensor(real_probs).detach().float().cpu().view(-1)
    fake = torch.as_tensor(fake_probs).detach().float().cpu().view(-1)
    for name, t in (("real_probs", real), ("fake_probs", fake)):
        if t.numel() == 0:
            raise ValueError(f"plot_score_histograms got no {name}; pass D(x) probabilities, "
                             "e.g. gl.probes.d_probs(D, x).")
        if torch.isnan(t).any() or (t < 0).any() or (t > 1).any():
            raise ValueError(f"{name} must be probabilities in [0, 1]; got values from {t.min():.3g} to {t.max():.3g}. "
                             "If these are logits, pass torch.sigmoid(logits) (or use gl.probes.d_probs).")
    if ax is None:
        _, ax = _new_axes(1, (4.2, 2.8))
    edges = torch.linspace(0, 1, bins + 1).numpy()
    ax.hist(real.numpy(), bins=edges, alpha=0.6, color="tab:blue", label="D(x), real")
    ax.hist(fake.numpy(), bins=edges, alpha=0.6, color="tab:red", label="D(G(z)), fake")
    ax.axvline(0.5, color="gray", lw=0.8, ls="--")
    ax.set_xlim(0, 1)
    ax.set_xlabel("D's probability of 'real'")
    ax.set_ylabel("count")
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_generator_loss_curves(axes=None, marks=None):
    """Left: both generator losses against D(G(z)); right: their slopes w.r.t. D's logit (lesson 04).

    The curves are `gan_lessons.probes.generator_loss_curves`. marks: optional {label: p} of
    D(G(z)) values to mark (e.g. where a trained D puts the fakes): a dashed vertical line, a dot on
    each curve, and "label: p" above the axes. The x axis starts a little left of 0 so that a mark
    near 0 stands apart from the axis, and the left plot is tall enough for the marked losses (up to 8).
    Returns the two axes.
    """
    marks = {label: float(value) for label, value in (marks or {}).items()}
    for label, value in marks.items():
        if not 0 < value < 1:
            raise ValueError(f"marks must be values of D(G(z)) strictly between 0 and 1; {label!r} is {value}.")
    p = torch.linspace(0.001, 0.999, 400, dtype=torch.float64)
    c = generator_loss_curves(p)
    if axes is None:
        _, axes = _new_axes(2, (8.5, 3.0))
    ax0, ax1 = axes
    curves = [(ax0, "saturating", "tab:orange", "saturating: log(1 - D(G(z)))"),
              (ax0, "non_saturating", "tab:green", "non-saturating: -log D(G(z))"),
              (ax1, "d_saturating_dlogit", "tab:orange", "saturating: -D(G(z))"),
              (ax1, "d_non_saturating_dlogit", "tab:green", "non-saturating: -(1 - D(G(z)))")]
    for ax, key, colour, label in curves:
        ax.plot(p, c[key], color=colour, label=label)
    at_marks = generator_loss_curves(torch.tensor(list(marks.values()), dtype=torch.float64)) if marks else {}
    top = max([5.0] + [min(8.0, float(v) + 0.5) for v in at_marks.get("non_saturating", [])])
    ax0.set_ylim(-top, top)
    ax0.set_ylabel("G's loss (minimized)")
    ax1.set_ylim(-1.05, 0.05)
    ax1.set_ylabel("slope w.r.t. D's logit")
    for ax in axes:
        ax.set_xlabel("D(G(z))")
        ax.set_xlim(-0.04, 1.0)
        ax.axhline(0, color="gray", lw=0.6)
        ax.legend(fontsize=7, loc="lower left" if ax is ax0 else "lower right")
    for i, (label, value) in enumerate(marks.items()):
        for ax in axes:
            ax.axvline(value, color="gray", ls="--", lw=0.8)
            # Above the axes, where no curve or legend can hide it.
            ax.text(value, 1.02, f"{label}: {value:.2g}", transform=ax.get_xaxis_transform(), fontsize=7,
                    va="bottom", ha="left" if value < 0.8 else "right")
        for ax, key, colour, _ in curves:  # a dot where each curve crosses the mark
            ax.plot([value], [float(at_marks[key][i])], "o", color=colour, markeredgecolor="black", markersize=5,
                    zorder=5)
    return axes


def plot_series(histories, key="d_fake", ax=None, ylabel=None, hline=None):
    """One curve per run against the generator step, for runs given as {label: History} (lesson 04).

    key: a snapshot field such as "d_fake" (mean D(G(z))) or "g_loss", or a function
      snapshot -> number, e.g. `lambda s: s["samples"].mean()`.
    hline: optional value to draw as a dashed reference line (e.g. 0.5 for D(G(z)) at the equilibrium).
    Returns the axes.
    """
    if not isinstance(histories, dict) or not histories:
        raise ValueError("plot_series expects a non-empty dict {label: History}, "
                         "e.g. {'saturating': h1, 'non-saturating': h2}.")
    if ax is None:
        _, ax = _new_axes(1, (4.5, 2.8))
    for label, h in histories.items():
        h.require_snapshots("plot_series")
        values = [float(key(snap)) for snap in h] if callable(key) else h.series(key)
        ax.plot(h.steps, values, label=label)
    if hline is not None:
        ax.axhline(hline, color="gray", ls="--", lw=0.8)
    ax.set_xlabel("generator step")
    ax.set_ylabel(ylabel or (key if isinstance(key, str) else ""))
    ax.legend(fontsize=8)
    return ax


# -- lesson 05: a sweep over the balance between the players -----------------------------------------
def plot_sweep(rows, dpi=80, n=400):
    """A grid of small scatter plots, one per sweep run: real modes and final samples (lesson 05).

    rows: what `gan_lessons.experiments.balance_sweep` returns. Rows of the grid are the values
    of k, columns the ratios lr_d / lr_g. Returns the figure.
    """
    ks = sorted({r["k"] for r in rows})
    ratios = sorted({r["ratio"] for r in rows})
    fig, axes = plt.subplots(len(ks), len(ratios), figsize=(2.1 * len(ratios), 2.2 * len(ks)), dpi=dpi,
                             squeeze=False)
    for r in rows:
        ax = axes[ks.index(r["k"]), ratios.index(r["ratio"])]
        modes = r["history"].meta["modes"]
        x = r["history"][-1]["samples"][:n]
        ax.scatter(modes[:, 0], modes[:, 1], s=40, facecolors="none", edgecolors="black", lw=0.8)
        ax.scatter(x[:, 0], x[:, 1], s=2, c="tab:red", alpha=0.6, lw=0)
        lo, hi = r["history"].meta["bounds"]
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"k={r['k']}, lr_d/lr_g={r['ratio']:g}\nmodes {r['modes_covered']}/{r['n_modes']}",
                     fontsize=8)
    fig.tight_layout()
    return fig


__all__ = ["plot_decision_boundary", "plot_score_histograms", "plot_generator_loss_curves", "plot_series",
           "plot_sweep"]

"""Looking inside one training step: which weights changed, who got gradients, how big (lessons 03-04).

Lessons 03 and 04 take the GAN step apart. These helpers answer the questions those lessons ask:
did this step change D, G, or both (`snapshot_params`, `changed_params`)? did a network receive
gradients (`has_grad`, `grad_norm`)? how strongly does D's verdict push G under each generator loss
(`generator_grad_norm`, `plot_generator_loss_curves`)? how well does D separate real from fake
(`d_probs`, `plot_score_histograms`)?
"""
import math

import torch

from . import losses
from .train import frozen


def _check_module(model, who):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{who} expects a torch.nn.Module (e.g. a generator or discriminator), got {type(model).__name__}")


def snapshot_params(model):
    """A copy of every parameter of `model`, {name: tensor}, to compare against after a step (lesson 03).

    Copies, not references: the optimizer updates parameters in place, so keeping the tensors
    themselves would "change" the snapshot too.
    """
    _check_module(model, "snapshot_params")
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def changed_params(model, before, atol=0.0):
    """Names of the parameters of `model` that differ from the snapshot `before` (lesson 03).

    An empty list means the model is exactly as it was. `atol` lets tiny differences through.
    """
    _check_module(model, "changed_params")
    now = dict(model.named_parameters())
    if set(now) != set(before):
        raise ValueError("The snapshot was taken from a different model (parameter names differ). "
                         "Take it with snapshot_params(model) from the same model.")
    return [name for name, p in now.items()
            if not torch.allclose(p.detach(), before[name].to(p.device), rtol=0.0, atol=atol)]


def has_grad(model):
    """True when at least one parameter of `model` holds a gradient (its .grad is not None) (lesson 03)."""
    _check_module(model, "has_grad")
    return any(p.grad is not None for p in model.parameters())


def grad_norm(model):
    """Length of the whole gradient of `model`: sqrt(sum of p.grad**2 over all parameters) (lesson 03).

    Parameters without a gradient count as zero; 0.0 when no parameter has one.
    """
    _check_module(model, "grad_norm")
    total = sum(float(p.grad.detach().pow(2).sum()) for p in model.parameters() if p.grad is not None)
    return math.sqrt(total)


@torch.no_grad()
def d_probs(D, x):
    """D(x) = sigmoid(D's logit) for a batch, as a CPU tensor [B] without gradient (lesson 03)."""
    _check_module(D, "d_probs")
    return torch.sigmoid(D(x)).cpu()


def generator_grad_norm(G, D, z, saturating=False):
    """How hard G's loss pushes G: the length of d(generator loss)/d(G's parameters) (lesson 04).

    Computes `losses.generator_loss(D(G(z)), saturating)` and its gradient with
    torch.autograd.grad, so neither network's .grad is touched and nothing is updated.
    saturating=True is the loss E log(1 - D(G(z))), False the non-saturating -E log D(G(z)).
    """
    _check_module(G, "generator_grad_norm")
    _check_module(D, "generator_grad_norm")
    params = [p for p in G.parameters() if p.requires_grad]
    if not params:
        raise ValueError("G has no trainable parameters (all have requires_grad=False); "
                         "did a `frozen(G)` block or requires_grad_(False) leave it switched off?")
    with frozen(D):  # the gradient flows through D, but D's own weights are not asked for
        loss = losses.generator_loss(D(G(z)), saturating=saturating)
        grads = torch.autograd.grad(loss, params)
    return math.sqrt(sum(float(g.pow(2).sum()) for g in grads))


def generator_loss_curves(p):
    """Both generator losses and their slopes as functions of p = D(G(z)) (lesson 04).

    p: a tensor of probabilities in (0, 1). Returns a dict of tensors shaped like p:
      saturating = log(1 - p)           d_saturating_dlogit = -p
      non_saturating = -log(p)          d_non_saturating_dlogit = -(1 - p)
    The slopes are with respect to D's logit l (p = sigmoid(l)), the number through which every
    gradient reaches G: dp/dl = p (1 - p) multiplies the slope with respect to p.
    """
    p = torch.as_tensor(p, dtype=torch.float64)
    if ((p <= 0) | (p >= 1)).any():
        raise ValueError("generator_loss_curves needs probabilities strictly between 0 and 1 "
                         "(log(0) is -inf); e.g. torch.linspace(0.001, 0.999, 200).")
    return {"p": p,
            "saturating": torch.log1p(-p),
            "non_saturating": -torch.log(p),
            "d_saturating_dlogit": -p,
            "d_non_saturating_dlogit": -(1 - p)}


def _new_axes(n, figsize):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=figsize, dpi=80)
    return fig, axes


def plot_score_histograms(real_probs, fake_probs, ax=None, title=None, bins=30):
    """Histograms of D(x) on real data and D(G(z)) on fakes, on [0, 1] (lesson 03).

    A discriminator that tells them apart puts the real scores near 1 and the fake ones near 0.
    Returns the matplotlib axes.
    """
    real = torch.as_tensor(real_probs).detach().float().cpu().view(-1)
    fake = torch.as_tensor(fake_probs).detach().float().cpu().view(-1)
    for name, t in (("real_probs", real), ("fake_probs", fake)):
        if t.numel() == 0:
            raise ValueError(f"plot_score_histograms got no {name}; pass D(x) probabilities, e.g. gl.probes.d_probs(D, x).")
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

    marks: optional {label: p} of D(G(z)) values to mark with vertical lines (e.g. where a trained
    D puts the fakes). Returns the two axes.
    """
    p = torch.linspace(0.001, 0.999, 400, dtype=torch.float64)
    c = generator_loss_curves(p)
    if axes is None:
        _, axes = _new_axes(2, (8.5, 3.0))
    ax0, ax1 = axes
    ax0.plot(p, c["saturating"], color="tab:orange", label="saturating: log(1 - D(G(z)))")
    ax0.plot(p, c["non_saturating"], color="tab:green", label="non-saturating: -log D(G(z))")
    ax0.set_ylim(-5, 5)
    ax0.set_ylabel("G's loss (minimized)")
    ax1.plot(p, c["d_saturating_dlogit"], color="tab:orange", label="saturating: -D(G(z))")
    ax1.plot(p, c["d_non_saturating_dlogit"], color="tab:green", label="non-saturating: -(1 - D(G(z)))")
    ax1.set_ylim(-1.05, 0.05)
    ax1.set_ylabel("slope w.r.t. D's logit")
    for ax in axes:
        ax.set_xlabel("D(G(z))")
        ax.set_xlim(0, 1)
        ax.axhline(0, color="gray", lw=0.6)
        for label, value in (marks or {}).items():
            ax.axvline(float(value), color="gray", ls="--", lw=0.8)
            # Above the axes, where no curve or legend can hide it (a mark at p ~ 0 sits on the y axis).
            ax.text(float(value), 1.02, label, transform=ax.get_xaxis_transform(), fontsize=7, va="bottom",
                    ha="left" if value < 0.9 else "right")
        ax.legend(fontsize=7, loc="lower left" if ax is ax0 else "lower right")
    return axes


def plot_series(histories, key="d_fake", ax=None, ylabel=None, hline=None):
    """One curve per run against the generator step, for runs given as {label: History} (lesson 04).

    key: a snapshot field such as "d_fake" (mean D(G(z))) or "g_loss", or a function
      snapshot -> number, e.g. `lambda s: s["samples"].mean()`.
    hline: optional value to draw as a dashed reference line (e.g. 0.5 for D(G(z)) at the equilibrium).
    Returns the axes.
    """
    if not isinstance(histories, dict) or not histories:
        raise ValueError("plot_series expects a non-empty dict {label: History}, e.g. {'saturating': h1, 'non-saturating': h2}.")
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


def plot_image_grid(images, ax=None, ncols=8, title=None):
    """Show a batch of images [n, 1, 28, 28] in [-1, 1] as one grid, ncols per row (lesson 03).

    Uses the first rows * ncols images that fill whole rows. Returns the axes.
    """
    x = torch.as_tensor(images).detach().float().cpu()
    if x.dim() == 3:
        x = x[:, None]  # [n, 28, 28] -> [n, 1, 28, 28]
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"plot_image_grid expects images of shape [n, 1, H, W] (or [n, H, W]), got {list(x.shape)}.")
    ncols = min(ncols, x.shape[0])
    rows = x.shape[0] // ncols
    h, w = x.shape[-2:]
    grid = x[: rows * ncols, 0].view(rows, ncols, h, w).permute(0, 2, 1, 3).reshape(rows * h, ncols * w)
    if ax is None:
        _, ax = _new_axes(1, (0.45 * ncols, 0.45 * rows + 0.3))
    ax.imshow(grid.numpy(), cmap="gray", vmin=-1, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax

"""Training a GAN: the steps the lessons teach, and the loop that runs them (lessons 03-07).

- `d_step` (lesson 03): one update of the discriminator on a real batch and a batch of fakes.
- `g_step` (lesson 04): one update of the generator; its gradient flows through a frozen D.
- `gan_step` (lesson 05): one iteration of Algorithm 1 of Goodfellow et al. (2014): k discriminator
  steps, each on a fresh real batch and fresh noise, then one generator step on fresh noise.
- `critic_step` (lesson 06): one update of a Wasserstein critic, with a gradient penalty or clipping;
  `gan_step` calls it instead of `d_step` for the Wasserstein losses.
- `train`: runs `gan_step` (or the `step` you pass) `steps` times and returns the run's `History`.

Nothing here is about speed: `gan_lessons.speed` builds a faster drop-in `step` for `train`.
`train` checks its inputs once, before the first step (the `_check_*` helpers at the end), so a
mistake is named with its fix instead of surfacing as a torch error mid-run.
"""
import contextlib
import math
import numbers
import sys
import types

import torch
from torch import nn

from . import losses
from .data import ImageData, sample_batch
from .history import History, Recorder
from .models import all_finite, finite_weights, uses_batch_norm
from .toy import GaussianMixture

LOSSES = ("bce", "wgan-gp", "wgan-clip")
CONSTRAINTS = ("gp", "clip", None)  # of a critic: gradient penalty, weight clipping, none
CHECK_EVERY = 50  # steps between two looks at the NaN flag (one host readback) when no snapshot is due


def sample_z(batch_size, latent_dim, device=None, generator=None):
    """Noise z ~ N(0, I), shape [batch_size, latent_dim] (lesson 03)."""
    return torch.randn(batch_size, latent_dim, device=device, generator=generator)


@contextlib.contextmanager
def frozen(model):
    """Inside this block `model`'s parameters get no gradients (they are not trained) (lesson 04)."""
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, f in zip(model.parameters(), flags):
            p.requires_grad_(f)


def make_optimizers(G, D, loss="bce", lr=None, lr_d=None):
    """The usual optimizers for each loss: Adam(0.5, 0.999) for BCE (Radford et al.), Adam(0, 0.9) for
    WGAN-GP (Gulrajani et al.), RMSprop for WGAN with weight clipping (Arjovsky et al.).
    lr defaults to 2e-4 (5e-5 for clipping); `lr_d` (D's) defaults to `lr`."""
    _check_loss(loss)
    for name, value in (("lr", lr), ("lr_d", lr_d)):
        if value is not None and (not isinstance(value, numbers.Real) or isinstance(value, bool)
                                  or not 0 < value < math.inf):
            raise ValueError(f"{name} must be a positive number such as 2e-4, or None for the default; got {value!r}.")
    if loss == "wgan-clip":
        lr = 5e-5 if lr is None else lr
        lr_d = lr if lr_d is None else lr_d
        return torch.optim.RMSprop(G.parameters(), lr=lr), torch.optim.RMSprop(D.parameters(), lr=lr_d)
    lr = 2e-4 if lr is None else lr
    lr_d = lr if lr_d is None else lr_d
    betas = (0.5, 0.999) if loss == "bce" else (0.0, 0.9)
    return (torch.optim.Adam(G.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas))


# -- the steps ----------------------------------------------------------------------------------

def d_step(G, D, opt_D, real, z, fake=None, r1_weight=0.0):
    """One discriminator step (lesson 03): real batch labelled 1, fakes G(z) labelled 0.

    The fakes are detached, so no gradient reaches G: only D's weights move. Returns the loss,
    D's logits on the real batch [B] and on the fakes [B], all detached.
    fake: fakes already made from z, so a faster loop need not run G twice; detached just the same.
    r1_weight: the weight gamma of an optional penalty on D's slope at the real data (R1, used by a
      further exercise of lesson 05): (gamma / 2) * mean ||grad_x D(x)||^2 is added to the loss; 0 = off.
    """
    fake = (G(z) if fake is None else fake).detach()  # [B, ...]; detach: D's loss must not flow into G
    if r1_weight:
        real = real.detach().requires_grad_(True)  # R1 differentiates D's output w.r.t. the real points
    real_logits, fake_logits = D(real), D(fake)  # [B], [B]
    loss = losses.discriminator_loss(real_logits, fake_logits)
    if r1_weight:
        loss = loss + 0.5 * r1_weight * losses.r1_penalty(real_logits, real)
    opt_D.zero_grad(set_to_none=True)
    loss.backward()
    opt_D.step()
    return loss.detach(), real_logits.detach(), fake_logits.detach()


def g_step(G, D, opt_G, z, saturating=False, loss="bce", fake=None):
    """One generator step (lesson 04): generate, score with D, backpropagate through D into G.

    D is frozen: the gradient flows *through* D to G's output, but D's weights get no gradient and
    only opt_G steps. loss="bce" uses the non-saturating loss -log D(G(z)) unless `saturating`;
    the Wasserstein losses use -E f(G(z)). Returns the loss, detached.
    fake: fakes already made from z, NOT detached (G learns through them), so a faster loop need not
      run G again; z is then unused.
    """
    _check_loss(loss)
    with frozen(D):
        fake_out = D(G(z) if fake is None else fake)  # [B]
        if loss == "bce":
            g_loss = losses.generator_loss(fake_out, saturating=saturating)
        else:
            g_loss = losses.wasserstein_generator_loss(fake_out)
        opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
    opt_G.step()
    return g_loss.detach()


def critic_step(D, opt_D, real, fake, constraint="gp", gp_weight=10.0, clip=0.01):
    """One critic step (lesson 06): lower E f(fake) - E f(real), keeping f about 1-Lipschitz.

    fake: a batch of fakes, already detached (G(z).detach(), or samples of a fixed distribution).
    constraint: "gp" adds gp_weight * the gradient penalty to the loss (Gulrajani et al.), "clip"
    clips every weight to [-clip, clip] after the update (Arjovsky et al.), None leaves f free.
    Returns the loss (penalty included), the scores on the real batch [B] and on the fakes [B], detached.
    """
    if constraint not in CONSTRAINTS:
        raise ValueError(f"constraint must be one of {CONSTRAINTS}, got {constraint!r}")
    real_scores, fake_scores = D(real), D(fake)  # [B], [B]
    loss = losses.critic_loss(real_scores, fake_scores)
    if constraint == "gp":
        loss = loss + gp_weight * losses.gradient_penalty(D, real, fake)
    opt_D.zero_grad(set_to_none=True)
    loss.backward()
    opt_D.step()
    if constraint == "clip":
        losses.clip_weights(D, clip)
    return loss.detach(), real_scores.detach(), fake_scores.detach()


def gan_step(G, D, opt_G, opt_D, sample_real, batch_size, k=1, loss="bce", saturating=False, **penalty):
    """One iteration of Algorithm 1 of Goodfellow et al. (2014) (lesson 05).

    k discriminator (or critic) steps, each on a fresh real batch `sample_real(batch_size)` and fresh
    noise, then one generator step on fresh noise. `penalty` goes to the D step: r1_weight for
    "bce", gp_weight or clip for the critic. Returns (D's loss, D(real), D(fake)) of the last D
    step and G's loss, detached: logits for "bce", scores for the Wasserstein losses.
    """
    _check_loss(loss)
    if not _is_whole(k) or k < 1:
        raise ValueError(f"k (discriminator steps per generator step) must be an integer >= 1, got {k!r}")
    device = next(G.parameters()).device
    for _ in range(k):
        real = sample_real(batch_size)  # [B, ...]
        z = sample_z(batch_size, G.latent_dim, device)  # [B, latent_dim]
        if loss == "bce":
            d_loss, real_out, fake_out = d_step(G, D, opt_D, real, z, **penalty)
        else:
            constraint = "gp" if loss == "wgan-gp" else "clip"
            d_loss, real_out, fake_out = critic_step(D, opt_D, real, G(z).detach(), constraint, **penalty)
    z = sample_z(batch_size, G.latent_dim, device)  # fresh noise for G's step
    g_loss = g_step(G, D, opt_G, z, saturating, loss)
    return d_loss, real_out, fake_out, g_loss


# -- the loop -----------------------------------------------------------------------------------

def train(G, D, data, steps, *, k=1, loss="bce", saturating=False, batch_size=128, lr=None, lr_d=None,
          opt_G=None, opt_D=None, history=None, record_every=None, callback=None, seed=None, progress=True,
          n_fixed=None, step=gan_step):
    """Train G and D for `steps` iterations of `step` (Algorithm 1, `gan_step`); return the History (lessons 04-07).

    data: a toy distribution (gan_lessons.toy), an ImageData (data.load_images) or a tensor of
      examples; it is moved to the models' device.
    loss: "bce" (the original GAN; `saturating` picks G's loss), "wgan-gp" or "wgan-clip".
    lr, lr_d: learning rates of the default optimizers (`make_optimizers`); or pass opt_G and opt_D.
    record_every: steps between snapshots (default: about 100 snapshots per run); n_fixed: how many
      samples each snapshot keeps (from noise fixed for the whole run).
    history: a previous run's History (with its optimizers) to resume; steps continue from it.
    callback: called as callback(history) after each snapshot (the live scrubber uses it); if it
      raises, training stops with a CallbackError that keeps the history on `.history`.
    step: one iteration, called as step(G, D, opt_G, opt_D, sample_real, batch_size, k, loss,
      saturating); `gan_step` by default, `speed.fast_step(...)` for the speed-ups.
    G and D are put in training mode. Ctrl-C ("interrupt kernel") returns what was recorded so far; a
    NaN loss raises TrainingDiverged (looked for every CHECK_EVERY steps and at each snapshot).
    """
    steps, k, batch_size = _check_args(steps, k, batch_size, loss, step)
    record_every = _check_knobs(steps, saturating, record_every, n_fixed, callback, seed, progress, history)
    device = _check_models(G, D, loss, batch_size, n_fixed)
    opt_G, opt_D = _optimizers(G, D, loss, lr, lr_d, opt_G, opt_D, history)
    _check_finite(G, D, opt_G, opt_D)
    if seed is not None:
        torch.manual_seed(seed)
    sample_real = real_sampler(data, G, device)
    config = dict(steps=steps, batch_size=batch_size, k=k, loss=loss, saturating=saturating,
                  lr=opt_G.param_groups[0]["lr"], lr_d=opt_D.param_groups[0]["lr"], record_every=record_every,
                  step=_describe(step))
    G.train(), D.train()  # a G left in eval mode (after sampling) would train on batch norm's running averages
    recorder = Recorder(G, D, data, config, history, n_fixed, callback)
    from tqdm.auto import tqdm  # tqdm.auto picks the notebook bar; imported here to keep `import` quick

    bar = tqdm(total=steps, desc=f"training ({loss}, k={k})", disable=not progress)
    start = i = recorder.history.last_step
    try:
        for i in range(start + 1, start + steps + 1):
            recorder.add(i, *step(G, D, opt_G, opt_D, sample_real, batch_size, k, loss, saturating))
            if i % record_every == 0 or i == start + steps:
                recorder.record(i)  # calls callback(history); raises TrainingDiverged if a loss became NaN
                last = recorder.history[-1]
                bar.set_postfix(d_loss=f"{last['d_loss']:.3f}", g_loss=f"{last['g_loss']:.3f}")
            elif i % CHECK_EVERY == 0:
                recorder.check(i)  # a diverged run stops within CHECK_EVERY steps, not at the next snapshot
            bar.update(1)
    except KeyboardInterrupt:
        recorder.interrupted(max(i - 1, start))  # step i was cut short: the last finished one is i - 1
    finally:
        bar.close()
    return recorder.history


def real_sampler(data, G, device):
    """A function b -> b real examples on `device`, for toy data, an ImageData or a tensor (used by train)."""
    if isinstance(data, GaussianMixture):
        if tuple(getattr(G, "out_shape", (data.dim,))) != (data.dim,):
            raise ValueError(f"The generator makes samples of shape {list(G.out_shape)} but the data has "
                             f"dimension {data.dim}. Build it with out_shape={data.dim}.")
        return lambda b: data.sample(b, device=device)
    images = data.images if isinstance(data, ImageData) else data
    if not torch.is_tensor(images):
        hint = " Convert it with torch.from_numpy(data).float()." if type(data).__module__ == "numpy" else ""
        raise TypeError("data must be a toy distribution (gan_lessons.toy), an ImageData from "
                        f"data.load_images, or a tensor of examples; got {type(data).__name__}.{hint}")
    _check_example_shape(images, G)
    images = images.to(device)
    _check_example_values(images, G)
    return lambda b: sample_batch(images, b)


def _check_loss(loss):
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}. Choose one of: {', '.join(LOSSES)}.")


def _is_whole(n):
    return isinstance(n, numbers.Integral) and not isinstance(n, bool)


def _check_args(steps, k, batch_size, loss, step):
    _check_loss(loss)
    if not _is_whole(steps) or steps < 0:
        raise ValueError(f"steps must be a whole number >= 0, got {steps!r}")
    if not _is_whole(k) or k < 1:
        raise ValueError(f"k (discriminator steps per generator step) must be an integer >= 1, got {k!r}. "
                         "k=1 is the usual choice; WGANs often use k=5.")
    if not _is_whole(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not callable(step):
        raise TypeError(f"step must be a function like gl.train.gan_step, got {type(step).__name__}")
    return int(steps), int(k), int(batch_size)


def _describe(step):
    """What the history's config records of the step: a fast step's options, else the function's name."""
    if hasattr(step, "config"):
        return dict(step.config)
    func = getattr(step, "func", step)  # functools.partial(gan_step, r1_weight=0.1) -> gan_step
    name = getattr(func, "__name__", type(func).__name__)
    keywords = getattr(step, "keywords", None)
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in keywords.items())})" if keywords else name


def _device_of(G, D):
    device = next(G.parameters()).device
    if next(D.parameters()).device != device:
        raise ValueError(f"G is on {device} but D is on {next(D.parameters()).device}: move both with .to(device).")
    return device


# -- what train checks before the first step ------------------------------------------------------

def _check_knobs(steps, saturating, record_every, n_fixed, callback, seed, progress, history):
    """The plain arguments of train; returns record_every (default: about 100 snapshots per run)."""
    for name, value in (("saturating", saturating), ("progress", progress)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r} (a non-empty string such as 'no' "
                            "would count as true).")
    for name, value, what in (("record_every", record_every, "steps between snapshots"),
                              ("n_fixed", n_fixed, "samples kept at each snapshot")):
        if value is not None and (not _is_whole(value) or value < 1):
            raise ValueError(f"{name} ({what}) must be a whole number >= 1, or None for the default; got {value!r}.")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function, called as callback(history) at each snapshot; "
                        f"got {type(callback).__name__}.")
    if seed is not None and not _is_whole(seed):
        raise TypeError(f"seed must be a whole number such as 0, or None; got {seed!r}.")
    if history is not None and not isinstance(history, History):
        raise TypeError("history must be the History of an earlier run (what train returned, or "
                        f"History.load(path)), or None for a new run; got {type(history).__name__}.")
    return int(record_every) if record_every is not None else max(1, steps // 100)


def _check_models(G, D, loss, batch_size, n_fixed):
    """G must be a generator and D a discriminator that returns logits, on one device; returns it."""
    for name, model, kind in (("G", G, "generator"), ("D", D, "discriminator or critic")):
        if not isinstance(model, nn.Module):
            raise TypeError(f"{name} must be a {kind} (a torch.nn.Module), got {type(model).__name__}.")
    if G is D or not hasattr(G, "latent_dim") or hasattr(D, "latent_dim"):
        which = "G and D are the same network" if G is D else \
            "G has no latent_dim (the size of z)" if not hasattr(G, "latent_dim") else "D has a latent_dim"
        raise TypeError(f"{which}: train needs the generator first and the discriminator second, "
                        "train(G, D, data, steps). Did you swap them?")
    makes, takes = getattr(G, "out_shape", None), getattr(D, "in_shape", None)
    if makes is not None and takes is not None and tuple(makes) != tuple(takes):
        raise ValueError(f"G makes examples of shape {list(makes)} but D takes examples of shape {list(takes)}: "
                         "build both for the shape of the data (out_shape of G = in_shape of D).")
    leaves = [m for m in D.modules() if not list(m.children())]
    if leaves and isinstance(leaves[-1], nn.Sigmoid):
        raise ValueError("D ends with a Sigmoid, so it returns probabilities, but the losses take logits (they "
                         "apply the sigmoid themselves, stably): remove D's last nn.Sigmoid().")
    for name, model in (("G", G), ("D", D)):
        small = [f"{n}={v}" for n, v in (("batch_size", batch_size), ("n_fixed", n_fixed)) if v is not None and v < 2]
        if small and uses_batch_norm(model):
            raise ValueError(f"{' and '.join(small)}: {name} uses batch norm, which needs at least 2 examples per "
                             "batch in training mode. Use 2 or more (batch sizes of 32-128 are usual).")
    if loss == "wgan-gp" and uses_batch_norm(D):
        raise ValueError("loss='wgan-gp' with a D that uses batch norm: the gradient penalty is taken example by "
                         "example, and batch norm mixes the examples of a batch. Use a critic without it: "
                         "gl.models.DCGANCritic(), gl.models.MLPCritic(...) or DCGANDiscriminator(batch_norm=False).")
    return _device_of(G, D)


def _check_finite(G, D, opt_G, opt_D):
    """Refuse NaN weights (left by a diverged run): training them diverges again at step 1, whatever the lr."""
    bad = [name for name, model in (("G", G), ("D", D)) if not finite_weights(model)]
    for name, opt in (("opt_G", opt_G), ("opt_D", opt_D)):
        if not all_finite([v for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]):
            bad.append(f"{name}'s state")
    if bad:
        verb = "holds" if len(bad) == 1 else "hold"
        raise ValueError(f"{' and '.join(bad)} {verb} NaN or infinite values (left by a run that diverged?): training "
                         "would diverge again at step 1, whatever the learning rate. Start over: rebuild G and D (or "
                         "load a checkpoint saved before the divergence with gl.checkpoints.load_checkpoint) and make "
                         "new optimizers (gl.train.make_optimizers(G, D)), then train with a smaller learning rate.")


def _optimizers(G, D, loss, lr, lr_d, opt_G, opt_D, history):
    if (opt_G is None) != (opt_D is None):
        given, missing = ("opt_G", "opt_D") if opt_D is None else ("opt_D", "opt_G")
        raise ValueError(f"train got {given} but no {missing}: pass both optimizers or neither (then train "
                         "makes the usual ones, with lr=... and lr_d=... if you give them).")
    if opt_G is None:
        if history is not None and history.last_step > 0:
            raise ValueError("To resume a run, pass the optimizers too (opt_G=..., opt_D=...), e.g. from "
                             "load_checkpoint, so Adam's state carries on. If train made them, make new ones with "
                             "gl.train.make_optimizers(G, D) (Adam's running averages then restart).")
        return make_optimizers(G, D, loss, lr, lr_d)
    if lr is not None or lr_d is not None:
        raise ValueError("lr and lr_d set the learning rates of the optimizers train makes; you passed your own "
                         "opt_G and opt_D, so they would be ignored. Set the rate when you build them, e.g. "
                         "torch.optim.Adam(G.parameters(), lr=1e-3), or pass lr without optimizers.")
    _check_optimizer("opt_G", opt_G, ("G", G), ("D", D))
    _check_optimizer("opt_D", opt_D, ("D", D), ("G", G))
    return opt_G, opt_D


def _check_optimizer(name, opt, mine, other):
    """`opt` must update exactly the parameters of its model (all of them, or all trainable ones)."""
    (model_name, model), (other_name, other_model) = mine, other
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(f"{name} must be a torch.optim optimizer, e.g. torch.optim.Adam({model_name}.parameters(), "
                        f"lr=2e-4); got {type(opt).__name__}.")
    held = {id(p) for group in opt.param_groups for p in group["params"]}
    params = list(model.parameters())
    if held in ({id(p) for p in params}, {id(p) for p in params if p.requires_grad}):
        return
    if held == {id(p) for p in other_model.parameters()}:
        raise ValueError(f"{name} optimizes {other_name}'s parameters: swap them (opt_G for G, opt_D for D).")
    raise ValueError(f"{name} does not hold {model_name}'s parameters (it was built for another model, or for part "
                     f"of this one), so {model_name} would not train: build it as "
                     f"torch.optim.Adam({model_name}.parameters(), ...), or use gl.train.make_optimizers(G, D).")


def _check_example_shape(x, G):
    """A tensor of examples: not empty, float like G's weights, each example shaped like G's output."""
    what = f"data (a {x.dtype} tensor of shape {list(x.shape)})"
    if x.dim() == 0 or x.numel() == 0:
        raise ValueError(f"{what} holds no examples: pass a tensor [N, ...] with N >= 1 examples.")
    dtype = next(G.parameters()).dtype
    if x.dtype == torch.uint8:
        raise TypeError(f"{what} holds pixel values 0..255, but the models take float images in [-1, 1]: "
                        "pass data.float() / 127.5 - 1.")
    if x.dtype != dtype:
        fix = "data.float()" if dtype == torch.float32 else f"data.to({dtype})"
        raise TypeError(f"{what} must have the dtype of G's weights, {dtype}: pass {fix}.")
    out_shape = getattr(G, "out_shape", None)
    if out_shape is not None and tuple(x.shape[1:]) != tuple(out_shape):
        shape = ", ".join(map(str, out_shape))
        raise ValueError(f"{what} holds examples of shape {list(x.shape[1:])}, but G makes examples of shape "
                         f"{list(out_shape)}: reshape the data with data.reshape(-1, {shape}), or build a G "
                         "whose out_shape is the data's.")


def _check_example_values(x, G):
    """Finite values, and images in [-1, 1] where G ends in tanh (one host readback)."""
    lo, hi = torch.stack(torch.aminmax(x)).tolist()  # one pass; a NaN makes both NaN, an inf shows as either
    if not (math.isfinite(lo) and math.isfinite(hi)):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"data holds {bad} NaN or infinite values (of {x.numel()}): G would learn NaN at step 1. "
                         "Find and drop the broken examples, e.g. data = data[torch.isfinite(data).flatten(1).all(1)].")
    leaves = [m for m in G.modules() if not list(m.children())]
    bounded = x.dim() > 2 or (leaves and isinstance(leaves[-1], nn.Tanh))
    if bounded and (lo < -1.001 or hi > 1.001):
        fix = "data / 127.5 - 1 (pixel values 0..255 -> [-1, 1])" if lo >= 0 and hi > 2 else \
            "(data - data.min()) / (data.max() - data.min()) * 2 - 1"
        raise ValueError(f"data spans [{lo:.4g}, {hi:.4g}], but images in this course live in [-1, 1], the range of "
                         f"G's tanh: G could never make such values and D would win at once. Scale the data: {fix}.")


class _TrainModule(types.ModuleType):
    """`gl.train` is this module; calling it says where the function is (one meaning per name)."""

    def __call__(self, *args, **kwargs):
        raise TypeError("gl.train is the training module, not a function: call gl.train.train(G, D, data, steps, "
                        "...) (or `from gan_lessons.train import train`).")


sys.modules[__name__].__class__ = _TrainModule

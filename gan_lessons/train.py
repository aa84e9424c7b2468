"""Training a GAN: one discriminator step, one generator step, and the loop (lessons 03-06).

The loop is the algorithm of Goodfellow et al. (2014): repeat { k discriminator (or critic) steps
on fresh real and fake batches; one generator step }. It records a `History` snapshot every
`record_every` generator steps, shows a progress bar, keeps what it recorded when you interrupt
the kernel, and stops with a clear message if a loss becomes NaN or infinite.
"""
import contextlib
import copy
import time
import warnings

import torch

from . import fast, losses
from .data import ImageData, sample_batch
from .errors import TrainingDiverged
from .history import History, to_uint8_images
from .toy import GaussianMixture, count_modes

LOSSES = ("bce", "wgan-gp", "wgan-clip")


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


def _device_of(model):
    return next(model.parameters()).device


def sample_z(batch_size, latent_dim, device=None, generator=None):
    """Noise z ~ N(0, I), shape [batch_size, latent_dim] (lesson 03)."""
    return torch.randn(batch_size, latent_dim, device=device, generator=generator)


def make_optimizers(G, D, loss="bce", lr=None, lr_d=None):
    """The usual optimizers for each loss (lesson 05): Adam(0.5, 0.999) for BCE, Adam(0, 0.9) for
    WGAN-GP, RMSprop for WGAN with weight clipping. `lr_d` defaults to `lr`."""
    _check_loss(loss)
    if loss == "wgan-clip":
        lr = 5e-5 if lr is None else lr
        lr_d = lr if lr_d is None else lr_d
        return torch.optim.RMSprop(G.parameters(), lr=lr), torch.optim.RMSprop(D.parameters(), lr=lr_d)
    lr = 2e-4 if lr is None else lr
    lr_d = lr if lr_d is None else lr_d
    betas = (0.5, 0.999) if loss == "bce" else (0.0, 0.9)
    return (torch.optim.Adam(G.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas))


class EMA:
    """An exponential moving average of a generator's weights (lesson 07).

    A GAN's generator keeps moving as D changes its mind, so its latest weights are a noisy point
    on that path; their running average makes cleaner samples (Yazici et al., 2019). After each
    generator step, `update(G)` moves `ema.model` (a copy of G, in eval mode, never trained) a
    fraction 1 - decay towards G. The decay starts low and rises to `decay` ((1 + n) / (10 + n)
    after n updates), so the average does not remember the random start. Buffers (batch norm's
    running statistics) are copied from G. Pass it to `train(..., ema=ema)` and sample from
    `ema.model`.
    """

    def __init__(self, G, decay=0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), e.g. 0.999 (averages about the last 1000 steps); got {decay!r}")
        self.model = copy.deepcopy(G).eval().requires_grad_(False)
        self.decay, self.updates = float(decay), 0

    @torch.no_grad()
    def update(self, G):
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ours, theirs = list(self.model.parameters()), list(G.parameters())
        if len(ours) != len(theirs):
            raise ValueError("EMA.update got a model with a different architecture from the one it averages.")
        torch._foreach_lerp_(ours, theirs, 1.0 - decay)  # avg += (1 - decay) * (p - avg), all tensors at once
        for a, b in zip(self.model.buffers(), G.buffers()):
            a.copy_(b)

    def state_dict(self):
        return {"model": self.model.state_dict(), "decay": self.decay, "updates": self.updates}

    def load_state_dict(self, state):
        self.model.load_state_dict(state["model"])
        self.decay, self.updates = float(state["decay"]), int(state["updates"])


def _check_loss(loss):
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}. Choose one of: {', '.join(LOSSES)}.")


def train_discriminator_step(G, D, opt_D, real, z, loss="bce", gp_weight=10.0, clip=0.01, fake=None,
                             r1_weight=0.0):
    """One update of D (or the critic) on a real batch and a batch made from noise z (lesson 03).

    G is frozen here: fake = G(z).detach() cuts the graph, so no gradient reaches G and G's
    parameters and gradients are untouched; only opt_D steps. Returns (loss, D(real), D(fake)),
    detached: logits for "bce", scores for the Wasserstein losses.
    fake: G(z) computed already (the loop's `reuse_fake` option); it is detached here just the same.
    r1_weight: gamma of the R1 penalty (gamma / 2) E||grad_x D(x)||^2 on the real batch; 0 = off.
    """
    fake = (G(z) if fake is None else fake).detach()  # [B, ...]; detach: D's loss must not flow into G
    if r1_weight:
        real = real.detach().requires_grad_(True)  # R1 differentiates D's output w.r.t. the real points
    real_out, fake_out = D(real), D(fake)  # [B], [B]
    if loss == "bce":
        d_loss = losses.discriminator_loss(real_out, fake_out)
    else:
        d_loss = losses.critic_loss(real_out, fake_out)
        if loss == "wgan-gp":
            d_loss = d_loss + gp_weight * losses.gradient_penalty(D, real, fake)
    if r1_weight:
        d_loss = d_loss + 0.5 * r1_weight * losses.r1_penalty(real_out, real)
    opt_D.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_D.step()
    if loss == "wgan-clip":
        losses.clip_weights(D, clip)
    return d_loss.detach(), real_out.detach(), fake_out.detach()


def train_generator_step(G, D, opt_G, z, loss="bce", saturating=False, fake=None):
    """One update of G (lesson 04): generate, score with D, backpropagate through D into G.

    D is frozen for the step: the gradient flows *through* D to G's output, but D's parameters
    and their .grad are untouched; only opt_G steps. Returns (loss, D(G(z))) detached.
    fake: G(z) computed already, with its graph (the loop's `reuse_fake` option); z is then unused.
    """
    with frozen(D):
        fake_out = D(G(z) if fake is None else fake)  # [B]
        if loss == "bce":
            g_loss = losses.generator_loss(fake_out, saturating=saturating)
        else:
            g_loss = losses.wasserstein_generator_loss(fake_out)
        opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
    opt_G.step()
    return g_loss.detach(), fake_out.detach()


def _kde(samples, grid):
    """Gaussian kernel density estimate of 1-D samples [n] on grid [m] (Silverman's bandwidth)."""
    n = samples.numel()
    std = samples.std().clamp(min=1e-3)
    h = 1.06 * std * n ** (-0.2)
    z = (grid[:, None] - samples[None, :]) / h  # [m, n]
    return torch.exp(-0.5 * z ** 2).sum(1) / (n * h * (2 * torch.pi) ** 0.5)


def _prob(out, loss):
    return torch.sigmoid(out) if loss == "bce" else out


def _make_meta(G, data, loss, config):
    meta = {"config": dict(config), "loss": loss, "latent_dim": G.latent_dim}
    if isinstance(data, GaussianMixture):
        lo, hi = data.bounds(margin=4.0)
        if data.dim == 1:
            lo, hi = min(float(lo), -4.0), max(float(hi), 4.0)
            grid = torch.linspace(lo - 1, hi + 1, 300)
            meta.update(kind="1d", grid=grid, p_data=data.density(grid), toy=data.name,
                        modes=data.modes.clone())
            if G.latent_dim == 1:
                meta["z_line"] = torch.linspace(-2.5, 2.5, 41)
        else:
            span = float(max(hi.abs().max(), lo.abs().max())) + 0.5
            meta.update(kind="2d", bounds=[-span, span], grid_size=64, toy=data.name, modes=data.modes.clone(),
                        mode_std=data.stds.clone())
            f = torch.linspace(-span, span, 17)
            meta["field_xy"] = torch.stack(torch.meshgrid(f, f, indexing="xy"), -1)  # [17, 17, 2]
    else:
        meta["kind"] = "images"
        if isinstance(data, ImageData):
            meta.update(dataset=data.name, class_names=list(data.class_names))
    return meta


@torch.no_grad()
def _grid_eval(D, points, loss):
    return _prob(D(points), loss).cpu()


def snapshot(G, D, step, stats, fixed_z, meta, data=None, elapsed=0.0):
    """Record one snapshot of the run (see `history` for its fields)."""
    loss = meta["loss"]
    with torch.no_grad():
        fake = G(fixed_z)
        scores = _prob(D(fake), loss).cpu()
    snap = {"step": int(step), "time": float(elapsed), "sample_scores": scores}
    snap.update({k: float(v) for k, v in stats.items()})
    device = fixed_z.device
    if meta["kind"] == "images":
        snap["samples"] = to_uint8_images(fake)
        return snap
    snap["samples"] = fake.cpu()
    if meta["kind"] == "1d":
        grid = meta["grid"]
        p_g = _kde(fake.view(-1).cpu(), grid)
        snap["p_g"] = p_g
        snap["d_grid"] = _grid_eval(D, grid.to(device)[:, None], loss)
        if loss == "bce":
            snap["d_star"] = meta["p_data"] / (meta["p_data"] + p_g).clamp(min=1e-12)
        if "z_line" in meta:
            with torch.no_grad():
                snap["x_of_z"] = G(meta["z_line"].to(device)[:, None]).view(-1).cpu()
    else:
        lo, hi = meta["bounds"]
        n = meta["grid_size"]
        axis = torch.linspace(lo, hi, n)
        pts = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).view(-1, 2)  # [n*n, 2]
        snap["d_grid"] = _grid_eval(D, pts.to(device), loss).view(n, n)
        # Where D pushes the fakes: minus the gradient of G's loss at each point of a coarse grid.
        pts = meta["field_xy"].reshape(-1, 2).to(device).requires_grad_(True)
        with torch.enable_grad(), frozen(D):
            out = D(pts)
            g_loss = losses.generator_loss(out) if loss == "bce" else losses.wasserstein_generator_loss(out)
            (grad,) = torch.autograd.grad(g_loss * pts.shape[0], pts)
        snap["field"] = (-grad).view(*meta["field_xy"].shape).cpu()
        if data is not None:
            cover = count_modes(fake, data)
            snap["modes_covered"] = cover["modes_covered"]
            snap["high_quality"] = cover["high_quality"]
    return snap


def _real_sampler(data, G, device):
    if isinstance(data, GaussianMixture):
        if tuple(G.out_shape) != (data.dim,):
            raise ValueError(f"The generator makes samples of shape {list(G.out_shape)} but the data has "
                             f"dimension {data.dim}. Build it with out_shape={data.dim}.")
        return lambda b: data.sample(b, device=device)
    images = data.images if isinstance(data, ImageData) else data
    if not torch.is_tensor(images):
        raise TypeError("data must be a toy distribution (gan_lessons.toy), an ImageData from "
                        f"data.load_images, or a tensor of examples; got {type(data).__name__}")
    if images.device != device:
        images = images.to(device)
    return lambda b: sample_batch(images, b)


def train(G, D, data, steps, *, batch_size=128, k=1, loss="bce", saturating=False, lr=None, lr_d=None,
          opt_G=None, opt_D=None, gp_weight=10.0, clip=0.01, record_every=None, n_fixed=None,
          history=None, progress=True, callback=None, seed=None, ema=None, reuse_fake=False, r1_weight=0.0,
          precision="fp32", cuda_graph=False, compile=False, channels_last=None):
    """Train G and D for `steps` generator steps, k discriminator steps before each (lesson 05).

    data: a toy distribution (gan_lessons.toy), an ImageData (data.load_images) or a tensor of
      examples. Models and data should be on the same device (the models' device is used).
    loss: "bce" (the original GAN; `saturating` picks G's loss), "wgan-gp" or "wgan-clip".
    record_every: generator steps between snapshots (default: about 100 snapshots per run).
    history: pass a previous run's History (and its optimizers) to resume; steps continue from it.
    callback: called as callback(history) after each snapshot (the live scrubber uses it).
    ema: an `EMA` of G, updated after every generator step (lesson 07).
    r1_weight: gamma of an R1 penalty on D's slope at the real data (`losses.r1_penalty`); 0 = off.
    reuse_fake: G's step scores the fakes of the last D step again instead of drawing fresh z, as
      pytorch/examples' DCGAN does: one generator forward pass less per step (lesson 07).
    precision, cuda_graph, compile, channels_last: speed-ups (see `gan_lessons.fast`):
      precision="bf16" (bfloat16 autocast), cuda_graph=True (replay the whole step as a CUDA graph),
      compile=True (torch.compile the networks); off by default, and where one cannot apply it warns
      and is skipped. channels_last=None (auto) stores convolutional networks channels-last on a CPU,
      where oneDNN's convolutions run faster that way; pass False to keep G and D as they are.
    Returns the History. Ctrl-C / "interrupt kernel" returns what was recorded so far.
    """
    _check_loss(loss)
    precision, cuda_graph, compile_mode = fast.check_options(precision, cuda_graph, compile, loss)
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a whole number >= 0, got {steps!r}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k (discriminator steps per generator step) must be an integer >= 1, got {k!r}. "
                         "k=1 is the usual choice; WGANs often use k=5.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if ema is not None and not isinstance(ema, EMA):
        raise TypeError(f"ema must be a gan_lessons.train.EMA (ema = EMA(G)), got {type(ema).__name__}")
    if not isinstance(r1_weight, (int, float)) or isinstance(r1_weight, bool) or not r1_weight >= 0:
        raise ValueError(f"r1_weight must be a number >= 0 (0 = off; 0.1 to 10 are usual), got {r1_weight!r}")
    if not isinstance(reuse_fake, bool):
        raise TypeError(f"reuse_fake must be True or False, got {reuse_fake!r}")
    device = _device_of(G)
    if _device_of(D) != device:
        raise ValueError(f"G is on {device} but D is on {_device_of(D)}: move both with .to(device).")
    fast.set_channels_last(G, D, ema, channels_last)  # a memory layout only: no result changes
    if opt_G is None or opt_D is None:
        if history is not None and history.last_step > 0:
            raise ValueError("To resume a run, pass the optimizers too (opt_G=..., opt_D=...), "
                             "e.g. from load_checkpoint, so Adam's state carries on.")
        opt_G, opt_D = make_optimizers(G, D, loss, lr, lr_d)
    if seed is not None:
        torch.manual_seed(seed)
    sample_real = _real_sampler(data, G, device)
    if cuda_graph and (device.type != "cuda" or isinstance(data, GaussianMixture)):
        why = "toy data is sampled on the CPU" if device.type == "cuda" else f"the models are on {device}"
        warnings.warn(f"cuda_graph=True needs CUDA and image data, but {why}; training without it.", stacklevel=2)
        cuda_graph = False
    record_every = record_every or max(1, steps // 100)
    config = dict(steps=steps, batch_size=batch_size, k=k, loss=loss, saturating=saturating,
                  lr=opt_G.param_groups[0]["lr"], lr_d=opt_D.param_groups[0]["lr"], gp_weight=gp_weight,
                  clip=clip, record_every=record_every)
    if reuse_fake:
        config["reuse_fake"] = True
    if r1_weight:
        config["r1_weight"] = float(r1_weight)
    if ema is not None:
        config["ema_decay"] = ema.decay
    if precision != "fp32" or cuda_graph or compile_mode:
        config["speed"] = dict(precision=precision, cuda_graph=cuda_graph, compile=compile_mode)
    if history is None:
        meta = _make_meta(G, data, loss, config)
        history = History(meta["kind"], meta)
        n_fixed = n_fixed or (64 if meta["kind"] == "images" else 1000)
        history.meta["fixed_z"] = sample_z(n_fixed, G.latent_dim).cpu()
    meta = history.meta
    fixed_z = meta["fixed_z"].to(device)
    toy = data if isinstance(data, GaussianMixture) else None
    start = history.last_step
    t0 = time.perf_counter() - (history[-1]["time"] if len(history) else 0.0)

    # Losses stay on the device between records (no .item() per step); NaN is tracked the same way.
    zero = torch.zeros((), device=device)
    sums = {"d_loss": zero.clone(), "g_loss": zero.clone(), "d_real": zero.clone(), "d_fake": zero.clone()}
    count = 0
    first_bad = torch.full((), -1, device=device, dtype=torch.long)

    def record(step):
        nonlocal count, sums
        bad = int(first_bad)
        if bad >= 0:
            raise TrainingDiverged(
                f"A loss became NaN or infinite at step {bad} (training stopped at step {step}). "
                f"The history up to step {history.last_step} is kept on the error's .history. "
                "Try a smaller learning rate, a gradient penalty, or check the data for NaNs.",
                history=history, step=bad)
        stats = {key: float(v) / count for key, v in sums.items()} if count else {}
        history.append(snapshot(G, D, step, stats, fixed_z, meta, toy, time.perf_counter() - t0))
        sums = {key: torch.zeros_like(v) for key, v in sums.items()}
        count = 0
        if callback is not None:
            callback(history)

    # The networks the steps call: G and D, or (speed options) wrappers sharing their parameters.
    G_run, D_run = fast.prepare_models(G, D, precision, compile_mode)

    def one_step():
        """k discriminator steps, then one generator step; returns (d_loss, D(real), D(fake), g_loss)."""
        fake = None
        for i in range(k):
            real = sample_real(batch_size)
            z = sample_z(batch_size, G.latent_dim, device)
            if reuse_fake and i == k - 1:
                fake = G_run(z)  # keeps its graph: G's step below backpropagates through it
            d_loss, real_out, fake_out = train_discriminator_step(G_run, D_run, opt_D, real, z, loss, gp_weight,
                                                                  clip, fake=fake, r1_weight=r1_weight)
        if fake is None:
            z = sample_z(batch_size, G.latent_dim, device)
        g_loss, _ = train_generator_step(G_run, D_run, opt_G, z, loss, saturating, fake=fake)
        return d_loss, real_out, fake_out, g_loss

    run_step = fast.GraphedStep(one_step, [opt_G, opt_D]) if cuda_graph else one_step

    if not len(history):
        record(start)  # step 0: what the untrained networks do
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"training ({loss}, k={k})", leave=True)
    step = start
    try:
        for step in range(start + 1, start + steps + 1):
            d_loss, real_out, fake_out, g_loss = run_step()
            if ema is not None:
                ema.update(G)
            ok = torch.isfinite(d_loss) & torch.isfinite(g_loss)
            first_bad = torch.where(~ok & (first_bad < 0), torch.full_like(first_bad, step), first_bad)
            sums["d_loss"] += d_loss
            sums["g_loss"] += g_loss
            sums["d_real"] += _prob(real_out, loss).mean()
            sums["d_fake"] += _prob(fake_out, loss).mean()
            count += 1
            if step % record_every == 0 or step == start + steps:
                record(step)
                if bar is not None:
                    last = history[-1]
                    bar.set_postfix(d_loss=f"{last['d_loss']:.3f}", g_loss=f"{last['g_loss']:.3f}")
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        # Keep what was recorded; add a snapshot of the last finished step if it is cheap and sane.
        try:
            if count and int(first_bad) < 0:
                history.append(snapshot(G, D, step - 1 if step > start else start,
                                        {key: float(v) / count for key, v in sums.items()},
                                        fixed_z, meta, toy, time.perf_counter() - t0))
        except (Exception, KeyboardInterrupt):
            pass
        history.interrupted = True
        print(f"Interrupted at step {history.last_step}: returning the {len(history)} snapshots recorded so far.")
    finally:
        if bar is not None:
            bar.close()
    return history

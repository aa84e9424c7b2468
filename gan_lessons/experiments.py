"""Small experiments the lessons run and tabulate, and tuned recipes (lessons 05-06).

- `equilibrium_report(G, D, data)`: how close a finished GAN is to the game's equilibrium
  (D = 1/2 everywhere, V = -log 4) (lesson 05).
- `balance_sweep(data, ks, lr_ratios, steps)`: short GAN runs over k (discriminator steps per
  generator step) and the learning-rate ratio lr_d / lr_g, one row of outcomes per run (lesson 05);
  `format_table(rows)` prints them and `plots.plot_sweep(rows)` draws each run's final samples.
- `ring_gan_recipe(seed)`: a GAN set up to cover all 8 modes of the ring quickly on a CPU (a further
  exercise of lesson 05).
- `fit_critic(real, fake, steps, constraint)`: train a critic between two *fixed* distributions with
  `train.critic_step` and record its estimate E f(x) - E f(y) of the Wasserstein-1 distance (lesson 06).
- `critic_slopes(critic, points)`: the slope ||grad_x f(x)|| of a critic at each point (lesson 06).
"""
import math
import time

import torch

from . import losses
from .device import seed_everything
from .models import MLPCritic, MLPDiscriminator, MLPGenerator
from .speed import Options, fast_step
from .toy import GaussianMixture, wasserstein1
from .train import CONSTRAINTS, critic_step, make_optimizers, train

LOG4 = math.log(4.0)


def _device_of(model):
    return next(model.parameters()).device


def _check_toy(data, who):
    if not isinstance(data, GaussianMixture):
        raise TypeError(f"{who} needs a toy distribution from gan_lessons.toy (e.g. gl.toy.Ring2D()), "
                        f"got {type(data).__name__}.")


# -- lesson 05: the equilibrium ---------------------------------------------------------------------
@torch.no_grad()
def equilibrium_report(G, D, data, n=10000, seed=0):
    """How close G and D are to the equilibrium of the minimax game (lesson 05).

    On n real samples x and n fakes G(z) (fixed seed) returns a dict:
    d_real = mean D(x), d_fake = mean D(G(z)) (both 1/2 at the equilibrium),
    dev_real = mean |D(x) - 1/2| over the real samples, i.e. over the data region,
    value = V(D, G) = mean log D(x) + mean log(1 - D(G(z))) (-log 4 = -1.386 at the equilibrium),
    value_gap = value + log 4,
    w1 (1-D data only) = the exact Wasserstein-1 distance between the fakes and the data
    (`toy.wasserstein1`): D near 1/2 is necessary at the equilibrium but not sufficient (a D that
    has not caught up with G also says 1/2), so look at how far the fakes really are, too.
    """
    _check_toy(data, "equilibrium_report")
    device = _device_of(G)
    gen = torch.Generator().manual_seed(seed)
    real = data.sample(n, generator=gen).to(device)  # [n, dim]
    z = torch.randn(n, G.latent_dim, generator=gen).to(device)  # [n, latent_dim]
    real_logits, fake_logits = D(real), D(G(z))  # [n], [n]
    value = float(-losses.discriminator_loss(real_logits, fake_logits))  # V = -(D's loss)
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    out = dict(d_real=float(d_real.mean()), d_fake=float(d_fake.mean()),
               dev_real=float((d_real - 0.5).abs().mean()), value=value, value_gap=value + LOG4)
    if data.dim == 1:
        out["w1"] = wasserstein1(G(z).cpu(), data)
    return out


# -- lesson 05: balance between the players ---------------------------------------------------------
def balance_sweep(data, ks=(1, 5), lr_ratios=(0.2, 1.0, 5.0), steps=500, lr_g=2e-4, batch_size=128,
                  hidden=128, latent_dim=2, seed=0, device=None):
    """Short GAN runs on a toy distribution for every k in `ks` and lr_d / lr_g in `lr_ratios` (lesson 05).

    Every run starts from the same seed, so runs differ only in k and the ratio. Each run uses Adam
    (betas 0.5, 0.999) with lr_g for G and lr_d = ratio * lr_g for D. Returns a list of dicts, one per
    run: k, ratio, lr_d, lr_g, modes_covered, n_modes, high_quality, d_real, d_fake (mean D on real
    and fake data over the last snapshot interval), seconds, history.
    """
    _check_toy(data, "balance_sweep")
    bad_k = [k for k in ks if not isinstance(k, int) or k < 1]
    if bad_k or not ks:
        raise ValueError(f"ks must be integers >= 1 (discriminator steps per generator step), got {ks!r}.")
    if not lr_ratios or any(not (r > 0) for r in lr_ratios):
        raise ValueError(f"lr_ratios must be positive numbers (lr_d / lr_g), got {lr_ratios!r}.")
    device = torch.device("cpu") if device is None else torch.device(device)
    rows = []
    for k in ks:
        for ratio in lr_ratios:
            torch.manual_seed(seed)
            G = MLPGenerator(latent_dim, data.dim, hidden=hidden).to(device)
            D = MLPDiscriminator(data.dim, hidden=hidden).to(device)
            opt_G, opt_D = make_optimizers(G, D, "bce", lr=lr_g, lr_d=ratio * lr_g)
            t0 = time.perf_counter()
            h = train(G, D, data, steps, batch_size=batch_size, k=k, opt_G=opt_G, opt_D=opt_D,
                      record_every=max(1, steps // 20), progress=False, seed=seed)
            last = h[-1]
            rows.append(dict(k=k, ratio=float(ratio), lr_d=ratio * lr_g, lr_g=lr_g,
                             modes_covered=last["modes_covered"], n_modes=len(data.modes),
                             high_quality=last["high_quality"], d_real=last["d_real"], d_fake=last["d_fake"],
                             seconds=time.perf_counter() - t0, history=h))
    return rows


def format_table(rows, columns=("k", "ratio", "modes_covered", "high_quality", "d_real", "d_fake")):
    """Rows of dicts -> a fixed-width text table with the given columns (lesson 05). Floats get 2 decimals."""
    if not rows:
        raise ValueError("format_table got no rows.")
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise KeyError(f"format_table: the rows have no column(s) {missing}; they have {list(rows[0])}.")

    def cell(v):
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    cells = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(line[j]) for line in cells)) for j, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.rjust(w) for v, w in zip(line, widths)) for line in cells]
    return "\n".join(lines)


# -- lesson 06: a critic between two fixed distributions --------------------------------------------
def critic_slopes(critic, points):
    """||grad_x f(x)||_2 at each point, [n] (lesson 06). A 1-Lipschitz critic has every slope <= 1."""
    x = points.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x)  # [n, ...] like x
    return grad.flatten(1).norm(dim=1).detach()  # [n]


def fit_critic(real, fake, steps=500, constraint="gp", critic=None, lr=1e-3, batch_size=256, clip=0.01,
               gp_weight=10.0, record_every=10, n_eval=20000, seed=0, hidden=64):
    """Train a critic f between two fixed toy distributions, nothing else moving (lesson 06).

    Each step is `train.critic_step`: the critic lowers E f(y) - E f(x) (x from `real`, y from `fake`),
    constrained by `constraint`: None (no constraint at all), "clip" (weight clipping to [-clip, clip]
    after each step, RMSprop as in Arjovsky et al.) or "gp" (gradient penalty with weight gp_weight,
    Adam(0, 0.9) as in Gulrajani et al.). Every `record_every` steps it records, on a fixed set of
    n_eval samples from each distribution, the estimate E f(x) - E f(y) (the Wasserstein-1 distance
    when f is the best 1-Lipschitz critic), the largest |score| and the largest slope ||grad f||.
    The default critic is a small MLPCritic whose last layer starts at zero (f = 0, no opinion yet).
    Returns dict(steps, estimate, max_score, max_slope, critic).
    """
    _check_toy(real, "fit_critic")
    _check_toy(fake, "fit_critic")
    if constraint not in CONSTRAINTS:
        raise ValueError(f"constraint must be one of {CONSTRAINTS}, got {constraint!r}.")
    if real.dim != fake.dim:
        raise ValueError(f"real is {real.dim}-D but fake is {fake.dim}-D; they must live in the same space.")
    torch.manual_seed(seed)
    if critic is None:
        critic = MLPCritic(real.dim, hidden=hidden)
        # Start neutral, f = 0 everywhere: a random start whose slope already points the wrong way
        # (fakes scored higher) can be held there by the gradient penalty, which only cares about
        # the slope's size; to flip its sign the critic would have to pass through slope 0.
        torch.nn.init.zeros_(critic.net[-1].weight)
        torch.nn.init.zeros_(critic.net[-1].bias)
    device = _device_of(critic)
    if constraint == "clip":
        opt = torch.optim.RMSprop(critic.parameters(), lr=lr)
    else:
        opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.0, 0.9) if constraint == "gp" else (0.5, 0.999))
    gen = torch.Generator().manual_seed(seed + 1)
    x_eval = real.sample(n_eval, generator=gen).to(device)  # [n_eval, dim]
    y_eval = fake.sample(n_eval, generator=gen).to(device)
    out = dict(steps=[], estimate=[], max_score=[], max_slope=[], critic=critic)

    def record(step):
        with torch.no_grad():
            fx, fy = critic(x_eval), critic(y_eval)
        slopes = critic_slopes(critic, torch.cat([x_eval[:2000], y_eval[:2000]]))
        out["steps"].append(step)
        out["estimate"].append(float(fx.mean() - fy.mean()))
        out["max_score"].append(float(torch.cat([fx, fy]).abs().max()))
        out["max_slope"].append(float(slopes.max()))

    record(0)
    for step in range(1, steps + 1):
        x = real.sample(batch_size).to(device)  # [B, dim]
        y = fake.sample(batch_size).to(device)  # [B, dim]: fixed fakes, no generator behind them
        critic_step(critic, opt, x, y, constraint, gp_weight=gp_weight, clip=clip)
        if step % record_every == 0 or step == steps:
            record(step)
    return out


# -- lesson 05: a tuned recipe for the ring ---------------------------------------------------------
# Found with scripts/benchmark.py --what ring (docs/benchmarks.md has the sweeps).
RING_RECIPE = dict(latent_dim=2, hidden=128, layers=3, lr=1e-3, betas=(0.5, 0.999), batch_size=1024,
                   steps=6000, decay_at=0.4, decay=0.3, reuse_fake=True)


def ring_gan_recipe(seed=0, r1_weight=0.0):
    """A GAN set up to cover all 8 modes of `toy.Ring2D()` with sharp samples, quickly on a CPU (lesson 05's
    further exercise 6).

    Returns (G, D, train_kwargs): call `train.train(G, D, toy.Ring2D(), **train_kwargs)`.
    The settings are in RING_RECIPE: a deeper MLP pair (3 hidden layers of 128), large batches
    (1024: less noisy gradients, fewer modes dropped), Adam at lr 1e-3, both learning rates cut to
    0.3x after 40% of the steps (by a callback at a snapshot), which stops the generator wandering
    between modes once it covers them and lets each mode tighten, and `reuse_fake` (one generator
    pass less per step, so more steps fit in the time). r1_weight=0.1 adds an R1 penalty
    (`losses.r1_penalty`): measured, it covers all 8 modes on seeds 0-4 where the plain recipe
    misses one on seeds 3 and 4, but each step costs 65% more and the samples are less sharp.
    """
    r = RING_RECIPE
    seed_everything(seed)
    G = MLPGenerator(r["latent_dim"], 2, hidden=r["hidden"], layers=r["layers"])
    D = MLPDiscriminator(2, hidden=r["hidden"], layers=r["layers"])
    opt_G, opt_D = make_optimizers(G, D, "bce", lr=r["lr"])
    for opt in (opt_G, opt_D):
        for group in opt.param_groups:
            group["betas"] = r["betas"]
    decay_step = int(r["decay_at"] * r["steps"])
    done = []

    def decay_lr(history):
        if not done and history.last_step >= decay_step:
            done.append(history.last_step)
            for opt in (opt_G, opt_D):
                for group in opt.param_groups:
                    group["lr"] *= r["decay"]

    penalty = {"r1_weight": float(r1_weight)} if r1_weight else {}
    step = fast_step(G, D, Options(reuse_fake=r["reuse_fake"]), **penalty)
    kwargs = dict(steps=r["steps"], batch_size=r["batch_size"], loss="bce", opt_G=opt_G, opt_D=opt_D,
                  record_every=max(1, decay_step // 5), callback=decay_lr, step=step)  # a snapshot lands on decay_step
    return G, D, kwargs

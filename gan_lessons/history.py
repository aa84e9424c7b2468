"""A training run's history: snapshots recorded every N steps, and the recorder that takes them.

`train.train` returns a `History`; the scrubber (`widgets.scrub`) and the plots read it, and it
saves to one file. A `Recorder` builds it while the run trains: it adds up each step's losses on
the device (read back only at a snapshot, so no host sync per step), notices a NaN or infinite
loss, and takes a snapshot every `record_every` steps.

A snapshot is a plain dict, so it saves with `torch.save` and loads with `weights_only=True`:

- always: ``step`` (generator steps so far), ``d_loss``, ``g_loss``, ``d_real`` (mean D(x), or mean
  critic score on real data), ``d_fake`` (mean D(G(z)) or critic score on fakes), ``time`` (seconds
  of training so far), ``samples`` (G on the run's fixed noise batch, on the CPU: float [n, dim]
  for toy data, uint8 [n, 28, 28] for images), ``sample_scores`` (D on those samples, [n]).
- 1-D data: ``p_g`` (generator density on ``meta['grid']``, a kernel estimate), ``d_grid`` (D on
  the grid), ``d_star`` (the optimal discriminator p_data / (p_data + p_g), BCE runs only), and
  when latent_dim == 1 ``x_of_z`` (G on ``meta['z_line']``, for the z -> x mapping).
- 2-D data: ``d_grid`` (D on a ``meta['grid_size']`` square grid over ``meta['bounds']``),
  ``field`` (the direction D pushes fakes, [F, F, 2] on the coarse grid ``meta['field_xy']``),
  ``modes_covered`` and ``high_quality`` (see `toy.count_modes`).

``meta`` holds what never changes during the run: kind ('1d', '2d' or 'images'), the training
configuration, grids, the exact data density on the 1-D grid (``p_data``), dataset and class names.
"""
import math
import time

import torch

from . import losses
from .data import ImageData
from .errors import CallbackError, CheckpointError, TrainingDiverged
from .io import atomic_save, safe_load
from .models import finite_weights
from .toy import GaussianMixture, count_modes

FORMAT = "gan-lessons-history"
VERSION = 1
KINDS = ("1d", "2d", "images")


class History:
    """The snapshots of one training run, extendable when training resumes."""

    def __init__(self, kind, meta=None, snapshots=None):
        if kind not in KINDS:
            raise ValueError(f"History kind must be one of {KINDS}, got {kind!r}")
        self.kind = kind
        self.meta = dict(meta or {})
        self.snapshots = list(snapshots or [])
        self.interrupted = False

    # -- a list of snapshots ------------------------------------------------------------------
    def append(self, snapshot):
        if self.snapshots and snapshot["step"] < self.snapshots[-1]["step"]:
            raise ValueError(f"snapshot step {snapshot['step']} comes before the last one "
                             f"({self.snapshots[-1]['step']})")
        if self.snapshots and snapshot["step"] == self.snapshots[-1]["step"]:
            self.snapshots[-1] = snapshot  # the same step recorded twice (e.g. on interrupt): keep the newest
        else:
            self.snapshots.append(snapshot)

    def __len__(self):
        return len(self.snapshots)

    def __getitem__(self, i):
        return self.snapshots[i]

    def __iter__(self):
        return iter(self.snapshots)

    @property
    def steps(self):
        return [s["step"] for s in self.snapshots]

    @property
    def last_step(self):
        return self.snapshots[-1]["step"] if self.snapshots else 0

    def series(self, key):
        """One scalar per snapshot, e.g. history.series('d_loss'); NaN where a snapshot lacks it."""
        return [float(s.get(key, math.nan)) for s in self.snapshots]

    def extend(self, other):
        """Append a later run's snapshots (resumed training); returns self."""
        if other.kind != self.kind:
            raise ValueError(f"cannot extend a {self.kind!r} history with a {other.kind!r} one")
        for s in other.snapshots:
            self.append(s)
        return self

    def require_snapshots(self, who="this view"):
        if not self.snapshots:
            raise ValueError(
                f"{who} got an empty history (no snapshots). Train for at least one step with "
                "train(..., record_every=N) first, or load a saved history with History.load(path)."
            )

    def __repr__(self):
        span = f"steps {self.steps[0]}..{self.last_step}" if self.snapshots else "empty"
        return f"History(kind={self.kind!r}, {len(self)} snapshots, {span})"

    # -- saving ---------------------------------------------------------------------------------
    def to_dict(self):
        return {"format": FORMAT, "version": VERSION, "kind": self.kind, "meta": self.meta,
                "snapshots": self.snapshots, "interrupted": self.interrupted}

    @classmethod
    def from_dict(cls, d, source="history"):
        fmt = d.get("format") if isinstance(d, dict) else None
        if fmt != FORMAT:
            instead = {"gan-lessons-checkpoint": " It is a checkpoint: its history is "
                                                 "gl.checkpoints.load_checkpoint(path, G, D)['history'].",
                       "gan-lessons-pretrained": " It is a saved model (weights only, no history)."}
            raise CheckpointError(f"{source} is not a gan-lessons history (no '{FORMAT}' marker)."
                                  + instead.get(fmt, " Load a file written by history.save(path)."))
        if d.get("version", 0) > VERSION:
            raise CheckpointError(f"{source} was written by a newer gan-lessons (history version "
                                  f"{d['version']}); upgrade with `pip install -U gan-lessons`.")
        h = cls(d["kind"], d.get("meta"), d.get("snapshots"))
        h.interrupted = bool(d.get("interrupted", False))
        return h

    def save(self, path):
        """Write the history to one file, atomically (a crash never leaves half a file); returns the path.

        Numpy numbers and paths in it are saved as plain values; a value that safe loading would
        refuse raises TypeError naming it, before anything is written.
        """
        return atomic_save(self.to_dict(), path, what="history")

    @classmethod
    def load(cls, path):
        """Read a history written by `save` (safely: `torch.load(weights_only=True)`)."""
        return cls.from_dict(safe_load(path, what="history"), source=str(path))


def to_uint8_images(x):
    """Images in [-1, 1], [n, 1, 28, 28] -> uint8 [n, 28, 28] (a quarter of the float size)."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).squeeze(1).cpu()


# -- what a snapshot holds ------------------------------------------------------------------------

def to_prob(out, loss):
    """D(x) as a probability for "bce" (sigmoid of the logit); a critic's score as it is."""
    return torch.sigmoid(out) if loss == "bce" else out


def _kde(samples, grid):
    """Gaussian kernel density estimate of 1-D samples [n] on grid [m] (Silverman's bandwidth)."""
    n = samples.numel()
    std = samples.std().clamp(min=1e-3)
    h = 1.06 * std * n ** (-0.2)
    z = (grid[:, None] - samples[None, :]) / h  # [m, n]
    return torch.exp(-0.5 * z ** 2).sum(1) / (n * h * (2 * torch.pi) ** 0.5)


def describe_run(G, data, config):
    """The `meta` of a new history: the kind of data, its grids and exact density, names (see above)."""
    meta = {"config": dict(config), "loss": config["loss"], "latent_dim": G.latent_dim}
    if not isinstance(data, GaussianMixture):
        meta["kind"] = "images"
        if isinstance(data, ImageData):
            meta.update(dataset=data.name, class_names=list(data.class_names))
        return meta
    lo, hi = data.bounds(margin=4.0)
    meta.update(toy=data.name, modes=data.modes.clone())
    if data.dim == 1:
        lo, hi = min(float(lo), -4.0), max(float(hi), 4.0)
        grid = torch.linspace(lo - 1, hi + 1, 300)
        meta.update(kind="1d", grid=grid, p_data=data.density(grid))
        if G.latent_dim == 1:
            meta["z_line"] = torch.linspace(-2.5, 2.5, 41)
    else:
        span = float(max(hi.abs().max(), lo.abs().max())) + 0.5
        f = torch.linspace(-span, span, 17)
        meta.update(kind="2d", bounds=[-span, span], grid_size=64, mode_std=data.stds.clone(),
                    field_xy=torch.stack(torch.meshgrid(f, f, indexing="xy"), -1))  # [17, 17, 2]
    return meta


@torch.no_grad()
def _on_1d_grid(G, D, fake, meta, device):
    grid, loss = meta["grid"], meta["loss"]
    p_g = _kde(fake.view(-1).cpu(), grid)
    out = {"p_g": p_g, "d_grid": to_prob(D(grid.to(device)[:, None]), loss).cpu()}
    if loss == "bce":
        total = meta["p_data"] + p_g  # D* = p_data / (p_data + p_g); undefined (1/2 here) where both are 0
        out["d_star"] = torch.where(total > 0, meta["p_data"] / total, torch.full_like(total, 0.5))
    if "z_line" in meta:
        out["x_of_z"] = G(meta["z_line"].to(device)[:, None]).view(-1).cpu()
    return out


def _on_2d_grid(D, meta, device):
    lo, hi = meta["bounds"]
    n, loss = meta["grid_size"], meta["loss"]
    axis = torch.linspace(lo, hi, n)
    pts = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).view(-1, 2)  # [n*n, 2]
    with torch.no_grad():
        d_grid = to_prob(D(pts.to(device)), loss).cpu().view(n, n)
    # Where D pushes the fakes: minus the gradient of G's loss at each point of a coarse grid.
    # autograd.grad asks for the points' gradient only, so D's parameters get no .grad.
    pts = meta["field_xy"].reshape(-1, 2).to(device).requires_grad_(True)
    with torch.enable_grad():
        out = D(pts)
        g_loss = losses.generator_loss(out) if loss == "bce" else losses.wasserstein_generator_loss(out)
        (grad,) = torch.autograd.grad(g_loss * pts.shape[0], pts)
    return {"d_grid": d_grid, "field": (-grad).view(*meta["field_xy"].shape).cpu()}


def snapshot(G, D, step, stats, fixed_z, meta, data=None, elapsed=0.0):
    """One snapshot of the run: G on the fixed noise, D's opinion, the running averages `stats`."""
    with torch.no_grad():
        fake = G(fixed_z)
        scores = to_prob(D(fake), meta["loss"]).cpu()
    snap = {"step": int(step), "time": float(elapsed), "sample_scores": scores}
    snap.update({k: float(v) for k, v in stats.items()})
    if meta["kind"] == "images":
        snap["samples"] = to_uint8_images(fake)
        return snap
    snap["samples"] = fake.cpu()
    if meta["kind"] == "1d":
        snap.update(_on_1d_grid(G, D, fake, meta, fixed_z.device))
        return snap
    snap.update(_on_2d_grid(D, meta, fixed_z.device))
    if data is not None:
        cover = count_modes(fake, data)
        snap.update(modes_covered=cover["modes_covered"], high_quality=cover["high_quality"])
    return snap


def _same(a, b):
    if torch.is_tensor(a) or torch.is_tensor(b):
        return torch.is_tensor(a) and torch.is_tensor(b) and a.shape == b.shape and torch.equal(a, b)
    return a == b


def _check_resume(history, meta, n_fixed=None):
    """Refuse to resume `history` with a run that would record something else into it: another loss,
    kind of data, toy distribution, dataset or latent size. `meta` is the new run's `describe_run`."""
    old = dict(history.meta, kind=history.kind)
    toy = [k for k in ("modes", "mode_std", "p_data") if k in old or k in meta]
    for key, what in (("loss", "loss"), ("kind", "kind of data"), ("toy", "toy distribution"),
                      ("latent_dim", "latent_dim")):
        if old.get(key) != meta.get(key) or (key == "toy" and not all(_same(old.get(k), meta.get(k)) for k in toy)):
            was, now = repr(old.get(key)), repr(meta.get(key))
            if was == now:  # the same toy, built with another radius, spacing or std
                now = f"a {now} with other modes or widths (another radius, spacing or std)"
            raise ValueError(f"The history you resume was recorded with {what} {was}, but this run has {now}: "
                             "its series and snapshots would mix the two. Resume with the same settings and data, "
                             "or start a new history (history=None).")
    if old.get("dataset") and meta.get("dataset") and old["dataset"] != meta["dataset"]:
        raise ValueError(f"The history you resume was recorded on dataset {old['dataset']!r}, but this run trains "
                         f"on {meta['dataset']!r}. Resume on the same data, or start a new history (history=None).")
    if n_fixed is not None and "fixed_z" in old and n_fixed != len(old["fixed_z"]):
        raise ValueError(f"n_fixed={n_fixed}, but the history you resume keeps {len(old['fixed_z'])} fixed samples "
                         "per snapshot (its noise carries on): leave n_fixed out when resuming.")


class Recorder:
    """Builds a run's History while it trains (used by `train.train`).

    `add(step, d_loss, d_real, d_fake, g_loss)` after every step (tensors on the device: the sums
    stay there); `record(step)` takes a snapshot of the averages since the last one, calls
    `callback(history)` (a failing callback raises `CallbackError`, carrying the history), and raises
    `TrainingDiverged` (carrying the history) if a loss became NaN or infinite in between;
    `check(step)` looks for that alone, between snapshots. A new history gets its step-0 snapshot
    (the untrained networks) at once. Pass `history` to resume a run: its fixed noise, meta and clock
    carry on; a run on other data, with another loss or latent size, is refused.
    """

    STATS = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, G, D, data, config, history=None, n_fixed=None, callback=None):
        self.G, self.D, self.callback = G, D, callback
        self.toy = data if isinstance(data, GaussianMixture) else None
        if history is None:
            meta = describe_run(G, data, config)
            history = History(meta["kind"], meta)
            n_fixed = n_fixed or (64 if meta["kind"] == "images" else 1000)
            history.meta["fixed_z"] = torch.randn(n_fixed, G.latent_dim)  # the same noise at every snapshot
        else:
            _check_resume(history, describe_run(G, data, config), n_fixed)
            history.interrupted = False  # this run carries it on; set again if this one is interrupted too
        self.history, self.loss = history, history.meta["loss"]
        device = next(G.parameters()).device
        self.fixed_z = history.meta["fixed_z"].to(device)
        self.t0 = time.perf_counter() - (history[-1]["time"] if len(history) else 0.0)
        self.sums, self.count = torch.zeros(4, device=device), 0
        self.first_bad = torch.full((), -1, device=device, dtype=torch.long)  # first step with a NaN loss
        if not len(history):
            self.record(0)  # step 0: what the untrained networks do

    def add(self, step, d_loss, real_out, fake_out, g_loss):
        ok = torch.isfinite(d_loss) & torch.isfinite(g_loss)
        self.first_bad = torch.where(~ok & (self.first_bad < 0), torch.full_like(self.first_bad, step),
                                     self.first_bad)
        self.sums += torch.stack([d_loss, g_loss, to_prob(real_out, self.loss).mean(),
                                  to_prob(fake_out, self.loss).mean()]).float()
        self.count += 1

    def _stats(self):
        if not self.count:
            return {}
        return {key: v / self.count for key, v in zip(self.STATS, self.sums.tolist())}

    def check(self, step):
        """Raise TrainingDiverged if a loss became NaN or infinite (one host readback)."""
        bad = int(self.first_bad)
        if bad < 0:
            return
        h = self.history
        message = (f"A loss became NaN or infinite at step {bad} (training stopped at step {step}). "
                   f"The history up to step {h.last_step} is kept on the error's .history. ")
        broken = [name for name, model in (("G", self.G), ("D", self.D)) if not finite_weights(model)]
        if broken:
            message += (f"{' and '.join(broken)} now hold{'s' if len(broken) == 1 else ''} NaN or infinite weights, "
                        "so training on, even with a smaller learning rate, diverges again at once. Start over: "
                        f"rebuild G and D (or load a checkpoint saved before step {bad}) and make new optimizers "
                        "(theirs hold NaN too), then try a smaller learning rate or a gradient penalty.")
        else:
            message += "Try a smaller learning rate, a gradient penalty, or check the data for NaNs."
        raise TrainingDiverged(message, history=h, step=bad)

    def record(self, step):
        self.check(step)
        self.history.append(snapshot(self.G, self.D, step, self._stats(), self.fixed_z, self.history.meta,
                                     self.toy, time.perf_counter() - self.t0))
        self.sums.zero_()
        self.count = 0
        if self.callback is not None:
            try:
                self.callback(self.history)
            except Exception as e:
                name = getattr(self.callback, "__name__", type(self.callback).__name__)
                raise CallbackError(
                    f"The callback {name} failed at step {step} with {type(e).__name__}: {e}. Training stopped "
                    f"there; the history up to step {step} is kept on the error's .history and G and D keep their "
                    "weights. Fix the callback, then go on with train(G, D, data, steps, history=err.history, "
                    "opt_G=..., opt_D=...) or start again.", history=self.history, step=step) from e

    def interrupted(self, step):
        """Ctrl-C: keep what was recorded, plus a snapshot of the last finished step if cheap and sane."""
        try:
            if self.count and int(self.first_bad) < 0:
                self.history.append(snapshot(self.G, self.D, step, self._stats(), self.fixed_z,
                                             self.history.meta, self.toy, time.perf_counter() - self.t0))
        except (Exception, KeyboardInterrupt):
            pass
        self.history.interrupted = True
        print(f"Interrupted at step {self.history.last_step}: returning the {len(self.history)} snapshots "
              "recorded so far.")

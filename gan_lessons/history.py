"""A training run's history: snapshots recorded every N steps (foundation; scrubbed from lesson 05).

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

import torch

from .errors import CheckpointError

FORMAT = "gan-lessons-history"
VERSION = 1
KINDS = ("1d", "2d", "images")


class History:
    """The snapshots of one training run, extendable when training resumes (foundation)."""

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
            raise ValueError(f"snapshot step {snapshot['step']} comes before the last one ({self.snapshots[-1]['step']})")
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
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise CheckpointError(f"{source} is not a gan-lessons history (no '{FORMAT}' marker).")
        if d.get("version", 0) > VERSION:
            raise CheckpointError(f"{source} was written by a newer gan-lessons (history version "
                                  f"{d['version']}); upgrade with `pip install -U gan-lessons`.")
        h = cls(d["kind"], d.get("meta"), d.get("snapshots"))
        h.interrupted = bool(d.get("interrupted", False))
        return h

    def save(self, path):
        """Write the history to one file, atomically (a crash never leaves half a file)."""
        from .checkpoints import atomic_save

        atomic_save(self.to_dict(), path)
        return path

    @classmethod
    def load(cls, path):
        """Read a history written by `save` (safely: `torch.load(weights_only=True)`)."""
        from .checkpoints import safe_load

        return cls.from_dict(safe_load(path, what="history"), source=str(path))


def to_uint8_images(x):
    """Images in [-1, 1], [n, 1, 28, 28] -> uint8 [n, 28, 28] (a quarter of the float size)."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).squeeze(1).cpu()

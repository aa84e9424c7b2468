"""Saved models shipped with the package: generators trained ahead of time and the small
classifiers the metrics use (lesson 07).

Training a DCGAN to good pictures takes minutes on a GPU but much longer on a laptop CPU, so the
course ships a few trained generators (and the History of each run, for the scrubber) in
``gan_lessons/pretrained/``. ``manifest.json`` there lists every file with its sha256, the training
configuration, wall time, device and the metrics measured after training. Loading checks the
hash first, so a damaged or swapped file is caught before PyTorch reads it, and always uses
``torch.load(weights_only=True)``, which refuses to run code hidden in a file.

Weights are stored in float16 (half the size) and converted back to float32 on loading.
"""

import json
from pathlib import Path

import torch
from torch import nn

from .data import file_digest
from .errors import CheckpointError

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
MANIFEST = "manifest.json"
FORMAT = "gan-lessons-pretrained"


class Classifier(nn.Module):
    """A LeNet-style digit / clothing classifier (lesson 07): image [B, 1, 28, 28] -> logits [B, 10].

    `features(x)` returns the 128 numbers before the last layer ([B, 128]); the metrics compare
    real and generated images in that space, the way FID uses an Inception network's features.
    """

    feature_dim = 128

    def __init__(self, num_classes=10):
        super().__init__()
        self.config = dict(num_classes=num_classes)
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # [B, 16, 14, 14]
            nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),  # [B, 32, 5, 5]
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 5 * 5, self.feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(self.feature_dim, num_classes))

    def features(self, x):
        return self.fc(self.conv(x))  # [B, 1, 28, 28] -> [B, 128]

    def forward(self, x):
        return self.head(self.features(x))  # [B, 10]


# -- files and the manifest --------------------------------------------------------------------

def sha256_of(path):
    """Hex sha256 of a file (the manifest stores one per shipped file)."""
    return file_digest(path, "sha256")


def read_manifest(folder=None):
    """The manifest as a dict: {"models": {name: entry}, "classifiers": {dataset: entry}}."""
    path = Path(folder or PRETRAINED_DIR) / MANIFEST
    if not path.is_file():
        raise CheckpointError(
            f"No saved-model manifest at {path}. The package's pretrained/ folder is incomplete: "
            "reinstall gan-lessons, or run scripts/train_classifier.py and scripts/train_pretrained.py."
        )
    with open(path) as f:
        return json.load(f)


def write_manifest(manifest, folder=None):
    """Write the manifest (used by the training scripts), sorted so diffs stay small."""
    path = Path(folder or PRETRAINED_DIR) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    tmp.replace(path)
    return path


def _verified_path(entry_file, sha256, folder, what):
    """The path of a shipped file after checking it exists and its sha256 matches the manifest."""
    path = Path(folder) / entry_file
    if not path.is_file():
        raise CheckpointError(f"The {what} file {path} is missing. Reinstall gan-lessons (or re-run the "
                              "training script that makes it).")
    got = sha256_of(path)
    if got != sha256:
        raise CheckpointError(
            f"The {what} file {path} does not match the manifest: its sha256 is {got[:16]}..., expected "
            f"{sha256[:16]}.... The file is damaged or was replaced. Reinstall gan-lessons, or restore "
            "the file from the repository (git checkout -- gan_lessons/pretrained)."
        )
    return path


def half_state_dict(model):
    """A state dict with floating tensors in float16 (halves the file; integers stay as they are)."""
    return {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu())
            for k, v in model.state_dict().items()}


def save_weights(model, path, extra=None):
    """Save a model's class, config and float16 weights in the shipped format (used by the scripts)."""
    from .checkpoints import atomic_save

    payload = {"format": FORMAT, "class": type(model).__name__, "config": dict(model.config),
               "state_dict": half_state_dict(model), "extra": dict(extra or {})}
    return atomic_save(payload, path)


def _build_from_file(path, what, device):
    from . import models
    from .checkpoints import safe_load
    from .device import get_device

    payload = safe_load(path, what=what)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gan-lessons saved model (no '{FORMAT}' marker).")
    if payload["class"] == "Classifier":
        model = Classifier(**payload["config"])
    else:
        model = models.build(payload["class"], payload["config"])
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}
    model.load_state_dict(state)
    device = torch.device(device) if device is not None else get_device()
    return model.to(device).eval()


def list_pretrained(folder=None):
    """Names of the shipped generators, e.g. ['dcgan-fashion-mnist', 'dcgan-mnist', ...] (lesson 07)."""
    return sorted(read_manifest(folder).get("models", {}))


def _entry(name, folder):
    manifest = read_manifest(folder)
    entries = manifest.get("models", {})
    if name not in entries:
        raise KeyError(f"No saved model named {name!r}. Available: {', '.join(sorted(entries)) or '(none)'}. "
                       "See gan_lessons.pretrained.list_pretrained().")
    return entries[name]


def pretrained_info(name, folder=None):
    """The manifest entry of one saved generator: files, training config, wall time, metrics (lesson 07)."""
    return dict(_entry(name, folder or PRETRAINED_DIR))


def load_pretrained(name, device=None, folder=None):
    """Load a shipped generator in eval mode on `device` (default: gl.get_device()) (lesson 07).

    The file's sha256 is checked against the manifest first; an unknown name raises KeyError
    listing the available names. Works on any device, CPU included.
    """
    folder = folder or PRETRAINED_DIR
    entry = _entry(name, folder)
    path = _verified_path(entry["file"], entry["sha256"], folder, f"saved model {name!r}")
    return _build_from_file(path, f"saved model {name!r}", device)


def load_pretrained_history(name, folder=None):
    """The History recorded while the saved generator `name` trained (for gl.widgets.scrub) (lesson 07)."""
    from .history import History

    folder = folder or PRETRAINED_DIR
    entry = _entry(name, folder)
    path = _verified_path(entry["history"], entry["history_sha256"], folder, f"history of {name!r}")
    return History.load(path)


def load_classifier(dataset="mnist", device=None, folder=None):
    """The shipped classifier for 'mnist' or 'fashion-mnist', in eval mode (lesson 07)."""
    from .data import canonical_name

    folder = folder or PRETRAINED_DIR
    dataset = canonical_name(dataset)
    entries = read_manifest(folder).get("classifiers", {})
    if dataset not in entries:
        raise KeyError(f"No classifier for {dataset!r} in the manifest. Available: "
                       f"{', '.join(sorted(entries)) or '(none)'}. Run scripts/train_classifier.py.")
    entry = entries[dataset]
    path = _verified_path(entry["file"], entry["sha256"], folder, f"classifier for {dataset!r}")
    return _build_from_file(path, f"classifier for {dataset!r}", device)


# -- walking in the latent space ------------------------------------------------------------------

def lerp(z0, z1, t):
    """Straight-line interpolation (1 - t) z0 + t z1 between two noise vectors [d] (lesson 07).

    `t` is a number or a 1-D tensor of n numbers; the result is [d] or [n, d].
    """
    z0, z1, t, scalar = _interp_args(z0, z1, t)
    out = (1 - t) * z0 + t * z1  # [n, d]
    return out[0] if scalar else out


def slerp(z0, z1, t):
    """Spherical interpolation between two noise vectors [d]: along the great circle (lesson 07).

    With omega the angle between z0 and z1:
        slerp(t) = sin((1 - t) omega) / sin(omega) * z0 + sin(t omega) / sin(omega) * z1
    Why: in high dimension, Gaussian noise lies near the sphere of radius sqrt(d); the midpoint of
    a straight line is shorter (about sqrt(d / 2) for independent z0, z1), a z the generator rarely
    saw in training. Slerp keeps the norm typical. Falls back to `lerp` when z0 and z1 are parallel.
    `t` is a number or a 1-D tensor of n numbers; the result is [d] or [n, d].
    """
    z0, z1, t, scalar = _interp_args(z0, z1, t)
    cos = torch.dot(z0[0], z1[0]) / (z0.norm() * z1.norm()).clamp(min=1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))  # the angle between z0 and z1
    if float(torch.sin(omega)) < 1e-6:  # (anti)parallel: the great circle is not unique; go straight
        out = (1 - t) * z0 + t * z1
    else:
        out = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)  # [n, d]
    return out[0] if scalar else out


def _interp_args(z0, z1, t):
    if not (torch.is_tensor(z0) and torch.is_tensor(z1)) or z0.dim() != 1 or z0.shape != z1.shape:
        raise ValueError("z0 and z1 must be 1-D tensors of the same length [latent_dim], got "
                         f"{getattr(z0, 'shape', type(z0))} and {getattr(z1, 'shape', type(z1))}. "
                         "Take single rows, e.g. z[0] and z[1].")
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    if t.dim() > 1:
        raise ValueError(f"t must be a number or a 1-D tensor, got shape {list(t.shape)}.")
    return z0[None, :], z1[None, :], t.reshape(-1, 1), t.dim() == 0  # [1, d], [1, d], [n, 1]


def interpolate(z0, z1, n=8, method="slerp"):
    """n noise vectors from z0 to z1 (both ends included), by 'slerp' or 'linear': [n, d] (lesson 07)."""
    if method not in ("slerp", "linear"):
        raise ValueError(f"method must be 'slerp' or 'linear', got {method!r}.")
    t = torch.linspace(0, 1, n, dtype=z0.dtype)
    return (slerp if method == "slerp" else lerp)(z0, z1, t)

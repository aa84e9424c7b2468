"""Saved models shipped with the package: generators trained ahead of time and the feature
networks the metrics use (lesson 07).

Training a DCGAN to good pictures takes minutes on a GPU but much longer on a laptop CPU, so the
course ships a few trained generators (and the History of each run, for the scrubber) in
``gan_lessons/pretrained/``. ``manifest.json`` there lists every file with its sha256, the training
configuration, wall time, device and the metrics measured after training. Loading checks the
hash first, so a damaged or swapped file is caught before PyTorch reads it, and always uses
``torch.load(weights_only=True)``, which refuses to run code hidden in a file.

Weights are stored in float16 (half the size) and converted back to float32 on loading.
"""

import difflib
import json
from pathlib import Path

from . import models
from .data import canonical_name
from .device import get_device
from .errors import CheckpointError
from .featurenet import FeatureNet
from .history import History
from .io import atomic_save, file_digest, safe_load, user_path

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
MANIFEST = "manifest.json"
FORMAT = "gan-lessons-pretrained"
# The class name a saved file records -> the class that loads it. The shipped feature-network files
# were saved before FeatureNet got its name, and record "Classifier".
_FEATURE_NET_NAMES = {"FeatureNet", "Classifier"}


# -- files and the manifest --------------------------------------------------------------------

def _folder(folder):
    """The folder of saved models: the package's own, or `folder` (``~`` expanded)."""
    return PRETRAINED_DIR if folder is None else user_path(folder, "saved-models folder")


def sha256_of(path):
    """Hex sha256 of a file (the manifest stores one per shipped file)."""
    return file_digest(path, "sha256")


def read_manifest(folder=None):
    """The manifest as a dict: {"models": {name: entry}, "classifiers": {dataset: entry}}.

    "classifiers" holds the feature networks (`FeatureNet`), one per dataset, under their old name.
    """
    path = _folder(folder) / MANIFEST
    if not path.is_file():
        raise CheckpointError(
            f"No saved-model manifest at {path}. The package's pretrained/ folder is incomplete: "
            "reinstall gan-lessons, or run scripts/train_classifier.py and scripts/train_pretrained.py."
        )
    with open(path) as f:
        return json.load(f)


def write_manifest(manifest, folder=None):
    """Write the manifest (used by the training scripts), sorted so diffs stay small."""
    path = _folder(folder) / MANIFEST
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
    payload = {"format": FORMAT, "class": type(model).__name__, "config": dict(model.config),
               "state_dict": half_state_dict(model), "extra": dict(extra or {})}
    return atomic_save(payload, path, what="saved model")


def _build_from_file(path, what, device):
    payload = safe_load(path, what=what)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gan-lessons saved model (no '{FORMAT}' marker).")
    if payload["class"] in _FEATURE_NET_NAMES:
        model = FeatureNet(**payload["config"])
    else:
        model = models.build(payload["class"], payload["config"])
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}
    model.load_state_dict(state)
    return model.to(device).eval()


def list_pretrained(folder=None):
    """Names of the shipped generators, e.g. ['dcgan-fashion-mnist', 'dcgan-mnist', ...] (lesson 07)."""
    return sorted(read_manifest(folder).get("models", {}))


def _entry(name, folder):
    entries = read_manifest(folder).get("models", {})
    available = ", ".join(sorted(entries)) or "(none)"
    if not isinstance(name, str):
        raise TypeError(f"The saved model's name must be a str such as 'dcgan-mnist', got {type(name).__name__} "
                        f"{name!r}. Available: {available}.")
    if name not in entries:
        close = difflib.get_close_matches(name.strip().lower().replace("_", "-"), list(entries), n=3, cutoff=0.6)
        hint = f"Did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise KeyError(f"No saved model named {name!r}. {hint}Available: {available}. "
                       "See gan_lessons.pretrained.list_pretrained().")
    return entries[name]


def pretrained_info(name, folder=None):
    """The manifest entry of one saved generator: files, training config, wall time, metrics (lesson 07)."""
    return dict(_entry(name, _folder(folder)))


def load_pretrained(name, device=None, folder=None):
    """Load a shipped generator in eval mode on `device` (default: gl.get_device()) (lesson 07).

    The file's sha256 is checked against the manifest first; an unknown name raises KeyError
    listing the available names (and the close ones). Works on any device, CPU included.
    """
    device = get_device(device)  # a clear error for e.g. "gpu", before any file is read
    folder = _folder(folder)
    entry = _entry(name, folder)
    path = _verified_path(entry["file"], entry["sha256"], folder, f"saved model {name!r}")
    return _build_from_file(path, f"saved model {name!r}", device)


def load_pretrained_history(name, folder=None):
    """The History recorded while the saved generator `name` trained (for gl.widgets.scrub) (lesson 07)."""
    folder = _folder(folder)
    entry = _entry(name, folder)
    path = _verified_path(entry["history"], entry["history_sha256"], folder, f"history of {name!r}")
    return History.load(path)


def load_feature_net(dataset="mnist", device=None, folder=None):
    """The shipped `FeatureNet` for 'mnist' or 'fashion-mnist', in eval mode (used by gan_lessons.metrics)."""
    device = get_device(device)
    folder = _folder(folder)
    dataset = canonical_name(dataset)
    entries = read_manifest(folder).get("classifiers", {})
    if dataset not in entries:
        raise KeyError(f"No feature network for {dataset!r} in the manifest. Available: "
                       f"{', '.join(sorted(entries)) or '(none)'}. Run scripts/train_classifier.py.")
    entry = entries[dataset]
    path = _verified_path(entry["file"], entry["sha256"], folder, f"feature network for {dataset!r}")
    return _build_from_file(path, f"feature network for {dataset!r}", device)

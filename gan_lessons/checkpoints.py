"""Checkpoints: save and resume a training run (foundation; used from lesson 05).

Files are written atomically: the data goes to a temporary file in the same folder, is flushed to
disk, and then renamed over the target, so a crash or a kill during saving leaves either the old
file or the new one, never half of one. Loading uses `torch.load(weights_only=True)`, which
refuses to run code hidden in a file (plain pickles can).
"""
import os
import tempfile
from pathlib import Path

import torch

from .errors import CheckpointError
from .history import History

FORMAT = "gan-lessons-checkpoint"
VERSION = 1


def atomic_save(obj, path):
    """torch.save `obj` to `path` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def safe_load(path, what="checkpoint", map_location="cpu"):
    """torch.load(weights_only=True) with clear errors for missing, truncated and corrupted files."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"No {what} at {path}. Check the path (train first, or list the folder to see what is there).")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a {what} file.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"The {what} {path} is empty (0 bytes): it was not written completely. Delete it and save again.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch.load raises many kinds (BadZipFile, UnpicklingError, IndexError...) on bad bytes
        raise CheckpointError(
            f"The {what} {path} is truncated or corrupted and cannot be read ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:160]}). Delete it and save again, or use an earlier copy."
        ) from e


def _arch(model):
    return {"class": type(model).__name__, "config": getattr(model, "config", None)}


def save_checkpoint(path, G, D, opt_G=None, opt_D=None, history=None, config=None, step=None):
    """Save everything needed to resume training, atomically (introduced in lesson 05).

    Stores G and D weights and architecture, both optimizers' state, the history, the training
    config, and the step count (the history's last step when not given).
    """
    payload = {
        "format": FORMAT, "version": VERSION,
        "step": int(step if step is not None else (history.last_step if history is not None else 0)),
        "G": G.state_dict(), "D": D.state_dict(),
        "arch": {"G": _arch(G), "D": _arch(D)},
        "opt_G": opt_G.state_dict() if opt_G is not None else None,
        "opt_D": opt_D.state_dict() if opt_D is not None else None,
        "history": history.to_dict() if history is not None else None,
        "config": dict(config or {}),
    }
    return atomic_save(payload, path)


def load_checkpoint(path, G, D, opt_G=None, opt_D=None):
    """Load a checkpoint into existing models (and optimizers); return dict(step, history, config).

    Raises CheckpointError for a missing, truncated, corrupted or foreign file, and for a
    checkpoint of another architecture (it names both).
    """
    ckpt = safe_load(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a gan-lessons checkpoint (it has no '{FORMAT}' marker). "
            "Was it saved with torch.save by other code? Load it with torch.load yourself."
        )
    for key, model in (("G", G), ("D", D)):
        saved = ckpt["arch"][key]
        mine = _arch(model)
        if saved["class"] != mine["class"] or (saved["config"] and mine["config"] and saved["config"] != mine["config"]):
            raise CheckpointError(
                f"{path} holds a {key} of another architecture: saved {saved['class']}{saved['config']}, "
                f"but you passed {mine['class']}{mine['config']}. Build the model with the saved settings."
            )
        try:
            model.load_state_dict(ckpt[key])
        except RuntimeError as e:
            raise CheckpointError(f"{path}: {key}'s weights do not fit the model you passed ({str(e).splitlines()[0]}).") from e
    for key, opt in (("opt_G", opt_G), ("opt_D", opt_D)):
        if opt is not None:
            if ckpt.get(key) is None:
                raise CheckpointError(f"{path} has no {key} state; it was saved without optimizers.")
            opt.load_state_dict(ckpt[key])
    history = History.from_dict(ckpt["history"], source=str(path)) if ckpt.get("history") else None
    return {"step": ckpt["step"], "history": history, "config": ckpt.get("config", {})}

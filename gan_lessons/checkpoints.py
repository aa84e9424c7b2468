"""Checkpoints: save a training run and resume it later.

Saving is atomic and loading safe (see `gan_lessons.io`): a crash while saving never leaves half a
file, and loading never runs code hidden in a file.
"""
from .errors import CheckpointError
from .history import History
from .io import atomic_save, safe_load

FORMAT = "gan-lessons-checkpoint"
VERSION = 1


def _arch(model):
    return {"class": type(model).__name__, "config": getattr(model, "config", None)}


def save_checkpoint(path, G, D, opt_G=None, opt_D=None, history=None, config=None, step=None):
    """Save everything needed to resume training, atomically.

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
        other_config = saved["config"] and mine["config"] and saved["config"] != mine["config"]
        if saved["class"] != mine["class"] or other_config:
            raise CheckpointError(
                f"{path} holds a {key} of another architecture: saved {saved['class']}{saved['config']}, "
                f"but you passed {mine['class']}{mine['config']}. Build the model with the saved settings."
            )
        try:
            model.load_state_dict(ckpt[key])
        except RuntimeError as e:
            raise CheckpointError(f"{path}: {key}'s weights do not fit the model you passed "
                                  f"({str(e).splitlines()[0]}).") from e
    for key, opt in (("opt_G", opt_G), ("opt_D", opt_D)):
        if opt is not None:
            if ckpt.get(key) is None:
                raise CheckpointError(f"{path} has no {key} state; it was saved without optimizers.")
            opt.load_state_dict(ckpt[key])
    history = History.from_dict(ckpt["history"], source=str(path)) if ckpt.get("history") else None
    return {"step": ckpt["step"], "history": history, "config": ckpt.get("config", {})}

"""Checkpoints: save a training run and resume it later.

Saving is atomic and loading safe (see `gan_lessons.io`): a crash while saving never leaves half a
file, and loading never runs code hidden in a file. Loading checks everything first (the models'
architecture and weights' shapes, that each optimizer belongs to its model and fits the saved
state) and only then changes your models, so a refused checkpoint leaves them as they were.
"""
import numbers
import os

import torch

from .errors import CheckpointError
from .history import FORMAT as HISTORY_FORMAT
from .history import History
from .io import atomic_save, loadable, safe_load

FORMAT = "gan-lessons-checkpoint"
VERSION = 1


def _arch(model):
    return {"class": type(model).__name__, "config": getattr(model, "config", None)}


def _check_args(call, path, G, D, opt_G, opt_D):
    """Clear errors for arguments of the wrong kind (e.g. the path given last) and mixed-up optimizers."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{call}(path, G, D, ...): path must be a file name such as 'runs/ring.pt', got "
                        f"{type(path).__name__}. The path comes first.")
    for name, model in (("G", G), ("D", D)):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"{call}: {name} must be a model (torch.nn.Module), got {type(model).__name__}.")
    for name, opt, model, other in (("opt_G", opt_G, G, D), ("opt_D", opt_D, D, G)):
        if opt is None:
            continue
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(f"{call}: {name} must be a torch.optim optimizer, got {type(opt).__name__}.")
        mine = {id(p) for p in model.parameters()}
        params = [p for group in opt.param_groups for p in group["params"]]
        if any(id(p) not in mine for p in params):
            whose = " (it optimizes the other model's: opt_G and opt_D swapped?)" if params and all(
                id(p) in {id(q) for q in other.parameters()} for p in params) else ""
            m = name[-1]
            raise ValueError(f"{call}: {name} does not optimize {m}'s parameters{whose}. Build it as "
                             f"torch.optim.Adam({m}.parameters(), ...) (or gl.train.make_optimizers(G, D)).")


def _check_step(step, history):
    if step is None:
        return history.last_step if history is not None else 0
    if not isinstance(step, numbers.Integral) or isinstance(step, bool) or step < 0:
        raise ValueError(f"save_checkpoint: step must be a whole number >= 0, got {step!r}. "
                         "Leave it out to use the history's last step.")
    if history is not None and step < history.last_step:
        raise ValueError(f"save_checkpoint: step={step} comes before the history's last snapshot (step "
                         f"{history.last_step}): they are from different runs or points in time. Leave step out "
                         "(it is then the history's last step).")
    return int(step)


def save_checkpoint(path, G, D, opt_G=None, opt_D=None, history=None, config=None, step=None):
    """Save everything needed to resume training, atomically.

    Stores G and D weights and architecture, both optimizers' state, the history, the training
    config, and the step count (the history's last step when not given). Numpy numbers and paths
    in `config` are saved as plain values; a value that safe loading would refuse raises TypeError
    naming it (e.g. ``config['model']``) before anything is written, so an older file is kept.
    """
    _check_args("save_checkpoint", path, G, D, opt_G, opt_D)
    if history is not None and not isinstance(history, History):
        raise TypeError(f"save_checkpoint: history must be a History (what train returns), got "
                        f"{type(history).__name__}.")
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"save_checkpoint: config must be a dict such as {{'lr': 2e-4}}, got {type(config).__name__}.")
    payload = {
        "format": FORMAT, "version": VERSION, "step": _check_step(step, history),
        "G": G.state_dict(), "D": D.state_dict(),
        "arch": {"G": _arch(G), "D": _arch(D)},
        "history": loadable(history.to_dict(), "history") if history is not None else None,
        "config": loadable(dict(config or {}), "config"),
    }
    for key, opt in (("opt_G", opt_G), ("opt_D", opt_D)):
        payload[key] = loadable(opt.state_dict(), f"{key}.state_dict()") if opt is not None else None
        payload[key + "_class"] = type(opt).__name__ if opt is not None else None
    return atomic_save(payload, path, what="checkpoint")


def _read(path):
    """The checkpoint's dict, after checking it is one, of a version this code reads."""
    ckpt = safe_load(path)
    fmt = ckpt.get("format") if isinstance(ckpt, dict) else None
    if fmt == HISTORY_FORMAT:
        raise CheckpointError(f"{path} holds a training history (history.save), not a checkpoint: "
                              "read it with gl.history.History.load(path).")
    if fmt != FORMAT:
        kind = "a saved model (weights only)" if fmt == "gan-lessons-pretrained" else "not a gan-lessons checkpoint"
        raise CheckpointError(
            f"{path} is {kind} (it has no '{FORMAT}' marker). Was it saved with torch.save by other code? "
            "Load it with torch.load yourself; save_checkpoint(path, G, D, ...) writes checkpoints."
        )
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} was written by a newer gan-lessons (checkpoint version {ckpt['version']}); "
                              "upgrade with `pip install -U gan-lessons` to read it.")
    return ckpt


def _check_model(path, key, ckpt, model):
    """The saved weights of `key` fit `model`: same class and settings, same names and shapes."""
    saved, mine = ckpt["arch"][key], _arch(model)
    other_config = saved["config"] and mine["config"] and saved["config"] != mine["config"]
    if saved["class"] != mine["class"] or other_config:
        other = "D" if key == "G" else "G"
        swapped = " (G and D swapped?)" if ckpt["arch"][other]["class"] == mine["class"] != saved["class"] else ""
        raise CheckpointError(
            f"{path} holds a {key} of another architecture{swapped}: saved {saved['class']}{saved['config']}, "
            f"but you passed {mine['class']}{mine['config']}. Build the model with the saved settings."
        )
    state, own = ckpt[key], model.state_dict()
    problems = [f"missing {k}" for k in own if k not in state][:3]
    problems += [f"unexpected {k}" for k in state if k not in own][:3]
    problems += [f"{k}: saved {list(state[k].shape)}, yours {list(own[k].shape)}" for k in own
                 if k in state and torch.is_tensor(state[k]) and state[k].shape != own[k].shape][:3]
    if problems:
        raise CheckpointError(f"{path}: the saved {key} ({saved['class']}{saved['config'] or ''}) does not fit "
                              f"the {key} you passed ({mine['class']}): {'; '.join(problems)}. Build {key} "
                              "with the settings it was saved with.")


def _check_optimizer(path, key, ckpt, opt):
    """The saved optimizer state fits `opt`: same kind, same number and shapes of parameters."""
    saved = ckpt.get(key)
    if saved is None:
        raise CheckpointError(f"{path} has no {key} state: it was saved without optimizers. Load it without "
                              f"them (load_checkpoint(path, G, D)) and resume with fresh optimizers.")
    saved_class = ckpt.get(key + "_class")
    if saved_class and saved_class != type(opt).__name__:
        raise CheckpointError(f"{path}: {key} was saved from torch.optim.{saved_class}, but you passed "
                              f"torch.optim.{type(opt).__name__}. Build {key} as torch.optim.{saved_class}(...).")
    sizes = [len(g["params"]) for g in saved["param_groups"]]
    mine = [len(g["params"]) for g in opt.param_groups]
    if sizes != mine:
        raise CheckpointError(f"{path}: the saved {key} state is for {sum(sizes)} parameter tensors (groups "
                              f"{sizes}), but the {key} you passed has {sum(mine)} (groups {mine}): it was built "
                              "for another model. Build it from its model's parameters.")
    for g_saved, g_mine in zip(saved["param_groups"], opt.param_groups):
        for index, p in zip(g_saved["params"], g_mine["params"]):
            for name, v in saved["state"].get(index, {}).items():
                if torch.is_tensor(v) and v.dim() > 0 and v.shape != p.shape:
                    raise CheckpointError(
                        f"{path}: the saved {key} state does not fit the {key} you passed: its {name} has shape "
                        f"{list(v.shape)} where your parameter has {list(p.shape)}. It was saved for another "
                        "model (opt_G and opt_D swapped when saving?).")


def load_checkpoint(path, G, D, opt_G=None, opt_D=None):
    """Load a checkpoint into existing models (and optimizers); return dict(step, history, config).

    Raises CheckpointError for a missing, truncated, corrupted or foreign file, for a checkpoint
    of another architecture (it names both), and for optimizer state that does not fit the
    optimizers passed. Everything is checked before anything is loaded: on an error, G, D and
    the optimizers are unchanged.
    """
    _check_args("load_checkpoint", path, G, D, opt_G, opt_D)
    ckpt = _read(path)
    for key, model in (("G", G), ("D", D)):
        _check_model(path, key, ckpt, model)
    optimizers = [(key, opt) for key, opt in (("opt_G", opt_G), ("opt_D", opt_D)) if opt is not None]
    for key, opt in optimizers:
        _check_optimizer(path, key, ckpt, opt)
    history = History.from_dict(ckpt["history"], source=str(path)) if ckpt.get("history") else None
    for key, model in (("G", G), ("D", D)):
        try:
            model.load_state_dict(ckpt[key])
        except RuntimeError as e:
            raise CheckpointError(f"{path}: {key}'s weights do not fit the model you passed "
                                  f"({str(e).splitlines()[0]}).") from e
    for key, opt in optimizers:
        opt.load_state_dict(ckpt[key])
    return {"step": ckpt["step"], "history": history, "config": ckpt.get("config", {})}

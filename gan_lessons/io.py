"""Files: atomic saving, safe loading and file hashes (used by history, checkpoints, data, pretrained).

A file is written atomically: the bytes go to a temporary file in the same folder, are flushed to
disk, and the temporary file is then renamed over the target, so a crash or a kill while saving
leaves either the old file or the new one, never half of one. Loading uses
`torch.load(weights_only=True)`, which refuses to run code hidden in a file (a plain pickle can).

Saving writes only what loading reads back: `loadable` turns numpy numbers into Python numbers,
numpy arrays into tensors and paths into strings, and refuses (before anything is written) a value
that safe loading would refuse, naming where it is. Paths may start with ``~`` (your home folder).
"""
import hashlib
import os
import pickle
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from .errors import CheckpointError

# Types torch.load(weights_only=True) reads back as they are (exact types: a subclass such as
# numpy.float64 or an IntEnum pickles under its own class name and is refused).
_PLAIN = {str, bytes, bytearray, bool, int, float, complex, type(None), torch.dtype, torch.device, torch.Size}


def user_path(path, what="file"):
    """A file name (str or Path) as a Path with ``~`` expanded; TypeError for anything else."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"The {what} path must be a file name (a str or pathlib.Path, e.g. 'runs/ring.pt'), "
                        f"got {type(path).__name__}.")
    return Path(path).expanduser()


# -- saving only what loads ------------------------------------------------------------------------

def loadable(obj, where="value"):
    """`obj` as values `torch.load(weights_only=True)` reads back: numpy numbers -> Python numbers,
    numpy arrays -> tensors, paths -> str; dicts, lists, tuples and sets are converted inside.

    Returns `obj` itself when nothing needs converting (so a state dict keeps its metadata).
    Anything else raises TypeError naming the place, e.g. ``config['model']``.
    """
    if type(obj) in _PLAIN or isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, np.generic):
        return loadable(obj.item(), where)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biuf":
            try:
                return torch.tensor(obj)
            except TypeError:  # a dtype this torch has no tensor for (e.g. uint32 in old versions)
                pass
        return loadable(obj.tolist(), where)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if type(obj) in (dict, OrderedDict):
        return _loadable_mapping(obj, where)
    if type(obj) in (list, tuple, set):
        items = [loadable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        changed = any(a is not b for a, b in zip(items, obj))
        return type(obj)(items) if changed else obj
    raise TypeError(_refusal(obj, where))


def _loadable_mapping(obj, where):
    out, changed = type(obj)(), False
    for k, v in obj.items():
        k2, v2 = loadable(k, f"a key of {where} ({k!r})"), loadable(v, f"{where}[{k!r}]")
        changed = changed or k2 is not k or v2 is not v
        out[k2] = v2
    if not changed:
        return obj
    if hasattr(obj, "_metadata"):  # a state dict's module versions
        out._metadata = obj._metadata
    return out


def _refusal(obj, where):
    kind = f"{type(obj).__module__}.{type(obj).__qualname__}".removeprefix("builtins.")
    text = repr(obj)
    text = text if len(text) <= 60 else text[:57] + "..."
    hint = " (a namedtuple: save value._asdict())" if isinstance(obj, tuple) else ""
    return (f"Cannot save {where} = {text}: it is a {kind}{hint}, which safe loading "
            "(torch.load(weights_only=True)) refuses, so the file could not be read back. Store a plain "
            "value there instead (a number, str, list, dict or tensor, e.g. str(value) or float(value)), "
            "or leave it out. Nothing was written.")


# -- writing ---------------------------------------------------------------------------------------

def atomic_save(obj, path, what="file"):
    """torch.save `obj` to `path` through a temporary file and a rename; returns the path (``~`` expanded).

    `obj` goes through `loadable` first, so a value that would not load back is refused before
    anything is written; the file already at `path`, if any, is kept unless the new one is complete.
    """
    path = user_path(path, what)
    obj = loadable(obj, what)
    if path.is_dir():
        raise IsADirectoryError(f"Cannot save the {what} to {path}: it is a folder. Give a file name in it, "
                                f"e.g. {path / (what.replace(' ', '_') + '.pt')}.")
    _make_folder(path, what)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _cannot_write(e, path, what) from e
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise _cannot_write(e, path, what) from e
        raise
    return path


def _make_folder(path, what):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), path.parent)
        raise NotADirectoryError(f"Cannot save the {what} to {path}: {blocker} is a file, not a folder. "
                                 "Choose another path.") from e
    except OSError as e:
        raise _cannot_write(e, path, what) from e


def _cannot_write(e, path, what):
    """The OSError to raise when the system refuses a write: says where and that nothing changed."""
    kept = "The file already there is unchanged." if path.exists() else "Nothing was written."
    if isinstance(e, PermissionError):
        return PermissionError(f"Cannot save the {what} to {path}: no permission to write in the folder "
                               f"{path.parent} (read-only, or not yours). Save it in a folder of yours, e.g. "
                               f"~/gan-runs/{path.name}. {kept}")
    return OSError(e.errno, f"Cannot save the {what} to {path}: {e.strerror or e}. {kept}")


# -- reading ---------------------------------------------------------------------------------------

def safe_load(path, what="checkpoint", map_location="cpu"):
    """torch.load(weights_only=True) with clear errors for missing, truncated, corrupted and unsafe files."""
    path = user_path(path, what)
    if not path.exists():
        raise CheckpointError(f"No {what} at {path}. Check the path (train first, or list the folder to see "
                              "what is there).")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a {what} file. Give the file's name in it.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"The {what} {path} is empty (0 bytes): it was not written completely. "
                              "Save it again, or use an earlier copy.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except PermissionError as e:
        raise PermissionError(f"Cannot read the {what} {path}: no permission to read it.") from e
    except Exception as e:  # torch.load raises many kinds (BadZipFile, UnpicklingError, IndexError...) on bad bytes
        raise CheckpointError(_unreadable(e, path, what)) from e


def _unreadable(e, path, what):
    text = str(e)
    if isinstance(e, pickle.UnpicklingError) and "Weights only load failed" in text:
        detail = next((line.strip() for line in text.splitlines() if "Unsupported" in line), "")
        detail = detail.split(" was not an allowed")[0].replace("WeightsUnpickler error: ", "")
        return (f"The {what} {path} holds Python objects that safe loading refuses ({detail or 'not plain data'}): "
                "it was not written by gan_lessons, or holds custom classes (an earlier gan_lessons let numpy "
                f"numbers and paths through). If you trust it, torch.load(path, weights_only=False) reads it; "
                "saving that again with gan_lessons makes a file that loads safely.")
    first = text.splitlines()[0][:160] if text else ""
    return (f"The {what} {path} is truncated or corrupted and cannot be read ({type(e).__name__}: {first}). "
            "Save it again, or use an earlier copy.")


def file_digest(path, algorithm="md5"):
    """Hex digest of a file, read in 1 MB blocks (md5 for the datasets, sha256 for saved models)."""
    h = hashlib.new(algorithm)
    with open(user_path(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

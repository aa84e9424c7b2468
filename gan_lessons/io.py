"""Files: atomic saving, safe loading and file hashes (used by history, checkpoints, data, pretrained).

A file is written atomically: the bytes go to a temporary file in the same folder, are flushed to
disk, and the temporary file is then renamed over the target, so a crash or a kill while saving
leaves either the old file or the new one, never half of one. Loading uses
`torch.load(weights_only=True)`, which refuses to run code hidden in a file (a plain pickle can).
"""
import hashlib
import os
import tempfile
from pathlib import Path

import torch

from .errors import CheckpointError


def atomic_save(obj, path):
    """torch.save `obj` to `path` through a temporary file and a rename; returns the path."""
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
        raise CheckpointError(f"No {what} at {path}. Check the path (train first, or list the folder to see "
                              "what is there).")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a {what} file.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"The {what} {path} is empty (0 bytes): it was not written completely. "
                              "Delete it and save again.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch.load raises many kinds (BadZipFile, UnpicklingError, IndexError...) on bad bytes
        raise CheckpointError(
            f"The {what} {path} is truncated or corrupted and cannot be read ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:160]}). Delete it and save again, or use an earlier copy."
        ) from e


def file_digest(path, algorithm="md5"):
    """Hex digest of a file, read in 1 MB blocks (md5 for the datasets, sha256 for saved models)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

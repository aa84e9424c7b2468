"""Datasets: MNIST and Fashion-MNIST as tensors on the device (lesson 00, used from lesson 03 on).

Why not a DataLoader? These datasets fit in memory many times over (60,000 x 28 x 28 bytes = 47 MB),
so we load a whole split once, scale it to [-1, 1] (the range of the generator's tanh), keep it on
the training device, and draw a batch by indexing with random integers. No worker processes, no
per-batch transforms, no host-to-device copy per step: this is also what makes training fast.

Where the files live: the folder named by the environment variable GAN_LESSONS_DATA, else a
per-user cache (~/.cache/gan-lessons/data). Inside it, torchvision's layout:
``MNIST/raw/train-images-idx3-ubyte.gz`` and so on. Every file's md5 is checked.
"""
import difflib
import errno
import gzip
import numbers
import os
import tempfile
from collections import namedtuple
from pathlib import Path

import numpy as np
import torch

from .errors import DataCorruptedError, DataMissingError
from .io import file_digest

ENV_DATA = "GAN_LESSONS_DATA"
ENV_OFFLINE = "GAN_LESSONS_OFFLINE"

# name -> (folder in torchvision's layout, class names)
DATASETS = {
    "mnist": ("MNIST", [str(i) for i in range(10)]),
    "fashion-mnist": ("FashionMNIST", ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]),
}
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist"}

_STEMS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

# md5 of the official .gz files (the same values torchvision checks) and of the unpacked files.
MD5_GZ = {
    ("MNIST", "train-images-idx3-ubyte"): "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ("MNIST", "train-labels-idx1-ubyte"): "d53e105ee54ea40749a09fcbcd1e9432",
    ("MNIST", "t10k-images-idx3-ubyte"): "9fb629c4189551a2d022fa330f9573f3",
    ("MNIST", "t10k-labels-idx1-ubyte"): "ec29112dd5afa0611ce80d1b7f02629c",
    ("FashionMNIST", "train-images-idx3-ubyte"): "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ("FashionMNIST", "train-labels-idx1-ubyte"): "25c81989df183df01b3e8a0aad5dffbe",
    ("FashionMNIST", "t10k-images-idx3-ubyte"): "bef4ecab320f06d8554ea6380940ec79",
    ("FashionMNIST", "t10k-labels-idx1-ubyte"): "bb300cfdad3c16e7a12a480ee83cd310",
}
MD5_RAW = {
    ("MNIST", "train-images-idx3-ubyte"): "6bbc9ace898e44ae57da46a324031adb",
    ("MNIST", "train-labels-idx1-ubyte"): "a25bea736e30d166cdddb491f175f624",
    ("MNIST", "t10k-images-idx3-ubyte"): "2646ac647ad5339dbf082846283269ea",
    ("MNIST", "t10k-labels-idx1-ubyte"): "27ae3e4e09519cfbb04c329615203637",
    ("FashionMNIST", "train-images-idx3-ubyte"): "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    ("FashionMNIST", "train-labels-idx1-ubyte"): "9018921c3c673c538a1fc5bad174d6f9",
    ("FashionMNIST", "t10k-images-idx3-ubyte"): "8181f5470baa50b63fa0f6fddb340f0a",
    ("FashionMNIST", "t10k-labels-idx1-ubyte"): "15d484375f8d13e6eb1aabb0c3f46965",
}

ImageData = namedtuple("ImageData", ["images", "labels", "name", "split", "class_names"])
ImageData.__doc__ = """A whole split on one device: images float [N, 1, 28, 28] in [-1, 1], labels int64 [N]."""

_CACHE = {}  # (name, split, device) -> ImageData; a split is loaded from disk once per process
_VERIFIED = set()  # paths whose md5 was already checked in this process


def data_dir():
    """The folder holding the datasets: $GAN_LESSONS_DATA, else ~/.cache/gan-lessons/data (lesson 00)."""
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "gan-lessons" / "data"


def canonical_name(name):
    """'MNIST', 'fashion_mnist', ... -> 'mnist' or 'fashion-mnist'; a clear error for anything else."""
    key = str(name).strip().lower().replace(" ", "-")
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        close = difflib.get_close_matches(key, [*DATASETS, *_ALIASES], n=1, cutoff=0.6)
        hint = f" Did you mean {_ALIASES.get(close[0], close[0])!r}?" if close else ""
        raise ValueError(f"Unknown dataset {name!r}.{hint} Choose one of: {', '.join(DATASETS)}.")
    return key


def expected_files(name):
    """The four files a dataset needs, as (path of the .gz, path of the unpacked file) pairs."""
    folder = DATASETS[canonical_name(name)][0]
    raw = data_dir() / folder / "raw"
    return [(raw / (stem + ".gz"), raw / stem) for split in ("train", "test") for stem in _STEMS[split]]


def downloads_switched_off():
    """True when the environment variable GAN_LESSONS_OFFLINE forbids downloading (1, true, yes, on)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def _layout_lines(name):
    """How to put the files in place by hand: the exact folder and file names."""
    folder = DATASETS[name][0]
    raw = data_dir() / folder / "raw"
    names = ", ".join(stem + ".gz" for split in ("train", "test") for stem in _STEMS[split])
    return [
        f"  - copy the official .gz files into {raw}/, named exactly: {names}, or",
        f"  - point the environment variable {ENV_DATA} at a folder that already has them, laid out as "
        f"<folder>/{folder}/raw/<file>.gz (torchvision's layout).",
    ]


# why a download did not happen -> what to do before `gan-lessons data --download` will work
_FIRST_STEP = {
    "off": f"unset {ENV_OFFLINE}, connect to the internet and run `gan-lessons data --download`",
    "unwritable": f"set {ENV_DATA} to a folder you can write to, then run `gan-lessons data --download`",
    "failed": "connect to the internet and run `gan-lessons data --download` (or load the data again)",
    "not-asked": "run `gan-lessons data --download` (or load without download=False)",
}


def _missing_message(name, missing, why):
    """why: (kind, sentence) from `_download`, kind one of _FIRST_STEP's keys."""
    kind, reason = why
    folder = DATASETS[name][0]
    lines = [
        f"The {name} files are not in {data_dir() / folder / 'raw'} and could not be downloaded: {reason}.",
        "Missing: " + ", ".join(p.name for p in missing) + ".",
        "To fix it, either:",
        f"  - {_FIRST_STEP[kind]}, or",
        *_layout_lines(name),
    ]
    if name == "fashion-mnist":
        lines.append("  On Debian/Ubuntu, `apt install dataset-fashion-mnist` puts the Fashion-MNIST .gz files in "
                     "/usr/share/datasets/fashion-mnist/; copy them to the raw/ folder above.")
    return "\n".join(lines)


def _md5_problem(path, folder, stem):
    """None when `path` (a .gz or an unpacked file) is the official file, else its md5."""
    if path in _VERIFIED:
        return None
    table = MD5_GZ if path.suffix == ".gz" else MD5_RAW
    got = file_digest(path)
    if got != table[(folder, stem)]:
        return got
    _VERIFIED.add(path)
    return None


def _locate(name, folder, stem):
    """Return (path, is_gz) of a verified file for one stem, or None when it is absent."""
    gz = data_dir() / folder / "raw" / (stem + ".gz")
    raw = data_dir() / folder / "raw" / stem
    for path, is_gz in ((gz, True), (raw, False)):
        if path.is_file():
            got = _md5_problem(path, folder, stem)
            if got is not None:
                want = (MD5_GZ if is_gz else MD5_RAW)[(folder, stem)]
                raise DataCorruptedError(
                    f"{path} is damaged or not the official file (an interrupted download or copy?): its md5 "
                    f"is {got}, expected {want}. {_refetch_advice(path)}"
                )
            return path, is_gz
    return None


def _refetch_advice(path):
    copy = f"copy a good {path.name} over it"
    if downloads_switched_off():
        return (f"Downloads are switched off ({ENV_OFFLINE}=1): {copy}, or unset {ENV_OFFLINE} and run "
                f"`gan-lessons data --download` (the damaged file is kept as {path.name}.corrupt).")
    return (f"Run `gan-lessons data --download` to fetch it again (the damaged file is kept as "
            f"{path.name}.corrupt), or {copy}.")


def _cannot_write(folder):
    """None when files can be created in `folder` (made if needed), else (kind, sentence) saying why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        return _unwritable(e)
    return None


def _download(name):
    """Ask torchvision to fetch the files into data_dir(). Returns None, or (kind, why it did not happen)."""
    why = _download_possible(name)
    if why:
        return why
    try:
        import torchvision.datasets as tvd

        cls = tvd.MNIST if name == "mnist" else tvd.FashionMNIST
        for train in (True, False):
            cls(str(data_dir()), train=train, download=True)
    except Exception as e:  # torchvision wraps network failures in RuntimeError
        if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC):
            return _unwritable(e)
        return "failed", (f"the download failed ({type(e).__name__}: {_first_line(e)}); "
                          "no network, a proxy, or a server that is down")
    return None


def _unwritable(e):
    folder = data_dir()
    what = "is a file, not a folder" if folder.is_file() else f"cannot be written to ({e.strerror or e})"
    return "unwritable", f"the data folder {folder} {what}; set {ENV_DATA} to a folder you can write to"


def _first_line(e):
    return (str(e).strip().splitlines() or [""])[0][:200]


def _stems():
    return [s for split in ("train", "test") for s in _STEMS[split]]


def ensure_files(name, download=True):
    """Make sure the four files of a dataset are on disk and correct; return their paths by stem."""
    name = canonical_name(name)
    folder = DATASETS[name][0]
    found = {s: _locate(name, folder, s) for s in _stems()}
    why = ("not-asked", "download=False was passed, so no download was tried")
    if any(v is None for v in found.values()) and download:
        why = _download(name)
        found = {s: _locate(name, folder, s) for s in _stems()}
    missing = [data_dir() / folder / "raw" / (s + ".gz") for s, v in found.items() if v is None]
    if missing:
        raise DataMissingError(_missing_message(name, missing, why or ("failed", "the download did not bring them")))
    return found


def _set_aside(path):
    """Rename a damaged file to NAME.corrupt (or .corrupt1, ...), never deleting it; return the new path."""
    target, i = path.with_name(path.name + ".corrupt"), 1
    while target.exists():
        target, i = path.with_name(f"{path.name}.corrupt{i}"), i + 1
    path.rename(target)
    _VERIFIED.discard(path)
    return target


def repair(name):
    """What `gan-lessons data --download` does for one dataset: fetch missing files, replace damaged ones.

    A damaged file is renamed to NAME.corrupt (kept, not deleted) and fetched again; if the download
    fails it is put back. Returns (set_aside, why): the [(old path, new path)] renamed and kept
    renamed, and None when the download worked or was not needed, else (kind, sentence) why not.
    """
    name = canonical_name(name)
    folder = DATASETS[name][0]
    raw = data_dir() / folder / "raw"
    damaged = [p for s in _stems() for p in (raw / (s + ".gz"), raw / s)
               if p.is_file() and _md5_problem(p, folder, s) is not None]
    if not damaged and all(_locate(name, folder, s) for s in _stems()):
        return [], None
    why = _download_possible(name)
    if why:
        return [], why
    moved = [(p, _set_aside(p)) for p in damaged]
    why = _download(name)
    if why:  # put the damaged files back where they were, so the state is as before
        for old, new in moved:
            if not old.exists():
                new.rename(old)
        moved = [(old, new) for old, new in moved if new.exists()]
    return moved, why


def _download_possible(name):
    if downloads_switched_off():
        return "off", f"downloads are switched off ({ENV_OFFLINE}={os.environ.get(ENV_OFFLINE)})"
    return _cannot_write(data_dir() / DATASETS[name][0] / "raw")


def _read_idx(path, is_gz):
    opener = gzip.open if is_gz else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_images(name="mnist", split="train", device=None, download=True):
    """Load a whole split as one tensor on `device` (introduced in lesson 00, used from lesson 03).

    Returns an `ImageData` with images float32 [N, 1, 28, 28] scaled to [-1, 1] and labels int64 [N].
    The first call reads and checks the files; later calls return the same tensors.
    """
    from .device import get_device

    name = canonical_name(name)
    split = _split_name(split)
    device = get_device(device)  # None: the default device; a bad name: a clear ValueError
    key = (name, split, str(device))
    if key not in _CACHE:
        files = ensure_files(name, download=download)
        img_stem, lab_stem = _STEMS[split]
        pixels = _read_idx(*files[img_stem])  # [N, 28, 28] uint8
        labels = _read_idx(*files[lab_stem])  # [N] uint8
        images = torch.from_numpy(pixels.copy()).to(device).unsqueeze(1).float()  # [N, 1, 28, 28]
        images = images.div_(127.5).sub_(1.0)  # [0, 255] -> [-1, 1]
        labels = torch.from_numpy(labels.astype(np.int64)).to(device)
        _CACHE[key] = ImageData(images, labels, name, split, DATASETS[name][1])
    return _CACHE[key]


def _split_name(split):
    key = str(split).strip().lower()
    if key not in _STEMS:
        raise ValueError(f"Unknown split {split!r}. MNIST and Fashion-MNIST have 'train' (60,000 images) and "
                         "'test' (10,000), no validation split: to validate, hold out part of 'train'.")
    return key


def _examples(data, with_labels):
    """The tensor of examples in `data` (an ImageData or a tensor); a clear TypeError for anything else."""
    if isinstance(data, ImageData):
        images = data.images
    elif isinstance(data, torch.Tensor):
        images = data
        if with_labels:
            raise TypeError("with_labels=True needs an ImageData (from gl.data.load_images), which carries the "
                            "labels; a plain tensor has none. Pass the ImageData, or drop with_labels.")
    elif isinstance(data, np.ndarray):
        raise TypeError("sample_batch needs a torch tensor, got a numpy array: convert it once with "
                        "torch.as_tensor(array).to(device) and sample from that.")
    else:
        raise TypeError(f"sample_batch needs an ImageData (from gl.data.load_images) or a tensor of examples, "
                        f"got {type(data).__name__}.")
    if images.dim() == 0 or images.shape[0] == 0:
        raise ValueError(f"sample_batch got no examples to draw from (a tensor of shape {tuple(images.shape)}); "
                         "the first dimension must index at least one example.")
    return images


def _batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer (an int such as 64), got {batch_size!r}"
                         f" ({type(batch_size).__name__}).")
    return int(batch_size)


def sample_batch(data, batch_size, generator=None, with_labels=False):
    """Draw a random batch (with replacement) by indexing: no DataLoader needed (lesson 03).

    `data` is an `ImageData` or a tensor whose first dimension indexes examples. Drawing with
    replacement, a batch may repeat examples and may be larger than the data.
    """
    images = _examples(data, with_labels)
    batch_size = _batch_size(batch_size)
    idx = torch.randint(0, images.shape[0], (batch_size,), device=images.device, generator=generator)
    if with_labels:
        return images[idx], data.labels[idx]
    return images[idx]


def check_data(names=None, download=False):
    """Report, per dataset, whether its files are present and correct (used by `gan-lessons data`).

    names: a dataset name or a list of them (default: all). download=True first runs `repair`
    (fetch missing files, replace damaged ones). Returns a list of dicts: dataset, file, path,
    status ('ok', 'missing', 'corrupted').
    """
    if isinstance(names, str):
        names = [names]
    rows = []
    for name in ([canonical_name(n) for n in names] if names else list(DATASETS)):
        if download:
            repair(name)
        rows += [_status(name, stem) for stem in _stems()]
    return rows


def _status(name, stem):
    folder = DATASETS[name][0]
    gz = data_dir() / folder / "raw" / (stem + ".gz")
    try:
        hit = _locate(name, folder, stem)
    except DataCorruptedError:
        bad = [p for p in (gz, gz.with_suffix("")) if p.is_file() and _md5_problem(p, folder, stem)]
        return {"dataset": name, "file": stem, "path": str(bad[0] if bad else gz), "status": "corrupted"}
    return {"dataset": name, "file": stem, "path": str(hit[0] if hit else gz), "status": "ok" if hit else "missing"}

"""Datasets: MNIST and Fashion-MNIST as tensors on the device (lesson 00, used from lesson 03 on).

Why not a DataLoader? These datasets fit in memory many times over (60,000 x 28 x 28 bytes = 47 MB),
so we load a whole split once, scale it to [-1, 1] (the range of the generator's tanh), keep it on
the training device, and draw a batch by indexing with random integers. No worker processes, no
per-batch transforms, no host-to-device copy per step: this is also what makes training fast.

Where the files live: the folder named by the environment variable GAN_LESSONS_DATA, else a
per-user cache (~/.cache/gan-lessons/data). Inside it, torchvision's layout:
``MNIST/raw/train-images-idx3-ubyte.gz`` and so on. Every file's md5 is checked.
"""
import gzip
import os
from collections import namedtuple
from pathlib import Path

import numpy as np
import torch

from .errors import DataCorruptedError, DataMissingError
from .io import file_digest

ENV_DATA = "GAN_LESSONS_DATA"

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
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}. Choose one of: {', '.join(DATASETS)}.")
    return key


def expected_files(name):
    """The four files a dataset needs, as (path of the .gz, path of the unpacked file) pairs."""
    folder = DATASETS[canonical_name(name)][0]
    raw = data_dir() / folder / "raw"
    return [(raw / (stem + ".gz"), raw / stem) for split in ("train", "test") for stem in _STEMS[split]]


def _missing_message(name, missing):
    folder = DATASETS[name][0]
    lines = [
        f"The {name} files are not in {data_dir() / folder / 'raw'} and could not be downloaded "
        "(no network, or the download failed).",
        "Missing: " + ", ".join(p.name for p in missing) + ".",
        "To fix it, either:",
        "  - connect to the internet once and run `gan-lessons data` (torchvision downloads them), or",
        f"  - copy the official .gz files into {data_dir()}/{folder}/raw/ (torchvision's layout:",
        "    <data dir>/MNIST/raw/ and <data dir>/FashionMNIST/raw/, four files each), or",
        f"  - point the environment variable {ENV_DATA} at a folder that already has them.",
    ]
    if name == "fashion-mnist":
        lines.append("  On Debian/Ubuntu, `apt install dataset-fashion-mnist` puts the Fashion-MNIST .gz files in "
                     "/usr/share/datasets/fashion-mnist/; copy them to the raw/ folder above.")
    return "\n".join(lines)


def _locate(name, folder, stem):
    """Return (path, is_gz) of a verified file for one stem, or None when it is absent."""
    gz = data_dir() / folder / "raw" / (stem + ".gz")
    raw = data_dir() / folder / "raw" / stem
    for path, is_gz, table in ((gz, True, MD5_GZ), (raw, False, MD5_RAW)):
        if path.is_file():
            if path not in _VERIFIED:
                got = file_digest(path)
                want = table[(folder, stem)]
                if got != want:
                    raise DataCorruptedError(
                        f"{path} is damaged or not the official file: its md5 is {got}, expected {want}. "
                        f"Delete it and run `gan-lessons data` to fetch it again (or copy a good copy there)."
                    )
                _VERIFIED.add(path)
            return path, is_gz
    return None


def _download(name):
    """Ask torchvision to fetch the files into data_dir(). Returns False when that is not possible."""
    if os.environ.get("GAN_LESSONS_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        import torchvision.datasets as tvd

        cls = tvd.MNIST if name == "mnist" else tvd.FashionMNIST
        for train in (True, False):
            cls(str(data_dir()), train=train, download=True)
        return True
    except Exception:  # no network, a proxy, a read-only folder...: report it as missing data
        return False


def ensure_files(name, download=True):
    """Make sure the four files of a dataset are on disk and correct; return their paths by stem."""
    name = canonical_name(name)
    folder = DATASETS[name][0]
    stems = [s for split in ("train", "test") for s in _STEMS[split]]
    found = {s: _locate(name, folder, s) for s in stems}
    if any(v is None for v in found.values()) and download and _download(name):
        found = {s: _locate(name, folder, s) for s in stems}
    missing = [data_dir() / folder / "raw" / (s + ".gz") for s, v in found.items() if v is None]
    if missing:
        raise DataMissingError(_missing_message(name, missing))
    return found


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
    if split not in _STEMS:
        raise ValueError(f"Unknown split {split!r}. Use 'train' (60,000 images) or 'test' (10,000).")
    device = torch.device(device) if device is not None else get_device()
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


def sample_batch(data, batch_size, generator=None, with_labels=False):
    """Draw a random batch (with replacement) by indexing: no DataLoader needed (lesson 03).

    `data` is an `ImageData` or a tensor whose first dimension indexes examples.
    """
    images = data.images if isinstance(data, ImageData) else data
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    idx = torch.randint(0, images.shape[0], (batch_size,), device=images.device, generator=generator)
    if with_labels:
        return images[idx], data.labels[idx]
    return images[idx]


def check_data(names=None, download=False):
    """Report, per dataset, whether its files are present and correct (used by `gan-lessons data`).

    Returns a list of dicts: dataset, file, path, status ('ok', 'missing', 'corrupted').
    """
    rows = []
    for name in ([canonical_name(n) for n in names] if names else list(DATASETS)):
        folder = DATASETS[name][0]
        if download:
            try:
                ensure_files(name, download=True)
            except (DataMissingError, DataCorruptedError):
                pass
        for split in ("train", "test"):
            for stem in _STEMS[split]:
                try:
                    hit = _locate(name, folder, stem)
                    status = "ok" if hit else "missing"
                    path = hit[0] if hit else data_dir() / folder / "raw" / (stem + ".gz")
                except DataCorruptedError:
                    status, path = "corrupted", data_dir() / folder / "raw" / (stem + ".gz")
                rows.append({"dataset": name, "file": stem, "path": str(path), "status": status})
    return rows

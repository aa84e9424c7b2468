"""Datasets load from GAN_LESSONS_DATA, are checked, scaled to [-1, 1], and fail clearly when missing."""
import gzip
import os
import struct

import pytest
import torch

from gan_lessons import data
from gan_lessons.errors import DataCorruptedError, DataMissingError


def _have(name):
    """The four .gz files of a dataset are in $GAN_LESSONS_DATA (the tests never download)."""
    return bool(os.environ.get(data.ENV_DATA)) and all(gz.exists() for gz, _ in data.expected_files(name))


HAVE_DATA = _have("mnist")
HAVE_FASHION = _have("fashion-mnist")
NEEDS_DATA = "set GAN_LESSONS_DATA to a folder with the datasets (CI copies ../shared/data)"


def _read_idx_by_hand(path):
    """An IDX file read with struct, as its format is published: a big-endian magic 0x000008NN
    (0x08 = unsigned bytes, NN = number of dimensions), one 4-byte size per dimension, then the bytes."""
    raw = gzip.open(path).read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and dtype == 0x08
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    body = raw[4 + 4 * ndim:]
    assert len(body) == dims[0] * (dims[1] * dims[2] if ndim == 3 else 1)
    return dims, body


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_DATA, str(tmp_path))
    monkeypatch.setenv("GAN_LESSONS_OFFLINE", "1")
    data._CACHE.clear()
    yield tmp_path
    data._CACHE.clear()


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_DATA, str(tmp_path))
    assert data.data_dir() == tmp_path
    monkeypatch.delenv(data.ENV_DATA)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.data_dir() == tmp_path / "cache" / "gan-lessons" / "data"


@pytest.mark.skipif(not HAVE_DATA, reason=NEEDS_DATA)
def test_load_mnist_whole_split_scaled_with_labels():
    d = data.load_images("mnist", "test", device="cpu")
    assert d.images.shape == (10000, 1, 28, 28) and d.images.dtype == torch.float32
    assert d.images.min().item() == -1.0 and d.images.max().item() == 1.0
    assert d.labels.shape == (10000,) and set(d.labels.unique().tolist()) == set(range(10))
    assert data.load_images("MNIST", "test", device="cpu") is d  # loaded once, then cached
    batch = data.sample_batch(d, 32)
    assert batch.shape == (32, 1, 28, 28)
    x, y = data.sample_batch(d, 8, with_labels=True)
    assert y.shape == (8,)


@pytest.mark.skipif(not HAVE_DATA, reason=NEEDS_DATA)
def test_mnist_test_split_matches_the_raw_files_and_its_published_label_counts():
    d = data.load_images("mnist", "test", device="cpu")
    gz_images, gz_labels = (gz for gz, _ in data.expected_files("mnist")[2:])  # t10k images, t10k labels
    (n, rows, cols), pixels = _read_idx_by_hand(gz_images)
    assert (n, rows, cols) == (10000, 28, 28)
    bytes_ = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(n, 1, rows, cols)
    want = bytes_.float() / 255 * 2 - 1  # byte b -> 2b/255 - 1: 0 -> -1, 255 -> 1
    assert torch.allclose(d.images, want, atol=1e-6)
    (n_labels,), labels = _read_idx_by_hand(gz_labels)
    assert n_labels == 10000 and d.labels.tolist() == list(labels)
    # Published facts about the MNIST test set: its first ten digits and how many of each digit it has.
    assert d.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(d.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.skipif(not HAVE_FASHION, reason=NEEDS_DATA)
def test_fashion_mnist_loads_and_has_class_names():
    d = data.load_images("fashion_mnist", "test", device="cpu")
    assert d.images.shape == (10000, 1, 28, 28) and d.class_names[9] == "Ankle boot"
    assert torch.bincount(d.labels).tolist() == [1000] * 10  # Fashion-MNIST's test set: 1,000 of each class
    assert d.class_names[int(d.labels[0])] == "Ankle boot"  # its first image is an ankle boot


def test_missing_data_offline_gives_one_clear_error(empty_data_dir):
    with pytest.raises(DataMissingError) as err:
        data.load_images("fashion-mnist", "train", device="cpu")
    msg = str(err.value)
    assert "GAN_LESSONS_DATA" in msg and "FashionMNIST/raw" in msg
    assert "train-images-idx3-ubyte.gz" in msg and "dataset-fashion-mnist" in msg


def test_failed_download_is_reported_as_missing_data(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    monkeypatch.setenv(data.ENV_DATA, str(tmp_path))
    monkeypatch.delenv("GAN_LESSONS_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(tvd, "MNIST", no_network)
    with pytest.raises(DataMissingError, match="could not be downloaded"):
        data.ensure_files("mnist")


def _fake_idx_gz(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(payload)


def test_corrupted_file_is_detected_by_md5(empty_data_dir):
    raw = empty_data_dir / "MNIST" / "raw"
    _fake_idx_gz(raw / "train-images-idx3-ubyte.gz", b"\x00\x00\x08\x03" + b"\x00" * 100)
    with pytest.raises(DataCorruptedError, match="md5"):
        data.ensure_files("mnist", download=False)


def test_check_data_reports_each_file(empty_data_dir):
    rows = data.check_data(["mnist"])
    assert len(rows) == 4 and {r["status"] for r in rows} == {"missing"}


def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar10'.*mnist, fashion-mnist"):
        data.load_images("cifar10")
    with pytest.raises(ValueError, match="Unknown split 'validation'"):
        data.load_images("mnist", "validation")


def test_sample_batch_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        data.sample_batch(torch.zeros(10, 2), 0)

"""The shipped saved models load on the CPU, make images, match their manifest, and fail clearly
when a file is damaged or a name is unknown."""
import json
import shutil

import pytest
import torch

from gan_lessons import CheckpointError, pretrained
from gan_lessons.featurenet import FeatureNet
from gan_lessons.history import History
from gan_lessons.models import DCGANGenerator

MANIFEST = json.loads((pretrained.PRETRAINED_DIR / pretrained.MANIFEST).read_text())
NAMES = sorted(MANIFEST["models"])


def test_manifest_lists_the_expected_models_and_classifiers():
    assert {"dcgan-mnist", "dcgan-fashion-mnist"} <= set(NAMES)
    assert any(n.startswith("wgan-gp-") for n in NAMES)
    assert set(MANIFEST["classifiers"]) == {"mnist", "fashion-mnist"}
    assert pretrained.list_pretrained() == NAMES


def test_every_shipped_file_matches_its_sha256_and_is_small():
    entries = list(MANIFEST["models"].values()) + list(MANIFEST["classifiers"].values())
    pairs = [(e["file"], e["sha256"]) for e in entries]
    pairs += [(e["history"], e["history_sha256"]) for e in MANIFEST["models"].values()]
    for fname, sha in pairs:
        path = pretrained.PRETRAINED_DIR / fname
        assert pretrained.sha256_of(path) == sha, fname
        assert path.stat().st_size < 2 * 1024 * 1024, f"{fname} is over 2 MB"


@pytest.mark.parametrize("name", NAMES)
def test_each_saved_generator_loads_on_cpu_and_makes_images(name):
    G = pretrained.load_pretrained(name, device="cpu")
    assert isinstance(G, DCGANGenerator) and not G.training
    assert next(G.parameters()).device.type == "cpu" and next(G.parameters()).dtype == torch.float32
    with torch.no_grad():
        x = G(torch.randn(8, G.latent_dim))
    assert x.shape == (8, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.1  # tanh range, and not a constant image
    entry = pretrained.pretrained_info(name)
    assert entry["metrics"]["fid"] > 0 and entry["steps"] == entry["training"]["steps"]


@pytest.mark.parametrize("name", NAMES)
def test_each_history_loads_with_image_snapshots(name):
    h = pretrained.load_pretrained_history(name)
    assert isinstance(h, History) and h.kind == "images" and len(h) >= 10
    assert h.last_step == MANIFEST["models"][name]["steps"]
    s = h[-1]["samples"]
    assert s.dtype == torch.uint8 and s.shape[1:] == (28, 28)


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_feature_nets_load(dataset):
    net = pretrained.load_feature_net(dataset, device="cpu")
    assert isinstance(net, FeatureNet) and not net.training
    with torch.no_grad():
        logits = net(torch.zeros(2, 1, 28, 28))
        feats = net.features(torch.zeros(2, 1, 28, 28))
    assert logits.shape == (2, 10) and feats.shape == (2, FeatureNet.feature_dim) == (2, 128)
    assert MANIFEST["classifiers"][dataset]["test_accuracy"] >= (0.99 if dataset == "mnist" else 0.90)


def test_shipped_feature_net_files_keep_their_old_class_name():
    """The files were saved before the rename: they record "Classifier", and load as a FeatureNet."""
    payload = torch.load(pretrained.PRETRAINED_DIR / MANIFEST["classifiers"]["mnist"]["file"], weights_only=True)
    assert payload["class"] == "Classifier"
    assert isinstance(pretrained.load_feature_net("mnist", device="cpu"), FeatureNet)


def test_a_feature_net_saved_now_loads_back_with_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    net = FeatureNet().eval()
    path = pretrained.save_weights(net, tmp_path / "classifier-mnist.pt")
    assert torch.load(path, weights_only=True)["class"] == "FeatureNet"
    pretrained.write_manifest({"models": {}, "classifiers": {"mnist": {
        "file": "classifier-mnist.pt", "sha256": pretrained.sha256_of(path)}}}, tmp_path)
    loaded = pretrained.load_feature_net("mnist", device="cpu", folder=tmp_path)
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        want = net.half().float()(x)  # the file stores float16 weights
        assert torch.allclose(loaded(x), want, atol=1e-5)
    with pytest.raises(KeyError, match="No feature network for 'fashion-mnist'"):
        pretrained.load_feature_net("fashion-mnist", folder=tmp_path)


def test_loading_uses_weights_only(monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    pretrained.load_pretrained(NAMES[0], device="cpu")
    pretrained.load_pretrained_history(NAMES[0])
    pretrained.load_feature_net("mnist", device="cpu")
    assert calls and all(c is True for c in calls)


@pytest.fixture
def copied(tmp_path):
    folder = tmp_path / "pretrained"
    shutil.copytree(pretrained.PRETRAINED_DIR, folder)
    return folder


def test_corrupted_weights_fail_with_a_clear_error(copied):
    name = NAMES[0]
    path = copied / MANIFEST["models"][name]["file"]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip one byte in the middle
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="does not match the manifest") as err:
        pretrained.load_pretrained(name, device="cpu", folder=copied)
    assert "sha256" in str(err.value) and "Reinstall" in str(err.value)
    # The intact copy in the package still loads.
    pretrained.load_pretrained(name, device="cpu")


def test_corrupted_history_and_missing_file_fail_clearly(copied):
    name = NAMES[0]
    (copied / MANIFEST["models"][name]["history"]).write_bytes(b"not a history")
    with pytest.raises(CheckpointError, match="does not match the manifest"):
        pretrained.load_pretrained_history(name, folder=copied)
    (copied / MANIFEST["models"][name]["file"]).unlink()
    with pytest.raises(CheckpointError, match="missing"):
        pretrained.load_pretrained(name, folder=copied)


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(KeyError) as err:
        pretrained.load_pretrained("dcgan-cifar10", device="cpu")
    for name in NAMES:
        assert name in str(err.value)
    with pytest.raises(KeyError, match="Available"):
        pretrained.load_pretrained_history("nope")


def test_missing_manifest_is_explained(tmp_path):
    with pytest.raises(CheckpointError, match="manifest"):
        pretrained.list_pretrained(folder=tmp_path)

"""The shipped saved models load on the CPU, make images, match their manifest, and fail clearly
when a file is damaged or a name is unknown; latent interpolation behaves."""
import json
import shutil

import pytest
import torch

from gan_lessons import CheckpointError, pretrained
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
def test_classifiers_load(dataset):
    net = pretrained.load_classifier(dataset, device="cpu")
    assert not net.training
    with torch.no_grad():
        logits = net(torch.zeros(2, 1, 28, 28))
        feats = net.features(torch.zeros(2, 1, 28, 28))
    assert logits.shape == (2, 10) and feats.shape == (2, pretrained.Classifier.feature_dim)
    assert MANIFEST["classifiers"][dataset]["test_accuracy"] >= (0.99 if dataset == "mnist" else 0.90)


def test_loading_uses_weights_only(monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    pretrained.load_pretrained(NAMES[0], device="cpu")
    pretrained.load_pretrained_history(NAMES[0])
    pretrained.load_classifier("mnist", device="cpu")
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


def test_slerp_and_lerp():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(64, generator=g), torch.randn(64, generator=g)
    path = pretrained.interpolate(z0, z1, n=9)
    assert path.shape == (9, 64)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    line = pretrained.interpolate(z0, z1, n=9, method="linear")
    assert torch.allclose(line[4], (z0 + z1) / 2, atol=1e-6)
    # Slerp keeps norms between the two end norms; the straight line's middle is much shorter.
    lo, hi = sorted([float(z0.norm()), float(z1.norm())])
    assert ((path.norm(dim=1) >= lo - 1e-4) & (path.norm(dim=1) <= hi + 1e-4)).all()
    assert float(line[4].norm()) < 0.85 * lo
    # Unit vectors at a right angle: the midpoint is their normalised sum.
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(pretrained.slerp(e0, e1, 0.5), torch.tensor([0.5 ** 0.5, 0.5 ** 0.5]))
    # Parallel vectors fall back to the straight line instead of dividing by sin(0).
    assert torch.allclose(pretrained.slerp(e0, 3 * e0, 0.5), 2 * e0)
    with pytest.raises(ValueError, match="1-D"):
        pretrained.slerp(torch.randn(2, 64), torch.randn(2, 64), 0.5)
    with pytest.raises(ValueError, match="method"):
        pretrained.interpolate(z0, z1, method="cubic")


def test_lesson07_slerp_check_accepts_slerp_and_explains_lerp():
    from gan_lessons import checks

    assert checks.check_slerp(pretrained.slerp)
    with pytest.raises(checks.ExerciseError, match="straight line"):
        checks.check_slerp(lambda z0, z1, t: (1 - t) * z0 + t * z1)

"""Device choice, seeding, and the toy distributions' exact densities and mode counting."""

import pytest
import torch

from gan_lessons import device, toy


def test_device_auto_is_cpu_here_or_gpu_when_present(monkeypatch):
    monkeypatch.delenv(device.ENV_DEVICE, raising=False)
    d = device.get_device()
    assert d.type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available() and not device._mps_available():
        assert d.type == "cpu"


def test_environment_variable_overrides(monkeypatch):
    monkeypatch.setenv(device.ENV_DEVICE, "cpu")
    assert device.get_device() == torch.device("cpu")
    assert device.get_device("auto") == torch.device("cpu")


def test_bad_device_names_say_what_to_use(monkeypatch):
    with pytest.raises(ValueError, match="Unknown device 'gpu0'"):
        device.get_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            device.get_device("cuda")


def test_describe_device_is_one_line():
    line = device.describe_device("cpu")
    assert "\n" not in line and "CPU" in line


def test_seed_everything_repeats_and_rejects_non_int():
    device.seed_everything(5)
    a = torch.randn(3)
    device.seed_everything(5)
    assert torch.equal(a, torch.randn(3))
    with pytest.raises(TypeError):
        device.seed_everything(1.5)


@pytest.mark.parametrize("dist", [toy.Gaussian1D(), toy.GaussianMixture1D()])
def test_1d_densities_integrate_to_one(dist):
    x = torch.linspace(-15, 15, 30001)
    assert torch.trapezoid(dist.density(x), x).item() == pytest.approx(1.0, abs=1e-4)


def test_1d_density_matches_torch_distributions():
    d = toy.Gaussian1D(mean=1.0, std=0.7)
    x = torch.randn(50)
    ref = torch.distributions.Normal(1.0, 0.7).log_prob(x)
    assert torch.allclose(d.log_density(x), ref, atol=1e-5)


@pytest.mark.parametrize("dist", [toy.Ring2D(std=0.2), toy.Grid2D(std=0.2)])
def test_2d_densities_integrate_to_one(dist):
    a = torch.linspace(-7, 7, 561)
    xy = torch.stack(torch.meshgrid(a, a, indexing="xy"), -1).view(-1, 2)
    p = dist.density(xy).view(561, 561)
    assert torch.trapezoid(torch.trapezoid(p, a), a).item() == pytest.approx(1.0, abs=1e-3)


def test_modes_and_sampling():
    ring, grid = toy.Ring2D(), toy.Grid2D()
    assert ring.modes.shape == (8, 2) and grid.modes.shape == (25, 2)
    assert torch.allclose(ring.modes.norm(dim=1), torch.full((8,), 2.0))
    x = ring.sample(4000, generator=torch.Generator().manual_seed(0))
    cover = toy.count_modes(x, ring)
    assert cover["modes_covered"] == 8 and cover["high_quality"] > 0.98


def test_count_modes_sees_collapse():
    ring = toy.Ring2D()
    one_mode = ring.modes[0] + 0.01 * torch.randn(500, 2)
    cover = toy.count_modes(one_mode, ring)
    assert cover["modes_covered"] == 1 and cover["counts"][0] == 500
    far = torch.full((100, 2), 10.0)
    assert toy.count_modes(far, ring)["high_quality"] == 0.0


def test_unknown_toy_and_bad_weights():
    with pytest.raises(ValueError, match="Unknown toy distribution 'moons'"):
        toy.make_toy("moons")
    with pytest.raises(ValueError, match="weights must be"):
        toy.GaussianMixture([0.0, 1.0], [1.0, 1.0], weights=[-1, 2])

"""The exact 1-D Wasserstein-1 distance of `toy.wasserstein1` (lesson 06)."""
import math

import pytest
import torch

from gan_lessons import toy


def test_two_gaussians_with_equal_std_are_their_mean_gap_apart():
    assert toy.wasserstein1(toy.Gaussian1D(4.0, 0.5), toy.Gaussian1D(1.0, 0.5)) == pytest.approx(3.0, abs=1e-5)
    assert toy.wasserstein1(toy.Gaussian1D(-1.0, 2.0), toy.Gaussian1D(0.5, 2.0)) == pytest.approx(1.5, abs=1e-5)


def test_gaussians_with_different_std_match_the_closed_form():
    # Same mean, stds s1, s2: quantiles differ by (s2 - s1) z, so W1 = |s2 - s1| E|Z| = |s2 - s1| sqrt(2/pi).
    got = toy.wasserstein1(toy.Gaussian1D(0.0, 1.0), toy.Gaussian1D(0.0, 2.0))
    assert got == pytest.approx(math.sqrt(2 / math.pi), abs=1e-5)


def test_symmetric_and_zero_for_identical_inputs():
    a, b = toy.GaussianMixture1D(), toy.Gaussian1D(0.0, 1.0)
    assert toy.wasserstein1(a, b) == pytest.approx(toy.wasserstein1(b, a), abs=1e-7)
    assert toy.wasserstein1(a, a) == pytest.approx(0.0, abs=1e-7)
    x = torch.randn(100)
    assert toy.wasserstein1(x, x) == 0.0


def test_equal_size_sample_sets_use_sorted_gaps_exactly():
    x = torch.tensor([3.0, 0.0, 1.0])
    y = torch.tensor([[2.0], [5.0], [1.0]])  # [n, 1] works too
    assert toy.wasserstein1(x, y) == pytest.approx((1 + 1 + 2) / 3)


def test_different_size_sample_sets_integrate_the_staircases_exactly():
    # F_x steps 0 -> 1/2 at 0 and -> 1 at 1; F_y steps 0 -> 1 at 0.5: gap 1/2 on [0, 1).
    assert toy.wasserstein1(torch.tensor([0.0, 1.0]), torch.tensor([0.5])) == pytest.approx(0.5, abs=1e-9)


def test_samples_approach_their_distribution():
    g = torch.Generator().manual_seed(0)
    dist = toy.GaussianMixture1D()
    small = toy.wasserstein1(dist.sample(200, generator=g), dist)
    large = toy.wasserstein1(dist.sample(20000, generator=g), dist)
    assert large < small and large < 0.05
    shifted = dist.sample(20000, generator=g) + 1.0  # moving every sample by 1 costs 1
    assert toy.wasserstein1(shifted, dist) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("bad,message", [
    (toy.Ring2D(), "works on the line only"),
    (torch.randn(10, 2), "1-D samples"),
    (torch.tensor([]), "empty"),
    (torch.tensor([0.0, float("nan")]), "NaN"),
])
def test_bad_inputs_say_what_is_wrong(bad, message):
    with pytest.raises(ValueError, match=message):
        toy.wasserstein1(bad, toy.Gaussian1D())

"""Walks in the latent space (gan_lessons.latent), against the formulas written out here."""
import math

import pytest
import torch

from gan_lessons import checks, latent


def _slerp_by_hand(z0, z1, t):
    """sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1, with w the angle between z0 and z1, in float64."""
    a, b = z0.double(), z1.double()
    w = math.acos(float(a @ b / (a.norm() * b.norm())))
    return (math.sin((1 - t) * w) * a + math.sin(t * w) * b) / math.sin(w)


@pytest.fixture
def ends():
    g = torch.Generator().manual_seed(0)
    return torch.randn(64, generator=g), torch.randn(64, generator=g)


def test_slerp_matches_the_formula(ends):
    z0, z1 = ends
    for t in (0.0, 0.1, 0.5, 0.75, 1.0):
        assert torch.allclose(latent.slerp(z0, z1, t).double(), _slerp_by_hand(z0, z1, t), atol=1e-5)
    many = latent.slerp(z0, z1, torch.tensor([0.25, 0.5]))  # a 1-D t gives one row per value
    assert many.shape == (2, 64)
    assert torch.allclose(many[1].double(), _slerp_by_hand(z0, z1, 0.5), atol=1e-5)
    # Unit vectors at a right angle: the midpoint is their normalised sum.
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(latent.slerp(e0, e1, 0.5), torch.tensor([0.5 ** 0.5, 0.5 ** 0.5]))
    # Parallel vectors fall back to the straight line instead of dividing by sin(0).
    assert torch.allclose(latent.slerp(e0, 3 * e0, 0.5), 2 * e0)


def test_lerp_is_the_straight_line(ends):
    z0, z1 = ends
    assert torch.allclose(latent.lerp(z0, z1, 0.25), 0.75 * z0 + 0.25 * z1)
    assert latent.lerp(z0, z1, torch.linspace(0, 1, 5)).shape == (5, 64)


def test_interpolate_ends_and_norms(ends):
    z0, z1 = ends
    arc = latent.interpolate(z0, z1, n=9)
    assert arc.shape == (9, 64)
    assert torch.allclose(arc[0], z0, atol=1e-5) and torch.allclose(arc[-1], z1, atol=1e-5)
    line = latent.interpolate(z0, z1, n=9, method="linear")
    assert torch.allclose(line[4], (z0 + z1) / 2, atol=1e-6)
    # Slerp keeps norms between the two end norms; the straight line's middle is much shorter.
    lo, hi = sorted([float(z0.norm()), float(z1.norm())])
    assert ((arc.norm(dim=1) >= lo - 1e-4) & (arc.norm(dim=1) <= hi + 1e-4)).all()
    assert float(line[4].norm()) < 0.85 * lo


def test_bad_arguments_are_explained(ends):
    z0, z1 = ends
    with pytest.raises(ValueError, match="1-D"):
        latent.slerp(torch.randn(2, 64), torch.randn(2, 64), 0.5)
    with pytest.raises(ValueError, match="1-D"):
        latent.interpolate([0.0, 1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="t must be"):
        latent.lerp(z0, z1, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="method"):
        latent.interpolate(z0, z1, method="cubic")


def test_lesson07_slerp_check_accepts_slerp_and_explains_lerp(capsys):
    def slerp(z0, z1, t):  # a learner's answer, the formula of lesson 07
        omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
        return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)

    checks.check_slerp(slerp)
    assert capsys.readouterr().out.strip() == "✔ Exercise 7.2 (slerp): passed (5 values of t match latent.slerp)"
    with pytest.raises(checks.ExerciseError, match="straight line"):
        checks.check_slerp(lambda z0, z1, t: (1 - t) * z0 + t * z1)
    with pytest.raises(checks.ExerciseError, match="At t=0.0"):
        checks.check_slerp(lambda z0, z1, t: z1)
    assert "passed" not in capsys.readouterr().out


def _slerp_from(cos_omega, z0, z1, t, divide=True):
    omega = torch.arccos(cos_omega)
    out = torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1
    return out / torch.sin(omega) if divide else out


@pytest.mark.parametrize("wrong,message", [
    # arccos of the raw dot product (|z0 . z1| > 1 for 64-D noise): NaN everywhere, named as such
    (lambda z0, z1, t: _slerp_from(torch.dot(z0, z1), z0, z1, t), "contains NaN.*z0 \\. z1 / \\(\\|z0\\| \\|z1\\|\\)"),
    (lambda z0, z1, t: _slerp_from(torch.dot(z0, z1) / (z0.norm() * z1.norm()), z0, z1, t, divide=False),
     "divide the weighted sum by sin\\(omega\\)"),
    (lambda z0, z1, t: _slerp_from(torch.dot(z0, z1) / (z0.norm() * z1.norm()), z1, z0, t), "swapped"),
    (lambda z0, z1, t: _slerp_from(torch.dot(z0, z1) / (z0.norm() * z1.norm()), z0 / z0.norm(), z1 / z1.norm(), t),
     "length 1"),
])
def test_lesson07_slerp_check_names_the_usual_mistakes(wrong, message, capsys):
    with pytest.raises(checks.ExerciseError, match=message) as err:
        checks.check_slerp(wrong)
    assert "by up to nan" not in str(err.value)  # the learner is told what went wrong, not "differs by nan"
    assert "passed" not in capsys.readouterr().out

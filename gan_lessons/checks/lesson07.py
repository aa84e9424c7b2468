"""Checks for lesson 07's exercises: the Fréchet distance of diagonal Gaussians, and slerp."""
import functools

import torch

from .. import latent, metrics
from ._common import ExerciseError, passed, run_exercise

__all__ = ["check_frechet_diagonal", "check_slerp"]


def _number(value, what):
    if torch.is_tensor(value):
        if value.numel() != 1:
            raise ExerciseError(f"{what} should return one number, got a tensor of shape {tuple(value.shape)}. "
                                "Did you forget to .sum() over the dimensions?")
        value = value.item()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ExerciseError(f"{what} should return a number, got {type(value).__name__}.") from None


def check_frechet_diagonal(fn):
    """Exercise 7.1: fn(mu1, var1, mu2, var2) = Fréchet distance of two diagonal Gaussians (lesson 07).

    mu and var are 1-D tensors [d] (var = the diagonal of the covariance). Compared with
    metrics.frechet_distance on the full diagonal matrices.
    """
    g = torch.Generator().manual_seed(7)
    d = 5
    mu, var = torch.randn(d, generator=g, dtype=torch.float64), torch.rand(d, generator=g, dtype=torch.float64) + 0.1
    cases = [
        ("two identical Gaussians", mu, var, mu.clone(), var.clone()),
        ("same variances, shifted means", mu, var, mu + 2.0, var.clone()),
        ("same means, different variances", mu, var, mu.clone(), 4.0 * var),
        ("random Gaussians", mu, var, torch.randn(d, generator=g, dtype=torch.float64),
         torch.rand(d, generator=g, dtype=torch.float64) + 0.1),
        ("one dimension: N(0, 1) vs N(3, 4)", torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64),
         torch.full((1,), 3.0, dtype=torch.float64), torch.full((1,), 4.0, dtype=torch.float64)),
    ]
    for name, m1, v1, m2, v2 in cases:
        want = metrics.frechet_distance(m1, torch.diag(v1), m2, torch.diag(v2))
        got = _number(run_exercise(fn, m1.clone(), v1.clone(), m2.clone(), v2.clone(), exercise="Exercise 7.1"),
                      "frechet_diagonal")
        if not abs(got - want) <= 1e-6 * max(1.0, abs(want)):
            mean_term = float((m1 - m2).pow(2).sum())
            hint = ("The formula: ||mu1 - mu2||^2 + sum(var1 + var2 - 2 * sqrt(var1 * var2)). "
                    "For diagonal covariances the matrix square root is the square root of each variance.")
            if abs(got - mean_term) < 1e-6 * max(1.0, mean_term) and abs(want - mean_term) > 1e-9:
                hint = "You only have the mean term: add the covariance term sum(var1 + var2 - 2*sqrt(var1*var2))."
            elif abs(got - float(want ** 0.5)) < 1e-6 * max(1.0, want):
                hint = "You returned the distance; FID is the *squared* Fréchet distance (no final square root)."
            elif abs(got - (mean_term + float((v1 + v2 - 2 * v1 * v2).sum()))) < 1e-6 * max(1.0, want):
                hint = "The cross term is 2 * sqrt(var1 * var2): the square root is missing."
            raise ExerciseError(f"On {name}: expected {want:.6f}, got {got:.6f}. {hint}")
    return passed("Exercise 7.1 (Fréchet distance, diagonal covariances)",
                  f"{len(cases)} cases match metrics.frechet_distance")


def check_slerp(fn):
    """Exercise 7.2: fn(z0, z1, t) = spherical interpolation for a number t in [0, 1] (lesson 07).

    Compared with latent.slerp; also checks the ends (t=0 gives z0, t=1 gives z1). A wrong answer
    is matched against the usual mistakes (the straight line, an unnormalised cosine, which gives
    NaN, a missing division by sin(omega), z0 and z1 swapped, unit vectors returned) to name it.
    """
    g = torch.Generator().manual_seed(72)
    z0, z1 = torch.randn(64, generator=g), torch.randn(64, generator=g)
    for t in (0.0, 1.0, 0.5, 0.25, 0.9):
        want = latent.slerp(z0, z1, t)
        got = run_exercise(fn, z0.clone(), z1.clone(), t, exercise="Exercise 7.2")
        if not torch.is_tensor(got) or tuple(got.shape) != tuple(want.shape):
            raise ExerciseError(f"slerp(z0, z1, {t}) should return a tensor of shape {tuple(want.shape)} like z0, "
                                f"got {tuple(got.shape) if torch.is_tensor(got) else type(got).__name__}.")
        got = got.detach().float()
        if not torch.isfinite(got).all():
            raise ExerciseError(f"At t={t}: your result contains NaN or inf. {_slerp_nan_hint(z0, z1)}")
        if not torch.allclose(got, want, atol=1e-4, rtol=1e-4):
            raise ExerciseError(f"At t={t}: your result differs from latent.slerp by up to "
                                f"{float((got - want).abs().max()):.4f}. {_slerp_hint(got, z0, z1, t)}")
    return passed("Exercise 7.2 (slerp)", "5 values of t match latent.slerp")


def _slerp_nan_hint(z0, z1):
    dot = float(torch.dot(z0, z1))
    if abs(dot) > 1:
        return (f"Here z0 . z1 = {dot:.1f}, and arccos is only defined on [-1, 1] (torch.arccos({dot:.1f}) is nan). "
                "Normalise it: cos omega = z0 . z1 / (|z0| |z1|), which always lies in [-1, 1].")
    return ("Look for arccos of a number outside [-1, 1] (normalise the dot product by |z0| |z1|, and clamp it "
            "to [-1, 1] against round-off) or a division by sin(omega) = 0.")


def _slerp_hint(got, z0, z1, t):
    formula = ("Use omega = arccos(z0 . z1 / (|z0| |z1|)), then "
               "(sin((1 - t) omega) * z0 + sin(t omega) * z1) / sin(omega).")
    close = functools.partial(torch.allclose, got, atol=1e-4, rtol=1e-4)
    omega = torch.arccos((torch.dot(z0, z1) / (z0.norm() * z1.norm())).clamp(-1, 1))
    if close(latent.lerp(z0, z1, t)):
        return ("That is the straight line (lerp). Its midpoint is shorter than z0 and z1 "
                f"(norm {float(latent.lerp(z0, z1, 0.5).norm()):.2f} vs about {float(z0.norm()):.2f}); "
                "slerp follows the arc instead. " + formula)
    if close(latent.slerp(z0, z1, t) * torch.sin(omega)):
        return (f"Your result is sin(omega) = {float(torch.sin(omega)):.3f} times the right one: divide the "
                "weighted sum by sin(omega), so that t=0 gives z0 exactly. " + formula)
    if close(latent.slerp(z1, z0, t)):
        return "z0 and z1 are swapped: sin((1 - t) omega) goes with z0, so that t=0 gives z0. " + formula
    if close(latent.slerp(z0 / z0.norm(), z1 / z1.norm(), t)):
        return ("Your result has length 1: you interpolated the normalised vectors. Use z0 / |z0| only to compute "
                "the angle omega, then combine the original z0 and z1. " + formula)
    if t in (0.0, 1.0):
        return f"At t={t} the answer must be {'z0' if t == 0 else 'z1'} exactly. " + formula
    return formula

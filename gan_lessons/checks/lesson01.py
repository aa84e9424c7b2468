"""Checks for lesson 01's exercises: a Gaussian's log-likelihood, Bayes' rule, and sampling."""
import math

import torch

from ._common import ExerciseError, passed, run_exercise

__all__ = ["check_gaussian_log_likelihood", "check_posterior", "check_sample_gaussian"]


def _tensor_result(value, shape, what):
    if not torch.is_tensor(value):
        raise ExerciseError(f"{what} should return a tensor, got {type(value).__name__}.")
    if tuple(value.shape) != tuple(shape):
        raise ExerciseError(f"{what} should return shape {list(shape)}, got {list(value.shape)}.")
    return value.detach().double()


def _close(got, want, rtol=1e-4, atol=1e-4):
    return bool(torch.isfinite(got).all()) and bool(torch.allclose(got, want, rtol=rtol, atol=atol))


def check_gaussian_log_likelihood(fn):
    """Exercise 1.1: fn(x [N, d], mean [d], var [d]) -> log N(x; mean, diag(var)), shape [N] (lesson 01).

    Compared with torch.distributions.Normal(mean, var.sqrt()).log_prob(x).sum(-1).
    """
    g = torch.Generator().manual_seed(1)
    cases = [
        ("2-D points, unit variance", torch.randn(6, 2, generator=g), torch.zeros(2), torch.ones(2)),
        ("2-D points, different variances", torch.randn(5, 2, generator=g) * 2,
         torch.tensor([1.0, -0.5]), torch.tensor([0.3, 2.5])),
        ("one 784-pixel image", torch.rand(1, 784, generator=g) * 2 - 1,
         torch.rand(784, generator=g) - 0.5, torch.rand(784, generator=g) * 0.5 + 0.05),
        ("1-D points", torch.randn(4, 1, generator=g), torch.tensor([0.5]), torch.tensor([4.0])),
    ]
    for name, x, mean, var in cases:
        want = torch.distributions.Normal(mean.double(), var.double().sqrt()).log_prob(x.double()).sum(-1)  # [N]
        out = run_exercise(fn, x.clone(), mean.clone(), var.clone(), exercise="Exercise 1.1")
        if torch.is_tensor(out) and out.dim() == 2 and tuple(out.shape) == tuple(x.shape):
            raise ExerciseError(f"On {name}: you returned one log-density per feature, shape {list(out.shape)}; "
                                "the features are independent, so add them up: "
                                f".sum(dim=-1) gives shape [{x.shape[0]}].")
        got = _tensor_result(out, want.shape, "gaussian_log_likelihood")
        if _close(got, want):
            continue
        d = x.shape[1]
        hint = "Each feature contributes -1/2 [log(2 pi var_j) + (x_j - mean_j)^2 / var_j]; add these up over j."
        if _close(-got, want):
            hint = "Your values have the wrong sign: a log-density has a MINUS in front of the squared distance."
        elif _close(got - 0.5 * d * math.log(2 * math.pi), want) or _close(got + 0.5 * d * math.log(2 * math.pi), want):
            hint = ("You are off by (d/2) log(2 pi): did you forget (or double) the log(2 pi) of the "
                    "normalizing constant?")
        elif any(_close(got + sign * 0.5 * torch.log(var.double()).sum(), want) for sign in (-1, 1)):
            hint = ("You are off by (1/2) sum log var: check the log(var) term of the normalizing constant "
                    "(it is -1/2 log var_j).")
        elif _close(got, torch.distributions.Normal(mean.double(), var.double()).log_prob(x.double()).sum(-1)):
            hint = "`var` is already sigma^2: you used it as the standard deviation (squaring it again)."
        shown = ", ".join(f"{v:.4f}" for v in want[:3].tolist())
        got_shown = ", ".join(f"{v:.4f}" for v in got[:3].tolist())
        raise ExerciseError(f"On {name} (x of shape {list(x.shape)}): expected log-likelihoods [{shown}...], "
                            f"got [{got_shown}...]. {hint}")
    return passed("Exercise 1.1 (Gaussian log-likelihood)", f"{len(cases)} cases match torch.distributions.Normal")


def check_posterior(fn):
    """Exercise 1.2: fn(log_likelihoods [N, C], log_priors [C]) -> P(y | x) [N, C] by Bayes' rule (lesson 01).

    Includes MNIST-sized log-likelihoods (around -1000), whose exp is exactly 0 in floating point.
    """
    g = torch.Generator().manual_seed(2)
    log_priors3 = torch.log(torch.tensor([0.5, 0.3, 0.2]))
    cases = [
        ("equal priors", torch.randn(5, 2, generator=g), torch.log(torch.tensor([0.5, 0.5]))),
        ("unequal priors", torch.randn(6, 3, generator=g) * 3, log_priors3),
        ("equal likelihoods (the prior decides)", torch.full((2, 3), -2.0), log_priors3),
        ("MNIST-sized log-likelihoods (about -1000)", torch.randn(4, 10, generator=g) * 20 - 1000,
         torch.log(torch.full((10,), 0.1))),
    ]
    for name, log_lik, log_priors in cases:
        want = torch.softmax(log_lik.double() + log_priors.double(), dim=1)
        out = run_exercise(fn, log_lik.clone(), log_priors.clone(), exercise="Exercise 1.2")
        got = _tensor_result(out, want.shape, "posterior")
        if _close(got, want, atol=1e-5):
            continue
        rows = got.sum(1)
        hint = ("P(c | x) = P(x | c) P(c) / sum_c' P(x | c') P(c'); in logs: log_lik + log_prior, then "
                "normalize each row.")
        if not torch.isfinite(got).all():
            hint = ("You got NaN or inf: exp(-1000) is 0 in floating point, so 0 / 0. Stay in log space: "
                    "torch.softmax(log_lik + log_priors, dim=1), or subtract "
                    "torch.logsumexp(..., dim=1, keepdim=True) before exp.")
        elif not torch.allclose(rows, torch.ones_like(rows), atol=1e-4):
            hint = (f"Your rows sum to {rows[0].item():.4f}, not 1: divide by the evidence P(x) = sum over classes "
                    "(normalize along dim=1, the class dimension).")
        elif _close(got, torch.softmax(log_lik.double(), dim=1), atol=1e-5):
            hint = "You left out the prior P(c): add log_priors to the log-likelihoods before normalizing."
        elif _close(got, torch.softmax(log_lik.double() - log_priors.double(), dim=1), atol=1e-5):
            hint = "You subtracted the log-prior; Bayes' rule multiplies by P(c), so add log_priors."
        raise ExerciseError(f"On {name}: expected P(y | x) row 0 = {[round(v, 4) for v in want[0].tolist()]}, "
                            f"got {[round(v, 4) for v in got[0].tolist()]}. {hint}")
    return passed("Exercise 1.2 (Bayes' rule posterior)", f"{len(cases)} cases, including log-likelihoods near -1000")


def check_sample_gaussian(fn):
    """Exercise 1.3: fn(mean [d], var [d], n) -> n samples [n, d] from N(mean, diag(var)) (lesson 01).

    Draws 20,000 samples and compares their mean and variance with the targets (a test that fails
    by chance about once in a million runs).
    """
    mean = torch.tensor([2.0, -1.0, 0.0])
    var = torch.tensor([0.25, 4.0, 1.0])
    n = 20000
    torch.manual_seed(13)
    out = run_exercise(fn, mean.clone(), var.clone(), n, exercise="Exercise 1.3")
    x = _tensor_result(out, (n, 3), "sample_gaussian")
    if x.std(0).max() == 0 or (x[0] == x[1]).all():
        raise ExerciseError("All your samples are identical: add noise, x = mean + std * z with z = torch.randn(n, d).")
    m, v = x.mean(0), x.var(0)
    # Standard errors: sqrt(var / n) for the mean, var * sqrt(2 / n) for the variance; allow 5 of them.
    if ((m - mean.double()).abs() > 5 * (var.double() / n).sqrt()).any():
        raise ExerciseError(f"Your samples' means are {[round(a, 3) for a in m.tolist()]}, expected "
                            f"{mean.tolist()}. Shift the noise by the mean: x = mean + std * z.")
    if ((v - var.double()).abs() > 5 * var.double() * math.sqrt(2 / n)).any():
        hint = "Scale the noise by the standard deviation sqrt(var), not by var itself."
        if torch.allclose(v, var.double() ** 2, rtol=0.1):
            hint = "Your variance is var^2: you scaled z by var; scale it by the standard deviation var.sqrt()."
        elif torch.allclose(v, var.double().sqrt(), rtol=0.1):
            hint = "Your variance is sqrt(var): you scaled z by var ** 0.25; scale it by var.sqrt()."
        elif torch.allclose(v, torch.ones_like(v), rtol=0.1):
            hint = "Your samples have variance 1: multiply z by the standard deviation var.sqrt()."
        raise ExerciseError(f"Your samples' variances are {[round(a, 3) for a in v.tolist()]}, expected "
                            f"{var.tolist()}. {hint}")
    return passed("Exercise 1.3 (sampling a Gaussian)", "mean and variance of 20,000 samples match")

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
        elif _close(got - 0.25 * torch.log(var.double()).sum(), want):
            hint = ("You used log(2 pi sigma), with sigma = sqrt(var); the normalizing term is log(2 pi sigma^2) = "
                    "log(2 pi var): `var` is already sigma^2, use it as it is.")
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


def _posterior_nan_hint(log_lik, log_priors):
    """Why the textbook formula exp(log_lik) P(c) / sum_c' ... gives NaN or inf on these inputs."""
    joint = (log_lik + log_priors).exp()  # float32, as the learner's would be
    if torch.isinf(joint).any():
        return ("You got NaN or inf: these log-likelihoods are far above 0 (densities above 1, as for many MNIST "
                "images), and exp of anything above about 88.7 overflows to inf in float32, so inf / inf = NaN.")
    if (joint == 0).all(dim=1).any():
        return ("You got NaN or inf: these log-likelihoods are far below 0, and exp of anything below about -104 "
                "underflows to exactly 0 in float32 (below about -745 in float64), so 0 / 0 = NaN. The next case "
                "has the opposite problem, log-likelihoods far above 0, whose exp overflows to inf.")
    return "You got NaN or inf: check for a division by 0 or a log of 0."


def check_posterior(fn):
    """Exercise 1.2: fn(log_likelihoods [N, C], log_priors [C]) -> P(y | x) [N, C] by Bayes' rule (lesson 01).

    Includes log-likelihoods far below 0 and far above 0, as MNIST's are: their exp underflows to 0
    or overflows to inf in float32, so the textbook formula gives 0 / 0 or inf / inf.
    """
    g = torch.Generator().manual_seed(2)
    log_priors3 = torch.log(torch.tensor([0.5, 0.3, 0.2]))
    log_priors10 = torch.log(torch.full((10,), 0.1))
    cases = [
        ("equal priors", torch.randn(5, 2, generator=g), torch.log(torch.tensor([0.5, 0.5]))),
        ("unequal priors", torch.randn(6, 3, generator=g) * 3, log_priors3),
        ("equal likelihoods (the prior decides)", torch.full((2, 3), -2.0), log_priors3),
        ("log-likelihoods far below 0 (about -900)", torch.randn(4, 10, generator=g) * 20 - 900, log_priors10),
        ("log-likelihoods far above 0 (about +200)", torch.randn(4, 10, generator=g) * 20 + 200, log_priors10),
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
            hint = (_posterior_nan_hint(log_lik, log_priors) + " Stay in log space: torch.softmax(log_lik + "
                    "log_priors, dim=1), or subtract torch.logsumexp(..., dim=1, keepdim=True) before exp.")
        elif (got <= 1e-9).all() and torch.allclose(torch.logsumexp(got, dim=1), torch.zeros_like(rows), atol=1e-4):
            hint = ("You returned log P(c | x): every entry is <= 0 and the exp of each row sums to 1. That is the "
                    "posterior in log space; the exercise asks for the probabilities themselves, so exponentiate "
                    "(.exp()) at the end.")
        elif not torch.allclose(rows, torch.ones_like(rows), atol=1e-4):
            hint = (f"Your rows sum to {rows[0].item():.4f}, not 1: divide by the evidence P(x) = sum over classes "
                    "(normalize along dim=1, the class dimension).")
        elif _close(got, torch.softmax(log_lik.double(), dim=1), atol=1e-5):
            hint = "You left out the prior P(c): add log_priors to the log-likelihoods before normalizing."
        elif _close(got, torch.softmax(log_lik.double() - log_priors.double(), dim=1), atol=1e-5):
            hint = "You subtracted the log-prior; Bayes' rule multiplies by P(c), so add log_priors."
        raise ExerciseError(f"On {name}: expected P(y | x) row 0 = {[round(v, 4) for v in want[0].tolist()]}, "
                            f"got {[round(v, 4) for v in got[0].tolist()]}. {hint}")
    return passed("Exercise 1.2 (Bayes' rule posterior)",
                  f"{len(cases)} cases, including log-likelihoods near -900 and +200")


def _sample_moments_hint(x, mean, var, n):
    """None when the samples' means and variances match, else what is wrong with them."""
    m, v = x.mean(0), x.var(0)
    # Standard errors: sqrt(var / n) for the mean, var * sqrt(2 / n) for the variance; allow 5 of them.
    if ((m - mean).abs() > 5 * (var / n).sqrt()).any():
        return (f"Your samples' means are {[round(a, 3) for a in m.tolist()]}, expected {mean.tolist()}. "
                "Shift the noise by the mean: x = mean + std * z.")
    if ((v - var).abs() > 5 * var * math.sqrt(2 / n)).any():
        hint = "Scale the noise by the standard deviation sqrt(var), not by var itself."
        if torch.allclose(v, var ** 2, rtol=0.1):
            hint = "Your variance is var^2: you scaled z by var; scale it by the standard deviation var.sqrt()."
        elif torch.allclose(v, var.sqrt(), rtol=0.1):
            hint = "Your variance is sqrt(var): you scaled z by var ** 0.25; scale it by var.sqrt()."
        elif torch.allclose(v, torch.ones_like(v), rtol=0.1):
            hint = "Your samples have variance 1: multiply z by the standard deviation var.sqrt()."
        elif torch.allclose(v, var / 12, rtol=0.1):
            hint = ("Your variance is var / 12, the variance of uniform noise in [-1/2, 1/2): draw z with "
                    "torch.randn (standard normal), not torch.rand.")
        return f"Your samples' variances are {[round(a, 3) for a in v.tolist()]}, expected {var.tolist()}. {hint}"
    return None


def check_sample_gaussian(fn):
    """Exercise 1.3: fn(mean [d], var [d], n) -> n samples [n, d] from N(mean, diag(var)) (lesson 01).

    Draws 20,000 samples and tests what N(mean, diag(var)) means: normal noise (not uniform), the
    right mean and variance per feature, and features that are independent of each other (their
    correlations near 0). Each test allows 5 standard errors, so a right answer fails by chance
    less than once in a million runs.
    """
    mean = torch.tensor([2.0, -1.0, 0.0])
    var = torch.tensor([0.25, 4.0, 1.0])
    n = 20000
    torch.manual_seed(13)
    out = run_exercise(fn, mean.clone(), var.clone(), n, exercise="Exercise 1.3")
    x = _tensor_result(out, (n, 3), "sample_gaussian")
    mean, var = mean.double(), var.double()
    if (x == x[0]).all():
        if torch.allclose(x[0], mean):
            raise ExerciseError("All your samples equal the mean: add noise, x = mean + std * z with "
                                "z = torch.randn(n, d).")
        raise ExerciseError("All your samples are the same point: you drew one noise vector (shape [d]) and used "
                            "it for every sample. Draw one per sample: z = torch.randn(n, d).")
    if (x >= mean).all():
        raise ExerciseError("None of your samples falls below the mean, but a Gaussian puts half of them there: "
                            "torch.rand draws uniform numbers in [0, 1), all >= 0. Use torch.randn (standard normal).")
    z = (x - mean) / var.sqrt()  # [n, 3]: standard normal noise, if the answer is right
    problem = _sample_moments_hint(x, mean, var, n)
    if problem:
        raise ExerciseError(problem)
    corr = torch.corrcoef(x.T)  # [3, 3]
    off = torch.triu(corr, diagonal=1).abs()  # each pair of features once
    if off.max() > 5 / math.sqrt(n):  # the standard error of a correlation near 0 is 1 / sqrt(n)
        i, j = divmod(int(off.argmax()), 3)
        hint = "Each feature needs its own noise: z = torch.randn(n, d)."
        if off.max() > 0.99:
            hint = ("You drew one noise value per sample and shared it across the features (z of shape [n, 1]?); "
                    "draw one per feature: z = torch.randn(n, d).")
        raise ExerciseError(f"Your features are correlated: features {i} and {j} have correlation "
                            f"{corr[i, j].item():.2f}, expected about 0 (a diagonal covariance means independent "
                            f"features). {hint}")
    inside = (z.abs() < 1).double().mean().item()  # a normal puts 68.3 % within one std of the mean
    if abs(inside - 0.6827) > 5 * math.sqrt(0.6827 * 0.3173 / z.numel()):
        raise ExerciseError(f"Your samples have the right mean and variance but not a normal shape: {inside:.1%} "
                            "of them lie within one standard deviation of the mean, a Gaussian puts 68.3 % there. "
                            "Draw z with torch.randn (standard normal), not torch.rand or another distribution.")
    return passed("Exercise 1.3 (sampling a Gaussian)",
                  "20,000 samples: normal, right mean and variance, independent features")

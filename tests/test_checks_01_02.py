"""The checks of lessons 01 and 02 pass right answers, fail wrong ones with a useful message, and
let an unsolved exercise (NotImplementedError) through."""
import math

import pytest
import torch
import torch.nn.functional as F

from gan_lessons import checks, losses
from gan_lessons.checks import ExerciseError


def todo(*args):
    raise NotImplementedError("not yet")


# -- lesson 01: Gaussian log-likelihood ------------------------------------------------------------
def gauss_ll_right(x, mean, var):
    return -0.5 * (torch.log(2 * math.pi * var) + (x - mean) ** 2 / var).sum(-1)


def test_gaussian_log_likelihood_passes_right_answer(capsys):
    checks.check_gaussian_log_likelihood(gauss_ll_right)
    assert "Exercise 1.1 (Gaussian log-likelihood): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (lambda x, m, v: -gauss_ll_right(x, m, v), "wrong sign"),
    (lambda x, m, v: -0.5 * (torch.log(v) + (x - m) ** 2 / v).sum(-1), "log\\(2 pi\\)"),
    (lambda x, m, v: -0.5 * (math.log(2 * math.pi) + (x - m) ** 2 / v).sum(-1), "log var"),
    (lambda x, m, v: -0.5 * (torch.log(2 * math.pi * v ** 2) + (x - m) ** 2 / v ** 2).sum(-1), "standard deviation"),
    # sigma instead of sigma^2 in the normalizing term: right for the unit-variance case only
    (lambda x, m, v: -0.5 * (torch.log(2 * math.pi * v.sqrt()) + (x - m) ** 2 / v).sum(-1),
     "used log\\(2 pi sigma\\).*log\\(2 pi var\\)"),
    (lambda x, m, v: -0.5 * (torch.log(2 * math.pi * v) + (x - m) ** 2 / v), "add them up"),
    # averaged over the features instead of adding them up: no special hint, the formula says "add"
    (lambda x, m, v: -0.5 * (torch.log(2 * math.pi * v) + (x - m) ** 2 / v).mean(-1),
     "expected log-likelihoods.*add these up over j"),
])
def test_gaussian_log_likelihood_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_gaussian_log_likelihood(wrong)
    assert "passed" not in capsys.readouterr().out


def test_gaussian_log_likelihood_lets_not_implemented_through(capsys):
    with pytest.raises(NotImplementedError, match="Exercise 1.1 is not solved yet"):
        checks.check_gaussian_log_likelihood(todo)
    assert "passed" not in capsys.readouterr().out


# -- lesson 01: posterior --------------------------------------------------------------------------
def posterior_right(log_lik, log_priors):
    return torch.softmax(log_lik + log_priors, dim=1)


def posterior_naive(log_lik, log_priors):  # right formula, but exp(-1000) = 0 gives 0 / 0
    joint = log_lik.exp() * log_priors.exp()
    return joint / joint.sum(1, keepdim=True)


def posterior_logsumexp(log_lik, log_priors):  # the same answer, normalized by hand in log space
    joint = log_lik + log_priors
    return (joint - torch.logsumexp(joint, dim=1, keepdim=True)).exp()


@pytest.mark.parametrize("right", [posterior_right, posterior_logsumexp])
def test_posterior_passes_right_answers(right, capsys):
    checks.check_posterior(right)
    assert "Exercise 1.2 (Bayes' rule posterior): passed" in capsys.readouterr().out


def posterior_logsumexp_no_exp(log_lik, log_priors):  # the log posterior: the last .exp() is missing
    joint = log_lik + log_priors
    return joint - torch.logsumexp(joint, dim=1, keepdim=True)


def posterior_overflows(log_lik, log_priors):  # right where exp is safe, naive above 0 (exp(200) = inf)
    return posterior_naive(log_lik, log_priors) if log_lik.max() > 0 else posterior_right(log_lik, log_priors)


@pytest.mark.parametrize("wrong,message", [
    (posterior_naive, "far below 0 .*underflows to exactly 0 .*0 / 0 = NaN"),
    (posterior_overflows, "far above 0 .*overflows to inf .*inf / inf = NaN"),
    (lambda ll, lp: (ll + lp).exp(), "rows sum to"),
    (lambda ll, lp: torch.log_softmax(ll + lp, dim=1), "returned log P\\(c \\| x\\).*exponentiate"),
    (posterior_logsumexp_no_exp, "returned log P\\(c \\| x\\).*exponentiate"),
    (lambda ll, lp: torch.softmax(ll, dim=1), "left out the prior"),
    (lambda ll, lp: torch.softmax(ll - lp, dim=1), "subtracted the log-prior"),
    (lambda ll, lp: torch.softmax(ll + lp, dim=0), "normalize along dim=1"),  # normalized over the batch
])
def test_posterior_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_posterior(wrong)
    assert "passed" not in capsys.readouterr().out


def test_posterior_lets_not_implemented_through(capsys):
    with pytest.raises(NotImplementedError, match="Exercise 1.2 is not solved yet"):
        checks.check_posterior(todo)
    assert "passed" not in capsys.readouterr().out


def test_posterior_wants_the_right_shape(capsys):
    with pytest.raises(ExerciseError, match=r"should return shape \[5, 2\], got \[5\]"):
        checks.check_posterior(lambda ll, lp: torch.softmax(ll + lp, dim=1)[:, 0])
    assert "passed" not in capsys.readouterr().out


# -- lesson 01: sampling -------------------------------------------------------------------------
def sample_right(mean, var, n):
    return mean + var.sqrt() * torch.randn(n, mean.shape[0])


@pytest.mark.parametrize("right", [
    sample_right,
    lambda m, v, n: torch.normal(m.expand(n, -1), v.sqrt().expand(n, -1)),
    lambda m, v, n: torch.distributions.Normal(m, v.sqrt()).sample((n,)),
], ids=["mean + std * z", "torch.normal", "torch.distributions"])
def test_sample_passes_right_answers(right, capsys):
    checks.check_sample_gaussian(right)
    assert "Exercise 1.3 (sampling a Gaussian): passed" in capsys.readouterr().out


def uniform_like_normal(m, v, n):  # right mean and variance, wrong shape of distribution
    return m + v.sqrt() * (torch.rand(n, m.shape[0]) - 0.5) * math.sqrt(12)


def partly_shared_noise(m, v, n):  # each feature has variance 1 noise, but 36 % of it is shared
    return m + v.sqrt() * (0.6 * torch.randn(n, 1) + 0.8 * torch.randn(n, m.shape[0]))


@pytest.mark.parametrize("wrong,message", [
    (lambda m, v, n: m.expand(n, -1).clone(), "equal the mean"),
    (lambda m, v, n: (m + v.sqrt() * torch.randn(m.shape[0])).expand(n, -1), "one noise vector .* every sample"),
    (lambda m, v, n: m + v * torch.randn(n, m.shape[0]), "scaled z by var"),
    (lambda m, v, n: m + torch.randn(n, m.shape[0]), "variance 1"),
    (lambda m, v, n: v.sqrt() * torch.randn(n, m.shape[0]), "Shift the noise by the mean"),
    # one noise value per sample, shared by all features: each feature's mean and variance are right
    (lambda m, v, n: m + v.sqrt() * torch.randn(n, 1), "correlation 1.00.*shared it across the features"),
    (partly_shared_noise, "features 0 and 1 have correlation 0.3.*its own noise"),
    (lambda m, v, n: m + v.sqrt() * torch.rand(n, m.shape[0]), "falls below the mean.*torch.rand"),
    (lambda m, v, n: m + v.sqrt() * (torch.rand(n, m.shape[0]) - 0.5), "var / 12.*torch.rand"),
    (uniform_like_normal, "not a normal shape"),
])
def test_sample_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_sample_gaussian(wrong)
    assert "passed" not in capsys.readouterr().out


def test_sample_lets_not_implemented_through(capsys):
    with pytest.raises(NotImplementedError, match="Exercise 1.3 is not solved yet"):
        checks.check_sample_gaussian(todo)
    assert "passed" not in capsys.readouterr().out


# -- lesson 02: BCE ---------------------------------------------------------------------------------
def bce_right(h, y):
    return -(y * torch.log(h) + (1 - y) * torch.log(1 - h)).mean()


# The exercise asks for J as written (section 4 shows what it does at h = 1.0 with the learner's function),
# so every right answer computes both terms for every example; log1p(-h) is log(1 - h) too.
@pytest.mark.parametrize("right", [
    bce_right,
    lambda h, y: -(y * torch.log(h) + (1 - y) * torch.log1p(-h)).sum() / h.numel(),
    lambda h, y: -torch.mean(y * h.log() + (1 - y) * (1 - h).log()),
], ids=["written out", "log1p, sum / m", "methods"])
def test_bce_passes_right_answers(right, capsys):
    checks.check_bce(right)
    assert "Exercise 2.1 (BCE): passed" in capsys.readouterr().out


def bce_where(h, y):  # only the active term of each example: no 0 * log 0, so no NaN at h = 1, y = 1
    return torch.where(y == 1, -torch.log(h), -torch.log(1 - h)).mean()


def bce_bernoulli(h, y):  # log(h^y (1 - h)^(1 - y)): 0^0 = 1, so no NaN either
    return -torch.log(h ** y * (1 - h) ** (1 - y)).mean()


@pytest.mark.parametrize("wrong,message", [
    (lambda h, y: -bce_right(h, y), "Wrong sign"),
    (lambda h, y: -(y * torch.log(h) + (1 - y) * torch.log(1 - h)).sum(), "divide by m"),
    (lambda h, y: -((1 - y) * torch.log(h) + y * torch.log(1 - h)).mean(), "labels are swapped"),
    (lambda h, y: -(y * torch.log(h)).mean(), "only have the y log h term"),
    # right inside (0, 1), but not J as written at h = 1.0, which section 4 demonstrates with my_bce
    (F.binary_cross_entropy, "J exactly as written.*yours gives 0 and 100.*clamp each log at -100"),
    (losses.bce, "J exactly as written.*yours gives 0 and 100.*clamp each log at -100"),
    (bce_where, "soft labels.*picking one term by the label"),  # fails on soft labels first
    (bce_bernoulli, "yours gives 0 and inf.*0\\^0 = 1"),
    (lambda h, y: -(torch.xlogy(y, h) + torch.xlogy(1 - y, 1 - h)).mean(), "yours gives 0 and inf.*xlogy"),
    (lambda h, y: bce_right(h.clamp(1e-7, 1 - 1e-7), y), "kept log away from 0"),
])
def test_bce_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_bce(wrong)
    assert "passed" not in capsys.readouterr().out


def test_bce_wants_one_number(capsys):
    with pytest.raises(ExerciseError, match="mean over the batch"):
        checks.check_bce(lambda h, y: -(y * torch.log(h) + (1 - y) * torch.log(1 - h)))
    assert "passed" not in capsys.readouterr().out


def test_bce_lets_not_implemented_through(capsys):
    with pytest.raises(NotImplementedError, match="Exercise 2.1 is not solved yet"):
        checks.check_bce(todo)
    assert "passed" not in capsys.readouterr().out


# -- lesson 02: BCE from logits ----------------------------------------------------------------------
def bce_logits_right(logits, y):  # log h = -softplus(-l), log(1 - h) = -softplus(l)
    return (y * F.softplus(-logits) + (1 - y) * F.softplus(logits)).mean()


def bce_logits_naive(logits, y):
    return bce_right(torch.sigmoid(logits), y)


def bce_logits_clamped(logits, y):  # PyTorch's clamp at -100 hides the inf but gives wrong values
    return F.binary_cross_entropy(torch.sigmoid(logits), y)


def bce_logits_max_form(logits, y):  # the form PyTorch's docs give: max(l, 0) - l y + log(1 + exp(-|l|))
    return (logits.clamp(min=0) - logits * y + torch.log1p(torch.exp(-logits.abs()))).mean()


def bce_logits_logsigmoid(logits, y):  # log h = logsigmoid(l), log(1 - h) = logsigmoid(-l), both stable
    return -(y * F.logsigmoid(logits) + (1 - y) * F.logsigmoid(-logits)).mean()


def bce_logits_in_place(logits, y):  # changes its argument in place: the check must still get the gradient
    logits.neg_()
    return (y * F.softplus(logits) + (1 - y) * F.softplus(-logits)).mean()


# At l = 0 exactly autograd gives the max form a one-sided gradient (-y with clamp), not 1/2 - y: the check skips l = 0.
@pytest.mark.parametrize("right", [bce_logits_right, bce_logits_max_form, bce_logits_logsigmoid,
                                   bce_logits_in_place, F.binary_cross_entropy_with_logits],
                         ids=["softplus", "max form", "logsigmoid", "in place", "F.binary_cross_entropy_with_logits"])
def test_bce_with_logits_passes_right_answers(right, capsys):
    checks.check_bce_with_logits(right)
    assert "Exercise 2.2 (BCE from logits): passed" in capsys.readouterr().out


def bce_logits_exp_overflows(logits, y):  # softplus written as log(1 + exp(u)): exp(500) = inf
    return (y * torch.log(1 + torch.exp(-logits)) + (1 - y) * torch.log(1 + torch.exp(logits))).mean()


def bce_logits_log_sigmoid(logits, y):  # log(1 - h) as log sigmoid(-l): fine at 40, sigmoid(-500) = 0
    return -(y * torch.log(torch.sigmoid(logits)) + (1 - y) * torch.log(torch.sigmoid(-logits))).mean()


def bce_logits_where(logits, y):  # picks one term per example, so no 0 * inf; -log(1 - 1.0) = inf remains
    h = torch.sigmoid(logits)
    return torch.where(y == 1, -torch.log(h), -torch.log(1 - h)).mean()


def softplus_where(u):  # right values everywhere, but backward also runs through log1p(exp(500)) = inf
    return torch.where(u > 20, u, torch.log1p(torch.exp(u)))


def bce_logits_where_softplus(logits, y):  # right costs, NaN gradient at +-500
    return (y * softplus_where(-logits) + (1 - y) * softplus_where(logits)).mean()


@pytest.mark.parametrize("wrong,message", [
    # sigmoid(40) = 1.0: on a real example (y = 1), (1 - y) log(1 - h) = 0 * -inf = NaN
    (bce_logits_naive, "NaN for CONFIDENT RIGHT answers.*0 \\* -inf = NaN"),
    # right values at +40 real, but the dropped -log(1 - sigmoid(40)) = -log 0 gives a NaN gradient
    (bce_logits_where, "large logits, right.*gradient d cost / d logits is NaN.*sigmoid\\(40\\) is exactly 1.0"),
    (bce_logits_exp_overflows, "logits of \\+-500, though \\+-40 worked: exp\\(500\\) overflows"),
    (bce_logits_log_sigmoid, "logits of \\+-500, though \\+-40 worked: exp\\(500\\) overflows"),
    (bce_logits_clamped, "clamp"),
    (lambda logits, y: -bce_logits_right(logits, y), "Wrong sign"),
    (lambda logits, y: bce_logits_right(logits, 1 - y), "labels are swapped"),
    (lambda logits, y: (y * F.softplus(-logits) + (1 - y) * F.softplus(logits)).sum(), "divide by m"),
    # right values, but the gradient, which this section is about, is NaN, missing or wrong
    (bce_logits_where_softplus, "huge logits.*gradient d cost / d logits is NaN or inf at logits of \\+-500"
                                ".*torch.where"),
    (lambda logits, y: bce_logits_right(logits, y).detach(), "carries no gradient.*detach"),
    (lambda logits, y: torch.tensor(bce_logits_right(logits, y).item()), "carries no gradient"),
    (lambda logits, y: bce_logits_right(logits.detach(), y) + 0 * logits.sum(),
     "gradient with respect to the logits is wrong: got \\[0.0, .*nothing detached"),
])
def test_bce_with_logits_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_bce_with_logits(wrong)
    assert "passed" not in capsys.readouterr().out


def test_bce_with_logits_lets_not_implemented_through(capsys):
    with pytest.raises(NotImplementedError, match="Exercise 2.2 is not solved yet"):
        checks.check_bce_with_logits(todo)
    assert "passed" not in capsys.readouterr().out

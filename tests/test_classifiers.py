"""Lesson 01's classifiers agree with independent computations (torch.distributions, Bayes' rule by
hand) and learn what they should on data whose answer we know."""
import pytest
import torch

from gan_lessons import classifiers
from gan_lessons.classifiers import GaussianClassifier, LogisticRegression, make_blobs


def _accuracy(model, x, y):
    """The fraction of right answers, counted here (not with the package's `accuracy`)."""
    return (model.predict(x).cpu() == y).float().mean().item()


@pytest.fixture
def blobs():
    return make_blobs(300, generator=torch.Generator().manual_seed(0))


def test_make_blobs_shapes_labels_and_seed():
    x, y = make_blobs(50, generator=torch.Generator().manual_seed(1))
    assert x.shape == (150, 2) and x.dtype == torch.float32
    assert y.tolist() == [0] * 50 + [1] * 50 + [2] * 50
    x2, _ = make_blobs(50, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x, x2)
    # each blob sits around its centre
    assert torch.allclose(x[y == 1].mean(0), torch.tensor([2.0, 0.5]), atol=0.4)


def test_make_blobs_rejects_bad_input():
    with pytest.raises(ValueError, match="shape \\[C, 2\\]"):
        make_blobs(10, centers=[1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        make_blobs(10, stds=-1.0)
    with pytest.raises(ValueError, match="n_per_class"):
        make_blobs(0)


@pytest.mark.parametrize("covariance", ["diag", "full"])
def test_fit_recovers_means_priors_and_covariance(covariance):
    g = torch.Generator().manual_seed(2)
    n0, n1 = 6000, 2000
    cov1 = torch.tensor([[1.0, 0.6], [0.6, 0.8]])
    x0 = torch.randn(n0, 2, generator=g) * torch.tensor([0.5, 2.0]) + torch.tensor([1.0, -1.0])
    x1 = torch.randn(n1, 2, generator=g) @ torch.linalg.cholesky(cov1).T + torch.tensor([-2.0, 3.0])
    x, y = torch.cat([x0, x1]), torch.cat([torch.zeros(n0), torch.ones(n1)]).long()
    m = GaussianClassifier(covariance, var_smoothing=1e-9).fit(x, y)
    assert torch.allclose(m.log_priors.exp(), torch.tensor([0.75, 0.25]), atol=1e-6)
    assert torch.allclose(m.means, torch.tensor([[1.0, -1.0], [-2.0, 3.0]]), atol=0.08)
    if covariance == "diag":
        assert torch.allclose(m.vars[0], torch.tensor([0.25, 4.0]), rtol=0.08)
    else:
        cov = m.scale_tril[1] @ m.scale_tril[1].T
        assert torch.allclose(cov, cov1, atol=0.08)


def test_diag_log_likelihood_matches_torch_distributions(blobs):
    x, y = blobs
    m = GaussianClassifier("diag").fit(x, y)
    pts = torch.randn(20, 2) * 3
    want = torch.stack([torch.distributions.Normal(m.means[c], m.vars[c].sqrt()).log_prob(pts).sum(-1)
                        for c in range(3)], dim=1)
    assert torch.allclose(m.log_likelihood(pts), want, atol=1e-4)


def test_full_log_likelihood_matches_multivariate_normal(blobs):
    x, y = blobs
    m = GaussianClassifier("full").fit(x, y)
    pts = torch.randn(20, 2) * 3
    want = torch.stack([torch.distributions.MultivariateNormal(m.means[c], scale_tril=m.scale_tril[c]).log_prob(pts)
                        for c in range(3)], dim=1)
    assert torch.allclose(m.log_likelihood(pts), want, atol=1e-4)


def test_predict_proba_is_bayes_rule(blobs):
    x, y = blobs
    m = GaussianClassifier("diag").fit(x[:700], y[:700])  # unequal class counts: priors matter
    pts = torch.randn(15, 2) * 2
    joint = m.log_likelihood(pts).exp() * m.log_priors.exp()  # P(x | c) P(c), [15, C]
    want = joint / joint.sum(1, keepdim=True)
    got = m.predict_proba(pts)
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(got.sum(1), torch.ones(15), atol=1e-6)
    assert torch.equal(m.predict(pts), want.argmax(1))


def test_predict_proba_stays_finite_for_high_dimensional_data():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(200, 784, generator=g) * 2 - 1
    y = torch.arange(200) % 4
    m = GaussianClassifier("diag").fit(x, y)
    assert (m.log_likelihood(x) < -300).all()  # exp of these is 0 in float32 ...
    p = m.predict_proba(x)
    assert torch.isfinite(p).all() and torch.allclose(p.sum(1), torch.ones(200), atol=1e-5)  # ... yet no 0/0


def test_gaussian_classifier_separates_blobs(blobs):
    x, y = blobs
    for covariance in ("diag", "full"):
        assert _accuracy(GaussianClassifier(covariance).fit(x, y), x, y) > 0.93


@pytest.mark.parametrize("covariance", ["diag", "full"])
def test_sample_matches_fitted_model(blobs, covariance):
    x, y = blobs
    m = GaussianClassifier(covariance).fit(x, y)
    xs, ys = m.sample(30000, generator=torch.Generator().manual_seed(4))
    assert xs.shape == (30000, 2) and ys.shape == (30000,)
    assert torch.allclose(torch.bincount(ys, minlength=3) / 30000., torch.full((3,), 1 / 3), atol=0.02)
    for c in range(3):
        assert torch.allclose(xs[ys == c].mean(0), m.means[c], atol=0.05)
        fitted_var = m.vars[c] if covariance == "diag" else torch.diagonal(m.scale_tril[c] @ m.scale_tril[c].T)
        assert torch.allclose(xs[ys == c].var(0), fitted_var, rtol=0.08)
    # fixed classes
    xs, ys = m.sample(5, y=2, generator=torch.Generator().manual_seed(5))
    assert ys.tolist() == [2] * 5
    x_a, _ = m.sample(4, generator=torch.Generator().manual_seed(6))
    x_b, _ = m.sample(4, generator=torch.Generator().manual_seed(6))
    assert torch.equal(x_a, x_b)


def test_gaussian_classifier_accepts_images():
    images = torch.rand(40, 1, 28, 28) * 2 - 1
    labels = torch.arange(40) % 2
    m = GaussianClassifier().fit(images, labels)
    assert m.means.shape == (2, 784)
    assert m.predict(images).shape == (40,)


def test_gaussian_classifier_bad_inputs(blobs):
    x, y = blobs
    with pytest.raises(RuntimeError, match="Call .fit"):
        GaussianClassifier().predict(x)
    with pytest.raises(ValueError, match="'diag' or 'full'"):
        GaussianClassifier("spherical")
    with pytest.raises(ValueError, match="one integer label per example"):
        GaussianClassifier().fit(x, y[:-1])
    with pytest.raises(ValueError, match="at least 2 examples of every class"):
        GaussianClassifier().fit(x[:10], torch.tensor([0] * 5 + [2] * 5))
    m = GaussianClassifier().fit(x, y)
    with pytest.raises(ValueError, match="fitted on 2 features"):
        m.predict(torch.randn(3, 5))
    with pytest.raises(ValueError, match="1-D tensor"):
        m.predict(torch.randn(2))
    with pytest.raises(ValueError, match="does not exist"):
        m.sample(3, y=7)


def test_logistic_regression_learns_blobs_and_outputs_probabilities(blobs):
    x, y = blobs
    torch.manual_seed(0)
    model = LogisticRegression(2, 3)
    losses = model.fit(x, y, steps=300, lr=0.05)
    assert len(losses) == 300 and losses[-1] < 0.5 * losses[0]
    assert _accuracy(model, x, y) > 0.93
    p = model.predict_proba(torch.randn(10, 2))
    assert p.shape == (10, 3) and torch.allclose(p.sum(1), torch.ones(10), atol=1e-6)


def test_logistic_regression_minibatches_and_bad_labels(blobs):
    x, y = blobs
    torch.manual_seed(0)
    model = LogisticRegression(2, 3)
    model.fit(x, y, steps=200, lr=0.05, batch_size=32, generator=torch.Generator().manual_seed(0))
    assert _accuracy(model, x, y) > 0.9
    with pytest.raises(ValueError, match="does not fit a model with 2 classes"):
        LogisticRegression(2, 2).fit(x, y)
    with pytest.raises(ValueError, match="at least 2"):
        LogisticRegression(2, 1)
    with pytest.raises(ValueError, match="fitted on 2 features"):
        model(torch.randn(4, 3))


class _Fixed:
    """A stand-in model whose predictions are known: [0, 1, 1, 2, 0]."""

    def predict(self, x):
        return torch.tensor([0, 1, 1, 2, 0])


def test_accuracy_counts_right_answers():
    y = torch.tensor([0, 1, 2, 2, 1])  # 3 of 5 right
    assert classifiers.accuracy(_Fixed(), torch.zeros(5, 2), y) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="one integer label per example"):
        classifiers.accuracy(_Fixed(), torch.zeros(5, 2), y[:4])

"""Lesson 07's metrics on cases whose answer we know: a set against itself, real against real,
noise, a single class, memorised images; and the Fréchet distance against a direct NumPy formula."""
import os

import numpy as np
import pytest
import torch

from gan_lessons import data, metrics

HAVE_DATA = bool(os.environ.get(data.ENV_DATA)) and all(
    p.exists() for name in ("mnist", "fashion-mnist") for p, _ in data.expected_files(name))
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="set GAN_LESSONS_DATA to a folder with MNIST and Fashion-MNIST")


def _numpy_frechet(mu1, c1, mu2, c2):
    """||mu1 - mu2||^2 + tr(c1 + c2) - 2 tr(sqrt(c1 c2)), with the square root from the eigenvalues of c1 c2."""
    eig = np.linalg.eigvals(c1 @ c2)  # real and >= 0 up to round-off (similar to a PSD matrix)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.sqrt(np.clip(eig.real, 0, None)).sum())


@pytest.mark.parametrize("d", [1, 3, 16])
def test_frechet_distance_matches_numpy_on_random_gaussians(d):
    rng = np.random.default_rng(d)
    a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    c1, c2 = a @ a.T + 0.1 * np.eye(d), b @ b.T + 0.1 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    want = _numpy_frechet(mu1, c1, mu2, c2)
    got = metrics.frechet_distance(*(torch.from_numpy(a) for a in (mu1, c1, mu2, c2)))
    assert got == pytest.approx(want, rel=1e-6, abs=1e-8)


def test_frechet_distance_known_values():
    d = 4
    eye = torch.eye(d, dtype=torch.float64)
    assert metrics.frechet_distance(torch.zeros(d), eye, torch.zeros(d), eye) == pytest.approx(0, abs=1e-10)
    # Mean shift only: the squared distance between the means.
    assert metrics.frechet_distance(torch.zeros(d), eye, torch.full((d,), 2.0), eye) == pytest.approx(16.0)
    # Scaled covariance s^2 I against I: d (s - 1)^2.
    assert metrics.frechet_distance(torch.zeros(d), 9 * eye, torch.zeros(d), eye) == pytest.approx(d * 4.0)


def test_frechet_distance_of_sample_statistics_against_numpy():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 6, generator=g) @ torch.randn(6, 6, generator=g)
    y = torch.randn(400, 6, generator=g) * 2 + 1
    (m1, c1), (m2, c2) = metrics.gaussian_stats(x), metrics.gaussian_stats(y)
    assert torch.allclose(c1, torch.from_numpy(np.cov(x.double().numpy(), rowvar=False)))
    want = _numpy_frechet(m1.numpy(), c1.numpy(), m2.numpy(), c2.numpy())
    assert metrics.frechet_distance(m1, c1, m2, c2) == pytest.approx(want, rel=1e-6)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="Shapes do not fit"):
        metrics.frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(4), torch.eye(4))


def test_score_from_probs_extremes():
    confident_all_classes = torch.eye(10).repeat(5, 1)  # each class equally often, each certain
    assert metrics.score_from_probs(confident_all_classes) == pytest.approx(10.0, rel=1e-6)
    one_class = torch.zeros(50, 10)
    one_class[:, 3] = 1
    assert metrics.score_from_probs(one_class) == pytest.approx(1.0, abs=1e-6)
    unsure = torch.full((50, 10), 0.1)
    assert metrics.score_from_probs(unsure) == pytest.approx(1.0, abs=1e-6)


def test_bad_images_get_clear_errors():
    with pytest.raises(TypeError, match="uint8"):
        metrics.classifier_score(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), "mnist")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        metrics.classifier_score(torch.full((4, 1, 28, 28), 255.0), "mnist")
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        metrics.classifier_score(torch.zeros(4, 3, 32, 32), "mnist")
    with pytest.raises(ValueError, match="Unknown dataset"):
        metrics.classifier_score(torch.zeros(4, 1, 28, 28), "cifar")
    with pytest.raises(ValueError, match="space"):
        metrics.nearest_neighbours(torch.zeros(2, 1, 28, 28), torch.zeros(5, 1, 28, 28), space="cosine")


def test_feature_net_is_the_shipped_network_loaded_once():
    from gan_lessons.featurenet import FeatureNet

    net = metrics.feature_net("MNIST", "cpu")
    assert isinstance(net, FeatureNet) and not net.training
    assert metrics.feature_net("mnist", torch.device("cpu")) is net  # cached per process


def test_classifier_outputs_are_the_feature_nets_features_and_softmax():
    x = torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(5)) * 2 - 1
    feats, probs = metrics.classifier_outputs(x, "mnist", batch_size=3)  # three batches
    net = metrics.feature_net("mnist", "cpu")
    with torch.no_grad():
        logits = net(x).double()  # [7, 10]
        want_feats = net.features(x).double()  # [7, 128]
    assert feats.shape == (7, 128) and probs.shape == (7, 10) and probs.dtype == torch.float64
    assert torch.allclose(feats, want_feats, atol=1e-6)
    assert torch.allclose(probs, logits.exp() / logits.exp().sum(1, keepdim=True), atol=1e-6)


@pytest.fixture(scope="module")
def mnist_test():
    return data.load_images("mnist", "test", device="cpu")


@needs_data
def test_fid_of_a_set_with_itself_is_zero(mnist_test):
    x = mnist_test.images[:2000]
    assert metrics.classifier_fid(x, x, "mnist") == pytest.approx(0.0, abs=1e-3)


@needs_data
@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_real_vs_real_is_small_and_noise_is_far(dataset):
    floor = metrics.fid_floor(dataset)
    test = data.load_images(dataset, "test", device="cpu").images
    noise = torch.rand(2000, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    far = metrics.classifier_fid(test[:2000], noise, dataset)
    assert 0 < floor < 10, floor
    assert far > 50 * floor, (far, floor)


@needs_data
def test_one_class_covers_one_class_and_scores_about_one(mnist_test):
    threes = mnist_test.images[mnist_test.labels == 3][:500]
    cover = metrics.class_coverage(threes, "mnist")
    assert cover["covered"] == 1
    assert cover["counts"][3] >= 490 and sum(cover["counts"]) == 500
    assert "3" not in cover["missing"] and len(cover["missing"]) == 9
    assert metrics.classifier_score(threes, "mnist") < 1.2
    # One class is far from the whole test set, much farther than the floor.
    assert metrics.classifier_fid(mnist_test.images, threes, "mnist") > 20 * metrics.fid_floor("mnist")


@needs_data
def test_real_test_sets_score_high_and_cover_all_classes():
    assert metrics.real_score("mnist") > 9.5
    assert metrics.real_score("fashion-mnist") > 7.0  # shirts, T-shirts and pullovers are often confused
    test = data.load_images("fashion-mnist", "test", device="cpu")
    assert metrics.class_coverage(test.images, "fashion-mnist")["covered"] == 10
    assert metrics.classifier_score(test.images[:5000], "fashion-mnist") > 7.0


@needs_data
@pytest.mark.parametrize("space", ["pixel", "features"])
def test_nearest_neighbours_finds_copied_training_images(mnist_test, space):
    real = mnist_test.images[:3000]
    picks = torch.tensor([5, 123, 2999])
    fake = real[picks]
    dist, idx = metrics.nearest_neighbours(fake, real, k=3, space=space, dataset="mnist")
    assert dist.shape == idx.shape == (3, 3)
    assert torch.equal(idx[:, 0], picks)
    assert torch.allclose(dist[:, 0], torch.zeros(3), atol=1e-3)
    assert (dist[:, 1:] > 0.1).all() and (dist.diff(dim=1) >= 0).all()  # others are farther, nearest first


@needs_data
def test_nearest_neighbours_chunks_agree_with_brute_force(mnist_test):
    train = data.load_images("mnist", "train", device="cpu").images[:25000]  # more than one chunk
    fake = mnist_test.images[:4]
    dist, idx = metrics.nearest_neighbours(fake, train, k=2)
    brute = torch.cdist(fake.flatten(1), train.flatten(1))
    want_d, want_i = brute.topk(2, dim=1, largest=False)
    assert torch.equal(idx, want_i) and torch.allclose(dist, want_d)


@needs_data
def test_evaluate_returns_all_numbers_for_a_generator():
    from gan_lessons.models import DCGANGenerator

    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, width=4)  # untrained: far from the data
    out = metrics.evaluate(G, "mnist", n=1000)
    assert set(out) >= {"fid", "fid_floor", "score", "real_score", "classes_covered", "class_counts", "n"}
    assert out["fid"] > 10 * out["fid_floor"] > 0
    assert 1 <= out["score"] < out["real_score"]
    assert sum(out["class_counts"]) == 1000 and 0 <= out["classes_covered"] <= 10
    assert G.training, "evaluate must restore the generator's train/eval mode"


def test_lesson07_frechet_check_accepts_the_formula_and_explains_mistakes(capsys):
    from gan_lessons import checks

    def right(m1, v1, m2, v2):
        return (m1 - m2).pow(2).sum() + (v1 + v2 - 2 * (v1 * v2).sqrt()).sum()

    checks.check_frechet_diagonal(right)  # raises when wrong; says so when right
    assert capsys.readouterr().out.strip() == ("✔ Exercise 7.1 (Fréchet distance, diagonal covariances): passed "
                                               "(5 cases match metrics.frechet_distance)")
    with pytest.raises(checks.ExerciseError, match="only have the mean term"):
        checks.check_frechet_diagonal(lambda m1, v1, m2, v2: (m1 - m2).pow(2).sum())
    with pytest.raises(checks.ExerciseError, match="square root is missing"):
        checks.check_frechet_diagonal(lambda m1, v1, m2, v2: (m1 - m2).pow(2).sum() + (v1 + v2 - 2 * v1 * v2).sum())
    with pytest.raises(NotImplementedError, match="Exercise 7.1"):
        checks.check_frechet_diagonal(lambda *a: (_ for _ in ()).throw(NotImplementedError()))

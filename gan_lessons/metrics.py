"""Measuring a generator without a human in the loop: the numbers of lesson 07, and nearest neighbours.

Looking at samples is the first test, but numbers let us compare runs. The standard numbers,
FID and the Inception Score, use an ImageNet network that knows nothing about 28x28 digits, so the
course does the same thing with its own small network (`featurenet.FeatureNet`, a classifier trained
on the real training split; weights ship with the package, everything runs offline on a CPU):

- `classifier_fid`: fit a Gaussian to the classifier's 128 penultimate features of real images and
  another to those of generated images; report the Fréchet distance between the two Gaussians.
  0 means the same mean and covariance; lower is better. Real test images against real training
  images give the floor (`fid_floor`) that a perfect generator would reach with this many samples.
- `classifier_score`: exp(E_x KL(p(y|x) || p(y))), the Inception Score's recipe. It is high when each
  image is classified confidently (p(y|x) peaked) *and* all classes appear (p(y) flat); between
  1 and the number of classes (10).
- `class_coverage`: how many classes the generator makes at all (a direct mode-collapse check).
- `nearest_neighbours`: is each sample just a copy of a training image (memorization)?
  `gan_lessons.plots.plot_nearest_neighbours` shows them.

Images everywhere are float [N, 1, 28, 28] in [-1, 1], on any device.
"""
import torch

from .data import DATASETS, ImageData, canonical_name, load_images
from .pretrained import load_feature_net

_FEATURE_NETS = {}  # (dataset, device) -> FeatureNet
_REAL_FEATURES = {}  # (dataset, split, n, device) -> (features [n, 128], probs [n, 10])


# -- input checks --------------------------------------------------------------------------------

def _as_images(images, what="images"):
    """Accept a tensor [N, 1, 28, 28] (or [N, 28, 28]) in [-1, 1], or an ImageData; return the tensor."""
    if isinstance(images, ImageData):
        images = images.images
    if not torch.is_tensor(images):
        raise TypeError(f"{what} must be a tensor of images [N, 1, 28, 28] in [-1, 1], got {type(images).__name__}.")
    if images.dim() == 3:
        images = images.unsqueeze(1)  # [N, 28, 28] -> [N, 1, 28, 28]
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{what} must have shape [N, 1, 28, 28], got {list(images.shape)}.")
    if images.shape[0] < 2:
        raise ValueError(f"{what} needs at least 2 images to compute statistics, got {images.shape[0]}.")
    if not images.is_floating_point():
        raise TypeError(f"{what} must be float in [-1, 1], got dtype {images.dtype}. For uint8 images in "
                        "[0, 255] (like history samples) use x.float() / 127.5 - 1.")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1.01 or hi > 1.01:
        raise ValueError(f"{what} must be in [-1, 1] (the generator's tanh range), but they span "
                         f"[{lo:.3g}, {hi:.3g}]. Rescale them first, e.g. x / 127.5 - 1 for [0, 255].")
    return images.float()


def _device_of(images):
    return images.device


# -- the feature network and its outputs ----------------------------------------------------------

def feature_net(dataset, device="cpu"):
    """The shipped `FeatureNet` for `dataset` on `device`, loaded once per process."""
    dataset = canonical_name(dataset)
    key = (dataset, str(torch.device(device)))
    if key not in _FEATURE_NETS:
        _FEATURE_NETS[key] = load_feature_net(dataset, device=device)
    return _FEATURE_NETS[key]


@torch.no_grad()
def classifier_outputs(images, dataset, batch_size=1000):
    """Penultimate features [N, 128] and class probabilities p(y|x) [N, 10] of images (used by every metric here)."""
    images = _as_images(images)
    net = feature_net(dataset, _device_of(images))
    feats, probs = [], []
    for i in range(0, images.shape[0], batch_size):
        f = net.features(images[i:i + batch_size])  # [b, 128]
        feats.append(f.double().cpu())
        probs.append(torch.softmax(net.head(f).double(), dim=1).cpu())  # [b, 10]
    return torch.cat(feats), torch.cat(probs)


def _real_outputs(dataset, split, n=None, device="cpu"):
    """Classifier outputs on (a fixed subset of) a real split, cached per process."""
    dataset = canonical_name(dataset)
    key = (dataset, split, n, str(device))
    if key not in _REAL_FEATURES:
        data = load_images(dataset, split, device=device)
        images = data.images
        if n is not None and n < images.shape[0]:
            g = torch.Generator().manual_seed(1234)  # the same subset every time
            images = images[torch.randperm(images.shape[0], generator=g)[:n].to(images.device)]
        _REAL_FEATURES[key] = classifier_outputs(images, dataset)
    return _REAL_FEATURES[key]


# -- Fréchet distance -----------------------------------------------------------------------------

def gaussian_stats(features):
    """Mean [d] and covariance [d, d] (unbiased, N-1) of features [N, d], in float64 (used by `evaluate`)."""
    x = features.double()
    mu = x.mean(0)  # [d]
    xc = x - mu  # [N, d]
    cov = xc.T @ xc / (x.shape[0] - 1)  # [d, d]
    return mu, cov


def _sqrt_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix through its eigendecomposition."""
    vals, vecs = torch.linalg.eigh((matrix + matrix.T) / 2)  # symmetrise away round-off
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T  # V diag(sqrt(l)) V^T


def frechet_distance(mu1, cov1, mu2, cov2):
    """Fréchet (2-Wasserstein) distance squared between N(mu1, cov1) and N(mu2, cov2) (used by `evaluate`).

    Exercise 7.1 asks for the diagonal case; `gan_lessons.checks.check_frechet_diagonal` compares with this.

        d^2 = ||mu1 - mu2||^2 + tr(cov1) + tr(cov2) - 2 tr((cov1^1/2 cov2 cov1^1/2)^1/2)

    The last trace equals tr((cov1 cov2)^1/2); writing it with the symmetric matrix
    cov1^1/2 cov2 cov1^1/2 lets us use `eigh` (no scipy) and keeps every eigenvalue real and >= 0.
    """
    mu1, mu2, cov1, cov2 = (torch.as_tensor(t, dtype=torch.float64) for t in (mu1, mu2, cov1, cov2))
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (mu1.numel(), mu1.numel()):
        raise ValueError(f"Shapes do not fit: mu1 {list(mu1.shape)}, cov1 {list(cov1.shape)}, mu2 "
                         f"{list(mu2.shape)}, cov2 {list(cov2.shape)}; expected [d] and [d, d] for both.")
    s1 = _sqrt_psd(cov1)
    middle = s1 @ cov2 @ s1  # symmetric PSD, same eigenvalues as cov1 @ cov2
    tr_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    d2 = (mu1 - mu2).pow(2).sum() + cov1.trace() + cov2.trace() - 2 * tr_sqrt
    return float(d2.clamp(min=0))


def classifier_fid(real, fake, dataset):
    """The Fréchet distance between classifier-feature Gaussians of `real` and `fake`.

    Like FID, with the course's classifier in place of Inception. It depends on the number of
    samples (fewer samples, larger value), so compare runs with the same n, and against `fid_floor`.
    """
    real_f, _ = classifier_outputs(_as_images(real, "real"), dataset)
    fake_f, _ = classifier_outputs(_as_images(fake, "fake"), dataset)
    return frechet_distance(*gaussian_stats(real_f), *gaussian_stats(fake_f))


def fid_floor(dataset, n=10000):
    """Classifier-FID of real test images against `n` real training images (used by `evaluate`).

    The lowest value a generator can hope for with this many samples: two honest samples of the
    same distribution are not identical. Compare `evaluate(...)['fid']` with it.
    """
    test_f, _ = _real_outputs(dataset, "test", None)
    train_f, _ = _real_outputs(dataset, "train", n)
    return frechet_distance(*gaussian_stats(test_f), *gaussian_stats(train_f))


# -- score and coverage ---------------------------------------------------------------------------

def score_from_probs(probs):
    """exp(mean_x KL(p(y|x) || p(y))) from class probabilities [N, C] (used by `evaluate`)."""
    p = probs.double().clamp(min=1e-12)
    p_y = p.mean(0, keepdim=True)  # [1, C]: the marginal class distribution
    kl = (p * (p.log() - p_y.log())).sum(1)  # [N]
    return float(kl.mean().exp())


def classifier_score(images, dataset):
    """The Inception Score recipe with the course's classifier, between 1 and 10.

    High when every image is confidently one class and all classes are equally common.
    The real MNIST test set scores about 9.9.
    """
    _, probs = classifier_outputs(_as_images(images), dataset)
    return score_from_probs(probs)


def real_score(dataset):
    """classifier_score of the real test split: the score a perfect generator would get (used by `evaluate`)."""
    _, probs = _real_outputs(dataset, "test", None)
    return score_from_probs(probs)


def class_coverage(images, dataset, min_fraction=0.01):
    """Which classes the images are predicted as, and how many are covered.

    A class counts as covered when at least `min_fraction` of the images are predicted as it
    (a single stray prediction does not count). Returns a dict: counts [C] (list), fractions,
    covered (int), missing (class names never or rarely made), class_names.
    """
    _, probs = classifier_outputs(_as_images(images), dataset)
    return coverage_from_probs(probs, dataset, min_fraction)


def coverage_from_probs(probs, dataset, min_fraction=0.01):
    """`class_coverage` from class probabilities [N, C] already computed."""
    names = DATASETS[canonical_name(dataset)][1]
    counts = torch.bincount(probs.argmax(1), minlength=len(names))  # [C]
    fractions = counts.double() / counts.sum()
    covered = fractions >= min_fraction
    return {"counts": counts.tolist(), "fractions": [round(float(f), 4) for f in fractions],
            "covered": int(covered.sum()), "missing": [n for n, c in zip(names, covered) if not c],
            "class_names": list(names)}


# -- nearest neighbours (memorization) ------------------------------------------------------------

def _flat(images, space, dataset):
    if space == "pixel":
        return images.flatten(1).float()  # [N, 784]
    feats, _ = classifier_outputs(images, dataset)
    return feats.float().to(images.device)  # [N, 128]


def nearest_neighbours(fake, real, k=1, space="pixel", dataset=None, batch_size=256):
    """For each fake image, the k closest real images (Euclidean) (used by `gan_lessons.plots.plot_nearest_neighbours`).

    space="pixel" compares raw pixels; space="features" compares the classifier's features (needs
    `dataset`, taken from `real` when it is an ImageData). Returns (distances [N, k], indices [N, k]),
    indices into `real`, nearest first. A generator that memorised its training set would show
    distances near 0.
    """
    if space not in ("pixel", "features"):
        raise ValueError(f"space must be 'pixel' or 'features', got {space!r}.")
    if space == "features" and dataset is None:
        if not isinstance(real, ImageData):
            raise ValueError("space='features' needs the dataset name: nearest_neighbours(..., dataset='mnist').")
        dataset = real.name
    fake_x = _as_images(fake, "fake")
    real_x = _as_images(real, "real").to(fake_x.device)
    if not isinstance(k, int) or not 1 <= k <= real_x.shape[0]:
        raise ValueError(f"k must be an integer between 1 and the number of real images ({real_x.shape[0]}), "
                         f"got {k!r}.")
    a = _flat(fake_x, space, dataset)  # [N, d]
    dists, idxs = [], []
    for i in range(0, real_x.shape[0], 10000):  # real images in chunks: bounded memory
        b = _flat(real_x[i:i + 10000], space, dataset)  # [M, d]
        d = torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")  # [N, M]; exact: a copy gives 0
        dd, ii = d.topk(min(k, b.shape[0]), dim=1, largest=False)
        dists.append(dd)
        idxs.append(ii + i)
    d, ii = torch.cat(dists, 1), torch.cat(idxs, 1)  # [N, k * chunks]
    order = d.argsort(1)[:, :k]
    return d.gather(1, order).cpu(), ii.gather(1, order).cpu()


# -- everything at once ---------------------------------------------------------------------------

@torch.no_grad()
def generate(G, n, batch_size=1000, seed=0):
    """n images from G on seeded noise, in eval mode, on G's device (used by `evaluate`)."""
    device = next(G.parameters()).device
    g = torch.Generator().manual_seed(seed)
    was_training = G.training
    G.eval()
    out = []
    for i in range(0, n, batch_size):
        z = torch.randn(min(batch_size, n - i), G.latent_dim, generator=g).to(device)  # [b, latent_dim]
        out.append(G(z))
    G.train(was_training)
    return torch.cat(out)  # [n, 1, 28, 28]


def evaluate(G, dataset, n=10000, seed=0):
    """All of lesson 07's numbers for generator G on `dataset` (lesson 07).

    Generates n images (seeded) and compares them with the real test split. Returns a dict:
    fid, fid_floor, score, real_score, classes_covered, class_counts, n.
    """
    dataset = canonical_name(dataset)
    fake = generate(G, n, seed=seed)
    fake_f, fake_p = classifier_outputs(fake, dataset)
    real_f, _ = _real_outputs(dataset, "test", None)
    cover = coverage_from_probs(fake_p, dataset)
    return {
        "fid": round(frechet_distance(*gaussian_stats(real_f), *gaussian_stats(fake_f)), 3),
        "fid_floor": round(fid_floor(dataset, n=min(n, 60000)), 3),
        "score": round(score_from_probs(fake_p), 3),
        "real_score": round(real_score(dataset), 3),
        "classes_covered": cover["covered"],
        "class_counts": cover["counts"],
        "n": n,
    }

"""Toy distributions with exact densities and known modes (lessons 01, 05, 06).

1-D: `Gaussian1D`, `GaussianMixture1D`. 2-D: `Ring2D` (8 Gaussians on a circle) and `Grid2D`
(25 Gaussians on a 5x5 grid). Each knows its exact density (for the optimal discriminator
D*(x) = p_data(x) / (p_data(x) + p_g(x))) and the centres of its modes (for counting modes covered).
Samples have shape [n, dim].
"""
import math

import torch


class GaussianMixture:
    """Mixture of isotropic Gaussians in `dim` dimensions; the base of every toy distribution."""

    name = "mixture"

    def __init__(self, means, stds, weights=None):
        self.means = torch.as_tensor(means, dtype=torch.float32)
        if self.means.dim() == 1:
            self.means = self.means[:, None]  # [K] -> [K, 1]
        k, self.dim = self.means.shape
        self.stds = torch.as_tensor(stds, dtype=torch.float32).expand(k).clone()
        w = torch.ones(k) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        if w.shape != (k,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {k} non-negative numbers with a positive sum, got {weights!r}")
        self.weights = w / w.sum()

    @property
    def modes(self):
        """Mode centres, [K, dim]."""
        return self.means

    def sample(self, n, generator=None, device=None):
        """n samples, [n, dim], drawn on the CPU with `generator` then moved to `device`."""
        which = torch.multinomial(self.weights, n, replacement=True, generator=generator)  # [n]
        noise = torch.randn(n, self.dim, generator=generator)  # [n, dim]
        x = self.means[which] + noise * self.stds[which, None]
        return x.to(device) if device is not None else x

    def log_density(self, x):
        """Exact log p(x) for x of shape [n, dim] (or [n] in 1-D); returns [n]."""
        x = torch.as_tensor(x, dtype=torch.float32)
        if self.dim == 1 and x.dim() == 1:
            x = x[:, None]
        x = x.cpu()
        d2 = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)  # [n, K] squared distances
        var = self.stds ** 2  # [K]
        log_norm = -0.5 * self.dim * torch.log(2 * math.pi * var)  # [K]
        comp = torch.log(self.weights) + log_norm - d2 / (2 * var)  # [n, K]
        return torch.logsumexp(comp, dim=1)

    def density(self, x):
        """Exact p(x), [n]."""
        return self.log_density(x).exp()

    def bounds(self, margin=4.0):
        """A box (lo, hi) per dimension holding almost all the mass, for plotting grids."""
        lo = (self.means - margin * self.stds[:, None]).min(0).values
        hi = (self.means + margin * self.stds[:, None]).max(0).values
        return lo, hi

    def __repr__(self):
        return f"{type(self).__name__}(modes={len(self.means)}, dim={self.dim})"


class Gaussian1D(GaussianMixture):
    """One Gaussian on the line, the data of Goodfellow et al.'s figure 1 (lesson 05)."""

    name = "gaussian"

    def __init__(self, mean=4.0, std=0.5):
        super().__init__([mean], [std])


class GaussianMixture1D(GaussianMixture):
    """Several Gaussians on the line (lesson 06)."""

    name = "mixture1d"

    def __init__(self, means=(-2.0, 2.0), stds=0.4, weights=None):
        super().__init__(list(means), stds if not isinstance(stds, (int, float)) else [stds] * len(means), weights)


class Ring2D(GaussianMixture):
    """`n_modes` Gaussians evenly spaced on a circle of `radius` (lessons 05-06)."""

    name = "ring"

    def __init__(self, n_modes=8, radius=2.0, std=0.05):
        angles = torch.arange(n_modes) * (2 * math.pi / n_modes)
        means = torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)  # [K, 2]
        super().__init__(means, [std] * n_modes)


class Grid2D(GaussianMixture):
    """`side` x `side` Gaussians on a square grid with `spacing` between centres (further exercises of 05-06)."""

    name = "grid"

    def __init__(self, side=5, spacing=2.0, std=0.05):
        c = (torch.arange(side) - (side - 1) / 2) * spacing
        means = torch.cartesian_prod(c, c)  # [side*side, 2]
        super().__init__(means, [std] * (side * side))


def count_modes(samples, dist, n_std=3.0, min_fraction=0.01):
    """Mode coverage of `samples` [n, dim] against a toy distribution (the history records it; lessons 05-06 print it).

    A sample is *high quality* when it lies within `n_std` standard deviations of some mode centre.
    A mode is *covered* when at least `min_fraction` of all samples are high-quality samples of it.
    Returns dict(modes_covered, n_modes, high_quality, counts) with `counts` per mode.
    """
    x = torch.as_tensor(samples, dtype=torch.float32).detach().cpu()
    if x.dim() == 1:
        x = x[:, None]
    if x.shape[0] == 0:
        raise ValueError("count_modes needs at least one sample.")
    d = torch.cdist(x, dist.means)  # [n, K] distances to each centre
    nearest_d, nearest = d.min(dim=1)
    good = nearest_d <= n_std * dist.stds[nearest]
    counts = torch.bincount(nearest[good], minlength=len(dist.means))
    covered = int((counts >= max(1, min_fraction * x.shape[0])).sum())
    return dict(modes_covered=covered, n_modes=len(dist.means),
                high_quality=float(good.float().mean()), counts=counts.tolist())


TOYS = {"gaussian": Gaussian1D, "mixture1d": GaussianMixture1D, "ring": Ring2D, "grid": Grid2D}


def make_toy(name, **kwargs):
    """Build a toy distribution by name: 'gaussian', 'mixture1d', 'ring' or 'grid'."""
    if name not in TOYS:
        raise ValueError(f"Unknown toy distribution {name!r}. Choose one of: {', '.join(TOYS)}.")
    return TOYS[name](**kwargs)


# -- exact Wasserstein-1 distance in 1-D (lesson 06) ---------------------------------------------
def _as_1d_source(x, name):
    """A 1-D toy distribution, or samples [n] / [n, 1] as a sorted float64 tensor."""
    if isinstance(x, GaussianMixture):
        if x.dim != 1:
            raise ValueError(f"wasserstein1 works on the line only, but {name} is a {x.dim}-D distribution "
                             f"({x!r}). Use Gaussian1D or GaussianMixture1D.")
        return x
    t = torch.as_tensor(x).detach().cpu().to(torch.float64)
    if t.dim() == 2 and t.shape[1] == 1:
        t = t[:, 0]  # [n, 1] -> [n]
    if t.dim() != 1:
        raise ValueError(f"wasserstein1 needs 1-D samples of shape [n] or [n, 1]; {name} has shape "
                         f"{list(t.shape)}. For 2-D data there is no such simple formula.")
    if t.numel() == 0:
        raise ValueError(f"{name} is empty: pass at least one sample.")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return t.sort().values


def _cdf(source, x):
    """F(x) for a 1-D mixture (exact, through the normal CDF) or the empirical CDF of sorted samples."""
    if isinstance(source, GaussianMixture):
        m = source.means[:, 0].to(torch.float64)  # [K]
        s = source.stds.to(torch.float64)  # [K]
        w = source.weights.to(torch.float64)  # [K]
        return (w * torch.special.ndtr((x[:, None] - m) / s)).sum(1)  # [n, K] -> [n]
    return torch.searchsorted(source, x, right=True).to(torch.float64) / source.numel()


def _support(source, margin=10.0):
    if isinstance(source, GaussianMixture):
        m, s = source.means[:, 0].double(), source.stds.double()
        return float((m - margin * s).min()), float((m + margin * s).max())
    return float(source[0]), float(source[-1])


def wasserstein1(a, b, n_grid=20001):
    """The exact Wasserstein-1 (earth mover's) distance between two 1-D distributions (lesson 06).

    a, b: each a 1-D toy distribution (`Gaussian1D`, `GaussianMixture1D`) or samples ([n] or [n, 1]).
    On the line W1 has a closed form: the area between the two cumulative distribution functions,
    W1 = integral |F_a(x) - F_b(x)| dx (equivalently, the integral over u in (0, 1) of the gap
    between the quantile functions, |F_a^-1(u) - F_b^-1(u)|: move each quantile straight across).
    Two sample sets of equal size: the mean gap between the sorted samples, exactly.
    Otherwise the area is summed on a grid holding every sample point plus `n_grid` even points
    (exact for samples, whose CDF is a staircase; midpoint rule, error ~1e-7, for mixtures).
    For two Gaussians with the same std, W1 = |mean_a - mean_b|. Returns a float.
    """
    a, b = _as_1d_source(a, "a"), _as_1d_source(b, "b")
    if torch.is_tensor(a) and torch.is_tensor(b) and a.numel() == b.numel():
        return float((a - b).abs().mean())  # the quantile formula, exactly
    lo_a, hi_a = _support(a)
    lo_b, hi_b = _support(b)
    lo, hi = min(lo_a, lo_b), max(hi_a, hi_b)
    if hi <= lo:  # both are the same single point
        return 0.0
    pts = [torch.linspace(lo, hi, n_grid, dtype=torch.float64)]
    pts += [s for s in (a, b) if torch.is_tensor(s)]  # the staircase steps: every sample point
    t = torch.cat(pts).unique()  # sorted grid [m]
    mid = (t[1:] + t[:-1]) / 2  # both CDFs are evaluated between grid points  [m - 1]
    gap = (_cdf(a, mid) - _cdf(b, mid)).abs()
    return float((gap * (t[1:] - t[:-1])).sum())

"""A discriminative and a generative classifier, side by side (lesson 01).

- `LogisticRegression` models P(y | x) directly: a linear layer gives one score (logit) per class
  and softmax turns the scores into probabilities. It can classify, but it says nothing about
  what an x looks like, so it cannot make new data.
- `GaussianClassifier` models the joint P(x, y) = P(x | y) P(y): a prior P(y) (the class
  frequencies) and one Gaussian P(x | y) per class. It classifies with Bayes' rule,
  P(y | x) = P(x | y) P(y) / sum_c P(x | c) P(c), and, because it knows P(x | y), it can also
  *sample*: pick a class, then draw x from that class's Gaussian. With `covariance="diag"` it is
  Gaussian naive Bayes (pixels independent given the class); `"full"`, one full covariance matrix
  per class, is quadratic discriminant analysis (QDA): its boundaries are quadratic. (Linear
  discriminant analysis shares one covariance between all classes, which makes the boundaries
  straight; Stanford's CS229 calls that Gaussian discriminant analysis. It is not offered here.)

`make_blobs` makes labelled 2-D data; `gan_lessons.plots.plot_decision_boundary` draws what either
model predicts over the plane. Inputs x are float tensors [N, d] (images are flattened first), labels
y are int64 [N] with values 0 .. C-1.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def _as_features(x, who, dim=None):
    """x as a float tensor [N, d]; images [N, 1, 28, 28] are flattened to [N, 784]."""
    if not torch.is_tensor(x):
        x = torch.as_tensor(x, dtype=torch.float32)
    if x.dim() == 1:
        raise ValueError(f"{who} expects a batch x of shape [N, d], got a 1-D tensor of shape {list(x.shape)}. "
                         "For one example use x[None]; for N one-dimensional examples use x[:, None].")
    x = x.flatten(1).float() if x.dim() > 2 else x.float()  # [N, ...] -> [N, d]
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{who} was fitted on {dim} features per example, but x has {x.shape[1]} "
                         f"(shape {list(x.shape)}). Pass data shaped like the training data.")
    if x.shape[0] == 0:
        raise ValueError(f"{who} got an empty batch: pass at least one example.")
    return x


def _as_labels(y, n, who):
    if not torch.is_tensor(y):
        y = torch.as_tensor(y)
    if y.dim() != 1 or y.shape[0] != n:
        raise ValueError(f"{who}: y must hold one integer label per example, shape [{n}], got {list(y.shape)}.")
    if y.is_floating_point():
        if not torch.equal(y, y.round()):
            raise ValueError(f"{who}: labels must be whole numbers 0 .. C-1, got non-integer values.")
    y = y.long()
    if (y < 0).any():
        raise ValueError(f"{who}: labels must be 0 .. C-1, got a negative label {int(y.min())}.")
    return y


def _minibatch(x, y, batch_size, generator):
    """A random minibatch of (x, y), drawn with replacement; the whole set when batch_size is None."""
    if batch_size is None or batch_size >= x.shape[0]:
        return x, y
    idx = torch.randint(0, x.shape[0], (batch_size,), generator=generator).to(x.device)
    return x[idx], y[idx]


def make_blobs(n_per_class=200, centers=((-2.0, 0.0), (2.0, 0.5), (0.0, 2.5)),
               stds=((0.9, 0.5), (0.6, 1.1), (0.7, 0.6)), generator=None):
    """Labelled 2-D data: one axis-aligned Gaussian blob per class (lesson 01).

    centers: C points (the class means); stds: C pairs (spread along x1 and x2) or one number for
    all. Returns x float [C * n_per_class, 2] and y int64 [C * n_per_class], classes in order.
    """
    centers = torch.as_tensor(centers, dtype=torch.float32)  # [C, 2]
    if centers.dim() != 2 or centers.shape[1] != 2:
        raise ValueError(f"centers must be C points in 2-D, shape [C, 2], got {list(centers.shape)}.")
    n_classes = centers.shape[0]
    stds = torch.as_tensor(stds, dtype=torch.float32).expand(n_classes, 2)  # [C, 2]
    if (stds <= 0).any():
        raise ValueError("stds must be positive.")
    if not isinstance(n_per_class, int) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive int, got {n_per_class!r}")
    noise = torch.randn(n_classes, n_per_class, 2, generator=generator)  # [C, n, 2]
    x = centers[:, None, :] + stds[:, None, :] * noise  # [C, n, 2]
    y = torch.arange(n_classes).repeat_interleave(n_per_class)  # [C * n]
    return x.reshape(-1, 2), y


class LogisticRegression(nn.Module):
    """Discriminative classifier: P(y | x) = softmax(W x + b) (lesson 01).

    With two classes this is ordinary logistic regression, P(y=1 | x) = sigmoid(w . x + b).
    `forward` returns logits [N, C]; `fit` trains by minimizing the cross-entropy with Adam.
    """

    def __init__(self, in_features, n_classes):
        super().__init__()
        self.in_features, self.n_classes = int(in_features), int(n_classes)
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.linear = nn.Linear(self.in_features, self.n_classes)

    def forward(self, x):
        x = _as_features(x, "LogisticRegression", self.in_features)
        return self.linear(x)  # [N, d] -> [N, C] logits

    def fit(self, x, y, steps=300, lr=0.05, batch_size=None, weight_decay=0.0, generator=None):
        """Train by gradient descent: `steps` Adam steps on the cross-entropy, each on a random
        minibatch of `batch_size` examples (or on the whole set). Returns the loss of every step."""
        x, y = self._training_data(x, y)  # x float [N, d], y int64 [N], on the model's device
        opt = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)
        losses = []
        for _ in range(steps):
            xb, yb = _minibatch(x, y, batch_size, generator)  # [B, d], [B]
            loss = F.cross_entropy(self(xb), yb)  # softmax, then the mean of -log P(y_i | x_i)
            opt.zero_grad()  # forget the previous step's gradients
            loss.backward()  # d loss / d W and d loss / d b
            opt.step()  # move W and b a little downhill
            losses.append(loss.item())
        return losses

    def _training_data(self, x, y):
        """Check (x, y) for `fit` and move them to the model's device."""
        x = _as_features(x, "LogisticRegression.fit", self.in_features)
        y = _as_labels(y, x.shape[0], "LogisticRegression.fit")
        if int(y.max()) >= self.n_classes:
            raise ValueError(f"LogisticRegression.fit: label {int(y.max())} does not fit a model with "
                             f"{self.n_classes} classes (labels must be 0 .. {self.n_classes - 1}).")
        device = self.linear.weight.device
        return x.to(device), y.to(device)

    @torch.no_grad()
    def predict_proba(self, x):
        """P(y | x) for every class, [N, C]; each row sums to 1."""
        return F.softmax(self(x.to(self.linear.weight.device) if torch.is_tensor(x) else x), dim=1)

    @torch.no_grad()
    def predict(self, x):
        """The most probable class, int64 [N]."""
        return self.predict_proba(x).argmax(dim=1)


class GaussianClassifier:
    """Generative classifier: P(x, y) = N(x; mu_y, Sigma_y) P(y), fitted by counting and averaging (lesson 01).

    covariance="diag": Sigma_y is diagonal (each feature independent given the class; Gaussian naive
    Bayes). covariance="full": one full covariance matrix per class (quadratic discriminant analysis, QDA).
    `var_smoothing` adds that fraction of the largest feature variance to every variance, so a
    feature that never varies in a class (a border pixel that is always black) does not get
    variance 0 and an infinite log-density.
    """

    def __init__(self, covariance="diag", var_smoothing=1e-3):
        if covariance not in ("diag", "full"):
            raise ValueError(f"covariance must be 'diag' or 'full', got {covariance!r}")
        if not var_smoothing > 0:
            raise ValueError(f"var_smoothing must be a positive number, got {var_smoothing!r}")
        self.covariance, self.var_smoothing = covariance, float(var_smoothing)
        self.means = None  # [C, d]
        self.vars = None  # [C, d] (diag)
        self.scale_tril = None  # [C, d, d] (full): Cholesky factor L with Sigma = L L^T
        self.log_priors = None  # [C]

    def _require_fitted(self, who):
        if self.means is None:
            raise RuntimeError(f"GaussianClassifier.{who}: the model is not fitted yet. Call .fit(x, y) first.")

    @property
    def n_classes(self):
        self._require_fitted("n_classes")
        return self.means.shape[0]

    @torch.no_grad()
    def fit(self, x, y):
        """Estimate P(y) (class frequencies) and each class's mean and covariance. Returns self."""
        x = _as_features(x, "GaussianClassifier.fit")
        y = _as_labels(y, x.shape[0], "GaussianClassifier.fit").to(x.device)
        n_classes = int(y.max()) + 1
        counts = torch.bincount(y, minlength=n_classes)  # [C]
        if (counts < 2).any():
            missing = [c for c in range(n_classes) if counts[c] < 2]
            raise ValueError(f"GaussianClassifier.fit needs at least 2 examples of every class 0 .. {n_classes - 1}; "
                             f"classes {missing} have fewer. Relabel the classes 0 .. C-1 or add data.")
        self.log_priors = torch.log(counts.double() / counts.sum()).float()  # log P(y)
        groups = [x[y == c] for c in range(n_classes)]  # the examples of each class, [n_c, d]
        self.means = torch.stack([xc.mean(0) for xc in groups])  # [C, d]
        eps = self.var_smoothing * x.var(0).max().clamp(min=1e-12)
        if self.covariance == "diag":
            self.vars = torch.stack([xc.var(0, unbiased=False) for xc in groups]) + eps  # [C, d]
        else:
            x, self.means = x.double(), self.means.double()  # sums of 60,000 outer products: keep precision
            groups = [xc.double() for xc in groups]
            d = x.shape[1]
            tril = []
            for c in range(n_classes):
                xc = groups[c] - self.means[c]  # [n_c, d] centred
                cov = xc.T @ xc / xc.shape[0] + eps * torch.eye(d, dtype=x.dtype, device=x.device)  # [d, d]
                tril.append(torch.linalg.cholesky(cov))
            self.scale_tril = torch.stack(tril).float()  # [C, d, d]
        self.means = self.means.float()
        return self

    @torch.no_grad()
    def log_likelihood(self, x):
        """log P(x | y = c) for every example and class, [N, C].

        diag: -1/2 sum_j [log(2 pi var_cj) + (x_j - mu_cj)^2 / var_cj]
        full: -1/2 [d log(2 pi) + log det Sigma_c + (x - mu_c)^T Sigma_c^-1 (x - mu_c)]
        """
        self._require_fitted("log_likelihood")
        x = _as_features(x, "GaussianClassifier.log_likelihood", self.means.shape[1]).to(self.means.device)
        if self.covariance == "diag":
            # sum_j (x_j - mu_cj)^2 / var_cj, expanded into x^2/var - 2 x mu/var + mu^2/var so it is
            # three matrix products [N, d] @ [d, C] instead of a [N, C, d] tensor (300 MB for MNIST).
            inv_var = 1.0 / self.vars  # [C, d]
            sq = (x ** 2) @ inv_var.T - 2 * x @ (self.means * inv_var).T + (self.means ** 2 * inv_var).sum(1)  # [N, C]
            return -0.5 * (torch.log(2 * math.pi * self.vars).sum(1)[None] + sq)
        d = x.shape[1]
        out = []
        for c in range(self.means.shape[0]):
            L = self.scale_tril[c]  # [d, d]
            w = torch.linalg.solve_triangular(L, (x - self.means[c]).T, upper=False)  # [d, N]: L w = x - mu
            mahalanobis = (w ** 2).sum(0)  # [N]
            log_det = 2 * torch.log(torch.diagonal(L)).sum()
            out.append(-0.5 * (d * math.log(2 * math.pi) + log_det + mahalanobis))
        return torch.stack(out, dim=1)  # [N, C]

    @torch.no_grad()
    def log_joint(self, x):
        """log P(x, y = c) = log P(x | c) + log P(c), [N, C]."""
        return self.log_likelihood(x) + self.log_priors[None].to(self.means.device)

    @torch.no_grad()
    def predict_proba(self, x):
        """Bayes' rule: P(c | x) = P(x, c) / sum_c' P(x, c'), [N, C].

        Computed as softmax of the log joint, never leaving log space: on MNIST the log-densities of
        784 pixels run from hundreds below 0 to hundreds above it, where exp underflows to 0 or
        overflows to inf in float32.
        """
        return torch.softmax(self.log_joint(x), dim=1)

    @torch.no_grad()
    def predict(self, x):
        """The class with the largest P(x, c) (the same as the largest P(c | x)), int64 [N]."""
        return self.log_joint(x).argmax(dim=1)

    @torch.no_grad()
    def sample(self, n, y=None, generator=None):
        """Draw n new examples: y ~ P(y) (or the classes you give), then x = mu_y + L_y z with z ~ N(0, I).

        y: None (classes drawn from the prior), an int (all of that class) or int64 [n].
        Returns x float [n, d] and y int64 [n]. Noise is drawn on the CPU with `generator`.
        """
        self._require_fitted("sample")
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        n_classes, d = self.means.shape
        if y is None:
            y = torch.multinomial(self.log_priors.exp().cpu(), n, replacement=True, generator=generator)
        elif isinstance(y, int):
            y = torch.full((n,), y, dtype=torch.long)
        y = _as_labels(y, n, "GaussianClassifier.sample").cpu()
        if int(y.max()) >= n_classes:
            raise ValueError(f"GaussianClassifier.sample: class {int(y.max())} does not exist "
                             f"(this model has classes 0 .. {n_classes - 1}).")
        z = torch.randn(n, d, generator=generator).to(self.means.device)  # [n, d] noise
        y = y.to(self.means.device)
        if self.covariance == "diag":
            x = self.means[y] + self.vars[y].sqrt() * z  # std, not var, scales the noise
        else:
            x = self.means[y] + (self.scale_tril[y] @ z[:, :, None]).squeeze(-1)  # [n, d, d] @ [n, d, 1]
        return x, y

    def __repr__(self):
        fitted = ("not fitted" if self.means is None
                  else f"classes={self.means.shape[0]}, features={self.means.shape[1]}")
        return f"GaussianClassifier(covariance={self.covariance!r}, {fitted})"


def accuracy(model, x, y):
    """Fraction of examples whose predicted class equals the label (lesson 01)."""
    pred = model.predict(x).cpu()
    y = _as_labels(y, pred.shape[0], "accuracy").cpu()
    return float((pred == y).float().mean())

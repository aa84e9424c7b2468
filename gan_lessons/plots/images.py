"""Images on a grid: a batch of pictures, and generated pictures above their nearest training images.

- `plot_image_grid(images, ax=None, ncols=8, title=None)`: the one image grid of the course. It
  takes what the package makes: floats in [-1, 1] shaped [N, 1, 28, 28] or [N, 28, 28] (a
  generator's output, a batch of real images) and uint8 [N, 28, 28] in 0..255 (the samples a
  `History` stores). The scrubber's image view (`plot_images`) and `plot_nearest_neighbours` draw
  with it too.
- `plot_nearest_neighbours(fake, real, k=3, n=8)`: n generated images (top row) above their k
  nearest real images (`gan_lessons.metrics.nearest_neighbours`): copies, or new pictures?
"""
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..data import ImageData
from ..history import to_uint8_images
from ..metrics import nearest_neighbours

PAD = 2  # white pixels between the images
LABEL_H = 9  # blank pixel rows under each image, for its label


def _uint8_images(images, who):
    """Images as a uint8 numpy array [N, H, W]: floats in [-1, 1] are scaled, uint8 kept as they are."""
    x = images if torch.is_tensor(images) else torch.as_tensor(np.asarray(images))
    x = x.detach().cpu()
    if x.dim() == 4 and x.shape[1] == 1:
        x = x[:, 0]  # [N, 1, H, W] -> [N, H, W]
    if x.dim() != 3:
        raise ValueError(f"{who} expects images of shape [N, 1, H, W] or [N, H, W] (one channel), "
                         f"got {list(x.shape)}.")
    if x.shape[0] == 0:
        raise ValueError(f"{who} got no images (N = 0).")
    if x.dtype == torch.uint8:
        return x.numpy()
    if not x.is_floating_point():
        raise TypeError(f"{who} expects floats in [-1, 1] or uint8 in 0..255, got dtype {x.dtype}.")
    if not torch.isfinite(x).all():
        raise ValueError(f"{who} got images with NaN or infinite values (did training diverge?).")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.5 or hi > 1.5:  # a little outside [-1, 1] (Gaussian samples) is clipped; far outside is another range
        raise ValueError(f"{who} expects float images in [-1, 1] (the generator's tanh range), but they span "
                         f"[{lo:.3g}, {hi:.3g}]. Rescale them (x / 127.5 - 1 for [0, 255]) or pass uint8.")
    return to_uint8_images(x[:, None]).numpy()  # clip to [-1, 1], then 0..255


def _mosaic(images, ncols, pad=PAD, label_h=0):
    """uint8 [n, h, w] -> one white-padded mosaic array with `ncols` columns (and `label_h` blank
    rows under each image, for a caption)."""
    n, h, w = images.shape
    rows = math.ceil(n / ncols)
    cell_h, cell_w = h + label_h + pad, w + pad
    out = np.full((rows * cell_h + pad, ncols * cell_w + pad), 255, dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, ncols)
        out[pad + r * cell_h:pad + r * cell_h + h, pad + c * cell_w:pad + c * cell_w + w] = images[k]
    return out


def plot_image_grid(images, ax=None, ncols=8, title=None, labels=None, row_labels=None):
    """Show a batch of images as one grid, `ncols` per row (lessons 01, 03, 07). Returns the axes.

    images: floats in [-1, 1] shaped [N, 1, 28, 28] or [N, 28, 28] (values a little outside are
      clipped), or uint8 [N, 28, 28] in 0..255 (a History's samples); on any device.
    ax: the matplotlib axes to draw on (default: a new figure).
    labels: optional text under each image (N strings); row_labels: optional text left of each row.
    White lines separate the images; a last row that is not full stays white.
    """
    imgs = _uint8_images(images, "plot_image_grid")
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"plot_image_grid: ncols must be a positive int, got {ncols!r}.")
    n, h, w = imgs.shape
    ncols = min(int(ncols), n)
    rows = math.ceil(n / ncols)
    if labels is not None and len(labels) != n:
        raise ValueError(f"plot_image_grid: {len(labels)} labels for {n} images.")
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"plot_image_grid: {len(row_labels)} row labels for {rows} rows.")
    label_h = LABEL_H if labels is not None else 0
    if ax is None:
        ax = plt.figure(figsize=(0.45 * ncols, 0.45 * rows + 0.3), dpi=80).add_subplot()
    ax.imshow(_mosaic(imgs, ncols, PAD, label_h), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    cell_h, cell_w = h + label_h + PAD, w + PAD
    for k, text in enumerate(labels or []):
        r, c = divmod(k, ncols)
        ax.text(PAD + c * cell_w + w / 2, PAD + r * cell_h + h + label_h / 2, str(text),
                fontsize=6, color="black", va="center", ha="center")
    ax.set_xticks([])
    ax.set_yticks([PAD + r * cell_h + h / 2 for r in range(rows)] if row_labels is not None else [])
    if row_labels is not None:
        ax.set_yticklabels(row_labels, fontsize=8)
        ax.tick_params(axis="y", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_nearest_neighbours(fake, real, k=3, n=8, space="pixel", dataset=None, title=None, dpi=90):
    """Show n generated images (top row) above their k nearest real images (lessons 05, 07).

    If the rows below look like copies of the top row, the generator memorised training images;
    if they are merely similar (same class, different handwriting), it generalises. Under each
    real image: its distance d to the generated one. fake, real: float images in [-1, 1]
    ([N, 1, 28, 28] or an ImageData); space, dataset: as in `gan_lessons.metrics.nearest_neighbours`.
    Returns the matplotlib Figure.
    """
    fake_x = (fake.images if isinstance(fake, ImageData) else fake)[:n]
    dists, idx = nearest_neighbours(fake_x, real, k=k, space=space, dataset=dataset)  # [n, k] each
    real_x = real.images if isinstance(real, ImageData) else torch.as_tensor(real)
    n = idx.shape[0]
    rows = [fake_x] + [real_x[idx[:, r].to(real_x.device)] for r in range(k)]  # k + 1 rows of n images
    images = torch.cat([torch.as_tensor(x).detach().cpu().float().reshape(n, 1, 28, 28) for x in rows])
    labels = [""] * n + [f"d={float(dists[j, r]):.1f}" for r in range(k) for j in range(n)]
    fig = plt.figure(figsize=(1.1 * n, 1.25 * (k + 1)), dpi=dpi)
    ax = fig.add_subplot()
    plot_image_grid(images, ax=ax, ncols=n, labels=labels,
                    row_labels=["generated"] + [f"nearest {r + 1}" for r in range(k)])
    ax.set_title(title or f"Generated images (top) and their nearest training images ({space} space, d = distance)",
                 fontsize=10)
    fig.tight_layout()
    return fig


__all__ = ["plot_image_grid", "plot_nearest_neighbours"]

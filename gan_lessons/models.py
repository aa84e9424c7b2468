"""Generators, discriminators and critics, in plain PyTorch (lessons 03-07).

Every discriminator and critic returns one number per example, shape [B]: a *logit* for a
discriminator (D(x) = sigmoid(logit)), an unbounded *score* for a critic. Every model keeps its
constructor arguments in `.config` so a checkpoint can say which architecture it holds.
"""
import math
import numbers

import torch
from torch import nn

IMAGE_SHAPE = (1, 28, 28)


def _whole(name, value, minimum=1, model="the model"):
    """`value` as an int, or a clear error if it is not a whole number >= minimum."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{model}: {name} must be a whole number >= {minimum}, got {value!r}.")
    return int(value)


def _as_shape(shape, name="out_shape", model="the model"):
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not shape:
        raise ValueError(f"{model}: {name} must be a size or a tuple of sizes, e.g. 2 or (1, 28, 28); got ().")
    return tuple(_whole(name, s, 1, model) for s in shape)


def _check_flag(name, value, model, allow_none=False):
    if not (isinstance(value, bool) or (allow_none and value is None)):
        raise TypeError(f"{model}: {name} must be True or False{' or None' if allow_none else ''}, got {value!r}.")


class _Checked(nn.Module):
    """Gives a clear error when an input has the wrong type, shape, dtype or device, instead of a
    matmul traceback. Only the tensor's metadata is read: no host sync."""

    in_shape = None
    in_name = "x"

    def _check_input(self, x):
        name, what = type(self).__name__, self.in_name
        if not torch.is_tensor(x):
            raise TypeError(f"{name} expects a tensor {what}, got {type(x).__name__}")
        if x.dim() < 1 or tuple(x.shape[1:]) != self.in_shape:
            want = "[batch_size, " + ", ".join(map(str, self.in_shape)) + "]"
            hint = ""
            if what == "z":
                hint = f" Sample it with torch.randn(batch_size, {self.in_shape[0]})."
            elif len(self.in_shape) == 3 and x.dim() >= 1 and x[0].numel() == math.prod(self.in_shape):
                hint = f" Reshape it with {what}.view(-1, {', '.join(map(str, self.in_shape))})."
            raise ValueError(f"{name} expects {what} of shape {want}, got {list(x.shape)}.{hint}")
        weight = next(self.parameters())
        if x.device != weight.device:
            raise ValueError(f"{name} is on {weight.device} but {what} is on {x.device}: move {what} with "
                             f"{what}.to(device), or the model with .to({str(x.device)!r}).")
        if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            fix = f"{what}.float() / 127.5 - 1 (pixel values 0..255 -> [-1, 1])" if x.dtype == torch.uint8 \
                else f"{what}.float()" if weight.dtype == torch.float32 else f"{what}.to({weight.dtype})"
            raise TypeError(f"{name} has {weight.dtype} weights but {what} is {x.dtype}: pass {fix}.")


class MLPGenerator(_Checked):
    """z [B, latent_dim] -> x [B, *out_shape] through `layers` hidden layers of `hidden` units (lessons 03-05).

    out_shape=1 or 2 for the toy data (linear output), (1, 28, 28) for images (tanh output in [-1, 1]).
    """

    in_name = "z"

    def __init__(self, latent_dim=2, out_shape=1, hidden=256, layers=2, tanh=None):
        super().__init__()
        me = "MLPGenerator"
        self.latent_dim = _whole("latent_dim", latent_dim, 1, me)
        self.out_shape = _as_shape(out_shape, "out_shape", me)
        hidden, layers = _whole("hidden", hidden, 1, me), _whole("layers", layers, 0, me)
        _check_flag("tanh", tanh, me, allow_none=True)
        self.in_shape = (self.latent_dim,)
        tanh = len(self.out_shape) > 1 if tanh is None else tanh  # images live in [-1, 1]
        self.config = dict(latent_dim=self.latent_dim, out_shape=list(self.out_shape), hidden=hidden,
                           layers=layers, tanh=tanh)
        out_dim = math.prod(self.out_shape)
        blocks, width = [], self.latent_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        blocks.append(nn.Linear(width, out_dim))
        if tanh:
            blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)

    def forward(self, z):
        self._check_input(z)
        x = self.net(z)  # [B, prod(out_shape)]
        return x.view(z.shape[0], *self.out_shape)  # [B, *out_shape]


class MLPDiscriminator(_Checked):
    """x [B, *in_shape] -> logit [B] (lessons 02-05). D(x) = torch.sigmoid(logit)."""

    def __init__(self, in_shape=1, hidden=256, layers=2):
        super().__init__()
        me = type(self).__name__
        self.in_shape = _as_shape(in_shape, "in_shape", me)
        hidden, layers = _whole("hidden", hidden, 1, me), _whole("layers", layers, 0, me)
        self.config = dict(in_shape=list(self.in_shape), hidden=hidden, layers=layers)
        blocks, width = [], math.prod(self.in_shape)
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        blocks.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x):
        self._check_input(x)
        return self.net(x.flatten(1)).squeeze(1)  # [B, ...] -> [B, d] -> [B, 1] -> [B]


class MLPCritic(MLPDiscriminator):
    """A Wasserstein critic: same network as MLPDiscriminator, read as an unbounded score (lesson 06).

    It has no sigmoid and no batch norm (batch norm would make each score depend on the rest of the
    batch, which breaks the per-example gradient penalty).
    """


class DCGANGenerator(_Checked):
    """DCGAN generator for 28x28 images (lesson 07): z [B, latent_dim] -> image [B, 1, 28, 28] in [-1, 1].

    A linear layer makes a 7x7 feature map; two stride-2 transposed convolutions upsample it to
    14x14 and 28x28 (learned upsampling); batch norm + ReLU between them keep training stable.
    """

    in_name = "z"
    out_shape = IMAGE_SHAPE

    def __init__(self, latent_dim=64, width=64):
        super().__init__()
        me = "DCGANGenerator"
        self.latent_dim, self.width = _whole("latent_dim", latent_dim, 1, me), _whole("width", width, 1, me)
        self.in_shape = (self.latent_dim,)
        self.config = dict(latent_dim=self.latent_dim, width=self.width)
        w = self.width
        self.project = nn.Sequential(nn.Linear(self.latent_dim, 2 * w * 7 * 7, bias=False),
                                     nn.BatchNorm1d(2 * w * 7 * 7), nn.ReLU(True))
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False),  # 7x7 -> 14x14
            nn.BatchNorm2d(w), nn.ReLU(True),
            nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1),  # 14x14 -> 28x28
            nn.Tanh(),
        )

    def forward(self, z):
        self._check_input(z)
        if self.training and z.shape[0] < 2:
            raise ValueError("DCGANGenerator uses batch norm, which needs at least 2 examples per batch in "
                             f"training mode; got a batch of {z.shape[0]}. Pass 2 or more z, or call G.eval() "
                             "first to generate a single image (batch norm then uses its running averages).")
        h = self.project(z).view(z.shape[0], 2 * self.width, 7, 7)  # [B, latent] -> [B, 2w, 7, 7]
        return self.net(h)  # [B, 1, 28, 28]


class DCGANDiscriminator(_Checked):
    """DCGAN discriminator for 28x28 images (lesson 07): image [B, 1, 28, 28] -> logit [B].

    Stride-2 convolutions downsample (no pooling); LeakyReLU keeps a gradient for negative inputs,
    so the generator still learns where D is sure. `batch_norm=False` gives the critic variant.
    """

    def __init__(self, width=64, batch_norm=True):
        super().__init__()
        self.in_shape = IMAGE_SHAPE
        self.width = _whole("width", width, 1, type(self).__name__)
        _check_flag("batch_norm", batch_norm, type(self).__name__)
        self.config = dict(width=self.width, batch_norm=batch_norm)
        w = self.width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True),  # 28 -> 14
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, bias=not batch_norm),  # 14 -> 7
            nn.BatchNorm2d(2 * w) if batch_norm else nn.Identity(), nn.LeakyReLU(0.2, True),
        )
        self.head = nn.Linear(2 * w * 7 * 7, 1)

    def forward(self, x):
        self._check_input(x)
        h = self.net(x)  # [B, 2w, 7, 7]
        return self.head(h.flatten(1)).squeeze(1)  # [B, 2w*49] -> [B]


class DCGANCritic(DCGANDiscriminator):
    """The DCGAN discriminator without batch norm, read as an unbounded Wasserstein score (the critic of
    the saved `wgan-gp-mnist` model)."""

    def __init__(self, width=64):
        super().__init__(width=width, batch_norm=False)
        self.config = dict(width=self.width)


def count_parameters(model):
    """Number of trainable parameters (lesson 07)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def uses_batch_norm(model):
    """Whether `model` has a batch-norm layer (it then needs batches of 2 or more in training mode)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def all_finite(tensors):
    """Whether every value of these tensors is finite (one host readback). Their smallest and largest
    values tell, as a NaN makes both NaN: one fast pass, where torch.isfinite is slow on a CPU."""
    ends = [v.float() for t in tensors if t.is_floating_point() and t.numel() for v in torch.aminmax(t.detach())]
    return bool(torch.isfinite(torch.stack(ends)).all()) if ends else True


def finite_weights(model):
    """Whether every parameter and buffer of `model` is finite (one host readback)."""
    return all_finite([*model.parameters(), *model.buffers()])


MODELS = {cls.__name__: cls for cls in (MLPGenerator, MLPDiscriminator, MLPCritic,
                                        DCGANGenerator, DCGANDiscriminator, DCGANCritic)}


def build(name, config):
    """Rebuild a model from its class name and `.config` (used by checkpoints and saved models)."""
    if name not in MODELS:
        raise ValueError(f"Unknown model class {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name](**config)

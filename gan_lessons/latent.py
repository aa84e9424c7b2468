"""Walking in the latent space: noise vectors between two others, along a line or along the arc (lesson 07).

A generator maps every noise vector z to an image, so a path from z0 to z1 becomes a film from
one image to another. `lerp` goes straight, `slerp` follows the great circle (keeping the norm
that Gaussian noise has), and `interpolate(z0, z1, n)` gives n vectors of either path.
"""
import torch


def lerp(z0, z1, t):
    """Straight-line interpolation (1 - t) z0 + t z1 between two noise vectors [d].

    `t` is a number or a 1-D tensor of n numbers; the result is [d] or [n, d].
    """
    z0, z1, t, scalar = _interp_args(z0, z1, t)
    out = (1 - t) * z0 + t * z1  # [n, d]
    return out[0] if scalar else out


def slerp(z0, z1, t):
    """Spherical interpolation between two noise vectors [d]: along the great circle.

    Exercise 7.2 asks the learner to write it; `gan_lessons.checks.check_slerp` compares with this one.

    With omega the angle between z0 and z1:
        slerp(t) = sin((1 - t) omega) / sin(omega) * z0 + sin(t omega) / sin(omega) * z1
    Why: in high dimension, Gaussian noise lies near the sphere of radius sqrt(d); the midpoint of
    a straight line is shorter (about sqrt(d / 2) for independent z0, z1), a z the generator rarely
    saw in training. Slerp keeps the norm typical. Falls back to `lerp` when z0 and z1 are parallel.
    `t` is a number or a 1-D tensor of n numbers; the result is [d] or [n, d].
    """
    z0, z1, t, scalar = _interp_args(z0, z1, t)
    cos = torch.dot(z0[0], z1[0]) / (z0.norm() * z1.norm()).clamp(min=1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))  # the angle between z0 and z1
    if float(torch.sin(omega)) < 1e-6:  # (anti)parallel: the great circle is not unique; go straight
        out = (1 - t) * z0 + t * z1
    else:
        out = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)  # [n, d]
    return out[0] if scalar else out


def _interp_args(z0, z1, t):
    if not (torch.is_tensor(z0) and torch.is_tensor(z1)) or z0.dim() != 1 or z0.shape != z1.shape:
        raise ValueError("z0 and z1 must be 1-D tensors of the same length [latent_dim], got "
                         f"{getattr(z0, 'shape', type(z0))} and {getattr(z1, 'shape', type(z1))}. "
                         "Take single rows, e.g. z[0] and z[1].")
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    if t.dim() > 1:
        raise ValueError(f"t must be a number or a 1-D tensor, got shape {list(t.shape)}.")
    return z0[None, :], z1[None, :], t.reshape(-1, 1), t.dim() == 0  # [1, d], [1, d], [n, 1]


def interpolate(z0, z1, n=8, method="slerp"):
    """n noise vectors from z0 to z1 (both ends included), by 'slerp' or 'linear': [n, d] (lesson 07)."""
    if method not in ("slerp", "linear"):
        raise ValueError(f"method must be 'slerp' or 'linear', got {method!r}.")
    t = torch.linspace(0, 1, n, dtype=z0.dtype if torch.is_tensor(z0) else None)  # z0 is checked by lerp / slerp
    return (slerp if method == "slerp" else lerp)(z0, z1, t)

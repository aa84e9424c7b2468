"""GAN losses, written out so they can be read next to the formulas (lessons 02-06).

Conventions used everywhere in the course:
- A discriminator returns *logits* l (any real number); D(x) = sigmoid(l) is the probability that
  x is real. The BCE losses take logits because log(sigmoid(l)) = -softplus(-l) can be computed
  without ever forming sigmoid(l) = 0 or 1 in floating point, where log would give -inf and the
  gradient would vanish or blow up. `bce` itself takes probabilities, as lesson 02 writes the cost J(theta).
- A critic (Wasserstein lessons) returns unbounded *scores*; there is no sigmoid and no 0.5 threshold.
- Every function returns a quantity to *minimize*, averaged over the batch.

The logit and score losses check only what a tensor says about itself (type, dtype, shape), never
its values: reading values back would cost a host sync every step. So probabilities passed where
logits belong are not caught here (a logit may lie in [0, 1] too); `train.train` refuses a D that
ends in a sigmoid instead.
"""
import torch
import torch.nn.functional as F


def _check_same_shape(a, b, names):
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} has shape {tuple(a.shape)} but {names[1]} has shape {tuple(b.shape)}; "
            "they must match element for element (one label per prediction). "
            "Did you forget to .squeeze() or .view(-1) the model's output?"
        )


def _check_outputs(who, name, t):
    """A batch of D's outputs: a float tensor with one number per example ([B] or [B, 1]), not empty."""
    if not torch.is_tensor(t):
        raise TypeError(f"{who} expects {name} as a tensor (the output of D), got {type(t).__name__}. "
                        "Pass D(x) itself, or torch.tensor(values).")
    if not t.is_floating_point():
        raise TypeError(f"{who} expects float {name}, got {t.dtype}: a discriminator returns float numbers; "
                        f"convert with {name}.float().")
    if t.numel() == 0:
        raise ValueError(f"{who} got an empty batch of {name} (shape {list(t.shape)}): pass at least one example.")
    if t.dim() > 1 and t[0].numel() != 1:
        raise ValueError(f"{who} expects one number per example in {name}, shape [batch_size] (or [batch_size, 1]); "
                         f"got shape {list(t.shape)}. Does D end in a layer with {t[0].numel()} outputs "
                         "instead of 1?")


def _check_flag(who, name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{who}: {name} must be True or False, got {value!r} (a string like 'no' counts as true).")


def bce(h, y):
    """Binary cross-entropy J(theta) = -(1/m) sum_i [y_i log h_i + (1 - y_i) log(1 - h_i)] (lesson 02).

    h: predicted probabilities in [0, 1]; y: labels in [0, 1] (1 = real, 0 = fake), same shape.
    Like PyTorch, each log is clamped at -100 so a confident mistake costs 100, not infinity.
    """
    h = torch.as_tensor(h, dtype=torch.get_default_dtype()) if not torch.is_tensor(h) else h
    y = torch.as_tensor(y, dtype=h.dtype, device=h.device) if not torch.is_tensor(y) else y
    _check_same_shape(h, y, ("h (predictions)", "y (labels)"))
    if h.numel() == 0:
        raise ValueError("bce got an empty batch: pass at least one prediction.")
    if torch.isnan(h).any() or (h < 0).any() or (h > 1).any():
        raise ValueError(
            f"bce expects probabilities in [0, 1], got values from {h.min().item():.3g} to {h.max().item():.3g}. "
            "If these are raw network outputs (logits), pass torch.sigmoid(logits), "
            "or use discriminator_loss / generator_loss, which take logits."
        )
    if (y < 0).any() or (y > 1).any():
        raise ValueError("bce expects labels y in [0, 1] (1 = real, 0 = fake).")
    log_h = torch.log(h).clamp(min=-100)
    log_1mh = torch.log1p(-h).clamp(min=-100)
    return -(y * log_h + (1 - y) * log_1mh).mean()


def discriminator_loss(real_logits, fake_logits):
    """What D minimizes: -[E log D(x) + E log(1 - D(G(z)))] (lesson 03).

    This is minus the value V(D, G) of the minimax game, so minimizing it is D's gradient *ascent*
    on V. With real labelled 1 and fake labelled 0 it is BCE(real, 1) + BCE(fake, 0).
    Takes logits (see the module docstring for why). At the equilibrium D = 1/2 everywhere it
    equals 2 log 2 = 1.386.
    """
    _check_outputs("discriminator_loss", "real_logits", real_logits)
    _check_outputs("discriminator_loss", "fake_logits", fake_logits)
    real_term = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake_term = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real_term + fake_term


def generator_loss(fake_logits, saturating=False):
    """What G minimizes, from D's logits on generated samples (lesson 04).

    saturating=True: minimize E log(1 - D(G(z))), the term of V that G controls. When D easily
      spots fakes (D(G(z)) near 0), this curve is flat and G learns almost nothing.
    saturating=False (default): maximize E log D(G(z)), i.e. minimize -E log D(G(z)). Same fixed
      point, but steep exactly when G is bad, so learning starts quickly (Goodfellow et al. 2014).
    """
    _check_outputs("generator_loss", "fake_logits", fake_logits)
    _check_flag("generator_loss", "saturating", saturating)
    if saturating:
        # log(1 - sigmoid(l)) = -softplus(l)
        return (-F.softplus(fake_logits)).mean()
    # -log(sigmoid(l)) = softplus(-l)
    return F.softplus(-fake_logits).mean()


def critic_loss(real_scores, fake_scores):
    """What the Wasserstein critic minimizes: E f(G(z)) - E f(x) (exercise 6.1; `train.critic_step` uses it).

    The critic wants high scores on real data and low on fakes, i.e. to *maximize*
    E f(x) - E f(G(z)); we return the negative so every loss here is minimized.
    With f 1-Lipschitz, -critic_loss estimates the Wasserstein-1 distance.
    """
    _check_outputs("critic_loss", "real_scores", real_scores)
    _check_outputs("critic_loss", "fake_scores", fake_scores)
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores):
    """What the generator minimizes in a WGAN: -E f(G(z)) (it wants the critic to score fakes high) (exercise 6.1)."""
    _check_outputs("wasserstein_generator_loss", "fake_scores", fake_scores)
    return -fake_scores.mean()


def gradient_penalty(critic, real, fake, generator=None):
    """WGAN-GP penalty E[(||grad_x f(x_hat)||_2 - 1)^2] on random points between real and fake (exercise 6.2).

    x_hat = eps * real + (1 - eps) * fake with eps ~ U(0, 1) per example. The penalty keeps the
    critic's slope near 1, a soft version of the 1-Lipschitz constraint. Multiply by a weight
    (10 in Gulrajani et al. 2017) and add it to `critic_loss`.
    """
    if not (torch.is_tensor(real) and torch.is_tensor(fake)) or real.shape != fake.shape:
        shapes = [list(t.shape) if torch.is_tensor(t) else type(t).__name__ for t in (real, fake)]
        raise ValueError(f"gradient_penalty needs real and fake batches of the same shape (it mixes them "
                         f"example by example), got {shapes[0]} and {shapes[1]}. Draw as many fakes as reals.")
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)  # one eps per example, broadcast over features
    eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)  # [B, ...] like x_hat
    slopes = grad.flatten(1).norm(2, dim=1)  # [B]
    return ((slopes - 1) ** 2).mean()


def r1_penalty(real_logits, real):
    """R1 penalty E[||grad_x D(x)||_2^2] at the real examples (Mescheder et al. 2018).

    real_logits = D(real), computed from a `real` that requires grad. Penalising D's slope on the
    data keeps D from growing sharp cliffs there, which damps the back-and-forth of the game so that
    G can settle on every mode instead of abandoning some. Multiply by gamma / 2 and add it to the
    discriminator's loss (`train.d_step(..., r1_weight=gamma)` does).
    """
    if not real.requires_grad:
        raise ValueError("r1_penalty needs D's outputs on a `real` that requires grad: "
                         "real = real.detach().requires_grad_(True) before computing D(real).")
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)  # [B, ...] like real
    return grad.flatten(1).pow(2).sum(1).mean()


@torch.no_grad()
def clip_weights(critic, c):
    """Clamp every parameter of the critic to [-c, c], the original WGAN's crude Lipschitz bound (exercise 6.3)."""
    if not (isinstance(c, (int, float)) and not isinstance(c, bool) and c > 0):
        raise ValueError(f"clip value c must be a positive number (0.01 in Arjovsky et al.), got {c!r}")
    for p in critic.parameters():
        p.clamp_(-c, c)

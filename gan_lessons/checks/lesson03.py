"""Checks for lesson 03's exercises: the discriminator loss and one discriminator step."""
import copy
import math

import torch

from .. import losses
from ..models import MLPDiscriminator, MLPGenerator
from ..probes import changed_params, copy_params
from ..train import d_step
from ._common import ExerciseError, as_float, check_update, passed, run_exercise, step_loss

__all__ = ["check_discriminator_loss", "check_d_step"]

_STABLE = ("Work from the logit: log D = F.logsigmoid(l) and log(1 - D) = F.logsigmoid(-l) "
           "(or F.binary_cross_entropy_with_logits), which never round D to 0 or 1 before the log.")


def _close(a, b, want):
    return abs(a - b) < 1e-4 * max(1.0, abs(want))


def _which_term_breaks(fn):
    """Why the learner's loss is inf or NaN at +-120, told apart by trying each term alone at its bad end.

    real logit -120 breaks a naive log(sigmoid(l_real)); fake logit +120 breaks a naive
    log(1 - sigmoid(l_fake)). The other input is kept where the naive formulas are fine."""
    def finite(real, fake):
        try:
            out = fn(torch.tensor([real]), torch.tensor([fake]))
        except Exception:  # the learner's code: any failure here just means "cannot tell"
            return True
        return torch.is_tensor(out) and out.numel() == 1 and math.isfinite(float(out.detach()))

    broken = []
    if not finite(-120.0, -120.0):
        broken.append("the REAL term: for a real example with logit -120, sigmoid(-120) underflows to exactly 0 "
                      "in float32, so log D(x) = log(0) = -inf (the true term is -120)")
    if not finite(120.0, 120.0):
        broken.append("the FAKE term: for a fake with logit +120, sigmoid(120) rounds to exactly 1.0 (from a logit "
                      "of about 17 on), so log(1 - D(G(z))) = log(0) = -inf (the true term is -120)")
    if not broken:
        return "You got inf or NaN: a log of 0 (or of a negative number) somewhere. " + _STABLE
    return "It breaks in " + "; and in ".join(broken) + ". " + _STABLE


def _loss_hint(fn, name, got, want, batch):
    if not math.isfinite(got):
        return _which_term_breaks(fn)
    if _close(got, -want, want):
        return "Your value has the wrong sign: D *minimizes* -[log D(x) + log(1 - D(G(z)))]."
    if _close(got, want / 2, want):
        return "Your value is half the expected one: add the real and fake terms, do not average them."
    if batch > 1 and _close(got, want * batch, want * batch):
        return "You summed over the batch: take the mean of each term (.mean()), not the sum."
    if "extreme" in name:
        return ("Your value is finite but wrong only for extreme logits: did you compute sigmoid first and clamp "
                "it or its log (as F.binary_cross_entropy does, at -100)? " + _STABLE)
    return "Remember: real examples have label 1, fakes label 0, and the loss is the SUM of the two averages."


def check_discriminator_loss(fn):
    """Exercise 3.1: fn(real_logits, fake_logits) must equal losses.discriminator_loss (lesson 03).

    Tried on random logits, including huge ones (+-120) where a naive log(sigmoid(l)) or
    log(1 - sigmoid(l)) gives -inf; the message then says which of the two terms broke.
    """
    g = torch.Generator().manual_seed(3)
    cases = [
        ("random logits", torch.randn(16, generator=g), torch.randn(16, generator=g)),
        ("a single example", torch.randn(1, generator=g), torch.randn(1, generator=g)),
        ("D confident and right (real +8, fake -8)", torch.full((8,), 8.0), torch.full((8,), -8.0)),
        ("D confident and wrong (real -8, fake +8)", torch.full((8,), -8.0), torch.full((8,), 8.0)),
        ("extreme logits (+-120)", torch.tensor([120.0, -120.0, 3.0]), torch.tensor([-120.0, 120.0, -3.0])),
    ]
    for name, real, fake in cases:
        want = float(losses.discriminator_loss(real, fake))
        got = as_float(run_exercise(fn, real.clone(), fake.clone(), exercise="Exercise 3.1"), "discriminator_loss")
        if not math.isfinite(got) or not _close(got, want, want):
            hint = _loss_hint(fn, name, got, want, len(real))
            raise ExerciseError(f"On {name}: expected loss {want:.6f}, got {got:.6f}. {hint}")
    return passed("Exercise 3.1 (discriminator loss)", f"{len(cases)} cases match losses.discriminator_loss")


def _tiny_models(seed):
    torch.manual_seed(seed)
    G = MLPGenerator(latent_dim=4, out_shape=3, hidden=16, layers=1)
    D = MLPDiscriminator(in_shape=3, hidden=16, layers=1)
    return G, D


def _run_watching_G(fn, G, *args):
    """Run the learner's step; True as well when autograd computed a gradient for any of G's
    parameters during it (even if the learner cleared .grad afterwards)."""
    reached = []
    hooks = [p.register_hook(lambda grad: reached.append(True)) for p in G.parameters() if p.requires_grad]
    try:
        out = run_exercise(fn, G, *args, exercise="Exercise 3.2")
    finally:
        for h in hooks:
            h.remove()
    return out, bool(reached)


def check_d_step(fn):
    """Exercise 3.2: fn(G, D, opt_D, real, z) does one discriminator step (lesson 03).

    Checked against the package's `train.d_step` (itself tested against PyTorch's BCE) on copies of
    two small networks, for two steps in a row: the returned loss matches
    `losses.discriminator_loss` before the update, D's new weights match, G's weights are identical,
    G has no gradient, and the backward pass never reached G at all (the work `.detach()` saves).
    """
    G, D = _tiny_models(seed=30)
    g = torch.Generator().manual_seed(31)
    batches = [(torch.randn(32, 3, generator=g) + 2.0, torch.randn(32, 4, generator=g)) for _ in range(2)]

    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    opt_ref = torch.optim.SGD(D_ref.parameters(), lr=0.1)
    opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
    G_before = copy_params(G)

    for i, (real, z) in enumerate(batches, start=1):
        D_before = [p.detach().clone() for p in D.parameters()]
        want = float(d_step(G_ref, D_ref, opt_ref, real, z)[0])
        out, reached_G = _run_watching_G(fn, G, D, opt_D, real.clone(), z.clone())
        got = step_loss(out, "d_step")
        if any(p.grad is not None for p in G.parameters()):
            raise ExerciseError("G's parameters received gradients during the discriminator step. Did you detach "
                                "the fake batch? Use fake = G(z).detach() so D's loss does not flow back into G.")
        changed_G = changed_params(G, G_before)
        if changed_G:
            raise ExerciseError(f"G's weights changed during the discriminator step ({', '.join(changed_G)}). "
                                "Only opt_D.step() should be called: the discriminator step trains D alone.")
        if reached_G:
            raise ExerciseError("The backward pass went on into G: gradients for G's weights were computed (and "
                                "then cleared, since G's .grad is empty now). That is the work .detach() saves: "
                                "use fake = G(z).detach() so that backward stops at the fake images.")
        if abs(got - want) > 1e-5 * max(1.0, abs(want)):
            raise ExerciseError(
                f"Step {i}: the returned loss is {got:.6f} but discriminator_loss(D(real), D(G(z))) before the "
                f"update is {want:.6f}. Return the loss you called .backward() on, computed from D(real) "
                "and D(fake) with gl.losses.discriminator_loss (real first, fake second).")
        check_update(D, D_ref, D_before, i, f"Step {i}", "D",
                     "Backpropagate the loss of D on the real batch (label 1) and on fake = G(z).detach() "
                     "(label 0), then call opt_D.step() once.")
    return passed("Exercise 3.2 (d_step)", "loss matches, only D changed, G has no gradient")

"""Checks for lesson 04's exercises: the two generator losses and one generator step."""
import copy
import math

import torch

from .. import losses
from ..models import MLPDiscriminator, MLPGenerator
from ..probes import changed_params, copy_params
from ..train import g_step
from ._common import ExerciseError, as_float, check_update, passed, run_exercise, step_loss

__all__ = ["check_saturating_loss", "check_non_saturating_loss", "check_g_step"]

# Where each loss breaks when written with probabilities, and the fix (float32).
_BREAKS = {
    True: ("At logit +120 (D fooled), sigmoid(120) rounds to exactly 1.0 in float32 (from a logit of about 17 on), "
           "so log(1 - D(G(z))) = log(0) = -inf, where the true value is -120. Work from the logit: "
           "log(1 - D) = F.logsigmoid(-l)."),
    False: ("At logit -120 (D sure the fake is fake), sigmoid(-120) is exactly 0 in float32, so "
            "-log D(G(z)) = -log(0) = inf, where the true value is 120: the loss breaks exactly where it should "
            "push hardest. Work from the logit: -log D = -F.logsigmoid(l)."),
}


def _loss_hint(got, want, other, logits, saturating, case):
    """The learner's likely mistake, from the value their generator loss returned."""
    tol = 1e-4 * max(1.0, abs(want))
    if not math.isfinite(got):
        return _BREAKS[saturating]
    if abs(got + want) < tol:
        return "Your value has the wrong sign: it should be a quantity G *minimizes*."
    if abs(got - other) < tol:
        return "That is the other generator loss; swap your two functions."
    if abs(got + other) < tol:
        return "That is minus the other generator loss."
    if len(logits) > 1 and abs(got - want * len(logits)) < tol * len(logits):
        return "You summed over the batch: take the mean (.mean()), not the sum."
    if "extreme" in case:
        return ("Your value is finite but wrong only for extreme logits: did you compute sigmoid first and clamp "
                "it or its log? " + _BREAKS[saturating])
    return ("The saturating loss is mean(log(1 - D(G(z)))), to minimize." if saturating
            else "The non-saturating loss is mean(-log D(G(z))), to minimize.")


def _check_generator_loss(fn, saturating, exercise, name):
    g = torch.Generator().manual_seed(4)
    cases = [
        ("random logits", torch.randn(64, generator=g) * 2),
        ("a single example", torch.randn(1, generator=g)),
        ("D sure the fakes are fake (logit -10)", torch.full((8,), -10.0)),
        ("D fooled (logit +10)", torch.full((8,), 10.0)),
        ("extreme logits (-120 .. 120)", torch.linspace(-120, 120, 13)),
    ]
    for case, logits in cases:
        want = float(losses.generator_loss(logits, saturating=saturating))
        other = float(losses.generator_loss(logits, saturating=not saturating))  # a common mix-up
        got = as_float(run_exercise(fn, logits.clone(), exercise=exercise), name)
        if not math.isfinite(got) or abs(got - want) > 1e-4 * max(1.0, abs(want)):
            hint = _loss_hint(got, want, other, logits, saturating, case)
            raise ExerciseError(f"On {case}: expected {want:.6f}, got {got:.6f}. {hint}")
    return passed(exercise + f" ({name})", f"{len(cases)} cases match losses.generator_loss")


def check_saturating_loss(fn):
    """Exercise 4.1a: fn(fake_logits) = mean log(1 - D(G(z))), as generator_loss(l, saturating=True) (lesson 04)."""
    return _check_generator_loss(fn, True, "Exercise 4.1a", "saturating loss")


def check_non_saturating_loss(fn):
    """Exercise 4.1b: fn(fake_logits) = mean -log D(G(z)), as losses.generator_loss(l) (lesson 04)."""
    return _check_generator_loss(fn, False, "Exercise 4.1b", "non-saturating loss")


def check_g_step(fn):
    """Exercise 4.2: fn(G, D, opt_G, z, saturating=False) does one generator step (lesson 04).

    Checked against the package's `train.g_step` on copies of two small networks, two steps in a
    row and with both losses: same returned loss, same new G, D's weights identical, no gradient
    computed for D's weights at all (not even one cleared afterwards) and D's requires_grad
    switched back on afterwards.
    """
    for saturating in (False, True):
        torch.manual_seed(40)
        G = MLPGenerator(latent_dim=4, out_shape=3, hidden=16, layers=1)
        D = MLPDiscriminator(in_shape=3, hidden=16, layers=1)
        G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
        opt_G = torch.optim.SGD(G.parameters(), lr=0.1)
        opt_ref = torch.optim.SGD(G_ref.parameters(), lr=0.1)
        D_start = copy_params(D)
        g = torch.Generator().manual_seed(41)
        which = "saturating" if saturating else "non-saturating"
        for i in (1, 2):
            z = torch.randn(32, 4, generator=g)
            G_before = [p.detach().clone() for p in G.parameters()]
            want = float(g_step(G_ref, D_ref, opt_ref, z, saturating=saturating))
            reached_D = []  # filled when autograd computes a gradient for one of D's weights
            hooks = [p.register_hook(lambda grad: reached_D.append(True)) for p in D.parameters() if p.requires_grad]
            try:
                out = run_exercise(fn, G, D, opt_G, z.clone(), saturating=saturating, exercise="Exercise 4.2")
            except RuntimeError as e:
                if "does not require grad" not in str(e):
                    raise
                raise ExerciseError("loss.backward() found nothing to differentiate: the fake batch must NOT be "
                                    "detached in the generator step (G learns through it). Detach only in "
                                    "the discriminator step.") from e
            finally:
                for h in hooks:
                    h.remove()
            got = step_loss(out, "g_step")
            changed_D = changed_params(D, D_start)
            if changed_D:
                raise ExerciseError(f"D's weights changed during the generator step ({', '.join(changed_D)}). "
                                    "Only opt_G.step() should run: the generator step trains G alone.")
            if any(p.grad is not None for p in D.parameters()):
                raise ExerciseError("D's parameters received gradients (.grad is set) during the generator step. "
                                    "Freeze D while G learns: compute the loss inside `with gl.train.frozen(D):` "
                                    "(the gradient still flows *through* D to G, but D's weights get none).")
            if reached_D:
                raise ExerciseError("Gradients for D's weights were computed during the generator step (and then "
                                    "cleared: D's .grad is empty now). That is wasted work, and it is what freezing "
                                    "D avoids: compute the loss inside `with gl.train.frozen(D):`.")
            if not all(p.requires_grad for p in D.parameters()):
                raise ExerciseError("After your generator step D's parameters still have requires_grad=False, so "
                                    "the next discriminator step cannot train D. Switch them back on afterwards, "
                                    "or use `with gl.train.frozen(D):`, which does it for you.")
            if abs(got - want) > 1e-5 * max(1.0, abs(want)):
                raise ExerciseError(
                    f"Step {i} ({which}): the returned loss is {got:.6f}, expected {want:.6f} = "
                    f"generator_loss(D(G(z)), saturating={saturating}) before the update. Pass `saturating` on "
                    "to gl.losses.generator_loss and return the loss you called .backward() on.")
            check_update(G, G_ref, G_before, i, f"Step {i} ({which})", "G",
                         "Compute loss = generator_loss(D(G(z)), saturating) on a fake batch that is NOT "
                         "detached (G must get gradients), backward, then opt_G.step().")
    return passed("Exercise 4.2 (g_step)", "both losses: only G changed, D has no gradient")

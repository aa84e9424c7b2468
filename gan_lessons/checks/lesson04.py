"""Checks for lesson 04's exercises: the two generator losses and one generator step."""
import copy

import torch

from .. import losses
from ..models import MLPDiscriminator, MLPGenerator
from ..probes import changed_params, copy_params
from ..train import g_step
from ._common import ExerciseError, as_float, check_update, passed, run_exercise, step_loss

__all__ = ["check_saturating_loss", "check_non_saturating_loss", "check_g_step"]

_STABLE_HINT = ("For large |logit|, sigmoid rounds to exactly 0 or 1 and the log becomes -inf. Work from the "
                "logit: log D = F.logsigmoid(l) and log(1 - D) = F.logsigmoid(-l).")


def _check_generator_loss(fn, saturating, exercise, name):
    g = torch.Generator().manual_seed(4)
    cases = [
        ("random logits", torch.randn(64, generator=g) * 2),
        ("a single example", torch.randn(1, generator=g)),
        ("D sure the fakes are fake (logit -10)", torch.full((8,), -10.0)),
        ("D fooled (logit +10)", torch.full((8,), 10.0)),
        ("extreme logits (-120 .. 120)", torch.linspace(-120, 120, 13)),
    ]
    other = losses.generator_loss  # to recognise the other loss, a common mix-up
    for case, logits in cases:
        want = float(losses.generator_loss(logits, saturating=saturating))
        got = as_float(run_exercise(fn, logits.clone(), exercise=exercise), name)
        if got != got or abs(got - want) > 1e-4 * max(1.0, abs(want)):
            tol = 1e-4 * max(1.0, abs(want))
            if got != got or abs(got) == float("inf"):
                hint = _STABLE_HINT
            elif abs(got + want) < tol:
                hint = "Your value has the wrong sign: it should be a quantity G *minimizes*."
            elif abs(got - float(other(logits, saturating=not saturating))) < tol:
                hint = "That is the other generator loss; swap your two functions."
            elif abs(got - float(-other(logits, saturating=not saturating))) < tol:
                hint = "That is minus the other generator loss."
            elif "extreme" in case:
                hint = _STABLE_HINT
            else:
                hint = ("The saturating loss is mean(log(1 - D(G(z)))), to minimize."
                        if saturating else "The non-saturating loss is mean(-log D(G(z))), to minimize.")
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
    row and with both losses: same returned loss, same new G, D's weights identical, D's .grad
    still None and D's requires_grad switched back on afterwards.
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
            try:
                out = run_exercise(fn, G, D, opt_G, z.clone(), saturating=saturating, exercise="Exercise 4.2")
            except RuntimeError as e:
                if "does not require grad" not in str(e):
                    raise
                raise ExerciseError("loss.backward() found nothing to differentiate: the fake batch must NOT be "
                                    "detached in the generator step (G learns through it). Detach only in "
                                    "the discriminator step.") from e
            got = step_loss(out, "g_step")
            changed_D = changed_params(D, D_start)
            if changed_D:
                raise ExerciseError(f"D's weights changed during the generator step ({', '.join(changed_D)}). "
                                    "Only opt_G.step() should run: the generator step trains G alone.")
            if any(p.grad is not None for p in D.parameters()):
                raise ExerciseError("D's parameters received gradients (.grad is set) during the generator step. "
                                    "Freeze D while G learns: compute the loss inside `with gl.train.frozen(D):` "
                                    "(the gradient still flows *through* D to G, but D's weights get none).")
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

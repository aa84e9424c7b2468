"""Checks for lesson 04's exercises: the two generator losses and one generator step."""
import contextlib
import copy
import math

import torch

from .. import losses
from ..models import MLPDiscriminator, MLPGenerator
from ..probes import changed_params, copy_params, depends_on_seed, watch_step
from ..train import g_step
from ._common import ExerciseError, as_float, check_update, passed, returned_loss, run_exercise
from .lesson03 import no_update_hint

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


# The usual mix-ups, by the value they give. got == -want: the minus in front is wrong; got == other:
# the other loss; got == -other: the minus on the wrong side, the logit's sign flipped inside logsigmoid.
_MIXUPS = {
    True: {  # the saturating loss mean log(1 - D(G(z))) = F.logsigmoid(-l).mean()
        "sign": ("Your value has the wrong sign: the saturating loss is minimized as it is, with no minus in "
                 "front: mean log(1 - D(G(z))) = F.logsigmoid(-l).mean()."),
        "other": ("That is the non-saturating loss -log D(G(z)). The saturating one is mean log(1 - D(G(z))) = "
                  "F.logsigmoid(-l).mean(). Did you swap your two functions?"),
        "minus other": ("You computed mean log D(G(z)) = F.logsigmoid(l).mean(): the minus belongs on the logit, "
                        "inside. log(1 - D(G(z))) = F.logsigmoid(-l), because 1 - sigmoid(l) = sigmoid(-l)."),
    },
    False: {  # the non-saturating loss mean -log D(G(z)) = -F.logsigmoid(l).mean()
        "sign": ("Your value has the wrong sign: put a minus in front, G minimizes mean -log D(G(z)) = "
                 "-F.logsigmoid(l).mean()."),
        "other": ("That is the saturating loss log(1 - D(G(z))). The non-saturating one is mean -log D(G(z)) = "
                  "-F.logsigmoid(l).mean(). Did you swap your two functions?"),
        "minus other": ("You computed mean -log(1 - D(G(z))) = -F.logsigmoid(-l).mean(): the logit needs no minus. "
                        "-log D(G(z)) = -F.logsigmoid(l), with the minus only in front."),
    },
}


def _loss_hint(got, want, other, logits, saturating, case):
    """The learner's likely mistake, from the value their generator loss returned."""
    tol = 1e-4 * max(1.0, abs(want))
    if not math.isfinite(got):
        return _BREAKS[saturating]
    if abs(got + want) < tol:
        return _MIXUPS[saturating]["sign"]
    if abs(got - other) < tol:
        return _MIXUPS[saturating]["other"]
    if abs(got + other) < tol:
        return _MIXUPS[saturating]["minus other"]
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


def _returned_loss(out):
    """The loss the learner's g_step returned, as a float: one number in a tensor, like the package's
    g_step (the training loop adds its losses up as tensors)."""
    return returned_loss(
        out, "g_step", ": return just the loss, one number in a tensor, as gl.train.g_step does.",
        "Return `loss` itself (or loss.detach(), as gl.train.g_step does: the training loop adds its losses up "
        "as tensors), not loss.item().")


@contextlib.contextmanager
def _watch_forward(G, D):
    """Record, for every call of G or D inside the block, whether gradients were being recorded
    (False under torch.no_grad()) and, for D, whether its input carried a graph back to G."""
    calls = []
    handles = [net.register_forward_pre_hook(
        lambda module, args, name=name: calls.append(
            (name, torch.is_grad_enabled(), bool(args) and torch.is_tensor(args[0]) and args[0].requires_grad)))
        for name, net in (("G", G), ("D", D))]
    try:
        yield calls
    finally:
        for h in handles:
            h.remove()


def _nothing_to_differentiate(calls):
    """Why loss.backward() found no graph, from what _watch_forward saw."""
    under_no_grad = sorted({name for name, grad_on, _ in calls if not grad_on})
    if under_no_grad:
        which = " and ".join(f"{n}(...)" for n in under_no_grad)
        return ("loss.backward() found nothing to differentiate: you called " + which + " inside torch.no_grad(), "
                "so autograd recorded nothing and no gradient can flow from the loss through D into G. Do not use "
                "torch.no_grad() in the generator step; `with gl.train.frozen(D):` is what keeps D's weights out.")
    if any(name == "D" and not graph for name, _, graph in calls):
        return ("loss.backward() found nothing to differentiate: the fake batch must NOT be detached in the "
                "generator step (G learns through it). Detach only in the discriminator step.")
    return ("loss.backward() found nothing to differentiate: the loss has no link back to G. Compute it from "
            "D(G(z)) with no .detach() and no torch.no_grad() on the way.")


def _draws_own_noise(fn, G, D, z, saturating):
    """True when fn, run on fresh copies of G and D with the same z, moves G differently under two random
    seeds: it makes its own noise instead of using z."""
    def run():
        G_c, D_c = copy.deepcopy(G), copy.deepcopy(D)
        try:
            fn(G_c, D_c, torch.optim.SGD(G_c.parameters(), lr=0.1), z.clone(), saturating=saturating)
        except Exception:  # the learner's code: any failure here just means "cannot tell"
            return []
        return list(G_c.parameters())

    return depends_on_seed(run)


def _run_step(fn, G, D, opt_G, z, saturating):
    """Run the learner's step, watching D's weights, the optimizer and every forward pass."""
    with watch_step(D) as seen_D, watch_step(G, opt_G) as seen_G, _watch_forward(G, D) as calls:
        try:
            out = run_exercise(fn, G, D, opt_G, z.clone(), saturating=saturating, exercise="Exercise 4.2")
        except RuntimeError as e:
            if "does not require grad" not in str(e):
                raise
            raise ExerciseError(_nothing_to_differentiate(calls)) from e
    return out, seen_D, seen_G


def _check_D_untouched(D, D_start, seen_D):
    changed_D = changed_params(D, D_start)
    if changed_D:
        raise ExerciseError(f"D's weights changed during the generator step ({', '.join(changed_D)}). "
                            "Only opt_G.step() should run: the generator step trains G alone.")
    if any(p.grad is not None for p in D.parameters()):
        raise ExerciseError("D's parameters received gradients (.grad is set) during the generator step. "
                            "Freeze D while G learns: compute the loss inside `with gl.train.frozen(D):` "
                            "(the gradient still flows *through* D to G, but D's weights get none).")
    if seen_D["grad_computed"]:
        raise ExerciseError("Gradients for D's weights were computed during the generator step (and then "
                            "cleared: D's .grad is empty now). That is wasted work, and it is what freezing "
                            "D avoids: compute the loss inside `with gl.train.frozen(D):`.")
    if not all(p.requires_grad for p in D.parameters()):
        raise ExerciseError("After your generator step D's parameters still have requires_grad=False, so "
                            "the next discriminator step cannot train D. Switch them back on afterwards, "
                            "or use `with gl.train.frozen(D):`, which does it for you.")


def check_g_step(fn):
    """Exercise 4.2: fn(G, D, opt_G, z, saturating=False) does one generator step (lesson 04).

    Checked against the package's `train.g_step` on copies of two small networks, two steps in a
    row and with both losses: it returns the loss alone, one number in a tensor, equal to the
    package's; same new G, D's weights identical, no gradient computed for D's weights at all (not
    even one cleared afterwards) and D's requires_grad switched back on afterwards. A wrong answer
    is told apart where it can be: a detached fake batch or torch.no_grad(), the calls in the
    wrong order, noise of its own instead of z.
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
            G_start = copy.deepcopy(G)
            G_before = [p.detach().clone() for p in G.parameters()]
            want = float(g_step(G_ref, D_ref, opt_ref, z, saturating=saturating))
            out, seen_D, seen_G = _run_step(fn, G, D, opt_G, z, saturating)
            got = _returned_loss(out)
            _check_D_untouched(D, D_start, seen_D)
            if abs(got - want) > 1e-5 * max(1.0, abs(want)):
                if _draws_own_noise(fn, G_start, D, z, saturating):
                    raise ExerciseError(
                        f"Step {i} ({which}): the returned loss is {got:.6f} but with the z passed in it is "
                        f"{want:.6f}, and your g_step moves G differently each time it runs on the same inputs: it "
                        "makes noise of its own (torch.randn...). Use the z you were given: D(G(z)).")
                raise ExerciseError(
                    f"Step {i} ({which}): the returned loss is {got:.6f}, expected {want:.6f} = "
                    f"generator_loss(D(G(z)), saturating={saturating}) before the update. Pass `saturating` on "
                    "to gl.losses.generator_loss and return the loss you called .backward() on.")
            if all(torch.equal(p.detach(), p0) for p, p0 in zip(G.parameters(), G_before)):
                hint = no_update_hint("G", seen_G)
                if hint:
                    raise ExerciseError(f"Step {i} ({which}): {hint}")
            check_update(G, G_ref, G_before, i, f"Step {i} ({which})", "G",
                         "Compute loss = generator_loss(D(G(z)), saturating) on a fake batch that is NOT "
                         "detached (G must get gradients), backward, then opt_G.step().")
    return passed("Exercise 4.2 (g_step)", "both losses: only G changed, D has no gradient")

"""Checks for lesson 03's exercises: the discriminator loss and one discriminator step."""
import copy
import math

import torch
import torch.nn.functional as F

from .. import losses
from ..models import MLPDiscriminator, MLPGenerator
from ..probes import changed_params, copy_params, depends_on_seed, watch_step
from ..train import d_step
from ._common import ExerciseError, as_float, check_update, passed, returned_loss, run_exercise

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
    terms = _which_term_is_wrong(fn)
    if terms:
        return terms
    if "extreme" in name:
        return ("Your value is finite but wrong only for extreme logits: did you compute sigmoid first and clamp "
                "it or its log (as F.binary_cross_entropy does, at -100)? " + _STABLE)
    return "Remember: real examples have label 1, fakes label 0, and the loss is the SUM of the two averages."


# What each argument should add to L_D as a function of its logit x, and the two usual mix-ups:
# the other label's term, and the term with the wrong sign. softplus(-x) = -log sigmoid(x).
_TERM = {"real": lambda x: F.softplus(-x), "fake": lambda x: F.softplus(x)}
_OTHER_LABEL = {"real": "fake", "fake": "real"}
_WRONG_LABEL = {
    "real": ("The REAL term is wrong: you used log(1 - D(x)) = F.logsigmoid(-real_logits), the term of label 0. "
             "Real examples have label 1: their term is log D(x) = F.logsigmoid(real_logits)."),
    "fake": ("The FAKE term is wrong: you used log D(G(z)) = F.logsigmoid(fake_logits), the term of label 1. "
             "Fakes have label 0: their term is log(1 - D(G(z))) = F.logsigmoid(-fake_logits)."),
}
_WRONG_SIGN = ("The {} term has the wrong sign: the minus goes in front of BOTH terms, "
               "L_D = -(mean log D(x) + mean log(1 - D(G(z)))).")


def _which_term_is_wrong(fn):
    """Try each argument alone (the other held at logit 0) and compare its effect on the learner's loss
    with the right term, the other label's term and both negated; '' when that tells nothing."""
    xs = torch.tensor([-3.0, -1.0, 0.5, 2.0])

    def effect(which):
        try:
            def call(x):
                real, fake = (x, 0.0) if which == "real" else (0.0, x)
                return float(fn(torch.tensor([real]), torch.tensor([fake])).detach())
            base = call(0.0)
            return torch.tensor([call(float(x)) - base for x in xs], dtype=torch.float32)
        except Exception:  # the learner's code: any failure means "cannot tell"
            return None

    found = {}
    for which in ("real", "fake"):
        got = effect(which)
        if got is None:
            return ""
        for label in (which, _OTHER_LABEL[which]):
            for sign in (1.0, -1.0):
                want = sign * (_TERM[label](xs) - _TERM[label](torch.zeros(1)))
                if torch.allclose(got, want, atol=1e-4):
                    found[which] = (label == which, sign > 0)
    if len(found) < 2 or all(found[w] == (True, True) for w in found):
        return ""
    if not found["real"][0] and not found["fake"][0]:
        hints = ["Real and fake are swapped: real examples have label 1 (term log D(x) = F.logsigmoid(real_logits)), "
                 "fakes label 0 (term log(1 - D(G(z))) = F.logsigmoid(-fake_logits))."]
    else:
        hints = [_WRONG_LABEL[w] for w in ("real", "fake") if not found[w][0]]
    wrong_sign = [w for w in ("real", "fake") if not found[w][1]]
    if len(wrong_sign) == 2:
        hints.append("Both terms also have the wrong sign: L_D = -(mean log D(x) + mean log(1 - D(G(z)))), "
                     "with the minus in front.")
    elif wrong_sign:
        hints.append(_WRONG_SIGN.format(wrong_sign[0].upper()))
    return " ".join(hints)


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


def _returned_loss(out):
    """The loss the learner's d_step returned, as a float: it must be one number in a tensor, because
    section 5 calls d_step(...).item() on it (and this check compares it with the package's loss)."""
    return returned_loss(
        out, "d_step",
        ". The exercise's d_step returns just the loss, one number in a tensor: section 5 calls d_step(...).item() "
        "on it, which a tuple does not have. (The package's gl.train.d_step also returns D's logits, because the "
        "training loop records them.)",
        "Return `loss` itself (or loss.detach(), as the package does), not loss.item(): section 5 calls "
        "d_step(...).item() on it.")


def no_update_hint(who, seen):
    """Why `who` ("D" or "G") did not change in a step, from what `probes.watch_step` saw; None when it
    cannot tell. Lesson 04's check uses it for G."""
    events = seen["events"]
    if not any(e.endswith("step") for e in events):
        return f"{who}'s weights did not change at all. After loss.backward(), call opt_{who}.step() to update {who}."
    if "step" in events:
        return None
    if not seen["grad_computed"]:
        return (f"{who}'s weights did not change: opt_{who}.step() ran, but no gradient ever reached {who}'s "
                "weights. Did you call loss.backward()?")
    if events.index("grad") > events.index("empty step"):
        return (f"{who}'s weights did not change: opt_{who}.step() ran before loss.backward(), when there was no "
                f"gradient to apply yet. The order is opt_{who}.zero_grad(), loss.backward(), opt_{who}.step().")
    return (f"{who}'s weights did not change: the gradients that loss.backward() computed were cleared before "
            f"opt_{who}.step() ran (opt_{who}.zero_grad() came between them), so the step had nothing to apply. "
            f"The order is opt_{who}.zero_grad(), loss.backward(), opt_{who}.step().")


def _draws_own_noise(fn, G, D, real, z):
    """True when fn, run on fresh copies of G and D with the same real and z, moves D differently under
    two random seeds: it makes its own noise instead of using z."""
    def run():
        G_c, D_c = copy.deepcopy(G), copy.deepcopy(D)
        try:
            fn(G_c, D_c, torch.optim.SGD(D_c.parameters(), lr=0.1), real.clone(), z.clone())
        except Exception:  # the learner's code: any failure here just means "cannot tell"
            return []
        return list(D_c.parameters())

    return depends_on_seed(run)


def check_d_step(fn):
    """Exercise 3.2: fn(G, D, opt_D, real, z) does one discriminator step (lesson 03).

    Checked against the package's `train.d_step` (itself tested against PyTorch's BCE) on copies of
    two small networks, for two steps in a row: it returns the loss alone, as one number in a tensor
    (section 5 calls .item() on it), which matches `losses.discriminator_loss` before the update;
    D's new weights match, G's weights are identical, G has no gradient, and the backward pass never
    reached G at all (the work `.detach()` saves). A wrong answer is told apart where it can be:
    a tuple returned, the calls in the wrong order, noise of its own instead of z.
    """
    G, D = _tiny_models(seed=30)
    g = torch.Generator().manual_seed(31)
    batches = [(torch.randn(32, 3, generator=g) + 2.0, torch.randn(32, 4, generator=g)) for _ in range(2)]

    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    opt_ref = torch.optim.SGD(D_ref.parameters(), lr=0.1)
    opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
    G_before = copy_params(G)

    for i, (real, z) in enumerate(batches, start=1):
        D_start = copy.deepcopy(D)
        D_before = [p.detach().clone() for p in D.parameters()]
        want = float(d_step(G_ref, D_ref, opt_ref, real, z)[0])
        with watch_step(G) as seen_G, watch_step(D, opt_D) as seen_D:
            out = run_exercise(fn, G, D, opt_D, real.clone(), z.clone(), exercise="Exercise 3.2")
        got = _returned_loss(out)
        _check_G_untouched(G, G_before, seen_G)
        if abs(got - want) > 1e-5 * max(1.0, abs(want)):
            if _draws_own_noise(fn, G, D_start, real, z):
                raise ExerciseError(
                    f"Step {i}: the returned loss is {got:.6f} but with the z passed in it is {want:.6f}, and your "
                    "d_step moves D differently each time it runs on the same inputs: it makes noise of its own "
                    "(torch.randn...). Use the z you were given: fake = G(z).detach().")
            raise ExerciseError(
                f"Step {i}: the returned loss is {got:.6f} but discriminator_loss(D(real), D(G(z))) before the "
                f"update is {want:.6f}. Return the loss you called .backward() on, computed from D(real) "
                "and D(fake) with gl.losses.discriminator_loss (real first, fake second).")
        if all(torch.equal(p.detach(), p0) for p, p0 in zip(D.parameters(), D_before)):
            hint = no_update_hint("D", seen_D)
            if hint:
                raise ExerciseError(f"Step {i}: {hint}")
        check_update(D, D_ref, D_before, i, f"Step {i}", "D",
                     "Backpropagate the loss of D on the real batch (label 1) and on fake = G(z).detach() "
                     "(label 0), then call opt_D.step() once.")
    return passed("Exercise 3.2 (d_step)", "loss matches, only D changed, G has no gradient")


def _check_G_untouched(G, G_before, seen_G):
    if any(p.grad is not None for p in G.parameters()):
        raise ExerciseError("G's parameters received gradients during the discriminator step. Did you detach "
                            "the fake batch? Use fake = G(z).detach() so D's loss does not flow back into G.")
    changed_G = changed_params(G, G_before)
    if changed_G:
        raise ExerciseError(f"G's weights changed during the discriminator step ({', '.join(changed_G)}). "
                            "Only opt_D.step() should be called: the discriminator step trains D alone.")
    if seen_G["grad_computed"]:
        raise ExerciseError("The backward pass went on into G: gradients for G's weights were computed (and "
                            "then cleared, since G's .grad is empty now). That is the work .detach() saves: "
                            "use fake = G(z).detach() so that backward stops at the fake images.")

"""Checks for lesson 02's exercises: binary cross-entropy from probabilities and from logits."""
import math

import torch
import torch.nn.functional as F

from .. import losses
from ._common import ExerciseError, as_float, passed, run_exercise

__all__ = ["check_bce", "check_bce_with_logits"]


def _rounded(t):
    """The first 4 values of a tensor, rounded for a message."""
    return [round(v, 3) for v in t[:4].tolist()]


def _near(a, b):
    return abs(a - b) <= 1e-4 * max(1.0, abs(b))


def _bce_hint(got, want, per_term, m):
    """A likely cause for a wrong BCE value, from comparing it with common slips."""
    if not math.isfinite(got):
        return ("You got inf or NaN: log(0) = -inf. That can only happen with h exactly 0 or 1, which this check "
                "does not use for exercise 2.1, so look for a log of a negative number or 0 * inf.")
    if _near(-got, want):
        return ("Wrong sign: J has a minus in front, so that confident right answers cost about 0 "
                "(not a large negative number).")
    if _near(got, want * m):
        return "You summed over the batch: divide by m (use .mean()) to get the average cost."
    if _near(got, per_term["swapped"]):
        return "The labels are swapped: y = 1 goes with log h, and y = 0 with log(1 - h)."
    if _near(got, per_term["first_only"]):
        return "You only have the y log h term: add (1 - y) log(1 - h) for the examples labelled 0."
    if _near(got, per_term["by_label"]):
        return ("With soft labels (y = 0.9) both terms count, weighted by y and 1 - y: picking one term by the label "
                "(torch.where(y == 1, ...)) only works for labels of exactly 0 or 1. "
                "Write y log h + (1 - y) log(1 - h).")
    return "J = -(1/m) sum_i [y_i log h_i + (1 - y_i) log(1 - h_i)]."


def _as_written_hint(at_right, at_wrong):
    """Why fn is right inside (0, 1) but not J as written at h = 1.0, told apart by what it gives there."""
    start = ("Your values are right for h strictly between 0 and 1, but this exercise asks for J exactly as written, "
             "both terms for every example, because section 4 uses your my_bce to show what that formula does at "
             "h = 1.0 exactly (float32's sigmoid of any logit above about 17). There J as written gives NaN for "
             f"y = 1 (0 * log 0) and inf for y = 0 (-log 0); yours gives {at_right + 0.0:g} and {at_wrong:g}. ")
    if at_right == 0 and at_wrong == 100:
        why = ("F.binary_cross_entropy (and gl.losses.bce) clamp each log at -100 to hide that: section 4 shows what "
               "the clamp costs. ")
    elif at_right == 0 and at_wrong == math.inf:
        why = ("You wrote the cost so that a label of 1 switches the other term off exactly (torch.xlogy, or "
               "log(h^y (1 - h)^(1 - y)) with 0^0 = 1), which avoids the 0 * log 0. ")
    elif math.isfinite(at_right) and math.isfinite(at_wrong):
        why = "You kept log away from 0 (a clamp, or an epsilon added to h). "
    else:
        why = ""
    return start + why + ("Sensible in real code, and section 4 ends with the proper cure (logits); here write the "
                          "formula plainly: -(y * torch.log(h) + (1 - y) * torch.log(1 - h)).mean().")


def check_bce(fn):
    """Exercise 2.1: fn(h, y) = binary cross-entropy of probabilities h [m] and labels y [m] (lesson 02).

    Compared with torch.nn.functional.binary_cross_entropy and gan_lessons.losses.bce (which agree) for h
    strictly between 0 and 1. Then fn must be J as written, both terms for every example: at h = 1.0
    it gives NaN for y = 1 (0 * log 0) and inf for y = 0, which lesson 02's section 4 demonstrates
    with the learner's own function. So F.binary_cross_entropy (clamped), torch.where and clamps fail.
    """
    g = torch.Generator().manual_seed(21)
    cases = [
        ("random predictions", torch.rand(16, generator=g) * 0.98 + 0.01, (torch.rand(16, generator=g) > 0.5).float()),
        ("one example, y = 1", torch.tensor([0.8]), torch.tensor([1.0])),
        ("one example, y = 0", torch.tensor([0.8]), torch.tensor([0.0])),
        ("unsure (h = 0.5 everywhere)", torch.full((4,), 0.5), torch.tensor([1.0, 0.0, 1.0, 0.0])),
        ("confident and wrong", torch.tensor([0.001, 0.999]), torch.tensor([1.0, 0.0])),
        ("soft labels (y = 0.9)", torch.tensor([0.3, 0.7, 0.95]), torch.full((3,), 0.9)),
    ]
    for name, h, y in cases:
        want = float(F.binary_cross_entropy(h, y))
        pkg = float(losses.bce(h, y))
        assert abs(want - pkg) < 1e-5, "gan_lessons.losses.bce disagrees with PyTorch; please report this"
        got = as_float(run_exercise(fn, h.clone(), y.clone(), exercise="Exercise 2.1"), "bce")
        if got == got and _near(got, want):
            continue
        per_term = {
            "swapped": float(-(y * torch.log(1 - h) + (1 - y) * torch.log(h)).mean()),
            "first_only": float(-(y * torch.log(h)).mean()),
            "by_label": float(-torch.where(y == 1, torch.log(h), torch.log(1 - h)).mean()),
        }
        raise ExerciseError(f"On {name} (h = {_rounded(h)}, y = {_rounded(y)}): expected {want:.6f}, "
                            f"got {got:.6f}. "
                            + _bce_hint(got, want, per_term, h.numel()))
    one = torch.tensor([1.0])
    at_right = as_float(run_exercise(fn, one.clone(), torch.tensor([1.0]), exercise="Exercise 2.1"), "bce")
    at_wrong = as_float(run_exercise(fn, one.clone(), torch.tensor([0.0]), exercise="Exercise 2.1"), "bce")
    if not (math.isnan(at_right) and at_wrong == math.inf):
        raise ExerciseError(_as_written_hint(at_right, at_wrong))
    return passed("Exercise 2.1 (BCE)", f"{len(cases)} cases match F.binary_cross_entropy and gl.losses.bce; "
                  "written as J is, term by term")


_STABLE = ("Never form h, and never let exp see a large positive number: log h = -softplus(-l) and "
           "log(1 - h) = -softplus(l) (F.softplus is computed stably), "
           "or softplus(u) = max(u, 0) + log(1 + exp(-|u|)).")


def _logits_nan_hint(name, got):
    """Why a BCE from logits came out inf or NaN, told apart by the case it failed on."""
    what = "NaN" if math.isnan(got) else "inf"
    if "huge" in name:  # the +-40 cases passed, so sigmoid was not formed: an exp overflowed
        return (f"You got {what} at logits of +-500, though +-40 worked: exp(500) overflows to inf in float32 (exp of "
                "anything above about 88.7 does), so log(1 + exp(500)) = inf, and sigmoid(-500) = 1 / (1 + exp(500)) "
                "= 0 with log 0 = -inf. Where the label switches that term off, 0 * inf = NaN. " + _STABLE)
    if "right" in name:
        return (f"You got {what} for CONFIDENT RIGHT answers: sigmoid(40) is exactly 1.0 in float32 (from a logit "
                "of about 17 on; in float64 from about 37), so for a real example (y = 1) the term that should be "
                "switched off is (1 - y) * log(1 - h) = 0 * log(0) = 0 * -inf = NaN. " + _STABLE)
    if "wrong" in name:
        return (f"You got {what} for confident wrong answers: sigmoid(40) is exactly 1.0 in float32, so for a fake "
                "(y = 0) the cost -log(1 - h) = -log(0) = inf, though the true cost is about 40. " + _STABLE)
    return f"You got {what}: a log of 0 (-inf), or 0 * inf. " + _STABLE


def _check_gradient(name, leaf, out, logits, y):
    """Backpropagate the learner's cost and compare d cost / d logits with (sigmoid(l) - y) / m."""
    if not out.requires_grad:
        raise ExerciseError(f"On {name}: your cost has the right value but carries no gradient (requires_grad is "
                            "False), so loss.backward() fails and D could not learn from it. Did you call .detach() "
                            "or .item(), build a new tensor with torch.tensor(...), or compute under torch.no_grad()? "
                            "Compute the cost from `logits` with torch operations only.")
    out.backward()
    if leaf.grad is None:
        raise ExerciseError(f"On {name}: your cost has the right value but does not depend on `logits` through "
                            "autograd (backward leaves their gradient empty): did you compute it from a detached "
                            "copy? Use the `logits` argument itself.")
    got, want = leaf.grad.double(), (torch.sigmoid(logits.double()) - y.double()) / logits.numel()
    # At l = 0 exactly, max(l, 0) and |l| have kinks where autograd takes a one-sided derivative (-y for
    # the max form written with clamp): right in value, not in gradient, so l = 0 is left out here.
    keep = logits != 0
    if torch.allclose(got[keep], want[keep], rtol=1e-3, atol=1e-7):
        return
    shown = f"got {_rounded(got)}, expected (sigmoid(l) - y) / m = {_rounded(want)}"
    if not torch.isfinite(got).all():
        if "huge" in name:
            where, example = "logits of +-500", (
                "For example torch.where(u > 20, u, torch.log1p(torch.exp(u))) still computes exp(500) = inf in the "
                "branch it drops, and the derivative there is 0 * inf = NaN. ")
        else:
            where, example = f"logits {_rounded(logits)}", (
                "Here sigmoid(40) is exactly 1.0 in float32, so a dropped log(1 - sigmoid(40)) = log 0 has derivative "
                "-inf, and 0 * inf = NaN: never form h = sigmoid(l). ")
        raise ExerciseError(
            f"On {name}: your cost is right, but its gradient d cost / d logits is NaN or inf at {where} ({shown}), "
            "and one optimizer step would copy the NaN into the weights. A term that torch.where (or a mask, or a "
            "label of 0) switches off still takes part in backward, with its own derivative. " + example +
            "Make every term finite for every input: F.softplus(u), or max(u, 0) + log(1 + exp(-|u|)), where exp "
            "never sees a positive number.")
    raise ExerciseError(f"On {name}: your cost is right, but its gradient with respect to the logits is wrong: "
                        f"{shown}. Compute every part of the cost from `logits` (nothing detached, clamped or "
                        "rounded), so that backward sees the whole formula.")


def check_bce_with_logits(fn):
    """Exercise 2.2: fn(logits, y) = BCE of sigmoid(logits) and y, stable for any logit (lesson 02).

    Compared with torch.nn.functional.binary_cross_entropy_with_logits, including logits of
    +-40 and +-500 where sigmoid rounds to exactly 0 or 1 and a naive log gives inf or NaN. The
    section is about the gradient, so each case also calls .backward() on the learner's cost and
    compares d cost / d logits with (sigmoid(l) - y) / m: a NaN gradient (torch.where over a
    branch that overflows) or none at all (a detached result) fails.
    """
    g = torch.Generator().manual_seed(22)
    cases = [
        ("random logits", torch.randn(16, generator=g) * 3, (torch.rand(16, generator=g) > 0.5).float()),
        ("logit 0 (D unsure)", torch.zeros(2), torch.tensor([1.0, 0.0])),
        ("large logits, right (+40 real, -40 fake)", torch.tensor([40.0, -40.0]), torch.tensor([1.0, 0.0])),
        ("large logits, wrong (-40 real, +40 fake)", torch.tensor([-40.0, 40.0]), torch.tensor([1.0, 0.0])),
        ("huge logits (+-500)", torch.tensor([500.0, -500.0, 500.0, -500.0]), torch.tensor([1.0, 1.0, 0.0, 0.0])),
        ("soft labels", torch.tensor([-3.0, 0.5, 30.0]), torch.tensor([0.9, 0.9, 0.1])),
    ]
    for name, logits, y in cases:
        want = float(F.binary_cross_entropy_with_logits(logits, y))
        leaf = logits.clone().requires_grad_(True)  # the gradient lands here; fn gets a copy it may change in place
        out = run_exercise(fn, leaf.clone(), y.clone(), exercise="Exercise 2.2")
        got = as_float(out, "bce_with_logits")
        if got == got and _near(got, want):
            _check_gradient(name, leaf, out, logits, y)
            continue
        extreme = "large" in name or "huge" in name
        if not math.isfinite(got):
            hint = _logits_nan_hint(name, got)
        elif extreme:
            hint = ("Your value is finite but wrong for large logits; did you compute sigmoid first and clamp the log "
                    "(as F.binary_cross_entropy does at -100)? "
                    "The true cost of a logit l on the wrong side is about |l|. "
                    "Use log h = -softplus(-l) and log(1 - h) = -softplus(l), which need no clamp.")
        else:
            per_term = {
                "swapped": float(F.binary_cross_entropy_with_logits(logits, 1 - y)),
                "first_only": float(F.softplus(-logits).mul(y).mean()),
                "by_label": float(torch.where(y == 1, F.softplus(-logits), F.softplus(logits)).mean()),
            }
            hint = _bce_hint(got, want, per_term, logits.numel())
        raise ExerciseError(f"On {name} (logits = {_rounded(logits)}, y = {_rounded(y)}): "
                            f"expected {want:.6f}, got {got:.6f}. {hint}")
    return passed("Exercise 2.2 (BCE from logits)", f"{len(cases)} cases, logits up to +-500: values and "
                  "gradients match F.binary_cross_entropy_with_logits")

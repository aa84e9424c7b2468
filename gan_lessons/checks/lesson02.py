"""Checks for lesson 02's exercises: binary cross-entropy from probabilities and from logits."""
import math

import torch
import torch.nn.functional as F

from .. import losses
from ._common import ExerciseError, as_float, passed, run_exercise

__all__ = ["check_bce", "check_bce_with_logits"]


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
    return "J = -(1/m) sum_i [y_i log h_i + (1 - y_i) log(1 - h_i)]."


def check_bce(fn):
    """Exercise 2.1: fn(h, y) = binary cross-entropy of probabilities h [m] and labels y [m] (lesson 02).

    Compared with torch.nn.functional.binary_cross_entropy and gan_lessons.losses.bce (which agree).
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
        }
        raise ExerciseError(f"On {name} (h = {[round(v, 3) for v in h[:4].tolist()]}, "
                            f"y = {y[:4].tolist()}): expected {want:.6f}, got {got:.6f}. "
                            + _bce_hint(got, want, per_term, h.numel()))
    return passed("Exercise 2.1 (BCE)", f"{len(cases)} cases match F.binary_cross_entropy and gl.losses.bce")


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


def check_bce_with_logits(fn):
    """Exercise 2.2: fn(logits, y) = BCE of sigmoid(logits) and y, stable for any logit (lesson 02).

    Compared with torch.nn.functional.binary_cross_entropy_with_logits, including logits of
    +-40 and +-500 where sigmoid rounds to exactly 0 or 1 and a naive log gives inf or NaN.
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
        out = run_exercise(fn, logits.clone(), y.clone(), exercise="Exercise 2.2")
        got = as_float(out, "bce_with_logits")
        if got == got and _near(got, want):
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
            }
            hint = _bce_hint(got, want, per_term, logits.numel())
        raise ExerciseError(f"On {name} (logits = {logits[:4].tolist()}, y = {y[:4].tolist()}): "
                            f"expected {want:.6f}, got {got:.6f}. {hint}")
    return passed("Exercise 2.2 (BCE from logits)", f"{len(cases)} cases, logits up to +-500, match "
                  "F.binary_cross_entropy_with_logits")

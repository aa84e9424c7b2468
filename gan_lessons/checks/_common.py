"""What every exercise check shares."""


class ExerciseError(AssertionError):
    """The learner's answer ran but gave a wrong result; the message says what differs."""


class _Passed:
    """What a passing check returns: true in an `assert`, and silent as a notebook cell's last value
    (so the cell shows only the printed line, not a stray `True`)."""

    def __bool__(self):
        return True

    def _ipython_display_(self):
        pass

    def __repr__(self):
        return "passed"


PASSED = _Passed()


def passed(name, detail=""):
    """Print the one line a solved exercise shows (stable text: nbval compares it)."""
    print(f"✔ {name}: passed" + (f" ({detail})" if detail else ""))
    return PASSED


def as_float(value, what):
    """The learner's loss as a Python float, or an ExerciseError saying why it is not one number."""
    import torch

    if not torch.is_tensor(value):
        raise ExerciseError(f"{what} should return a tensor (so .backward() works), got {type(value).__name__}.")
    if value.numel() != 1:
        raise ExerciseError(f"{what} should return one number, the average over the batch, but returned shape "
                            f"{list(value.shape)}. Did you forget the mean over the batch (1/m sum_i, .mean())?")
    return float(value.detach())


def run_exercise(fn, *args, exercise="this exercise", **kwargs):
    """Call the learner's function; an unsolved exercise raises NotImplementedError naming it."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        raise NotImplementedError(
            f"{exercise} is not solved yet: replace the `raise NotImplementedError` in "
            f"`{getattr(fn, '__name__', fn)}` with your code, run that cell, then run this check again."
        ) from e


def check_update(model, ref, before, step, where, who, first_hint):
    """After the learner's training step number `step` (1 or 2): `model` must have moved, and exactly
    as its copy `ref` moved under the package's step. `before` holds its parameters before the step;
    `where` starts each message (e.g. "Step 2 (saturating)"); `who` is "D" or "G"."""
    import torch

    if all(torch.equal(p.detach(), p0) for p, p0 in zip(model.parameters(), before)):
        raise ExerciseError(f"{where}: {who}'s weights did not change at all. After loss.backward(), "
                            f"call opt_{who}.step() to update {who}.")
    for (name, p), p_ref in zip(model.named_parameters(), ref.parameters()):
        if not torch.allclose(p, p_ref, atol=1e-6):
            hint = (f"Step 1 was right but step 2 is not: gradients add up across steps unless you clear them. "
                    f"Call opt_{who}.zero_grad() before loss.backward()." if step == 2 else first_hint)
            raise ExerciseError(f"{where}: {who}'s parameter {name} differs from the reference update. {hint}")


def returned_loss(out, who, tuple_hint, not_tensor_hint):
    """The loss a learner's training step `who` returned, as a float: it must be one number in a tensor.
    A tuple, None or a plain number raises an ExerciseError; the hints end its message (lessons' steps)."""
    import torch

    if isinstance(out, tuple):
        raise ExerciseError(f"Your {who} returns a tuple of {len(out)} values{tuple_hint}")
    if out is None:
        raise ExerciseError(f"Your {who} returns None: end it with `return loss`.")
    if not torch.is_tensor(out):
        raise ExerciseError(f"Your {who} returns a {type(out).__name__}, not the loss tensor. {not_tensor_hint}")
    return as_float(out, who)

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


def run_exercise(fn, *args, exercise="this exercise", **kwargs):
    """Call the learner's function; an unsolved exercise raises NotImplementedError naming it."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        raise NotImplementedError(
            f"{exercise} is not solved yet: replace the `raise NotImplementedError` in "
            f"`{getattr(fn, '__name__', fn)}` with your code, run that cell, then run this check again."
        ) from e

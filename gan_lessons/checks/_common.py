"""What every exercise check shares."""


class ExerciseError(AssertionError):
    """The learner's answer ran but gave a wrong result; the message says what differs."""


def passed(name, detail=""):
    """Print the one line a solved exercise shows (stable text: nbval compares it)."""
    print(f"✔ {name}: passed" + (f" ({detail})" if detail else ""))
    return True


def run_exercise(fn, *args, exercise="this exercise", **kwargs):
    """Call the learner's function; an unsolved exercise raises NotImplementedError naming it."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        raise NotImplementedError(
            f"{exercise} is not solved yet: replace the `raise NotImplementedError` in "
            f"`{getattr(fn, '__name__', fn)}` with your code, run that cell, then run this check again."
        ) from e

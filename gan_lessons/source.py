"""Showing the package's own code inside a lesson (lessons 03-06 show the steps that `train` runs)."""
import inspect


def show_source(obj):
    """Display the source code of a function or class of the package, highlighted (lessons 01, 03-06).

    A lesson calls it right after an exercise, so the learner sees that the function the training
    loop runs is the one they just wrote. Outside a notebook it prints the code.
    """
    try:
        code = inspect.getsource(obj)
    except (TypeError, OSError) as e:
        raise TypeError(f"show_source needs a function or class defined in a file, got {obj!r}") from e
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:  # plain Python: print it
        print(code)
        return
    display(Markdown(f"```python\n{code}```"))

"""gan_lessons: the helper package of the gan-lessons notebook course.

Modules, in the order the course meets them: device (where to train, seeds), data (MNIST,
Fashion-MNIST), toy (1-D and 2-D distributions), models, losses, train, history, checkpoints,
plots and widgets (seeing training move), metrics and pretrained (lesson 07), checks (exercises).
"""
__version__ = "0.1.0"

from .device import get_device, seed_everything, describe_device  # noqa: F401
from .errors import GanLessonsError, DataMissingError, DataCorruptedError, CheckpointError, TrainingDiverged  # noqa: F401

# `import gan_lessons as gl` then `gl.models`, `gl.train`, ...: submodules load on first use
# (PEP 562), so importing the package stays quick and a notebook needs one import line.
_SUBMODULES = {"checkpoints", "checks", "classifiers", "cli", "data", "device", "errors", "experiments", "fast",
               "history", "losses", "metrics", "models", "notebooks", "plots", "pretrained", "probes", "toy",
               "train", "widgets"}


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'gan_lessons' has no attribute {name!r}")

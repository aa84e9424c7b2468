"""gan_lessons: the helper package of the gan-lessons notebook course.

Modules, in the order the course meets them:

- device (where to train, seeds), data (MNIST, Fashion-MNIST), toy (1-D and 2-D distributions)
- classifiers (lesson 01's two classifiers), models (generators, discriminators, critics), losses
- train (the D, G and critic steps, Algorithm 1, the loop), history (what a run records)
- probes (looking inside the networks), plots (every figure), widgets (the scrubber)
- experiments (the small studies of lessons 05-06), checkpoints, io (atomic save, safe load)
- speed (a faster drop-in step), metrics and featurenet (scoring generators), pretrained (saved
  models), latent (walks in the noise space), source (showing the package's code in a lesson)
- checks (the exercises' automatic checks)

The course tooling (executing lessons, student copies, the site, the `gan-lessons` command) lives
in `gan_lessons.course` and needs the `course` extra; `import gan_lessons` never loads it.
"""
__version__ = "0.1.0"

from .device import describe_device, get_device, seed_everything  # noqa: F401
from .errors import (  # noqa: F401
    CheckpointError,
    DataCorruptedError,
    DataMissingError,
    GanLessonsError,
    TrainingDiverged,
)

# `import gan_lessons as gl` then `gl.models`, `gl.train`, ...: submodules load on first use
# (PEP 562), so importing the package stays quick and a notebook needs one import line.
_SUBMODULES = {"checkpoints", "checks", "classifiers", "data", "device", "errors", "experiments", "featurenet",
               "history", "io", "latent", "losses", "metrics", "models", "plots", "pretrained", "probes",
               "source", "speed", "toy", "train", "widgets"}


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'gan_lessons' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)

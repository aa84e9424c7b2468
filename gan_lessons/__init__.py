"""gan_lessons: the helper package of the gan-lessons notebook course.

Modules, in the order the course meets them: device (where to train, seeds), data (MNIST,
Fashion-MNIST), toy (1-D and 2-D distributions), models, losses, train, history, checkpoints,
plots and widgets (seeing training move), metrics and pretrained (lesson 07), checks (exercises).
"""
__version__ = "0.1.0"

from .device import get_device, seed_everything, describe_device  # noqa: F401
from .errors import GanLessonsError, DataMissingError, DataCorruptedError, CheckpointError, TrainingDiverged  # noqa: F401

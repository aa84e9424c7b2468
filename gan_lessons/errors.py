"""Errors the course raises on purpose. Each message says what was wrong and what to do."""


class GanLessonsError(Exception):
    """Base class for every error this package raises deliberately."""


class DataMissingError(GanLessonsError, FileNotFoundError):
    """The dataset files are not on disk and could not be downloaded (foundation, lesson 00)."""


class DataCorruptedError(GanLessonsError, ValueError):
    """A dataset file is on disk but its md5 does not match the official release."""


class CheckpointError(GanLessonsError, ValueError):
    """A checkpoint is missing, truncated, corrupted, or belongs to another model."""


class TrainingDiverged(GanLessonsError, FloatingPointError):
    """A loss became NaN or infinite; the history recorded up to then is kept on `.history`."""

    def __init__(self, message, history=None, step=None):
        super().__init__(message)
        self.history = history
        self.step = step


class CallbackError(GanLessonsError, RuntimeError):
    """The `callback` given to `train` raised; the history recorded up to then is kept on `.history`."""

    def __init__(self, message, history=None, step=None):
        super().__init__(message)
        self.history = history
        self.step = step

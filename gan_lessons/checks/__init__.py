"""Automatic checks for the lessons' exercises (lessons 01-07).

Each `check_*` function calls the learner's code on test inputs, compares it with a reference,
and either prints a short "passed" line or raises `ExerciseError` saying what differs and how to
fix it. An exercise that is not done yet raises NotImplementedError, which the check lets through
with a pointer to the exercise, so the notebook fails loudly until it is solved.
"""
from ._common import ExerciseError, passed, run_exercise  # noqa: F401
from .lesson01 import *  # noqa: F401,F403
from .lesson02 import *  # noqa: F401,F403
from .lesson03 import *  # noqa: F401,F403
from .lesson04 import *  # noqa: F401,F403
from .lesson05 import *  # noqa: F401,F403
from .lesson06 import *  # noqa: F401,F403
from .lesson07 import *  # noqa: F401,F403

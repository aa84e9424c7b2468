"""Shared test set-up: headless widgets, no network, and notebook helpers.

Kernels started by papermill and nbval inherit this process's environment, so setting the
variables here (at import, before any kernel starts) reaches the notebooks too.
"""
import os
from pathlib import Path

import pytest

os.environ["GAN_LESSONS_HEADLESS"] = "1"   # widgets render a static fallback
os.environ["GAN_LESSONS_OFFLINE"] = "1"    # never download data during tests

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
STUDENT_DIR = ROOT / "student"


def lesson_notebooks():
    """Every committed lesson notebook, collected by glob so a new lesson is tested automatically."""
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture
def tiny_notebooks(tmp_path):
    """A folder with two tiny lessons (one with an exercise/solution pair) and a failing one."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    folder = tmp_path / "nbs"
    folder.mkdir()

    def make(name, cells):
        nb = new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nbformat.write(nb, str(folder / name))

    params = new_code_cell("FAST = False\nSEED = 0\nDEVICE = 'auto'", metadata={"tags": ["parameters"]})
    make("01_alpha.ipynb", [
        new_markdown_cell("# Lesson 01: Alpha\n\nSome $x^2$ maths."),
        params,
        new_code_cell("n = 3 if FAST else 5\nprint('n =', n)"),
        new_markdown_cell("## 1. A section"),
        new_code_cell("def square(x):\n    raise NotImplementedError('Exercise 1.1: square x')",
                      metadata={"tags": ["exercise"]}),
        new_code_cell("def square(x):\n    return x * x  # SECRET-ANSWER", metadata={"tags": ["solution"]}),
        new_code_cell("print(square(n))"),
    ])
    make("02_beta.ipynb", [
        new_markdown_cell("# Lesson 02: Beta"),
        new_code_cell("FAST = False", metadata={"tags": ["parameters"]}),
        new_code_cell("import os\nprint(os.environ.get('GAN_LESSONS_HEADLESS'), os.environ.get('GAN_LESSONS_DEVICE'))"),
    ])
    make("03_broken.ipynb", [
        new_markdown_cell("# Lesson 03: Broken"),
        new_code_cell("FAST = False", metadata={"tags": ["parameters"]}),
        new_code_cell("x = 1"),
        new_code_cell("raise ValueError('boom')"),
    ])
    return folder


def pytest_ignore_collect(collection_path, config):
    """nbval runs on the lessons in notebooks/ only; notebooks under tests/ are fixtures for tests."""
    if collection_path.suffix == ".ipynb":
        return True
    return None


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models train faster on one thread than on several fighting over a shared CPU."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

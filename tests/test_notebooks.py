"""The committed lessons: each runs with fast parameters, was committed from a clean run, and
student/ matches what the generator produces. (nbval also re-runs each lesson with its default
parameters and compares the cells tagged nbval-check-output; see pyproject.toml.)"""
import pytest
from conftest import NOTEBOOK_DIR, STUDENT_DIR, lesson_notebooks

from gan_lessons.course import notebooks as nbs

LESSONS = lesson_notebooks()
IDS = [p.stem for p in LESSONS]


def test_there_are_lessons():
    assert LESSONS, f"no lesson notebooks found in {NOTEBOOK_DIR}"
    assert LESSONS[0].name.startswith("00_setup"), "lesson 00 (setup) should come first"


@pytest.mark.notebook
@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_lesson_runs_fast(path, tmp_path):
    result = nbs.execute(path, tmp_path / path.name, parameters={"FAST": True}, timeout=600)
    assert result["status"] == "ok", (
        f"{path.name} failed in cell {result['cell']}: {result['error']}\n{result['traceback'] or ''}")


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_committed_from_a_clean_run(path):
    assert nbs.problems(path) == []


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_committed_notebook_has_no_run_noise(path):
    """No papermill timings or saved widget state: they change on every run and bloat diffs."""
    nb = nbs.read(path)
    noise = [k for k in ("papermill", "widgets") if k in nb.metadata]
    noise += [f"cell {i}: {k}" for i, c in enumerate(nb.cells) for k in ("papermill", "execution")
              if k in c.metadata]
    assert noise == [], (f"{path.name} carries run-specific metadata {noise[:5]}; refresh it with "
                         f"`gan-lessons run --in-place --only {nbs.lesson_number(path)}`")


def test_student_copies_are_up_to_date():
    expected = nbs.student_files(NOTEBOOK_DIR)
    found = {p.name: p.read_text(encoding="utf-8") for p in STUDENT_DIR.glob("*.ipynb")}
    assert sorted(found) == sorted(expected), "student/ is stale: run `gan-lessons student`"
    for name, text in expected.items():
        assert found[name] == text, f"student/{name} is stale: run `gan-lessons student`"


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_student_copy_has_no_solutions(path):
    student = STUDENT_DIR / path.name
    assert student.exists(), "run `gan-lessons student`"
    nb = nbs.read(student)
    assert not [c for c in nb.cells if "solution" in nbs.tags(c)]
    student_lines = {line.strip() for c in nb.cells for line in c.source.splitlines()}
    source = nbs.read(path)
    other_lines = {line.strip() for c in source.cells if "solution" not in nbs.tags(c)
                   for line in c.source.splitlines()}
    for cell in source.cells:
        if "solution" in nbs.tags(cell):
            # every line of a solution must be gone (lines shared with other cells, like the def, may stay)
            for line in cell.source.splitlines():
                line = line.strip()
                if line and line not in other_lines:
                    assert line not in student_lines, f"solution text {line!r} leaked into student/{path.name}"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None

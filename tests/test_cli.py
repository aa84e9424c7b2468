"""The `gan-lessons` command, on tiny temporary notebooks so it stays quick."""
import json
import subprocess
import sys

import nbformat
import pytest

from gan_lessons.course import cli
from gan_lessons.course import notebooks as nbs


def run_cli(*args):
    return cli.main([str(a) for a in args])


def test_every_command_has_help(capsys):
    for command in ["run", "student", "site", "slides", "data"]:
        with pytest.raises(SystemExit) as e:
            run_cli(command, "--help")
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert f"gan-lessons {command}" in out and len(out) > 200


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "gan_lessons.course.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "run" in out.stdout and "student" in out.stdout


def test_tooling_is_not_in_the_learners_namespace():
    """`import gan_lessons as gl` surfaces neither the course tooling nor its dependencies."""
    code = ("import sys, gan_lessons as gl\n"
            "for name in ('notebooks', 'cli', 'course'):\n"
            "    assert not hasattr(gl, name), name\n"
            "import gan_lessons.course.cli\n"
            "heavy = [m for m in ('nbformat', 'papermill', 'nbconvert', 'nbval') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("command, missing", [
    (["run", "--fast"], "papermill"), (["student"], "nbformat"),
    (["site"], "nbconvert"), (["slides", "1"], "nbconvert"),
])
def test_missing_extra_names_the_extra(command, missing, tiny_notebooks, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, missing, None)  # `import <missing>` now raises ImportError
    with pytest.raises(SystemExit) as e:
        run_cli("--notebooks", tiny_notebooks, *command)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == (f'gan-lessons {command[0]} needs the course tools: '
                           f'pip install "gan-lessons[course]" (missing: {missing})')


def test_data_and_help_need_only_the_core(monkeypatch, tmp_path, capsys):
    """Without the course extra, `--help` and `data` still work."""
    for name in ("nbformat", "papermill", "nbconvert", "nbval", "latex2mathml"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setenv("GAN_LESSONS_DATA", str(tmp_path))
    monkeypatch.setenv("GAN_LESSONS_OFFLINE", "1")
    with pytest.raises(SystemExit) as e:
        run_cli("--help")
    assert e.value.code == 0 and "data" in capsys.readouterr().out
    assert run_cli("data") == 0 and "MISSING" in capsys.readouterr().out


def test_list_lessons_order_and_only(tiny_notebooks):
    names = [p.name for p in nbs.list_lessons(tiny_notebooks)]
    assert names == ["01_alpha.ipynb", "02_beta.ipynb", "03_broken.ipynb"]
    assert [p.name for p in nbs.list_lessons(tiny_notebooks, ["2", "01"])] == ["01_alpha.ipynb", "02_beta.ipynb"]
    with pytest.raises(ValueError, match="Unknown lesson '09'.*01, 02, 03"):
        nbs.list_lessons(tiny_notebooks, ["09"])


def test_unknown_lesson_is_a_clear_error(tiny_notebooks, capsys):
    with pytest.raises(SystemExit) as e:
        run_cli("--notebooks", tiny_notebooks, "run", "--only", "42")
    assert e.value.code == 2
    assert "Unknown lesson '42'" in capsys.readouterr().err


def test_bad_device_is_a_clear_error(tiny_notebooks, capsys):
    with pytest.raises(SystemExit) as e:
        run_cli("--notebooks", tiny_notebooks, "run", "--device", "tpu9")
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "tpu9" in err and "cpu" in err


def test_in_place_refuses_fast(tiny_notebooks, capsys):
    with pytest.raises(SystemExit) as e:
        run_cli("--notebooks", tiny_notebooks, "run", "--in-place", "--fast")
    assert e.value.code == 2 and "--in-place" in capsys.readouterr().err


@pytest.mark.notebook
def test_run_reports_status_and_keeps_going(tiny_notebooks, tmp_path, capsys):
    out = tmp_path / "out"
    code = run_cli("--notebooks", tiny_notebooks, "run", "--fast", "--device", "cpu", "--out", out)
    text = capsys.readouterr().out
    assert code == 1  # 03_broken failed
    rows = {line.split()[0]: line.split()[1] for line in text.splitlines()
            if line.startswith("0") and line.split()[1] in ("ok", "failed")}
    assert rows == {"01_alpha.ipynb": "ok", "02_beta.ipynb": "ok", "03_broken.ipynb": "failed"}
    assert "03_broken.ipynb cell 3: ValueError: boom" in text
    # FAST was injected, and the kernel saw headless mode and the device
    alpha = nbformat.read(str(out / "01_alpha.ipynb"), 4)
    assert "n = 3" in "".join(o.get("text", "") for c in alpha.cells if c.cell_type == "code" for o in c.outputs)
    beta = nbformat.read(str(out / "02_beta.ipynb"), 4)
    assert "1 cpu" in beta.cells[-1].outputs[0]["text"]


@pytest.mark.notebook
def test_run_in_place_writes_a_clean_normalized_run(tiny_notebooks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before_broken = (tiny_notebooks / "03_broken.ipynb").read_text()
    assert run_cli("--notebooks", tiny_notebooks, "run", "--in-place", "--only", "01,03") == 1
    alpha_path = tiny_notebooks / "01_alpha.ipynb"
    assert nbs.problems(alpha_path) == []
    alpha = nbs.read(alpha_path)
    assert alpha == nbs.normalize(alpha)
    assert "papermill" not in json.dumps(alpha.metadata)
    assert "n = 5" in alpha.cells[2].outputs[0]["text"]  # default parameters, nothing injected
    assert not any("injected-parameters" in nbs.tags(c) for c in alpha.cells)
    # a failing notebook is left as it was; its executed copy is kept for the traceback
    assert (tiny_notebooks / "03_broken.ipynb").read_text() == before_broken
    assert (tmp_path / "_run" / "03_broken.ipynb").exists()


def test_problems_finds_unrun_and_unparameterized(tiny_notebooks):
    found = nbs.problems(tiny_notebooks / "01_alpha.ipynb")  # never executed
    assert any("top to bottom" in f for f in found)
    nb = nbs.read(tiny_notebooks / "02_beta.ipynb")
    nb.cells[1].metadata["tags"] = []
    for i, c in enumerate(c for c in nb.cells if c.cell_type == "code"):
        c.execution_count = i + 1
    nbs.write(nb, tiny_notebooks / "02_beta.ipynb")
    assert nbs.problems(tiny_notebooks / "02_beta.ipynb") == ["02_beta.ipynb has no code cell tagged 'parameters'."]


def test_student_command(tiny_notebooks, tmp_path, capsys):
    out = tmp_path / "student"
    (out).mkdir()
    (out / "99_stale.ipynb").write_text("{}")
    assert run_cli("--notebooks", tiny_notebooks, "student", "--out", out) == 0
    # a file it did not make is left alone (never deleted), and named so it can be removed by hand
    assert sorted(p.name for p in out.iterdir()) == ["01_alpha.ipynb", "02_beta.ipynb", "03_broken.ipynb",
                                                     "99_stale.ipynb"]
    assert "Left as they were: 99_stale.ipynb" in capsys.readouterr().out
    alpha = nbs.read(out / "01_alpha.ipynb")
    text = (out / "01_alpha.ipynb").read_text()
    assert "SECRET-ANSWER" not in text
    assert any("exercise" in nbs.tags(c) for c in alpha.cells)
    assert all(c.outputs == [] and c.execution_count is None for c in alpha.cells if c.cell_type == "code")
    # deterministic: a second run writes the same bytes
    run_cli("--notebooks", tiny_notebooks, "student", "--out", out)
    assert (out / "01_alpha.ipynb").read_text() == text


def test_normalize_drops_volatile_metadata():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", metadata={
        "papermill": {"duration": 1.2}, "execution": {"iopub.status.busy": "x"}, "tags": ["keep"]})])
    nb.metadata.update(papermill={"duration": 3}, widgets={"state": {}},
                       language_info={"name": "python", "version": "3.11.7"})
    out = nbs.normalize(nb)
    assert "papermill" not in out.metadata and "widgets" not in out.metadata
    assert out.metadata.language_info == {"name": "python"}
    assert out.cells[0].metadata == {"tags": ["keep"]}
    assert nb.metadata.papermill == {"duration": 3}  # the input is not modified


def test_site_and_slides_commands(tiny_notebooks, tmp_path):
    out = tmp_path / "site"
    assert run_cli("--notebooks", tiny_notebooks, "site", "--out", out) == 0
    index = (out / "index.html").read_text()
    for name in ["01_alpha.html", "02_beta.html", "03_broken.html"]:
        assert name in index and (out / name).exists()
    alpha = (out / "01_alpha.html").read_text()
    assert "Lesson 02: Beta" in alpha and 'href="index.html"' in alpha  # navigation
    assert run_cli("--notebooks", tiny_notebooks, "slides", "1", "--out", out) == 0
    slides = (out / "01_alpha.slides.html").read_text()
    assert "reveal" in slides.lower() and "A section" in slides


def test_slides_unknown_lesson(tiny_notebooks, capsys):
    with pytest.raises(SystemExit) as e:
        run_cli("--notebooks", tiny_notebooks, "slides", "7")
    assert e.value.code == 2 and "Unknown lesson '7'" in capsys.readouterr().err


def test_data_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GAN_LESSONS_DATA", str(tmp_path))
    monkeypatch.setenv("GAN_LESSONS_OFFLINE", "1")
    assert run_cli("data", "--check") == 1
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "MISSING" in out and "offline" in out
    assert run_cli("data") == 0  # without --check it only reports
    # one corrupted file is reported as such
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(b"not really gzip")
    run_cli("data")
    assert "CORRUPTED" in capsys.readouterr().out


def test_data_command_with_real_files(capsys):
    from gan_lessons import data

    if any(r["status"] != "ok" for r in data.check_data()):
        pytest.skip(f"datasets not found in {data.data_dir()} (set GAN_LESSONS_DATA)")
    assert run_cli("data", "--check") == 0
    assert "All data files are present and correct." in capsys.readouterr().out

"""pyproject.toml, environment.yml, binder/ and the Makefile must agree on what the course needs.

The rule: the package's dependencies are what the lessons import; its `lab` extra adds JupyterLab.
A learner's environment (environment.yml, binder/requirements.txt) is exactly those two together.
The course tooling (`course`) and the tests (`test`) are extras that only `make test` installs.
"""
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

# conda-forge spells a few packages differently from PyPI
CONDA_TO_PYPI = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}


def norm(name):
    """PEP 503 name normalization: lower case, runs of -_. become one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def req_name(spec):
    return norm(re.split(r"[\s<>=!~;\[]", spec.strip(), maxsplit=1)[0])


def pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    if tomllib is None:
        import pytest
        pytest.skip("tomllib needs Python 3.11+")
    return tomllib.loads(text)


CORE = {"torch", "torchvision", "numpy", "matplotlib", "tqdm", "ipywidgets"}
EXTRAS = {
    "lab": {"jupyterlab"},
    "course": {"papermill", "nbconvert", "nbval", "nbformat"},
    "test": {"pytest", "playwright", "pyyaml", "ruff"},
}


def pyproject_names():
    return {req_name(d) for d in pyproject()["project"]["dependencies"]}


def extra_names(extra):
    return {req_name(d) for d in pyproject()["project"]["optional-dependencies"][extra]}


def learner_names():
    """What a learner needs to open the lessons: the dependencies plus the `lab` extra."""
    return pyproject_names() | extra_names("lab")


def conda_names():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # a `pip:` sub-list
            names |= {req_name(d) for d in dep.get("pip", [])}
        else:
            names.add(req_name(dep))
    names = {CONDA_TO_PYPI.get(n, n) for n in names}
    return names - NOT_PACKAGES


def binder_lines():
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def binder_names():
    return {req_name(line) for line in binder_lines() if not line.startswith("-")}


def test_norm():
    assert norm("PyYAML") == norm("pyyaml") and norm("jupyter_server") == "jupyter-server"
    assert req_name("torch>=2.1") == "torch" and req_name("nbval [x]>=1") == "nbval"


def test_core_dependencies_are_what_the_lessons_import():
    assert pyproject_names() == CORE


def test_extras():
    extras = pyproject()["project"]["optional-dependencies"]
    for extra, needed in EXTRAS.items():
        assert needed <= extra_names(extra), f"the {extra!r} extra lacks {needed - extra_names(extra)}"
    assert not (extra_names("lab") & EXTRAS["course"]), "the course tooling belongs in `course`, not `lab`"
    assert "latex2mathml" in extra_names("course")  # the site's MathML
    # `site` (the old name) is an alias of `course`
    assert extras["site"] == ["gan-lessons[course]"] or extra_names("site") == extra_names("course")


def test_environment_yml_matches_pyproject():
    assert conda_names() == learner_names()


def test_binder_matches_pyproject():
    assert binder_names() == learner_names()


def test_binder_uses_cpu_torch_wheels():
    lines = binder_lines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert any(req_name(line) == "torch" for line in lines)


def test_binder_postbuild_installs_the_package():
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and "-e ." in post


def test_no_exact_pins():
    """Learners get current releases: ranges only, never `==` pins tied to one machine."""
    extras = pyproject()["project"]["optional-dependencies"]
    specs = pyproject()["project"]["dependencies"] + sum(extras.values(), []) + binder_lines()
    assert not [s for s in specs if "==" in s]


def test_console_script_and_package_data():
    proj = pyproject()
    assert proj["project"]["scripts"]["gan-lessons"] == "gan_lessons.course.cli:main"
    assert (ROOT / "gan_lessons" / "assets" / "templates" / "offline" / "index.html.j2").exists()


def test_readme_lists_every_lesson_with_a_colab_link():
    readme = (ROOT / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"](notebooks/{nb.name})" in readme, f"README.md's lessons table does not link {nb.name}"
        assert f"/blob/main/notebooks/{nb.name})" in readme, f"README.md has no Colab link for {nb.name}"
    assert "## Saved models" in readme and "## Speed" in readme


def test_makefile_has_the_two_commands():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nlab:" in makefile and "\ntest:" in makefile
    assert "-m venv" in makefile and "jupyter lab notebooks/" in makefile and "-m pytest" in makefile


def _make_dry_run(target, tmp_path):
    """The commands `make TARGET` would run for a fresh .venv (make -n, nothing is executed)."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        import pytest
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "-B", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_make_lab_installs_the_lab_extra_only(tmp_path):
    installs = [line for line in _make_dry_run("lab", tmp_path).splitlines() if "pip install" in line]
    assert installs and all('pip install -e ".[lab]"' in line for line in installs), installs


def test_make_test_installs_lab_course_and_test(tmp_path):
    installs = [line for line in _make_dry_run("test", tmp_path).splitlines() if "pip install" in line]
    assert len(installs) == 1, installs
    extras = re.search(r'pip install -e "\.\[([^\]]*)\]"', installs[0]).group(1)
    assert set(extras.split(",")) == {"lab", "course", "test"}


def test_ci_script_runs_make_test_offline():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in ci
    assert "apt-get install -y" in ci and "chromium" in ci
    assert "export GAN_LESSONS_DATA=" in ci and "export GAN_LESSONS_OFFLINE=1" in ci
    assert "make test" in ci
    import os
    assert os.access(ROOT / ".ci" / "run", os.X_OK), ".ci/run must be executable (chmod +x)"


def test_make_test_runs_ruff_with_the_projects_settings():
    """`.ci/run` runs `make test`, which lints first: a style slip fails CI, not only a reviewer's eye."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest: setup\n", 1)[1].split("\n\n", 1)[0]
    assert "ruff check ." in recipe and recipe.index("ruff check") < recipe.index("pytest")
    ruff = pyproject()["tool"]["ruff"]
    assert ruff["line-length"] == 120 and set(ruff["lint"]["select"]) >= {"E", "F", "I"}


def test_the_reliability_table_names_a_test_that_exists_for_every_case():
    text = (ROOT / "docs" / "reliability.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "::test_" in line]
    assert len(rows) >= 40 + 8, "the audit table lost its rows"
    for row in rows:
        for path, name in re.findall(r"tests/(test_\w+\.py)::(test_\w+)", row):
            assert f"def {name}(" in (ROOT / "tests" / path).read_text(), f"{path}::{name} (in {row[:60]}...)"

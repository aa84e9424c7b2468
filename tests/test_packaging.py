"""pyproject.toml, environment.yml and binder/ must agree on what the course needs."""
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


def pyproject_names():
    return {req_name(d) for d in pyproject()["project"]["dependencies"]}


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
    return [l.split("#")[0].strip() for l in lines if l.split("#")[0].strip()]


def binder_names():
    return {req_name(l) for l in binder_lines() if not l.startswith("-")}


def test_norm():
    assert norm("PyYAML") == norm("pyyaml") and norm("jupyter_server") == "jupyter-server"
    assert req_name("torch>=2.1") == "torch" and req_name("nbval [x]>=1") == "nbval"


def test_environment_yml_matches_pyproject():
    assert conda_names() == pyproject_names()


def test_binder_matches_pyproject():
    assert binder_names() == pyproject_names()


def test_binder_uses_cpu_torch_wheels():
    lines = binder_lines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert any(req_name(l) == "torch" for l in lines)


def test_binder_postbuild_installs_the_package():
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and "-e ." in post


def test_no_exact_pins():
    """Learners get current releases: ranges only, never `==` pins tied to one machine."""
    specs = pyproject()["project"]["dependencies"] + binder_lines()
    assert not [s for s in specs if "==" in s]


def test_console_script_and_package_data():
    proj = pyproject()
    assert proj["project"]["scripts"]["gan-lessons"] == "gan_lessons.cli:main"
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
    assert "-m venv" in makefile and 'pip install -e ".[test]"' in makefile
    assert "jupyter lab notebooks/" in makefile and "-m pytest" in makefile


def test_ci_script_runs_make_test_offline():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in ci
    assert "apt-get install -y" in ci and "chromium" in ci
    assert "export GAN_LESSONS_DATA=" in ci and "export GAN_LESSONS_OFFLINE=1" in ci
    assert "make test" in ci
    import os
    assert os.access(ROOT / ".ci" / "run", os.X_OK), ".ci/run must be executable (chmod +x)"

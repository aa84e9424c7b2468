# Two commands:  make lab   (set up, then open the lessons in JupyterLab)
#                make test  (set up, then run every test: ruff, unit tests, notebooks, nbval)
# Set-up creates .venv with `python3 -m venv` the first time and installs this package into it:
# `make lab` with the `lab` extra (JupyterLab), `make test` with `lab`, `course` (papermill, nbval,
# nbconvert: the notebook tooling) and `test` (pytest, playwright, ruff). Both share one .venv;
# each has its own stamp file and re-installs when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
LAB_STAMP = $(VENV)/.installed-lab

.PHONY: lab test setup setup-lab student site clean help

help:
	@echo "make lab    - set up .venv (first time only) and open the lessons in JupyterLab"
	@echo "make test   - set up .venv and run all tests (unit tests, every notebook, nbval)"
	@echo "make student / make site - regenerate student/ copies / build the offline HTML site"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install when pyproject.toml changes.
$(LAB_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[lab]"
	@touch $(LAB_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[lab,course,test]"
	@touch $(STAMP)

setup-lab: $(LAB_STAMP)   # what a learner needs: the package and JupyterLab
setup: $(STAMP)           # everything: also the course tooling and the tests

# Jupyter refuses to run as root unless told; containers (Docker, some clouds) often are root.
lab: setup-lab
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# ruff first (seconds): style slips fail fast, before the notebooks run.
test: setup
	$(BIN)/ruff check .
	GAN_LESSONS_HEADLESS=1 $(BIN)/python -m pytest

student: setup
	$(BIN)/gan-lessons student

site: setup
	$(BIN)/gan-lessons site

clean:
	rm -rf _run _site _out .pytest_cache

# Two commands:  make lab   (set up, then open the lessons in JupyterLab)
#                make test  (set up, then run every test: unit tests, notebooks, nbval)
# Set-up creates .venv with `python3 -m venv` the first time and installs this package into it.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: lab test setup student site clean help

help:
	@echo "make lab    - set up .venv (first time only) and open the lessons in JupyterLab"
	@echo "make test   - set up .venv and run all tests (unit tests, every notebook, nbval)"
	@echo "make student / make site - regenerate student/ copies / build the offline HTML site"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install when pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[test]"
	@touch $(STAMP)

setup: $(STAMP)

# Jupyter refuses to run as root unless told; containers (Docker, some clouds) often are root.
lab: setup
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

test: setup
	GAN_LESSONS_HEADLESS=1 $(BIN)/python -m pytest

student: setup
	$(BIN)/gan-lessons student

site: setup
	$(BIN)/gan-lessons site

clean:
	rm -rf _run _site _out .pytest_cache

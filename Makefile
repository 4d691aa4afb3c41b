# One-command set-up: every target creates .venv and installs the project into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test demo lab bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make test: the whole suite, including the notebooks (executed by nbval) — offline.
test: $(STAMP)
	$(BIN)/python -m pytest --nbval

## make demo: run the example notebooks headless (OpenRouter with a key, else a local backend).
demo: $(STAMP)
	$(BIN)/python notebooks/demo.py

## make lab: open the notebooks in JupyterLab (after `make demo`, the executed copies are in demo-output/).
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) demo-output .pytest_cache

# One-command set-up: every target creates .venv and installs the project into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test e2e demo lab bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,local]'
	touch $(STAMP)

install: $(STAMP)

# The browser test drives Debian's Chromium (Playwright cannot download its own browser here).
/usr/bin/chromium:
	@echo "installing Debian's chromium for the browser test (apt-get, once)"
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

## make test: the whole suite, including the notebooks (executed by nbval) — offline.
test: $(STAMP) /usr/bin/chromium
	$(BIN)/python -m pytest --nbval -m "not e2e"

## make e2e: the end-to-end tier against a real local model (llama.cpp's server from the xllamacpp
## wheel + SmolLM2-135M-Instruct; the first run fetches the ~100 MB model into ~/.cache/or_magic).
e2e: $(STAMP)
	$(BIN)/python -m or_magic.localmodel build
	$(BIN)/python -m pytest -m e2e

## make demo: run the example notebooks headless (OpenRouter with a key, else a local backend).
demo: $(STAMP)
	$(BIN)/python notebooks/demo.py

## make lab: open the notebooks in JupyterLab (after `make demo`, the executed copies are in demo-output/).
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

## make bench: or_magic side by side with jupyter-ai's %%ai, the openai SDK and raw httpx on a local
## server (offline; the peers' virtualenv is built from PyPI on the first run). BENCH_ARGS=--quick etc.
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo-output .pytest_cache bench/.venv-peers

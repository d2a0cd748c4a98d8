SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APP_STAMP := $(VENV)/.installed-app
TEST_STAMP := $(VENV)/.installed-test
CHROMIUM := /usr/bin/chromium

export GRADIO_ANALYTICS_ENABLED := False
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1

.PHONY: run test bench clean

run: $(APP_STAMP)
	$(PY) app.py

test: $(TEST_STAMP) $(CHROMIUM)
	$(PY) -m pytest -n auto --dist worksteal

bench: $(TEST_STAMP)
	$(PY) bench/leaderboard.py
	$(PY) bench/explorer.py
	$(PY) bench/evaluator.py

$(PY):
	$(PYTHON) -m venv $(VENV)

$(APP_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(TEST_STAMP): $(APP_STAMP) requirements-test.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

$(CHROMIUM):
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
	  || { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -q && \
	       $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

clean:
	rm -rf $(VENV) data .pytest_cache

# Quick start: `make demo` (a small real sweep + report under results/) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup dataset browser demo lint test bench clean

setup: $(STAMP)

# torch is pinned first so that pip takes the local CPU wheel instead of a CUDA build.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

dataset:
	@if [ ! -f $(FASHION_MNIST) ]; then \
		echo "installing Fashion-MNIST (Debian package dataset-fashion-mnist)"; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q dataset-fashion-mnist; \
	fi

# the dashboard's browser tests drive headless Chromium through its driver (Debian packages)
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "installing Chromium and its driver for the dashboard's browser tests (chromium, chromium-driver)"; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; \
	fi

demo: setup dataset
	$(BIN)/python -m designspace.demo

# ruff's rules are declared in pyproject.toml ([tool.ruff]); a violation fails `make test` (and CI).
lint: setup
	$(BIN)/ruff check designspace tests benches

test: setup dataset browser lint
	$(BIN)/python -m pytest -q

bench: setup
	for b in benches/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) results/*/ .pytest_cache

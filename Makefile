# make venv | make demo | make test | make lint | make bench | make conformance
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2
# TensorFlow prints C++ INFO lines unless told before it starts.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: venv demo test chromium lint typecheck bench conformance clean

venv: $(STAMP)

# Rebuilt when the project's requirements change; torch comes from the pinned local build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

demo: venv
	$(BIN)/python -m interop.demo

# The HTML-report test renders in headless Chromium (Debian's package); install it if absent.
chromium:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	  >/dev/null); } || echo "warning: chromium not installed; the HTML rendering test will fail" >&2

# Every framework is installed here, so a skipped test is a failure (INTEROP_NO_SKIPS).
test: venv chromium
	INTEROP_NO_SKIPS=1 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests

lint: venv
	$(BIN)/ruff check src tests benchmarks conformance plugins scripts noxfile.py

typecheck: venv
	$(BIN)/mypy

bench: venv
	$(BIN)/python benchmarks/convert_overhead.py
	$(BIN)/python benchmarks/harness_timing.py
	$(BIN)/python benchmarks/cli_startup.py

conformance: venv
	$(BIN)/python -m conformance --jobs 2 --target onnx --target coreml

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

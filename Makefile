# make venv | make demo | make test | make lint | make bench | make conformance
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2
# TensorFlow prints C++ INFO lines unless told before it starts.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: venv demo test lint typecheck bench conformance clean

venv: $(STAMP)

# Rebuilt when the project's requirements change; torch comes from the pinned local build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

demo: venv
	$(BIN)/python -m interop.demo

test: venv
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests

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

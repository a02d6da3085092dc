# Set-up from scratch: `make demo` runs the main job, `make test` the tests.
# Both create the virtual environment .venv on first use: the demo needs the base install
# only (~100 MB); the tests add the `test` extra (Keras, JAX, SciPy, NVRTC, DALI: ~2 GB).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.test: $(BIN)/.base
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/.base
	$(BIN)/gpuaug demo

# The linter first (seconds), then the suite (~15 minutes on 2 cores: it compiles every
# kernel variant).
test: $(BIN)/.test
	$(BIN)/ruff check .
	GPUAUG_REQUIRE_NVRTC=1 $(BIN)/python -m pytest -ra

bench: $(BIN)/.test
	$(BIN)/gpuaug bench all

clean:
	rm -rf $(VENV) build *.egg-info gpuaug-demo

# Set-up from scratch: `make demo` runs the main job, `make test` the tests.
# Both create the virtual environment .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/gpuaug demo

# The linter first (seconds), then the suite (minutes: it compiles every kernel variant).
test: $(BIN)/.installed
	$(BIN)/ruff check .
	GPUAUG_REQUIRE_NVRTC=1 $(BIN)/python -m pytest -ra

bench: $(BIN)/.installed
	$(BIN)/gpuaug bench all

clean:
	rm -rf $(VENV) build *.egg-info gpuaug-demo

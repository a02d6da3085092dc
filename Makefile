# Set-up from scratch: `make demo` runs the main job, `make test` the tests.
# Both create the virtual environment .venv on first use: the demo needs the base install
# only (~100 MB); the tests add the `test` extra (Keras, JAX, SciPy, NVRTC, DALI, TensorFlow:
# ~2.5 GB) and PyTorch's CPU build.
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

# PyTorch's CPU build, so that the torch tests and examples run on CPU machines too (CI's):
# from PyTorch's own index, since PyPI's torch is the CUDA build (gigabytes, and it pins an
# NVRTC older than the test extra's). Best effort: where no CPU build can be had, the torch
# tests skip and say so.
TORCH_CPU := torch==2.13.0+cpu
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu

$(BIN)/.torch: $(BIN)/.test
	$(BIN)/pip install --quiet --retries 1 --timeout 30 "$(TORCH_CPU)" \
		--extra-index-url $(TORCH_CPU_INDEX) \
		|| echo "make: $(TORCH_CPU) could not be installed; the torch tests will skip"
	touch $@

demo: $(BIN)/.base
	$(BIN)/gpuaug demo

# The linter first (seconds), then the suite (~35 minutes on 2 cores: ~30 of them compile
# every kernel variant, 10,272 kernels for two architectures).
test: $(BIN)/.torch
	$(BIN)/ruff check .
	GPUAUG_REQUIRE_NVRTC=1 $(BIN)/python -m pytest -ra

bench: $(BIN)/.test
	$(BIN)/gpuaug bench all

clean:
	rm -rf $(VENV) build *.egg-info gpuaug-demo

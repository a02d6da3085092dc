# Set-up from scratch: `make demo` runs the main job, `make test` the tests.
# Both create the virtual environment .venv on first use: the demo needs the base install
# only (~100 MB); the tests add the `test` extra (Keras, JAX, SciPy, NVRTC, DALI, TensorFlow:
# ~2.5 GB) and PyTorch's CPU build.
#
# Both install the exact versions of requirements/lock.txt (a pip constraints file: every
# package the suite last passed with), so a new upstream release cannot change what `make test`
# tests. `make test-latest` runs the suite on the newest releases instead, in .venv-latest;
# `make lock` does the same and, if the suite passes, rewrites the lock from that environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/lock.txt
LATEST := .venv-latest
# What a lock is made for: `where` names the interpreter and platform that pip resolved for.
WHERE := import platform, sys; where = f"{sys.implementation.name} \
	{sys.version_info[0]}.{sys.version_info[1]} {sys.platform} {platform.machine()}"
HERE := $(shell $(PYTHON) -c '$(WHERE); print(where)')
LOCK_MADE_FOR := $(shell sed -n 's/^\# made for //p' $(LOCK) 2>/dev/null)
# The pins hold only where the lock was made (NumPy 2.4 needs Python 3.11, torch's +cpu builds
# exist for Linux only, ...): elsewhere the installs take the newest releases, and say so.
# As environment variables rather than -c: the build constraint pins the build requirements of
# what pip builds (setuptools, for gpuaug itself) too, and the first thing installed from the
# lock, pip, is installed by a pip that predates that option.
ifeq ($(HERE),$(LOCK_MADE_FOR))
PINNED := PIP_CONSTRAINT="$(CURDIR)/$(LOCK)" PIP_BUILD_CONSTRAINT="$(CURDIR)/$(LOCK)"
UNPINNED_NOTE := true
else
PINNED :=
UNPINNED_NOTE := echo "make: $(LOCK) was made for $(or $(LOCK_MADE_FOR),nothing), this is \
	$(HERE): installing the newest releases instead of its pins" >&2
endif

.PHONY: demo test test-latest lock bench clean

$(BIN)/.base: pyproject.toml $(wildcard $(LOCK))
	@$(UNPINNED_NOTE)
	$(PYTHON) -m venv $(VENV)
	$(PINNED) $(BIN)/pip install --quiet pip setuptools
	$(PINNED) $(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.test: $(BIN)/.base
	$(PINNED) $(BIN)/pip install --quiet -e ".[test]"
	touch $@

# PyTorch's CPU build, so that the torch tests and examples run on CPU machines too (CI's):
# from PyTorch's own index, since PyPI's torch is the CUDA build (gigabytes, and it pins an
# NVRTC older than the test extra's). The version is the lock's. Best effort: where no CPU
# build can be had, the torch tests skip and say so.
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
TORCH_CPU := $(shell grep -m1 '^torch==' $(LOCK) 2>/dev/null)
TORCH_FLAGS := --quiet --retries 1 --timeout 30 --extra-index-url $(TORCH_CPU_INDEX)
# $(call install_torch,PIP): best effort, and a clear word where no build is named or none installs.
install_torch = $(if $(TORCH_CPU),$(1) install $(TORCH_FLAGS) "$(TORCH_CPU)" \
	|| echo "make: $(TORCH_CPU) could not be installed; the torch tests will skip",\
	echo "make: no PyTorch CPU build named ($(LOCK) pins none; TORCH_CPU=torch==X+cpu names \
	one); the torch tests will skip")

$(BIN)/.torch: $(BIN)/.test
	$(call install_torch,$(PINNED) $(BIN)/pip)
	touch $@

demo: $(BIN)/.base
	$(BIN)/gpuaug demo

# $(call run_suite,BIN[,ENV]): the linter first (seconds), then the suite on every core
# (pytest-xdist), half of it compiling every kernel of the table, 1,152 kernels for two
# architectures; the ten slowest tests are listed at the end.
define run_suite
	$(1)/ruff check .
	$(2) GPUAUG_REQUIRE_NVRTC=1 $(1)/python -m pytest -ra -n auto --durations=10
endef

test: $(BIN)/.torch
	$(call run_suite,$(BIN))

# The newest release of everything (within pyproject.toml's ranges) in a new .venv-latest, but
# PyTorch, whose newest release on PyPI is a CUDA build of several GB: its CPU build stays the
# lock's unless named (`make test-latest TORCH_CPU=torch==2.15.0+cpu`).
define fresh_latest_env
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/pip install --quiet --upgrade pip setuptools
	$(LATEST)/bin/pip install --quiet --upgrade -e ".[test]"
	$(call install_torch,$(LATEST)/bin/pip)
endef

# The suite there. The scheduled workflow .github/workflows/latest.yml runs this daily, so an
# upstream change that breaks the suite is seen the day it lands, not by a new user.
test-latest:
	$(fresh_latest_env)
	$(call run_suite,$(LATEST)/bin)

# Deliberately moving the pins: the newest releases' exact versions written as a candidate lock,
# the suite run there (its lock tests read the candidate, GPUAUG_LOCK), and only if it passed
# the candidate becomes the lock. Review the lock's diff and commit it.
lock:
	$(fresh_latest_env)
	{ echo "# The exact versions \`make test\` installs: written by \`make lock\` on $$(date -u +%F) after"; \
	  echo "# the whole suite passed with them. A pip constraints file; edit by running \`make lock\`."; \
	  $(LATEST)/bin/python -c '$(WHERE); print("# made for", where)'; \
	  $(LATEST)/bin/pip freeze --all --exclude-editable; } > $(LOCK).new
	$(call run_suite,$(LATEST)/bin,GPUAUG_LOCK="$(CURDIR)/$(LOCK).new")
	mv $(LOCK).new $(LOCK)

bench: $(BIN)/.test
	$(BIN)/gpuaug bench all

clean:
	rm -rf $(VENV) $(LATEST) build *.egg-info gpuaug-demo

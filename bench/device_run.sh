#!/usr/bin/env bash
# The GPU test suite and the kernel benchmark in one command, for a GPU machine that
# already has CuPy, PyTorch, pytest and matplotlib and no package registry (the project's
# device machines): gpuaug runs from this checkout, uninstalled. Results go to $OUT
# (or bench/out): device.txt, gpu-tests.log (with the torch checks), bench.log, kernel.{json,md,png},
# e2e.{json,md}; bench.log also holds bench/fast_error.py's table.
set -o pipefail
out="${OUT:-bench/out}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/device.txt"
python3 -m pytest -ra -m gpu tests 2>&1 | tee "$out/gpu-tests.log"
tests=$?
# PyTorch is there (the CPU CI has none): labels as tensors, DataLoader workers, the
# example's training loop on the GPU.
{ python3 -m pytest -ra tests/test_torch_use.py tests/test_worker_processes.py -k "torch" \
  && python3 examples/torch_loop.py --epochs 1 --size 64; } 2>&1 | tee -a "$out/gpu-tests.log"
torch=$?
python3 bench/kernel.py --out-dir "$out" "$@" 2>&1 | tee "$out/bench.log"
bench=$?
# precision="fast" against the exact reference on the GPU: the table goes to bench.log
# (its files stay outside $OUT, which takes 8 files at most).
python3 bench/fast_error.py --backend cuda --out-dir /tmp/gpuaug-fast-error 2>&1 | tee -a "$out/bench.log"
fast=$?
python3 bench/e2e.py --out-dir "$out" 2>&1 | tee -a "$out/bench.log"
e2e=$?
exit $(( tests || torch || bench || e2e || fast ))

"""gpuaug's benchmarks: the harness and the kernel / end-to-end runs (``gpuaug bench``).

Each module is also a script under ``bench/`` in the repository.
"""

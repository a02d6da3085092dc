"""gpuaug's CUDA C++ sources (package data; loaded by gpuaug.backends.kernel_source)."""

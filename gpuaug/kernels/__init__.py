"""gpuaug's CUDA C++ sources (package data; assembled by gpuaug.backends.cuda.source)."""

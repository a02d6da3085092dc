"""Every kernel variant compiles for sm_80 and sm_90, without a GPU.

The compiler is NVRTC, called through CuPy's bindings with the source and options
the CUDA backend uses at run time (gpuaug.backends.cuda.nvrtc), down to SASS,
so a kernel that would fail to build on a user's GPU fails here.  First a few kernels
that hold every pair of axis values of the matrix (seconds), then the whole matrix in
chunks on every CPU core (minutes).  ``make test`` sets GPUAUG_REQUIRE_NVRTC=1, which
turns a missing NVRTC into a failure instead of a skip.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from gpuaug.backends.cuda.variants import (
    TABLE,
    all_name_expressions,
    all_variants,
    kernel_axes,
    pairwise_cover,
)

ARCHS = ("sm_80", "sm_90")
CHUNK = 64


def _nvrtc_or_skip():
    try:
        from cupy.cuda import nvrtc

        nvrtc.getVersion()
    except Exception as exc:  # ImportError, or the NVRTC library missing
        if os.environ.get("GPUAUG_REQUIRE_NVRTC") == "1":
            pytest.fail(f"NVRTC is required (GPUAUG_REQUIRE_NVRTC=1) but not usable: {exc}")
        pytest.skip(f"NVRTC not usable ({exc}); pip install 'gpuaug[test]'")


def _compile_chunk(job: tuple[str, list[str]]) -> tuple[str, int, int, str]:
    from gpuaug.backends.cuda.nvrtc import compile_for_arch

    arch, names = job
    compiled = compile_for_arch(names, arch)
    assert set(compiled.lowered) == set(names)
    return arch, len(names), len(compiled.cubin), compiled.log


def test_the_matrix_is_the_table_at_every_order_fill_mode_and_precision():
    """The compiled matrix: each entry's outputs, x 2 orders x 4 fill modes x 2 precisions,
    x the passes it has; the readers shared between an entry's outputs.  1,152 kernels, where
    every dtype and layout combination compiled made 10,272 (issue 30)."""
    names = all_name_expressions()
    expected = sum(16 * (len(e.outputs) * (3 if e.lean else 1) + (3 if e.lean else 2))
                   for e in TABLE)
    assert len(names) == expected == 1152 and len(set(names)) == len(names)
    variants = list(all_variants())
    assert len(variants) == 16 * sum(len(e.outputs) for e in TABLE)
    for entry in TABLE:  # the conversions after the kernels start from the working dtype
        assert (entry.work, False) in entry.outputs, entry


def test_the_pairwise_cover_holds_every_pair_of_axis_values():
    """Every two axes' values that occur together in the matrix occur in the quick set."""
    cover = set(pairwise_cover())
    assert cover < set(all_name_expressions()) and len(cover) <= 60
    held, wanted = set(), set()
    for variant in all_variants():
        for kernel_pass in variant.passes():
            pairs = set(itertools.combinations(sorted(kernel_axes(variant, kernel_pass).items()),
                                               2))
            wanted |= pairs
            if variant.name(kernel_pass) in cover:
                held |= pairs
    assert held == wanted


@pytest.mark.parametrize("arch", ARCHS)
def test_every_variant_compiles(arch):
    """The pairwise cover first, so that a broken template fails in seconds, wherever the
    test runs in the suite; then the rest of the matrix."""
    _nvrtc_or_skip()
    cover = pairwise_cover()
    _compile_all(arch, cover)
    _compile_all(arch, [name for name in all_name_expressions() if name not in cover])


def _compile_all(arch: str, names: list[str]) -> None:
    jobs = [(arch, names[i:i + CHUNK]) for i in range(0, len(names), CHUNK)]
    # Spawned, not forked: earlier tests may have started threads (JAX's) that a fork
    # would copy mid-lock.  The cores are shared with the suite's other workers (pytest-xdist),
    # but two processes at least: with one per core the suite took 4 min 31 s on 2 cores,
    # with two 3 min 14 s (fresh clones, 2026-12-08).
    cores = os.cpu_count() or 1
    shares = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 1))
    workers = min(cores, max(2, cores // shares))
    with ProcessPoolExecutor(max_workers=workers,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_compile_chunk, jobs))
    assert sum(r[1] for r in results) == len(names)
    for _, _, size, log in results:
        assert size > 0
        assert "warning" not in log.lower(), log


def test_one_variant_compiles_quickly_with_the_runtime_options():
    """A fast, separate check with a readable failure, before the full matrix."""
    _nvrtc_or_skip()
    from gpuaug.backends.cuda.nvrtc import compile_for_arch
    from gpuaug.backends.cuda.variants import KernelVariant

    variant = KernelVariant("uint8", "float32", "float32", 1, "nearest", False)
    compiled = compile_for_arch(variant.names(), "sm_90")
    assert compiled.cubin[:4] == b"\x7fELF" and "warning" not in compiled.log.lower()
    assert all(name.startswith("_Z") for name in compiled.lowered.values())  # mangled symbols


@pytest.mark.parametrize("arch", ARCHS)
def test_the_batch_resize_kernel_compiles(arch):
    _nvrtc_or_skip()
    from gpuaug.backends.cuda.nvrtc import compile_for_arch
    from gpuaug.sources.batch_resize import KERNEL

    compiled = compile_for_arch([KERNEL], arch, "resize.cu")
    assert compiled.cubin[:4] == b"\x7fELF" and "warning" not in compiled.log.lower()
    assert compiled.lowered[KERNEL].startswith("_Z")

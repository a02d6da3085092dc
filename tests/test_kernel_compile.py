"""Every kernel variant compiles for sm_80 and sm_90, without a GPU.

The compiler is NVRTC, called through CuPy's bindings with the source and options
the CUDA backend uses at run time (gpuaug.backends.cuda.nvrtc), down to SASS,
so a kernel that would fail to build on a user's GPU fails here.  The variants are
compiled in chunks on every CPU core.  ``make test`` sets GPUAUG_REQUIRE_NVRTC=1,
which turns a missing NVRTC into a failure instead of a skip.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from gpuaug.backends.cuda.variants import all_name_expressions

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


@pytest.mark.parametrize("arch", ARCHS)
def test_every_variant_compiles(arch):
    _nvrtc_or_skip()
    names = all_name_expressions()
    # the supported matrix (cuda/variants.all_variants): 9,408 reading batches, 864 reading
    # decoded images through their resize maps (RGB and luma)
    assert len(names) == 10272
    jobs = [(arch, names[i:i + CHUNK]) for i in range(0, len(names), CHUNK)]
    # Spawned, not forked: earlier tests may have started threads (JAX's) that a fork
    # would copy mid-lock.
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1,
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

    variant = KernelVariant("uint8", "float32", "float32", 1, "nearest", False, False)
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

"""Compiled kernels kept on disk: a second process starts without compiling, never stale.

An entry is keyed by everything that decides a cubin (source, options, architecture,
NVRTC version, name expressions) and written atomically, so concurrent processes (a
torchrun job's ranks) never read half an entry, and a damaged file is compiled again.
"""

from __future__ import annotations

import logging
import multiprocessing

import pytest

from gpuaug.backends.cuda import disk_cache
from gpuaug.backends.cuda.disk_cache import Compiled
from test_kernel_compile import _nvrtc_or_skip

NAMES = ["gpuaug::kernel_a<1>", "gpuaug::kernel_b<2>"]


def _fake(tag: bytes = b"x") -> Compiled:
    return Compiled(b"\x7fELF" + tag * 5000, "", {name: f"_Z{i}" for i, name in enumerate(NAMES)})


def _cached(compile, source="source", arch="sm_90"):
    return disk_cache.cached(NAMES, arch, source, ("-O3",), (13, 0), compile)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUAUG_CACHE_DIR", str(tmp_path / "kernels"))
    return tmp_path / "kernels"


def _refuse():
    raise AssertionError("compiled although the disk cache holds the entry")


def test_a_second_process_loads_what_the_first_compiled(cache):
    first = _cached(lambda: _fake(b"a"))
    assert [p.suffix for p in cache.iterdir()] == [".bin"]  # one whole entry, no leftovers
    assert _cached(_refuse) == first


def test_anything_that_decides_the_bytes_is_a_new_entry(cache):
    _cached(lambda: _fake(b"a"))
    calls = []
    for kwargs in (dict(source="source, edited"), dict(arch="sm_80")):
        _cached(lambda: calls.append(1) or _fake(b"b"), **kwargs)
    assert len(calls) == 2
    assert disk_cache.cached(NAMES, "sm_90", "source", ("-O3",), (13, 1),
                             lambda: calls.append(1) or _fake(b"c")) == _fake(b"c")
    assert len(calls) == 3 and len(list(cache.iterdir())) == 4


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "fewer names"])
def test_a_damaged_entry_is_compiled_again_and_rewritten(cache, caplog, damage):
    _cached(lambda: _fake(b"a"))
    (path,) = cache.iterdir()
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "flip":
        data[-10] ^= 0xFF
    elif damage == "garbage":
        data = bytearray(b"not a kernel file")
    else:
        data = bytearray(disk_cache._encode(Compiled(b"\x7fELF", "", {NAMES[0]: "_Z0"})))
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="gpuaug"):
        again = _cached(lambda: _fake(b"b"))
    assert again == _fake(b"b") and "damaged compiled-kernel file" in caplog.text
    assert _cached(_refuse) == _fake(b"b")  # rewritten whole


def test_an_empty_cache_dir_turns_the_disk_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUAUG_CACHE_DIR", "")
    monkeypatch.chdir(tmp_path)
    calls = []
    for _ in range(2):
        _cached(lambda: calls.append(1) or _fake())
    assert len(calls) == 2 and not list(tmp_path.iterdir())


def test_the_default_folder_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv("GPUAUG_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert disk_cache.cache_dir() == tmp_path / "gpuaug" / "kernels"


def test_an_unwritable_folder_costs_a_compile_and_a_warning(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GPUAUG_CACHE_DIR", str(blocker / "kernels"))
    with caplog.at_level(logging.WARNING, logger="gpuaug"):
        assert _cached(lambda: _fake()) == _fake()
    assert "could not keep compiled kernels" in caplog.text


def _writer(args):
    folder, key, tag, rounds = args
    from pathlib import Path

    for _ in range(rounds):
        disk_cache.store(Path(folder), key, _fake(tag))
    return True


def _reader(args):
    """At least ``rounds`` reads, and on until one whole entry was seen (the writers are
    other processes, which a busy machine may start after this one)."""
    folder, key, rounds = args
    import time
    from pathlib import Path

    seen: set = set()
    reads, deadline = 0, time.monotonic() + 120
    while reads < rounds or (not seen - {None} and time.monotonic() < deadline):
        got = disk_cache.load(Path(folder), key, NAMES)
        seen.add(None if got is None else got.cubin[4:5])
        reads += 1
    return seen


def test_processes_writing_one_entry_together_never_leave_half_of_it(tmp_path):
    key = "k" * 64
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        writes = pool.map_async(_writer, [(str(tmp_path), key, tag, 150)
                                          for tag in (b"a", b"b", b"c")])
        reads = pool.apply_async(_reader, ((str(tmp_path), key, 400),))
        assert all(writes.get(timeout=300))
        seen = reads.get(timeout=300)
    assert seen <= {None, b"a", b"b", b"c"} and seen - {None}  # whole entries only
    assert [p.name for p in tmp_path.iterdir()] == [f"{key}.bin"]  # no temporary left behind


def test_the_cuda_backend_compiles_once_per_machine(cache, monkeypatch):
    """The run-time path (nvrtc.compile_cached): the second call reads the disk, not NVRTC."""
    _nvrtc_or_skip()
    from gpuaug.backends.cuda import nvrtc
    from gpuaug.backends.cuda.variants import KernelVariant

    names = list(KernelVariant("uint8", "float32", "float32", 1, "nearest", False).names())
    first = nvrtc.compile_cached(names, "sm_90")
    assert first.cubin[:4] == b"\x7fELF" and len(list(cache.iterdir())) == 1
    monkeypatch.setattr(nvrtc, "compile_for_arch", lambda *a: _refuse())
    assert nvrtc.compile_cached(names, "sm_90") == first

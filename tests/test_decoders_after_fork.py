"""A decoder inherited through ``fork`` never hangs the child.

Torch's DataLoader workers and Keras's ``use_multiprocessing`` fork the process that
made the iterator.  A DALI pipeline built in the parent has its threads there: run in
the child, it waits forever.  The child builds its own CPU pipeline instead; a pipeline
that ran on CUDA (which a forked child cannot use) makes the next batch raise an error
saying what to do.  Locks another thread held at the fork are not inherited held.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing

import numpy as np
import pytest
from PIL import Image

import gpuaug
from gpuaug.sources.decoders import DaliDecoder

pytestmark = [  # the children use NumPy, Pillow and DALI's CPU decoder only
    pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

_CHILD_SECONDS = 60  # a hang fails the test instead of stalling the run


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("fork")
    rng = np.random.default_rng(1)
    (root / "a").mkdir()
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (30, 26, 3), dtype=np.uint8)).save(
            root / "a" / f"{i}.jpg", quality=90)
    return str(root)


def _iterator(folder, decoder):
    gen = gpuaug.ImageDataGenerator(device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        return gen.flow_from_directory(folder, target_size=(12, 14), batch_size=3,
                                       shuffle=False, decoder=decoder, decode_threads=2)


_SHARED = {}


def _in_child(task):
    what, arg = task
    try:
        if what == "batch":
            return _SHARED["it"][arg][0]
        return _SHARED["decoder"](arg)
    except Exception as exc:  # the child's error comes back as text
        return f"{type(exc).__name__}: {exc}"


def _run_in_forked_child(task):
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.map_async(_in_child, [task]).get(timeout=_CHILD_SECONDS)[0]


@pytest.mark.parametrize("decoder", ["dali", "pillow"])
def test_a_forked_child_decodes_what_the_parent_decodes(folder, decoder):
    if decoder == "dali":
        pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    it = _iterator(folder, decoder)
    expected = it[1][0]
    it[0]  # the parent's pipeline (or pool) has run: its threads live in the parent only
    _SHARED["it"] = it
    np.testing.assert_array_equal(_run_in_forked_child(("batch", 1)), expected)
    np.testing.assert_array_equal(it[1][0], expected)  # the parent's own still works


def test_a_decoder_lock_held_at_the_fork_is_free_in_the_child(folder):
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    it = _iterator(folder, "dali")
    expected = it[1][0]
    _SHARED["it"] = it
    with it._decode._lock:  # as when another thread is decoding at the moment of the fork
        got = _run_in_forked_child(("batch", 1))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("ran", [True, False])
def test_a_child_forked_after_a_cuda_pipeline_gets_a_clear_error(folder, ran):
    """The rule, with a stand-in for the parent's CUDA pipeline (no GPU needed).

    A ``mixed`` decoder that never ran counts too: its generator initialised CUDA.
    """
    decoder = DaliDecoder("mixed", 0, "rgb", (12, 14), "nearest", max_batch=3)
    if ran:
        decoder._pipe = object()  # built and run on cuda:0 in this process
    _SHARED["decoder"] = decoder
    message = _run_in_forked_child(("decode", [f"{folder}/a/0.jpg"]))
    assert message.startswith("RuntimeError: gpuaug: decoder='dali' decoded on cuda:0")
    assert "'spawn'" in message
    assert (decoder._pipe is not None) == ran and not decoder._forked_after_cuda  # unchanged


@pytest.mark.gpu
def test_a_real_cuda_pipeline_then_fork_is_a_clear_error_not_a_hang(folder):
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    gen = gpuaug.ImageDataGenerator(device="cuda")
    with contextlib.redirect_stdout(io.StringIO()):
        it = gen.flow_from_directory(folder, target_size=(12, 14), batch_size=3,
                                     shuffle=False, decoder="dali")
    it[0]
    _SHARED["it"] = it
    message = _run_in_forked_child(("batch", 1))
    assert isinstance(message, str) and "'spawn'" in message, message


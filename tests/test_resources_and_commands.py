"""What iterators and commands leave behind, and what they say when an input is bad.

Decode threads do not pile up when iterators are dropped with the cyclic collector off;
a worker's copy never re-creates the skipped-files log its owner removed; ``flow`` refuses
a missing ``save_to_dir`` at the call, as the file iterators do; every command that reads
image files names a bad one and exits 2.
"""

from __future__ import annotations

import contextlib
import gc
import io
import multiprocessing
import os
import pickle
import threading
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import gpuaug
from gpuaug.cli import main
from gpuaug.iterators.skip_log import SkipLog

# The fork test's child uses NumPy and Pillow only (see test_worker_processes).
pytestmark = [
    pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


def _tree(root, names=("0.png", "1.png", "2.png", "3.png")):
    rng = np.random.default_rng(3)
    (root / "a").mkdir(parents=True)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(root / "a" / name)
    return root


def _flow(tree, **kwargs):
    gen = gpuaug.ImageDataGenerator(device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):  # Keras's "Found ... images" line
        return gen.flow_from_directory(str(tree), target_size=(8, 8), batch_size=4,
                                       decoder="pillow", **kwargs)


def _decode_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("gpuaug-decode")}


# ------------------------------------------------------------------ decode threads
def test_iterators_dropped_with_the_collector_off_leave_no_decode_threads(tmp_path):
    tree = _tree(tmp_path / "data")
    before = _decode_threads()
    gc.disable()  # as training loops do: only reference counting frees objects
    try:
        for _ in range(8):
            it = _flow(tree, decode_threads=3)
            x, _ = it[0]  # four files: decoded on the pool's threads
            assert len(x) == 4
            del it
        # Each dropped iterator's pool is shut down without waiting: its idle threads exit
        # within moments (kept alive by a reference cycle, they never would).
        deadline = time.monotonic() + 10
        while (made := _decode_threads() - before) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        gc.enable()
    assert not made, f"{len(made)} decode threads left by 8 dropped iterators"


# ------------------------------------------------------------------ skipped-files log
def test_a_copy_reports_to_its_owner_through_the_log():
    owner = SkipLog()
    copy = pickle.loads(pickle.dumps(owner))  # as a spawned worker's copy
    copy.write("a.png", "bad")
    assert owner.read_new() == [("a.png", "bad")]


def test_a_copy_never_recreates_the_log_its_owner_removed(caplog):
    owner = SkipLog()
    copy = pickle.loads(pickle.dumps(owner))
    owner._finalizer()  # the owner exited or dropped its iterator: the log is removed
    assert not os.path.exists(owner.path)
    with caplog.at_level("DEBUG", logger="gpuaug"):
        copy.write("b.png", "worse")  # nobody is left to read it: no new log
    assert not os.path.exists(owner.path)
    assert "b.png" in caplog.text and "WARNING" not in caplog.text


def _skip_after_the_owner_left(it, removed, results):  # in a forked worker
    removed.wait(30)
    x, _ = it[0]
    results.send((len(x), [path for path, _ in it.skipped_files]))


def test_a_forked_copy_that_skips_after_its_owner_left_keeps_the_skip_to_itself(tmp_path):
    tree = _tree(tmp_path / "data", names=("1.png", "2.png", "3.png"))
    (tree / "a" / "0.png").write_bytes(b"not an image")  # in the first batch
    it = _flow(tree, shuffle=False, on_error="skip")
    context = multiprocessing.get_context("fork")
    removed, (receive, send) = context.Event(), context.Pipe(duplex=False)
    worker = context.Process(target=_skip_after_the_owner_left, args=(it, removed, send))
    worker.start()
    it._skip_log._finalizer()  # the owner's exit, while its worker runs on
    removed.set()
    assert receive.poll(60)
    read, skipped = receive.recv()
    worker.join(30)
    assert worker.exitcode == 0
    assert read == 3 and skipped == [str(tree / "a" / "0.png")]  # the copy's own record
    assert not os.path.exists(it._skip_log.path)


# ------------------------------------------------------------------ save_to_dir
def _flow_call(kind, gen, tree, save_to_dir):
    if kind == "flow":
        return gen.flow(np.zeros((4, 8, 8, 3), np.uint8), np.arange(4), save_to_dir=save_to_dir)
    with contextlib.redirect_stdout(io.StringIO()):
        if kind == "flow_from_directory":
            return gen.flow_from_directory(str(tree), target_size=(8, 8),
                                           save_to_dir=save_to_dir)
        frame = pd.DataFrame({"filename": ["a/0.png"], "class": ["a"]})
        return gen.flow_from_dataframe(frame, str(tree), target_size=(8, 8),
                                       save_to_dir=save_to_dir)


@pytest.mark.parametrize("kind", ["flow", "flow_from_directory", "flow_from_dataframe"])
@pytest.mark.parametrize("what", ["missing", "a file"])
def test_a_save_to_dir_that_is_no_folder_is_refused_at_the_call(tmp_path, kind, what):
    tree = _tree(tmp_path / "data")
    target = tmp_path / "nonexistent"
    if what == "a file":
        target.write_bytes(b"")
    gen = gpuaug.ImageDataGenerator(device="cpu")
    with pytest.raises(FileNotFoundError, match=r"`save_to_dir` '.*nonexistent' is not an "
                                                r"existing folder"):
        _flow_call(kind, gen, tree, str(target))
    assert not target.is_dir()
    _flow_call(kind, gen, tree, str(tmp_path))  # an existing folder is accepted


# ------------------------------------------------------------------ commands
def _truncated_jpeg(path):
    rng = np.random.default_rng(4)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])  # a header, half the scan


@pytest.mark.parametrize("command", [["preview"], ["preview", "--compare"],
                                     ["preview", "--fill-modes"], ["demo"]])
def test_a_truncated_image_is_named_and_exits_2_in_every_command(tmp_path, capsys, command):
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    _truncated_jpeg(data / "a" / "cut.jpg")  # the only image: every command reads it
    with pytest.raises(OSError, match="truncated"):
        Image.open(data / "a" / "cut.jpg").load()
    if command[0] == "preview":
        argv = [*command, str(data), "--out", str(tmp_path / "grid.png")]
    else:
        argv = ["demo", "--data", str(data), "--out", str(tmp_path / "demo"), "--epochs", "1",
                "--device", "cpu", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cut.jpg" in err and "truncated" in err, err


def test_a_dropped_iterator_is_freed_without_the_cycle_collector(tmp_path):
    """next()'s position generator holds its iterator weakly: no reference cycle, so an
    iterator (its file list, decoder, skip log) goes when the program drops it, even with
    gc.disable(), as training loops do for speed."""
    import weakref

    x = np.random.default_rng(0).integers(0, 256, (6, 5, 5, 3), dtype=np.uint8)
    gen = gpuaug.ImageDataGenerator(rotation_range=10, device="cpu")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for make in (lambda: gen.flow(x, batch_size=2, seed=1),
                     lambda: gen.flow_from_directory(str(_tree_for_gc(tmp_path)),
                                                     target_size=(5, 5), batch_size=2)):
            it = make()
            next(it)
            it[1]
            alive = weakref.ref(it)
            del it
            assert alive() is None, "the iterator outlived its last reference"
    finally:
        if was_enabled:
            gc.enable()


def _tree_for_gc(root):
    from PIL import Image

    folder = root / "gc" / "a"
    if not folder.exists():
        folder.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((5, 5, 3), 50 * i, np.uint8)).save(folder / f"{i}.png")
    return root / "gc"

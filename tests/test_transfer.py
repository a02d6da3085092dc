"""The pinned stager's ordering, on the CPU with a recording stand-in for CuPy.

The GPU tests (``test_cuda_generator``) check the pixels; this checks the protocol that
keeps two reused slots correct: a pinned slot is refilled only after its previous copy
has finished, a device slot only after the kernels that read it have finished, and the
kernels of a batch wait for its copy.
"""

from __future__ import annotations

import sys
import types

import numpy as np


class _Event:
    def __init__(self, log, name):
        self.log, self.name = log, name

    def synchronize(self):
        self.log.append(("host waits", self.name))


class _Stream:
    def __init__(self, log, name):
        self.log, self.name, self.count = log, name, 0

    def record(self):
        self.count += 1
        event = _Event(self.log, f"{self.name}#{self.count}")
        self.log.append(("record", event.name))
        return event

    def wait_event(self, event):
        self.log.append((f"{self.name} waits", event.name))


class _DeviceArray:
    def __init__(self, log, data):
        self.log, self.data = log, data

    def __getitem__(self, key):
        return _DeviceArray(self.log, self.data[key])

    def view(self, dtype):
        return _DeviceArray(self.log, self.data.view(dtype))

    def reshape(self, shape):
        return _DeviceArray(self.log, self.data.reshape(shape))

    def set(self, host, stream):
        self.log.append(("copy on", stream.name))
        self.data[...] = host


def _fake_cupy(log):
    compute = _Stream(log, "compute")
    cuda = types.SimpleNamespace(
        Device=lambda index: __import__("contextlib").nullcontext(),
        Stream=lambda non_blocking: _Stream(log, "copy"),
        get_current_stream=lambda: compute)
    cupy = types.SimpleNamespace(
        cuda=cuda, empty=lambda shape, dtype: _DeviceArray(log, np.zeros(shape, dtype)))
    cupyx = types.SimpleNamespace(empty_pinned=lambda shape, dtype: np.zeros(shape, dtype))
    return cupy, cupyx


def test_slots_alternate_and_each_reuse_waits_for_its_copy_and_its_kernels(monkeypatch):
    log: list = []
    cupy, cupyx = _fake_cupy(log)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    from gpuaug.transfer import PinnedStager

    stager = PinnedStager(0)
    source = np.arange(10 * 4 * 3, dtype=np.uint8).reshape(10, 4, 3)
    for batch, index in enumerate([[3, 1], [0, 9, 2], [5, 4], [8]]):
        with stager.batch(source, np.array(index)) as device:
            np.testing.assert_array_equal(device.data, source[index])  # the gathered rows
            log.append(("kernels", batch))

    def at(entry, start=0):
        return log.index(entry, start)

    copies = [i for i, entry in enumerate(log) if entry == ("copy on", "copy")]
    kernels = [at(("kernels", b)) for b in range(4)]
    # Fresh slots (batches 0 and 1) come from the compute stream's pool: the copy waits for
    # what that stream had queued (compute#1, compute#3 are recorded at allocation).
    assert at(("copy waits", "compute#1")) < copies[0]
    assert kernels[0] < at(("copy waits", "compute#3")) < copies[1]
    # Every batch's kernels wait for its own copy.
    for b, copy in enumerate(copies):
        assert copy < at(("compute waits", f"copy#{b + 1}")) < kernels[b]
    # Batch 2 reuses slot A: the host waits for copy 1 before refilling its pinned memory,
    # and the copy waits for batch 0's kernels (compute#2, recorded as they were queued).
    assert at(("record", "compute#2")) == kernels[0] + 1
    assert kernels[1] < at(("host waits", "copy#1")) < copies[2]
    assert kernels[1] < at(("copy waits", "compute#2")) < copies[2]
    # Batch 3 reuses slot B likewise (copy 2; batch 1's kernels, compute#4), not slot A's.
    assert at(("record", "compute#4")) == kernels[1] + 1
    assert kernels[2] < at(("host waits", "copy#2")) < copies[3]
    assert kernels[2] < at(("copy waits", "compute#4")) < copies[3]
    assert ("copy waits", "compute#5") not in log

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
    seen = []
    for batch, index in enumerate([[3, 1], [0, 9, 2], [5, 4], [8]]):
        with stager.batch(source, np.array(index)) as device:
            np.testing.assert_array_equal(device.data, source[index])  # the gathered rows
            log.append(("kernels of batch", batch))
            seen.append(list(log))
            log.clear()
    # Batch 0 (slot A) and 1 (slot B): fresh slots, nothing to wait for on the host.
    assert ("host waits", "copy#1") not in seen[0]
    assert seen[0].index(("copy on", "copy")) < seen[0].index(("compute waits", "copy#1"))
    assert seen[0].index(("compute waits", "copy#1")) < seen[0].index(("kernels of batch", 0))
    # (Each log begins with the previous batch's "kernels done" event, recorded on exit.)
    # Batch 2 reuses slot A: the host waits for copy 1 before refilling the pinned memory,
    # the copy waits for batch 0's kernels (compute#1) before overwriting the device slot.
    assert seen[2].index(("host waits", "copy#1")) < seen[2].index(("copy on", "copy"))
    assert seen[2].index(("copy waits", "compute#1")) < seen[2].index(("copy on", "copy"))
    assert seen[2].index(("compute waits", "copy#3")) < seen[2].index(("kernels of batch", 2))
    # Batch 3 reuses slot B likewise (copy 2, batch 1's kernels), never slot A's events.
    assert seen[3].index(("host waits", "copy#2")) < seen[3].index(("copy on", "copy"))
    assert seen[3].index(("copy waits", "compute#2")) < seen[3].index(("copy on", "copy"))
    assert ("copy waits", "compute#3") not in seen[3]

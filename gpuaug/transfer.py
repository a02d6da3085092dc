"""Host batches onto the GPU without making it wait: pinned staging, asynchronous copies.

``flow(x)`` over a dataset in host memory sends one batch per step to the device.  A
plain ``cupy.asarray(x[idx])`` gathers into pageable memory and copies synchronously:
the host waits for the copy, and the copy cannot overlap the previous batch's kernels.
:class:`PinnedStager` instead gathers the batch's rows straight into page-locked memory
and copies it on a stream of its own into one of two device slots, so the copy of
batch i+1 runs while the kernels of batch i do.  Two events per slot keep it correct:
the host reuses a pinned slot only after its last copy finished, and a device slot is
overwritten only after the kernels that read it finished.

One stager per device and thread (threads that share an iterator never share slots).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import numpy as np

_local = threading.local()


class _Slot:
    def __init__(self) -> None:
        self.capacity = 0
        self.pinned: Any = None  # numpy view of page-locked host memory, uint8
        self.device: Any = None  # cupy uint8 buffer
        self.copied: Any = None  # event: the last copy into `device` finished
        self.consumed: Any = None  # event: the kernels that read `device` finished


class PinnedStager:
    """Double-buffered host-to-device uploads for one CUDA device (see module docstring)."""

    def __init__(self, device_index: int) -> None:
        import cupy

        self._cupy = cupy
        self.device_index = device_index
        with cupy.cuda.Device(device_index):
            self._stream = cupy.cuda.Stream(non_blocking=True)
        self._slots = [_Slot(), _Slot()]
        self._turn = 0

    def _reserve(self, slot: _Slot, nbytes: int) -> bool:
        """Grow ``slot`` to ``nbytes``; True when it got a new device buffer."""
        if slot.capacity >= nbytes:
            return False
        import cupyx

        if slot.consumed is not None:  # its old buffer may still be read: let it finish
            slot.consumed.synchronize()
        if slot.copied is not None:
            slot.copied.synchronize()
        capacity = max(nbytes, 2 * slot.capacity)
        slot.pinned = cupyx.empty_pinned((capacity,), dtype=np.uint8)
        slot.device = self._cupy.empty((capacity,), dtype=np.uint8)
        slot.capacity = capacity
        slot.copied = slot.consumed = None
        return True

    @contextlib.contextmanager
    def batch(self, source: np.ndarray, index: np.ndarray) -> Iterator[Any]:
        """Rows ``index`` of ``source`` as a CuPy array on the device, for one batch's work.

        Enqueue every use of the array (kernel launches) inside the ``with`` block, on
        the current stream: leaving the block records when they are done, and the slot
        is not overwritten before that.  Do not keep the array beyond the block.
        """
        cupy = self._cupy
        slot = self._slots[self._turn]
        self._turn ^= 1
        shape = (len(index),) + tuple(source.shape[1:])
        nbytes = int(np.prod(shape)) * source.dtype.itemsize
        compute = cupy.cuda.get_current_stream()
        if self._reserve(slot, max(nbytes, 1)):
            # The new block comes from the pool of the compute stream, where earlier work
            # may still use it: the copy stream starts after that work.
            self._stream.wait_event(compute.record())
        if slot.copied is not None:
            slot.copied.synchronize()  # the host may not overwrite memory still being copied
        pinned = slot.pinned[:nbytes].view(source.dtype).reshape(shape)
        np.take(source, index, axis=0, out=pinned)
        device = slot.device[:nbytes].view(source.dtype).reshape(shape)
        if slot.consumed is not None:
            self._stream.wait_event(slot.consumed)  # the previous reader of this slot is done
        device.set(pinned, stream=self._stream)
        slot.copied = self._stream.record()
        compute.wait_event(slot.copied)
        try:
            yield device
        finally:
            slot.consumed = compute.record()


def stager(device_index: int) -> PinnedStager:
    """This thread's stager for ``device_index``."""
    stagers = getattr(_local, "stagers", None)
    if stagers is None:
        stagers = _local.stagers = {}
    if device_index not in stagers:
        stagers[device_index] = PinnedStager(device_index)
    return stagers[device_index]

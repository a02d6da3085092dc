"""Keep the heap's freed top for the next batch, so that the host path does not page-fault.

A batch's host work (draws, matrices, packed records: :mod:`gpuaug.drawn`) allocates
and frees the same few hundred kilobytes of NumPy arrays at every stretch of batches.
glibc gives the top of its heap back to the system whenever more than 128 KB there is
free, so the next stretch faults every page in again: on the project's 2-core machine
that was about a fifth of the host path (``bench/RESULTS.md``, host benchmark with and
without).  :func:`keep_heap_top` asks glibc, once per process, to keep 32 MB of padding
at the top of the heap (``mallopt(M_TOP_PAD)``, the setting ``MALLOC_TOP_PAD_`` gives),
so those pages stay mapped between batches; the process may hold up to that much more
memory than it uses.

Only on glibc, and never against the user's choice: ``MALLOC_TOP_PAD_`` set in the
environment is left alone, and ``GPUAUG_MALLOC_TOP_PAD`` sets gpuaug's value in bytes
(``0`` turns this off; more than ``2**31 - 1``, the most ``mallopt`` takes, is
reduced to that, with a warning).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading

_log = logging.getLogger("gpuaug")

#: glibc's ``mallopt`` parameter number of ``M_TOP_PAD`` (malloc.h).
M_TOP_PAD = -2
DEFAULT_TOP_PAD = 32 << 20
#: The most ``mallopt`` takes: its value is a C ``int``.
MAX_TOP_PAD = 2**31 - 1

_lock = threading.Lock()
_applied: "int | None" = None  # the padding set (0: not set), once decided


def keep_heap_top() -> int:
    """Apply the padding once per process; returns the bytes set (0 where not applied)."""
    global _applied
    with _lock:
        if _applied is not None:
            return _applied
        _applied = 0
        if "MALLOC_TOP_PAD_" in os.environ:  # the user's own setting: glibc applied it
            return 0
        try:
            pad = int(os.environ.get("GPUAUG_MALLOC_TOP_PAD", DEFAULT_TOP_PAD))
        except ValueError:
            _log.warning("gpuaug: GPUAUG_MALLOC_TOP_PAD=%r is not a number of bytes; ignored",
                         os.environ["GPUAUG_MALLOC_TOP_PAD"])
            return 0
        if pad <= 0:
            return 0
        try:
            mallopt = ctypes.CDLL(None).mallopt  # glibc; musl and macOS have none
        except (OSError, AttributeError):
            return 0
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        pad = _within_mallopt(pad)
        if mallopt(M_TOP_PAD, pad) == 1:  # 1: success
            _applied = pad
        return _applied


def _within_mallopt(pad: int) -> int:
    """``pad``, or the most glibc can keep (said so): what is returned is what glibc took."""
    if pad > MAX_TOP_PAD:
        _log.warning("gpuaug: GPUAUG_MALLOC_TOP_PAD=%d is more than glibc's M_TOP_PAD holds "
                     "(a C int); keeping %d bytes instead", pad, MAX_TOP_PAD)
        return MAX_TOP_PAD
    return pad

"""The exceptions gpuaug raises on purpose, in one place (no heavy imports).

Each says whose fault a failure is, because callers act on it differently: a file's
own fault goes through the iterators' ``on_error`` policy; a bad argument is the
caller's; a missing device or library is the machine's (the command line exits 3
for those and only those).
"""

from __future__ import annotations


class ImageFileError(OSError):
    """An image file could not be read or decoded; names the file and the cause."""

    def __init__(self, path: str, cause: BaseException) -> None:
        super().__init__(f"cannot read image file {path!r}: {type(cause).__name__}: {cause}")
        self.path = path
        self.cause = cause


class ArgumentError(ValueError):
    """A bad loading argument (not a bad file): raised as is, never skipped."""


class Unavailable(RuntimeError):
    """What was asked for needs something this machine lacks: a CUDA device, CuPy or DALI.

    A ``RuntimeError``, so code written for the earlier messages keeps working;
    failures of a library that *is* there (NVRTC, DALI, the driver) are not this.
    """

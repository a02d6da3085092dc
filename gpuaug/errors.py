"""The exceptions gpuaug raises on purpose, in one place (no heavy imports).

Each says whose fault a failure is, because callers act on it differently: a file's
own fault goes through the iterators' ``on_error`` policy; a bad argument is the
caller's; a missing device or library is the machine's (the command line exits 3
for those and only those).
"""

from __future__ import annotations

import errno

#: OSError numbers that describe the machine at that moment (open-file limits, memory),
#: not the file: raised as they are, never charged to the file by ``on_error="skip"``.
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS,
                              errno.EAGAIN, errno.EINTR})


def the_files_own(exc: BaseException) -> bool:
    """Whether a failure to read a file is the file's own (``on_error`` decides; an
    :class:`ImageFileError` names it) or the machine's (raised as it is)."""
    if isinstance(exc, MemoryError):
        return False  # the machine's state; a too-large file is Pillow's DecompressionBombError
    return not (isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS)


#: What an iterator's reader can do about an unreadable file (the default hint).
SKIP_HINT = 'pass on_error="skip" to the flow method to skip unreadable files'


class ImageFileError(OSError):
    """An image file could not be read or decoded; names the file, the cause and the fix.

    ``hint``: what the reader can do, after the cause; the default (:data:`SKIP_HINT`)
    fits the iterators, which raise it with ``on_error="raise"``; callers without an
    ``on_error`` (the preview, the demo's pictures) pass their own, or "".
    """

    def __init__(self, path: str, cause: BaseException, hint: str = SKIP_HINT) -> None:
        super().__init__(f"cannot read image file {path!r}: {type(cause).__name__}: {cause}"
                         + (f"; {hint}" if hint else ""))
        self.path = path
        self.cause = cause


class EmptyBatchError(ImageFileError):
    """Every file of a batch was unreadable (``on_error="skip"``): no batch to yield.

    An empty batch would fail later and far away (a model's loss of shape ``(0,)``);
    this names the files instead.  ``paths`` holds them all.
    """

    def __init__(self, paths: list[str], reasons: list[str]) -> None:
        shown = "; ".join(f"{p!r} ({r})" for p, r in list(zip(paths, reasons, strict=True))[:5])
        more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
        OSError.__init__(self, f"every file of this batch is unreadable, so it would be empty: "
                               f"{shown}{more}; remove them, or use a larger batch_size")
        self.path = paths[0]
        self.paths = paths
        self.cause = None


class ArgumentError(ValueError):
    """A bad loading argument (not a bad file): raised as is, never skipped."""


class Unavailable(RuntimeError):
    """What was asked for needs something this machine lacks: a CUDA device, CuPy or DALI.

    A ``RuntimeError``, so code written for the earlier messages keeps working;
    failures of a library that *is* there (NVRTC, DALI, the driver) are not this.
    """

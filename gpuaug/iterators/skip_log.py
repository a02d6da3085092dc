"""Files skipped by copies of an iterator in other processes, reported to the iterator.

Keras's ``use_multiprocessing=True`` and a DataLoader's workers read batches in copies
of the iterator (forked or pickled).  A file that a copy skips (``on_error="skip"``) must
reach ``it.skipped_files`` in the process that made the iterator, and the copies of
later epochs must skip it without reading it again.  A copy appends one JSON line per
file to a log named by the iterator; the iterator reads what is new when asked
(``skipped_files``, an epoch's end, pickling, ``state_dict``).

A file rather than a pipe or queue: an append never blocks (a worker cannot hang on a
reader that is not reading), the log travels through fork and pickling as a path, and
no process has to serve it.  The process that made the log removes it when the log is
collected or at exit; copies never do.  Nor do they ever create it: the owner creates it
just before the first copy can exist (when pickled, or when this process forks), so a log
a copy cannot open is one its owner has removed, and a copy that outlives its owner leaves
no file behind.  Its skips stay its own (its ``skipped_files`` and its warnings): nobody
is left to read them.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
import weakref
from typing import Any

_log = logging.getLogger("gpuaug")


#: Logs made in this process that no copy has seen yet (see :meth:`SkipLog.share`).
_UNSHARED: "weakref.WeakSet[SkipLog]" = weakref.WeakSet()


def _share_before_fork() -> None:
    for log in list(_UNSHARED):
        log.share()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_share_before_fork)


def _remove(path: str, owner: int) -> None:
    if os.getpid() == owner:  # a forked copy collected in a worker leaves the parent's log
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


class SkipLog:
    """An append-only log of ``(path, reason)`` that copies write and the owner reads."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.path = os.path.join(tempfile.gettempdir(),
                                 f"gpuaug-skipped-{self.owner}-{uuid.uuid4().hex}.jsonl")
        self._read_up_to = 0  # bytes of the log already read (owner only)
        self._finalizer: Any = weakref.finalize(self, _remove, self.path, self.owner)
        _UNSHARED.add(self)  # no file until a copy may write to it

    @property
    def is_owner(self) -> bool:
        """Whether this process made the log (and so holds ``skipped_files``)."""
        return os.getpid() == self.owner

    @property
    def _the_owners_own(self) -> bool:
        """Whether this is the owner's log object itself, its log not removed: the only one
        that may create the file (an unpickled copy in the owner's process may not)."""
        return self.is_owner and self._finalizer is not None and self._finalizer.alive

    def share(self) -> None:
        """Create the log, before a copy can write to it (owner only, once)."""
        if self not in _UNSHARED:
            return
        _UNSHARED.discard(self)
        if not self._the_owners_own:
            return
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            _log.warning("gpuaug: could not create %s (%s): files that copies of this iterator "
                         "in other processes skip will not reach its skipped_files",
                         self.path, exc)

    def write(self, path: str, reason: str) -> None:
        """Report a skipped file to the owner (from a copy in another process).

        One ``write`` of one line to a file opened for appending: lines from several
        processes never interleave.  A log that cannot be written costs the report, not
        the batch: the file is still skipped here, and the owner will meet it again.  A
        copy never creates the log: missing, it was removed by its owner, which has exited
        or dropped the iterator, and there is nobody left to tell.
        """
        line = (json.dumps([path, reason]) + "\n").encode()
        create = os.O_CREAT if self._the_owners_own else 0
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | create, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except FileNotFoundError as exc:
            if create:  # the owner's own folder is gone: as any other failure
                self._lost(path, exc)
            else:
                _log.debug("gpuaug: not reporting skipped file %s: the iterator's process has "
                           "removed %s (it exited or dropped the iterator)", path, self.path)
        except OSError as exc:
            self._lost(path, exc)

    def _lost(self, path: str, exc: OSError) -> None:
        _log.warning("gpuaug: could not report skipped file %s to the iterator's process "
                     "through %s (%s)", path, self.path, exc)

    def read_new(self) -> list[tuple[str, str]]:
        """The ``(path, reason)`` pairs written since the last call (owner only)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._read_up_to)
                data = f.read()
        except FileNotFoundError:
            return []
        complete = data[:data.rfind(b"\n") + 1]  # a line being written is read next time
        self._read_up_to += len(complete)
        pairs = []
        for line in complete.splitlines():
            try:
                path, reason = json.loads(line)
            except ValueError:  # not ours to trust: report it, never guess
                _log.warning("gpuaug: ignored a malformed line in %s: %r", self.path, line)
                continue
            pairs.append((str(path), str(reason)))
        return pairs

    def __getstate__(self) -> dict[str, Any]:
        self.share()  # the copy will write to it
        return {"owner": self.owner, "path": self.path, "read_up_to": self._read_up_to}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.owner, self.path = state["owner"], state["path"]
        self._read_up_to = state["read_up_to"]
        self._finalizer = None  # a copy never removes the owner's log

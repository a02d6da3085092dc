"""Compiled kernels kept on disk, so that a second process starts without compiling.

A variant's cubin is stored under a key made of everything that decides its bytes: the
kernel source (the generated interface included), NVRTC's options, the architecture,
NVRTC's version and the name expressions.  A changed source or toolkit is a new key,
never a stale kernel.

Where: ``$GPUAUG_CACHE_DIR`` if set (an empty value turns the disk cache off), else
``$XDG_CACHE_HOME/gpuaug/kernels`` or ``~/.cache/gpuaug/kernels``.

Safe under concurrent processes (torchrun's eight ranks starting together): each entry
is one file, written to a private temporary name in the same folder and renamed into
place (atomic on POSIX and Windows), so a reader sees a whole entry or none.  Processes
that miss together each compile and each rename; the entries they write are the same.
A file that does not read back whole (truncated, edited, from another format) is
ignored and compiled again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

_log = logging.getLogger("gpuaug")
_MAGIC = b"GPUAUGK1"
FORMAT = 1


@dataclass(frozen=True)
class Compiled:
    """NVRTC's output for a set of kernel instantiations."""

    cubin: bytes
    log: str
    lowered: dict[str, str]  # C++ name expression -> the symbol in the cubin


def cache_dir() -> Optional[Path]:
    """The folder of compiled kernels, or None where the disk cache is turned off."""
    configured = os.environ.get("GPUAUG_CACHE_DIR")
    if configured is not None:
        return Path(configured).expanduser() if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gpuaug" / "kernels"


def entry_key(source: str, options: tuple[str, ...], arch: str, nvrtc_version: tuple[int, int],
              names: list[str]) -> str:
    """The name of the entry for these inputs: a SHA-256 of all of them."""
    h = hashlib.sha256()
    for part in (f"format {FORMAT}", source, "\0".join(options), arch,
                 "%d.%d" % tuple(nvrtc_version), "\0".join(names)):
        h.update(part.encode())
        h.update(b"\1")
    return h.hexdigest()


def _encode(compiled: Compiled) -> bytes:
    header = json.dumps({"lowered": compiled.lowered, "log": compiled.log,
                         "cubin_sha256": hashlib.sha256(compiled.cubin).hexdigest()}).encode()
    return _MAGIC + struct.pack("<Q", len(header)) + header + compiled.cubin


def _decode(data: bytes) -> Optional[Compiled]:
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 8:
        return None
    (size,) = struct.unpack("<Q", data[len(_MAGIC):len(_MAGIC) + 8])
    start = len(_MAGIC) + 8
    try:
        header = json.loads(data[start:start + size])
    except ValueError:
        return None
    cubin = data[start + size:]
    if not isinstance(header, dict) or hashlib.sha256(cubin).hexdigest() != header.get(
            "cubin_sha256"):
        return None
    return Compiled(cubin, str(header.get("log", "")), dict(header.get("lowered", {})))


def load(folder: Path, key: str, names: list[str]) -> Optional[Compiled]:
    """The entry ``key`` if it reads back whole and names every kernel asked for."""
    try:
        data = (folder / f"{key}.bin").read_bytes()
    except OSError:
        return None
    compiled = _decode(data)
    if compiled is None or not set(names) <= set(compiled.lowered):
        _log.warning("gpuaug: ignoring the damaged compiled-kernel file %s; compiling again",
                     folder / f"{key}.bin")
        return None
    return compiled


def store(folder: Path, key: str, compiled: Compiled) -> None:
    """Write the entry atomically; a folder that cannot be written only costs a compile."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_encode(compiled))
            os.replace(temporary, folder / f"{key}.bin")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        _log.warning("gpuaug: could not keep compiled kernels in %s (%s); set GPUAUG_CACHE_DIR "
                     "to a writable folder, or to an empty value to stop trying", folder, exc)


def cached(names: list[str], arch: str, source: str, options: tuple[str, ...],
           nvrtc_version: tuple[int, int], compile: Callable[[], Compiled]) -> Compiled:
    """``compile()``'s result for these inputs, from the disk cache when it holds it."""
    folder = cache_dir()
    if folder is None:
        return compile()
    key = entry_key(source, options, arch, nvrtc_version, names)
    compiled = load(folder, key, names)
    if compiled is None:
        compiled = compile()
        store(folder, key, compiled)
    return compiled

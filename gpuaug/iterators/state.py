"""Stopping an iterator mid-epoch and resuming it, in another process, with the same batches.

``it.state_dict()`` captures where the iterator is (batch position, epoch, the source
of the current epoch's order, the random stream, the files skipped so far) as plain
Python data (JSON-serialisable, as ``torch.save`` and checkpoint files want);
``it.load_state_dict(state)`` puts a freshly made iterator of the same data and
arguments there, so that it yields exactly the batches the uninterrupted run would
have yielded, in both draw modes.

The epoch's order is not stored: it is rebuilt from what drew it (the random stream
just before Keras's permutation, or (seed, epoch) for keyed and sharded orders), which
keeps a state small whatever the dataset's size.  A state names the iterator it came
from (class, data fingerprint, batch size, shuffle, seed, draw mode, shard, and for file
iterators the classes and ``on_error``) and carries a checksum: a state from another
iterator is refused with what differs, a corrupted one is refused, and nothing is
silently re-seeded.  Every field is checked before any is assigned: a state that is
refused leaves the iterator as it was.

Files are identified by their paths relative to the files' common folder
(:func:`relative_names`), so a checkpoint resumes on another machine, mount, symlink or
working directory holding the same files; where they differ, the error says which
folders differ and how (:func:`files_summary`).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Optional

import numpy as np

from .ahead import stream_state

#: 2: files identified by their relative paths, skipped files likewise, ``on_error`` and
#: the classes in the identity of file iterators (1: absolute paths).
FORMAT = 2
_KEY = "gpuaug_iterator_state"
#: A position field's largest value: a count of batches or epochs, far beyond any run.
_COUNT_LIMIT = 2**62
#: At most this many folders are summarised one by one in a state (files_summary).
_SUMMARY_FOLDERS = 1000


class StateError(ValueError):
    """A state that cannot be loaded into this iterator; the message says why."""


def encode_rng(state: Optional[tuple]) -> Optional[dict[str, Any]]:
    """A ``RandomState.get_state()`` tuple as plain data."""
    if state is None:
        return None
    name, key, pos, has_gauss, gauss = state
    return {"bit_generator": str(name), "key": [int(v) for v in key], "pos": int(pos),
            "has_gauss": int(has_gauss), "gauss": float(gauss)}


def decode_rng(data: dict[str, Any]) -> tuple:
    """The inverse of :func:`encode_rng`, checked: a legacy MT19937 state."""
    if (not isinstance(data, dict) or data.get("bit_generator") != "MT19937"
            or not isinstance(data.get("key"), list) or len(data["key"]) != 624
            or not _is_int(data.get("pos")) or not 0 <= data["pos"] <= 624
            or data.get("has_gauss") not in (0, 1) or isinstance(data["has_gauss"], bool)
            or not isinstance(data.get("gauss"), (int, float))
            or isinstance(data["gauss"], bool)):
        raise StateError("corrupted state: the random stream's state is not a MT19937 state")
    if not all(_is_int(v) and 0 <= v < 2**32 for v in data["key"]):
        raise StateError("corrupted state: the random stream's key holds values beyond 32 bits")
    key = np.array(data["key"], dtype=np.uint64)
    return ("MT19937", key.astype(np.uint32), data["pos"], int(data["has_gauss"]),
            float(data["gauss"]))


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def make_state(identity: dict[str, Any], snapshot: dict[str, Any],
               data_summary: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The serialisable state of an iterator from its identity and a raw snapshot.

    ``data_summary``: :func:`files_summary` of a file iterator's files, which a refused
    state's message compares with the loading iterator's.
    """
    order = snapshot["order"]
    body = {
        "format": FORMAT,
        "identity": identity,
        "position": {key: snapshot[key] for key in (
            "batch_index", "total_batches_seen", "epoch", "order_epoch", "flow_started",
            "read_this_epoch")},
        "order": order if isinstance(order, (str, type(None))) else encode_rng(order),
        "random_state": encode_rng(stream_state(snapshot["random_state"])),
        "skipped_files": [list(item) for item in snapshot["skipped"]],
    }
    if data_summary is not None:
        body["data_summary"] = data_summary
    return {_KEY: body, "checksum": _checksum(body)}


def read_state(state: Any, identity: dict[str, Any], *, batches: int,
               data_summary: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The raw snapshot in ``state``, after checking that it is intact and this iterator's.

    Every field is checked (``batches``: this iterator's batches per epoch, the most its
    ``batch_index`` can be); the first that fails raises :class:`StateError` naming it.
    ``data_summary``: this iterator's :func:`files_summary`, to say how its files differ
    from the state's.
    """
    if not isinstance(state, dict) or _KEY not in state or "checksum" not in state:
        raise StateError("not a gpuaug iterator state (expected the dict that "
                         "state_dict() returns)")
    body = state[_KEY]
    try:
        intact = _checksum(body) == state["checksum"]
    except (TypeError, ValueError):
        intact = False
    if not intact:
        raise StateError("corrupted state: its checksum does not match its contents")
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        found = body.get("format") if isinstance(body, dict) else None
        raise StateError(f"state format {found!r} is not {FORMAT}, the one this gpuaug reads"
                         + (" (format 1 is gpuaug's before 2026-12-08, which named files by "
                            "absolute paths: take the state again)" if found == 1 else ""))
    theirs = body.get("identity", {})
    if not isinstance(theirs, dict):
        raise StateError("corrupted state: its identity is not a mapping")
    differences = [f"{key}: {theirs.get(key)!r} in the state, {identity[key]!r} here"
                   for key in identity if key != "data" and theirs.get(key) != identity[key]]
    if theirs.get("data") != identity.get("data"):
        differences.append(describe_data_difference(body.get("data_summary"), data_summary))
    if differences:
        hint = ""
        if any(d.startswith("seed:") for d in differences) and theirs.get("seed") is not None:
            hint = f" (to resume this run, make the iterator with seed={theirs['seed']})"
        raise StateError("the state belongs to another iterator: " + "; ".join(differences)
                         + hint)
    position = body.get("position")
    if not isinstance(position, dict):
        raise StateError("corrupted state: its position is not a mapping")
    for key, most in (("batch_index", batches), ("total_batches_seen", _COUNT_LIMIT),
                      ("epoch", _COUNT_LIMIT), ("order_epoch", _COUNT_LIMIT),
                      ("read_this_epoch", _COUNT_LIMIT)):
        value = position.get(key)
        if not _is_int(value) or not 0 <= value <= most:
            raise StateError(f"corrupted state: position {key} is {value!r}, not an integer "
                             f"from 0 to {most:,}")
    if not isinstance(position.get("flow_started"), bool):
        raise StateError("corrupted state: position flow_started is not a boolean")
    order = body.get("order")
    if isinstance(order, str) and order not in ("arange", "epoch"):
        raise StateError(f"corrupted state: unknown epoch order {order!r}")
    skipped = body.get("skipped_files")
    if not isinstance(skipped, list) or not all(
            isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item)
            for item in skipped):
        raise StateError("corrupted state: skipped_files is not a list of [file, reason] "
                         f"pairs of strings: {str(skipped)[:200]}")
    stream = body.get("random_state")
    return {
        **{key: position[key] for key in (
            "batch_index", "total_batches_seen", "epoch", "order_epoch", "read_this_epoch",
            "flow_started")},
        "order": order if isinstance(order, (str, type(None))) else decode_rng(order),
        "random_state": None if stream is None else decode_rng(stream),
        "skipped": [tuple(item) for item in skipped],
    }


def array_fingerprint(*arrays: Any, samples: int = 1 << 16) -> str:
    """A digest of arrays' shapes, dtypes and an even sample of their values.

    Cheap for datasets of any size; tells another dataset apart, not every edit of one.
    """
    digest = hashlib.sha256()
    for a in arrays:
        if a is None:
            digest.update(b"none")
            continue
        digest.update(repr((tuple(a.shape), np.dtype(a.dtype).str)).encode())
        # A sample of whole rows first (a strided view), then of their values: nothing the
        # size of the dataset is copied, whatever its memory layout.
        rows = a[::max(1, len(a) // 64)] if getattr(a, "ndim", 0) else a
        picked = rows.reshape(-1)[::max(1, int(np.prod(rows.shape)) // samples)]
        if hasattr(picked, "__cuda_array_interface__"):
            import cupy

            picked = cupy.asnumpy(picked)
        digest.update(np.ascontiguousarray(picked).tobytes() if picked.dtype != object
                      else repr(picked.tolist()).encode())
    return digest.hexdigest()[:32]


def names_fingerprint(names: list[str]) -> str:
    """A digest of a file list, in order."""
    return hashlib.sha256("\n".join(names).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def relative_names(paths: list[str]) -> list[str]:
    """``paths`` relative to their common folder, with ``/`` separators: what identifies a
    dataset's files wherever it is mounted (another node's scratch copy, a symlink, a
    relative or trailing-slash spelling of the same folder).

    Folders are made absolute once each (a dataset has few; 1.28 M files take about a
    second), file names kept as they are.
    """
    if not paths:
        return []
    split = [p.rpartition(os.sep) for p in paths]
    folders = {folder: _absolute_folder(folder) for folder in {s[0] for s in split}}
    root = os.path.commonpath(list(folders.values()))
    under = {folder: _below(absolute, root) for folder, absolute in folders.items()}
    return [under[folder] + name for folder, _, name in split]


def _absolute_folder(folder: str) -> str:
    absolute = os.path.abspath(folder or os.curdir)
    if absolute.startswith("//") and not absolute.startswith("///"):
        absolute = absolute[1:]  # POSIX keeps a leading "//", commonpath does not: "/" here
    return absolute


def _below(folder: str, root: str) -> str:
    """``folder`` relative to ``root`` (a prefix of it), as a ``/``-ended prefix or ""."""
    rest = folder[len(root):].strip(os.sep)
    return rest.replace(os.sep, "/") + "/" if rest else ""


def files_summary(names: list[str]) -> dict[str, list]:
    """Per top folder of the relative ``names`` (a directory iterator's class folders):
    ``[files, digest of their names in order]``; "" for files at the top.  Beyond
    ``_SUMMARY_FOLDERS`` folders, only the file count (key "*")."""
    folders: dict[str, list[str]] = {}
    for name in names:
        top, sep, _ = name.partition("/")
        folders.setdefault(top if sep else "", []).append(name)
    if len(folders) > _SUMMARY_FOLDERS:
        return {"*": [len(names), names_fingerprint(names)]}
    return {top: [len(members), names_fingerprint(members)] for top, members in folders.items()}


def describe_data_difference(theirs: Any, ours: Optional[dict[str, list]]) -> str:
    """How the state's files differ from this iterator's, folder by folder where both
    summaries exist."""
    if not isinstance(theirs, dict) or ours is None:
        return "data: the state was taken over other data"
    notes = []
    for folder in sorted(set(theirs) | set(ours)):
        mine, other = ours.get(folder), theirs.get(folder)
        label = "the top folder" if folder == "" else f"{folder!r}"
        if other is None:
            notes.append(f"{label} only here ({mine[0]:,} files)")
        elif mine is None:
            notes.append(f"{label} only in the state ({other[0]:,} files)")
        elif other[0] != mine[0]:
            notes.append(f"{label}: {other[0]:,} files in the state, {mine[0]:,} here")
        elif other != mine:
            notes.append(f"{label}: {mine[0]:,} files in both, other names")
    if not notes:
        return "files: the same files in another order"
    more = f"; and {len(notes) - 10} more folders" if len(notes) > 10 else ""
    return ("files (relative to their common folder) differ: " + "; ".join(notes[:10])
            + more)

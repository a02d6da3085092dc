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
from (class, data fingerprint, batch size, shuffle, seed, draw mode, shard) and carries
a checksum: a state from another iterator is refused with what differs, a corrupted
one is refused, and nothing is silently re-seeded.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Optional

import numpy as np

from .ahead import stream_state

FORMAT = 1
_KEY = "gpuaug_iterator_state"


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
            or not isinstance(data.get("pos"), int) or not 0 <= data["pos"] <= 624):
        raise StateError("corrupted state: the random stream's state is not a MT19937 state")
    key = np.array(data["key"], dtype=np.uint64)
    if (key >> np.uint64(32)).any():
        raise StateError("corrupted state: the random stream's key holds values beyond 32 bits")
    return ("MT19937", key.astype(np.uint32), data["pos"], int(data["has_gauss"]),
            float(data["gauss"]))


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def make_state(identity: dict[str, Any], snapshot: dict[str, Any]) -> dict[str, Any]:
    """The serialisable state of an iterator from its identity and a raw snapshot."""
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
    return {_KEY: body, "checksum": _checksum(body)}


def read_state(state: Any, identity: dict[str, Any]) -> dict[str, Any]:
    """The raw snapshot in ``state``, after checking that it is intact and this iterator's."""
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
    if body.get("format") != FORMAT:
        raise StateError(f"state format {body.get('format')!r} is not {FORMAT}, the one this "
                         "gpuaug reads")
    theirs = body.get("identity", {})
    differences = [f"{key}: {theirs.get(key)!r} in the state, {identity[key]!r} here"
                   for key in identity if theirs.get(key) != identity[key]]
    if differences:
        hint = ""
        if any(d.startswith("seed:") for d in differences) and theirs.get("seed") is not None:
            hint = f" (to resume this run, make the iterator with seed={theirs['seed']})"
        raise StateError("the state belongs to another iterator: " + "; ".join(differences)
                         + hint)
    position = body["position"]
    # read_this_epoch: absent from the states of a gpuaug before it, which read every
    # epoch in the process (Iterator._catch_up_with_copies never ran): one read stands
    # for that.
    position = {"read_this_epoch": 1, **position}
    for key in ("batch_index", "total_batches_seen", "epoch", "order_epoch", "read_this_epoch"):
        if not isinstance(position.get(key), int) or position[key] < 0:
            raise StateError(f"corrupted state: position {key} is {position.get(key)!r}")
    if not isinstance(position.get("flow_started"), bool):
        raise StateError("corrupted state: position flow_started is not a boolean")
    order = body["order"]
    if isinstance(order, str) and order not in ("arange", "epoch"):
        raise StateError(f"corrupted state: unknown epoch order {order!r}")
    return {
        **position,
        "order": order if isinstance(order, (str, type(None))) else decode_rng(order),
        "random_state": None if body["random_state"] is None
        else decode_rng(body["random_state"]),
        "skipped": [tuple(item) for item in body["skipped_files"]],
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

"""Host benchmark: what one batch costs the CPU, with the kernel launch replaced by nothing.

The GPU must never wait for Python.  For a batch resident on the device (``flow`` over
a dataset already there), the host draws the parameters, derives the matrices and the
kernel's packed records, and prepares the launch; this times exactly that, per batch,
through the iterator's own code (its ``next()`` draws, the engine's call) with a
launcher that copies and launches nothing, so no GPU is needed:

- ``keras``: Keras's draws (the iterator reseeds its stream per batch, as Keras does),
  matrices with Keras's rounding, the fused call;
- ``keyed``: keyed draws (``rng="keyed"``), which the iterator makes a stretch of the
  epoch ahead (``AHEAD_SAMPLES``), plain float64 matrices, the fused call;
- ``keras, image by image``: the draws image after image, the literal 3x3 chain and the
  records packed per batch, as gpuaug did before, in the same run for the ratio.

Classic configuration, 224x224x3 uint8 in, float32 out, an epoch of 64 batches.
Batches are timed in blocks of one epoch; each figure is the median over blocks of the
block's mean per batch, so work made once per stretch of draws or once per epoch (the
shuffle) is counted in full and a busy moment of the machine moves one block, not the
result.
Prints a table of microseconds per batch (draws, matrices and records, fused call,
total; the total's best block) and images/s, then a last line
``host: B=256 keras <us> us, keyed <us> us per batch``.  Writes ``<out>/host.json``
and ``<out>/host.md``.

Usage: python bench/host.py [--batches 32,256,1024] [--blocks 20] [--out-dir bench/out]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from typing import Any, Callable

import numpy as np

from .. import engine
from ..backends.cuda import FusedBackend
from ..compose import compose_by_matmul
from ..drawn import DrawnBatch
from ..iterators.base import Iterator
from ..params import TransformParams
from ..presets import CLASSIC
from . import harness

SIZE = 224
MODES = ("keras", "keyed", "keras, image by image")
EPOCH_BATCHES = 64
BLOCK = EPOCH_BATCHES  # batches per timed block: an epoch, its shuffle and every stretch in it


class NullLauncher:
    """A :class:`~gpuaug.backends.cuda.Launcher` that moves and launches nothing."""

    xp = np

    def __init__(self) -> None:
        self._outputs: dict[tuple, np.ndarray] = {}
        self.launches = 0

    def context(self) -> Any:
        return contextlib.nullcontext()

    def upload(self, host: np.ndarray) -> np.ndarray:
        return host

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        # One buffer per shape, as a device memory pool hands the same block back.
        key = (tuple(shape), np.dtype(dtype))
        if key not in self._outputs:
            self._outputs[key] = np.empty(shape, dtype)
        return self._outputs[key]

    def launch(self, *args: Any) -> None:
        self.launches += 1


class _Epochs(Iterator):
    """The base iterator's epochs and draws over a dataset nobody reads (the bench's)."""

    def __init__(self, generator: Any, n: int, batch_size: int) -> None:
        self.image_data_generator = generator
        self.image_shape = (SIZE, SIZE, 3)
        super().__init__(n, batch_size, shuffle=True, seed=1)

    def next_draws(self) -> Any:
        """What ``next()`` does before it builds the batch: the order, then the draws."""
        with self.lock:
            index_array = next(self.index_generator)
            return self._draw(index_array, self._batch_start).drawn


def _steps(mode: str, batch: int):
    """Per-batch callables (draws, derive, fused call) for ``mode``."""
    import gpuaug

    gen = gpuaug.ImageDataGenerator(**CLASSIC, device="cpu",
                                    rng="keyed" if mode == "keyed" else "keras")
    backend = FusedBackend(NullLauncher(), name="null")
    x = np.zeros((batch, SIZE, SIZE, 3), np.uint8)
    config = gen.config()
    epochs = _Epochs(gen, batch * EPOCH_BATCHES, batch)
    rng = np.random.RandomState(0)

    if mode == "keras, image by image":
        def draws() -> Any:
            shape = (SIZE, SIZE, 3)
            return TransformParams.from_dicts(gen.sampler.draw(rng, shape) for _ in range(batch))

        def derive(params: TransformParams) -> Any:
            return compose_by_matmul(params, SIZE, SIZE), None

        def call(params: TransformParams, derived: Any) -> Any:
            return backend.augment(x, derived[0], params, config)

        return draws, derive, call

    rounding = mode == "keras"

    def derive_drawn(drawn: DrawnBatch) -> Any:
        # The span's matrices and records (made at its first batch); each batch's slices of
        # them are taken in the call, as the iterators take them.
        return drawn.span.records(SIZE, SIZE, config.compat, rounding, config.dtype)

    def call_drawn(drawn: DrawnBatch, derived: Any) -> Any:
        return engine._run("augment", x, drawn, gen.config(), backend)  # derived: made once

    return epochs.next_draws, derive_drawn, call_drawn


def measure(mode: str, batch: int, blocks: int) -> dict[str, Any]:
    """Microseconds per batch of each step and of the whole: medians over blocks of batches."""
    draws, derive, call = _steps(mode, batch)
    clock: Callable[[], float] = time.perf_counter
    per_block: dict[str, list[float]] = {"draws": [], "derive": [], "call": [], "total": []}
    for block in range(blocks + 1):
        sums = dict.fromkeys(per_block, 0.0)
        for _ in range(BLOCK):
            t0 = clock()
            drawn = draws()
            t1 = clock()
            derived = derive(drawn)
            t2 = clock()
            call(drawn, derived)
            t3 = clock()
            for key, value in (("draws", t1 - t0), ("derive", t2 - t1), ("call", t3 - t2),
                               ("total", t3 - t0)):
                sums[key] += value
        if block:  # the first block warms up: plans, kernel variants, caches
            for key, value in sums.items():
                per_block[key].append(value / BLOCK * 1e6)
    row = {key: statistics.median(values) for key, values in per_block.items()}
    row.update(mode=mode, batch=batch, images_per_s=batch / row["total"] * 1e6,
               total_min=min(per_block["total"]))
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| B | draws | draws us | matrices + records us | fused call us | total us | "
             "total us, best block | images/s | x image by image |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    before = {r["batch"]: r["total"] for r in rows if r["mode"] == "keras, image by image"}
    for r in rows:
        ratio = before.get(r["batch"], 0) / r["total"]
        lines.append(f"| {r['batch']} | {r['mode']} | {r['draws']:,.0f} | {r['derive']:,.0f} | "
                     f"{r['call']:,.0f} | {r['total']:,.0f} | {r['total_min']:,.0f} | "
                     f"{r['images_per_s']:,.0f} | "
                     f"{ratio:.1f} |")
    return "\n".join(lines)


def summary(rows: list[dict[str, Any]], batch: int = 256) -> str:
    """The last line: ``host: B=256 keras <us> us, keyed <us> us per batch``."""
    total = {r["mode"]: r["total"] for r in rows if r["batch"] == batch}
    if "keras" not in total or "keyed" not in total:
        return f"host: B={batch} not measured"
    return f"host: B={batch} keras {total['keras']:.0f} us, keyed {total['keyed']:.0f} us per batch"


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--batches", type=_ints, default=[32, 256, 1024],
                    help="batch sizes, comma-separated (default 32,256,1024)")
    ap.add_argument("--blocks", type=int, default=20,
                    help=f"timed blocks of {BLOCK} batches per row (default 20)")
    ap.add_argument("--slow-blocks", type=int, default=1,
                    help="timed blocks of the image-by-image row (milliseconds per batch; "
                         "default 1)")


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Every mode at every batch size; ``(payload, Markdown text ending in the summary)``."""
    rows = []
    jobs = [(batch, mode) for batch in args.batches for mode in MODES]
    for batch, mode in harness.progress(jobs, desc="host"):
        blocks = args.slow_blocks if mode == "keras, image by image" else args.blocks
        rows.append(measure(mode, batch, blocks))
    payload = dict(metadata=harness.metadata(dict(
        benchmark="host", image=[SIZE, SIZE, 3], config=CLASSIC, block=BLOCK,
        blocks=args.blocks, slow_blocks=args.slow_blocks)), results=rows)
    summary_batch = 256 if 256 in args.batches else args.batches[0]
    return payload, table(rows) + "\n\n" + summary(rows, summary_batch)


def main(argv: list[str] | None = None) -> int:
    return harness.script_main(argv, __doc__.split("\n\n")[0], add_arguments, run, "host")

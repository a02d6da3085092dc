"""Host benchmark: what one batch costs the CPU, with the kernel launch replaced by nothing.

The GPU must never wait for Python.  For a batch resident on the device (``flow`` over
a dataset already there), the host draws the parameters, composes the matrices, packs
the one upload and prepares the launch; this times exactly that, per batch, with a
launcher that copies and launches nothing, so no GPU is needed:

- ``keras``: Keras's draws (the iterator reseeds the stream, then the batch's draws),
  matrices with Keras's rounding, the fused call;
- ``keyed``: keyed draws (``rng="keyed"``), plain float64 matrices, the fused call;
- ``keras, image by image``: the draws image after image and the literal 3x3 chain, as
  gpuaug did before, in the same run for the ratio.

Classic configuration, 224x224x3 uint8 in, float32 out.  Prints a table of microseconds
per batch (draws, compose, fused call, total: medians of repeats; the total's minimum,
the least disturbed by a busy machine) and images/s, then a
last line ``host: B=256 keras <us> us, keyed <us> us per batch``.  Writes
``<out>/host.json`` and ``<out>/host.md``.

Usage: python bench/host.py [--batches 32,256,1024] [--repeats 200] [--out-dir bench/out]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from typing import Any, Callable

import numpy as np

from ..backends.cuda import FusedBackend
from ..compose import compose_by_matmul, compose_matrices
from ..params import TransformParams
from ..presets import CLASSIC
from ..rng import epoch_key
from . import harness

SIZE = 224
MODES = ("keras", "keyed", "keras, image by image")


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


def _steps(mode: str, batch: int):
    """Per-batch callables (draws, compose, fused call) for ``mode``."""
    import gpuaug

    gen = gpuaug.ImageDataGenerator(**CLASSIC, device="cpu",
                                    rng="keyed" if mode == "keyed" else "keras")
    backend = FusedBackend(NullLauncher(), name="null")
    x = np.zeros((batch, SIZE, SIZE, 3), np.uint8)
    shape = x.shape[1:]
    rng = np.random.RandomState(0)
    indices = np.arange(batch) * 7 % (batch * 8)  # a shuffled epoch's indices, spread out
    seen = [0]

    def draws() -> TransformParams:
        sampler = gen.sampler
        if mode == "keyed":
            return sampler.draw_keyed(epoch_key(1, 0), indices, shape)
        rng.seed(1 + seen[0])  # the iterator's per-batch reseeding, Keras's rule
        seen[0] += 1
        if mode == "keras":
            return sampler.draw_batch(rng, batch, shape)
        return TransformParams.from_dicts(sampler.draw(rng, shape) for _ in range(batch))

    def compose(params: TransformParams) -> np.ndarray:
        if mode == "keras, image by image":
            return compose_by_matmul(params, SIZE, SIZE)
        return compose_matrices(params, SIZE, SIZE, keras_rounding=mode != "keyed")

    def call(params: TransformParams, matrices: np.ndarray) -> Any:
        return backend.augment(x, matrices, params, gen.config())

    return draws, compose, call


def measure(mode: str, batch: int, repeats: int) -> dict[str, Any]:
    """Median microseconds per batch of each step and of the whole, for one mode and size."""
    draws, compose, call = _steps(mode, batch)
    timings: dict[str, list[float]] = {"draws": [], "compose": [], "call": [], "total": []}
    clock: Callable[[], float] = time.perf_counter
    for i in range(repeats + 3):
        t0 = clock()
        params = draws()
        t1 = clock()
        matrices = compose(params)
        t2 = clock()
        call(params, matrices)
        t3 = clock()
        if i >= 3:  # warm-up: plans, kernel variants, caches
            for key, value in (("draws", t1 - t0), ("compose", t2 - t1), ("call", t3 - t2),
                               ("total", t3 - t0)):
                timings[key].append(value * 1e6)
    row = {key: statistics.median(values) for key, values in timings.items()}
    row.update(mode=mode, batch=batch, images_per_s=batch / row["total"] * 1e6,
               total_min=min(timings["total"]))
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| B | draws | draws us | compose us | fused call us | total us | total us, min | "
             "images/s | x image by image |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    before = {r["batch"]: r["total"] for r in rows if r["mode"] == "keras, image by image"}
    for r in rows:
        ratio = before.get(r["batch"], 0) / r["total"]
        lines.append(f"| {r['batch']} | {r['mode']} | {r['draws']:,.0f} | {r['compose']:,.0f} | "
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
    ap.add_argument("--repeats", type=int, default=200, help="timed batches per row")
    ap.add_argument("--slow-repeats", type=int, default=5,
                    help="timed batches per row of the image-by-image draws (milliseconds each)")


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Every mode at every batch size; ``(payload, Markdown text ending in the summary)``."""
    rows = []
    jobs = [(batch, mode) for batch in args.batches for mode in MODES]
    for batch, mode in harness.progress(jobs, desc="host"):
        repeats = args.slow_repeats if mode == "keras, image by image" else args.repeats
        rows.append(measure(mode, batch, repeats))
    payload = dict(metadata=harness.metadata(dict(
        benchmark="host", image=[SIZE, SIZE, 3], config=CLASSIC, repeats=args.repeats,
        slow_repeats=args.slow_repeats)), results=rows)
    summary_batch = 256 if 256 in args.batches else args.batches[0]
    return payload, table(rows) + "\n\n" + summary(rows, summary_batch)


def main(argv: list[str] | None = None) -> int:
    return harness.script_main(argv, __doc__.split("\n\n")[0], add_arguments, run, "host")

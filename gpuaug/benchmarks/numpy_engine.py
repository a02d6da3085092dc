"""gpuaug's NumPy batch engine against Keras's ImageDataGenerator, on the CPU, in one run.

Same images, same configuration: a batch of B x size x size x 3 float32, the classic
configuration's augmentation (``gpuaug.presets.CLASSIC`` without its rescale: rotation
40, width/height shift, shear and zoom 0.2, horizontal flip, order 1, fill 'nearest').
Keras does what its iterators do per image (``random_transform`` then
``standardize``); gpuaug does the whole batch with
``ImageDataGenerator.random_transform_batch``.  The median of ``--repeats`` timed
calls after a warm-up.  Keras comes with the test extra; without it only gpuaug is
timed and Keras is reported as not installed.  What a CPU-only user can measure:
``gpuaug bench numpy``.

Usage: python bench/numpy_vs_keras.py [--batch 32] [--size 224] [--repeats 5] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from typing import Any, Callable

import numpy as np

from ..presets import CLASSIC
from . import harness

CONFIG = {k: v for k, v in CLASSIC.items() if k != "rescale"}


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _keras_generator() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    try:
        from keras.src.legacy.preprocessing.image import ImageDataGenerator
    except ImportError:
        return None
    return ImageDataGenerator(**CONFIG)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--batch", type=int, default=32, help="images per batch")
    ap.add_argument("--size", type=int, default=224, help="images are size x size x 3")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls (median)")


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Both engines on the same batch; ``(payload, Markdown table with the ratio)``."""
    import gpuaug

    batch = np.random.default_rng(0).uniform(0, 255, (args.batch, args.size, args.size, 3)
                                             ).astype(np.float32)
    ours = gpuaug.ImageDataGenerator(**CONFIG, device="cpu")
    ours_s = median_seconds(lambda: ours.random_transform_batch(batch, seed=1), args.repeats)
    result: dict[str, Any] = {"gpuaug_images_per_s": args.batch / ours_s}
    keras_gen = _keras_generator()
    if keras_gen is None:
        result["keras"] = "not installed"
    else:
        import keras

        def keras_batch() -> np.ndarray:
            np.random.seed(1)
            out = np.empty_like(batch)
            for i, img in enumerate(batch):
                out[i] = keras_gen.standardize(keras_gen.random_transform(img.copy()))
            return out

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SciPy's namespace DeprecationWarning, per channel
            keras_s = median_seconds(keras_batch, args.repeats)
        result.update(keras=keras.__version__, keras_images_per_s=args.batch / keras_s,
                      ratio=keras_s / ours_s)
    lines = [f"| engine | images/s (batch {args.batch}, {args.size}x{args.size}x3, 1 process) |",
             "|---|---|",
             f"| gpuaug NumPy batch engine | {result['gpuaug_images_per_s']:.1f} |"]
    if "ratio" in result:
        lines += [f"| Keras {result['keras']} random_transform + standardize | "
                  f"{result['keras_images_per_s']:.1f} |",
                  "", f"ratio gpuaug / Keras: {result['ratio']:.2f}x"]
    else:
        lines.append("| Keras | not installed |")
    payload = dict(metadata=harness.metadata(dict(
        benchmark="numpy", batch=args.batch, size=args.size, config=CONFIG,
        repeats=args.repeats, cpu_count=os.cpu_count())), results=result)
    return payload, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return harness.script_main(argv, __doc__.split("\n\n")[0], add_arguments, run, "numpy")

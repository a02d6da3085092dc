"""Time gpuaug's NumPy batch engine against Keras's ImageDataGenerator on one core.

Same images, same configuration, same run: batch 32 of 224x224x3 float32, the
classic configuration's augmentation (``gpuaug.presets.CLASSIC`` without its rescale,
as every recorded run: rotation 40, width/height shift, shear and zoom 0.2,
horizontal flip, order 1, fill 'nearest').  Keras does what its iterators do per image
(``random_transform`` then ``standardize``); gpuaug does the whole batch with
``ImageDataGenerator.random_transform_batch``.  Prints images/s for both and
the ratio (gpuaug / Keras).  Keras is a test dependency (``pip install -e
.[test]``); without it only gpuaug is timed and Keras is reported as not
installed.

Usage: python bench/numpy_vs_keras.py [--batch 32] [--size 224] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from gpuaug.presets import CLASSIC  # noqa: E402  (from a checkout, uninstalled)

CONFIG = {k: v for k, v in CLASSIC.items() if k != "rescale"}


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _keras_generator():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    try:
        from keras.src.legacy.preprocessing.image import ImageDataGenerator
    except ImportError:
        return None
    return ImageDataGenerator(**CONFIG)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    import gpuaug

    rng = np.random.default_rng(0)
    batch = rng.uniform(0, 255, (args.batch, args.size, args.size, 3)).astype(np.float32)
    ours = gpuaug.ImageDataGenerator(**CONFIG, device="cpu")
    ours_s = _median_seconds(lambda: ours.random_transform_batch(batch, seed=1), args.repeats)
    results = {
        "batch": args.batch, "size": args.size, "config": CONFIG,
        "python": platform.python_version(), "numpy": np.__version__,
        "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "gpuaug_images_per_s": args.batch / ours_s,
    }
    keras_gen = _keras_generator()
    if keras_gen is None:
        results["keras"] = "not installed"
    else:
        import keras

        def keras_batch():
            np.random.seed(1)
            out = np.empty_like(batch)
            for i, img in enumerate(batch):
                out[i] = keras_gen.standardize(keras_gen.random_transform(img.copy()))
            return out

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SciPy's namespace DeprecationWarning, per channel
            keras_s = _median_seconds(keras_batch, args.repeats)
        results.update(keras=keras.__version__, keras_images_per_s=args.batch / keras_s,
                       ratio=keras_s / ours_s)

    print(f"| engine | images/s (batch {args.batch}, {args.size}x{args.size}x3, 1 process) |")
    print("|---|---|")
    print(f"| gpuaug NumPy batch engine | {results['gpuaug_images_per_s']:.1f} |")
    if "ratio" in results:
        print(f"| Keras {results['keras']} random_transform + standardize | "
              f"{results['keras_images_per_s']:.1f} |")
        print(f"\nratio gpuaug / Keras: {results['ratio']:.2f}x")
    else:
        print("| Keras | not installed |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

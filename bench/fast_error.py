"""precision="fast" against the exact NumPy reference: how far the float32 warp lands.

For uint8 images of 64, 128 and 224 pixels (random noise: neighbours up to 255 apart,
the worst case for a coordinate error), the classic geometry with a stronger shear and
both flips, every fill mode, orders 0 and 1, plus the PIL brightness: the largest
difference on the 0..255 scale and the share of values that differ.  The backend is the
host emulation of the CUDA kernels (``--backend emulated``, no GPU: the same source
NVRTC compiles, with float32 operations and FMAs rounding as on the GPU) or the GPU
(``--backend cuda``).  The tests (tests/test_fast_precision.py) hold the bounds the
README states; this prints the figures behind them.

Usage: python bench/fast_error.py [--backend emulated|cuda] [--out-dir bench/out]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gpuaug  # noqa: E402
from gpuaug.backends import NumpyBackend  # noqa: E402
from gpuaug.benchmarks import harness  # noqa: E402
from gpuaug.compose import compose_matrices  # noqa: E402

GEOMETRY = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                shear_range=20, zoom_range=0.3, horizontal_flip=True, vertical_flip=True)
CASES = [(f"order {order}, {mode}", dict(fill_mode=mode, cval=17.0, interpolation_order=order))
         for order in (1, 0) for mode in ("nearest", "reflect", "wrap", "constant")]
CASES.append(("order 1, brightness 0.5-1.5", dict(brightness_range=(0.5, 1.5))))


def _backend(kind: str):
    if kind == "emulated":
        sys.path.insert(0, str(ROOT / "tests"))
        from emulation import emulated_backend

        return emulated_backend(Path(tempfile.gettempdir()) / "gpuaug-emulation")
    from gpuaug.backends.cuda import cuda_backend

    return cuda_backend(0)


def measure(backend, size: int, settings: dict, batch: int = 8) -> dict:
    rng = np.random.default_rng(size)
    x = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    gen = gpuaug.ImageDataGenerator(**GEOMETRY, **settings, device="cpu", precision="fast")
    gen.random_state.seed(size)
    params = gen.sampler.draw_batch(gen.random_state, batch, x.shape[1:])
    config = gen.config()
    m = compose_matrices(params, size, size, config.compat)
    out = backend.augment(backend.xp.asarray(x), m, params, config)
    out = out.get() if hasattr(out, "get") else np.asarray(out)
    error = np.abs(out.astype(np.float64) - NumpyBackend().augment(x, m, params, config))
    return dict(max=float(error.max()), differ=float(np.mean(error > 0)),
                differ_by_half=float(np.mean(error > 0.5)))


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--backend", choices=("emulated", "cuda"), default="emulated",
                    help="the kernels' host emulation (default, no GPU) or the GPU")
    ap.add_argument("--sizes", type=lambda t: [int(v) for v in t.split(",")],
                    default=[64, 128, 224], help="image sides (default 64,128,224)")


def run(args: argparse.Namespace) -> tuple[dict, str]:
    backend = _backend(args.backend)
    rows = []
    for label, settings in harness.progress(CASES, desc="fast error"):
        for size in args.sizes:
            rows.append(dict(case=label, size=size, **measure(backend, size, settings)))
    lines = ["| case | side | max abs error (0..255) | values that differ | differ by > 0.5 |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['case']} | {r['size']} | {r['max']:.4g} | {100 * r['differ']:.4f} % | "
              f"{100 * r['differ_by_half']:.4f} % |" for r in rows]
    order1 = [r["max"] for r in rows if r["case"].startswith("order 1,") and "bright" not in
              r["case"]]
    order0 = [r["differ"] for r in rows if r["case"].startswith("order 0")]
    summary = (f"fast: order 1 max {max(order1):.4f} of 255, order 0 "
               f"{100 * max(order0):.4f} % values differ ({backend.name})")
    payload = dict(metadata=harness.metadata(dict(benchmark="fast_error", backend=backend.name,
                                                  geometry=GEOMETRY)), results=rows)
    return payload, "\n".join(lines) + "\n\n" + summary


if __name__ == "__main__":
    sys.exit(harness.script_main(None, __doc__.split("\n\n")[0], add_arguments, run,
                                 "fast_error"))

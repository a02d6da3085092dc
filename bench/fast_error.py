"""precision="fast" against the exact NumPy reference: how far the float32 warp lands.

For uint8 images of 64, 128, 224 and 512 pixels (random noise: neighbours up to 255 apart,
the worst case for a coordinate error), the classic geometry with a stronger shear and
both flips, every fill mode, orders 0 and 1, plus the PIL brightness; and at 224 pixels
the large-coordinate cases of issue 31 (zoom 8 with rotation 10, shifts of +-5,000 pixels):
the largest difference on the 0..255 scale, the share of values that differ, and beside
them the bound of tests/test_fast_precision.py, a function of the transform (of the
magnitude S of the source coordinates; the module docstring there derives it):

- order 1: b, the largest of the batch's per-sample bounds (about 6 * 2^-24 * 255 * S), and
  the largest error / b of a sample (how much of its bound the worst sample uses);
- order 0: the share of values whose exact coordinate lies within rho of a rounding point
  (the only ones that may differ);
- brightness: the share predicted to change, the mean order-1 error of the same warp.

The backend is the host emulation of the CUDA kernels (``--backend emulated``, no GPU: the
same source NVRTC compiles, with float32 operations and FMAs rounding as on the GPU) or
the GPU (``--backend cuda``).

Usage: python bench/fast_error.py [--backend emulated|cuda] [--sizes 64,128,224,512]
       [--out-dir bench/out]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the bound functions; the emulated backend

import gpuaug  # noqa: E402
from gpuaug.backends import NumpyBackend  # noqa: E402
from gpuaug.benchmarks import harness  # noqa: E402
from gpuaug.compose import compose_matrices  # noqa: E402
from test_fast_precision import near_a_jump, order1_bound  # noqa: E402

GEOMETRY = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                shear_range=20, zoom_range=0.3, horizontal_flip=True, vertical_flip=True)
ZOOM_8 = dict(rotation_range=10, zoom_range=(8.0, 8.0), horizontal_flip=True,
              vertical_flip=True)
# (label, generator settings, shift): shift > 0 moves every sample by +-shift pixels along
# both axes instead of its drawn shift.
CASES = [(f"order {order}, {mode}", dict(GEOMETRY, fill_mode=mode, cval=17.0,
                                         interpolation_order=order), 0)
         for order in (1, 0) for mode in ("nearest", "reflect", "wrap", "constant")]
CASES.append(("order 1, brightness 0.5-1.5", dict(GEOMETRY, brightness_range=(0.5, 1.5)), 0))
LARGE_SIDE = 224
LARGE = [(f"order {order}, {label}, {mode}", dict(settings, fill_mode=mode,
                                                  interpolation_order=order), shift)
         for order in (1, 0)
         for label, settings, shift, modes in (
             ("zoom 8 rotation 10", ZOOM_8, 0, ("reflect",)),
             ("shift +-5,000 px", GEOMETRY, 5000, ("wrap", "reflect")))
         for mode in modes]
LARGE.append(("order 1, shift +-5,000 px, brightness 0.5-1.5",
              dict(GEOMETRY, fill_mode="reflect", brightness_range=(0.5, 1.5)), 5000))


def _backend(kind: str):
    if kind == "emulated":
        from emulation import emulated_backend

        return emulated_backend(Path(tempfile.gettempdir()) / "gpuaug-emulation")
    from gpuaug.backends.cuda import cuda_backend

    return cuda_backend(0)


def _augment(backend, x, m, params, config) -> np.ndarray:
    out = backend.augment(backend.xp.asarray(x), m, params, config)
    return (out.get() if hasattr(out, "get") else np.asarray(out)).astype(np.float64)


def measure(backend, size: int, settings: dict, shift: int = 0, batch: int = 8) -> dict:
    rng = np.random.default_rng(size + shift)
    x = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    gen = gpuaug.ImageDataGenerator(**settings, device="cpu", precision="fast")
    gen.random_state.seed(size + shift)
    params = gen.sampler.draw_batch(gen.random_state, batch, x.shape[1:])
    if shift:
        params = dataclasses.replace(params, tx=rng.choice([-shift, shift], batch),
                                     ty=rng.choice([-shift, shift], batch))
    config = gen.config()
    m = compose_matrices(params, size, size, config.compat)
    out = _augment(backend, x, m, params, config)
    error = np.abs(out - NumpyBackend().augment(x, m, params, config))
    row = dict(max=float(error.max()), differ=float(np.mean(error > 0)),
               differ_by_half=float(np.mean(error > 0.5)))
    fill_mode, order = config.fill_mode, config.interpolation_order
    if "brightness_range" in settings:  # predicted share: the warp's mean order-1 error
        plain = dataclasses.replace(params, brightness=np.full(batch, np.nan))
        warp_error = np.abs(_augment(backend, x, m, plain, config)
                            - NumpyBackend().augment(x, m, plain, config))
        row.update(predicted=float(warp_error.mean()))
    elif order == 1:  # b, and how much of it the worst sample uses (values near a jump aside)
        near = near_a_jump(m, params, size, size, fill_mode, order=1)
        bound = order1_bound(x, m, fill_mode)
        worst = np.where(near[..., None], 0.0, error).reshape(batch, -1).max(axis=1)
        row.update(bound=float(bound.max()), used=float((worst / bound).max()),
                   near=float(near.mean()))
    else:  # the share of values that may differ at all
        row.update(could_differ=float(near_a_jump(m, params, size, size, fill_mode,
                                                  order=0).mean()))
    return row


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--backend", choices=("emulated", "cuda"), default="emulated",
                    help="the kernels' host emulation (default, no GPU) or the GPU")
    ap.add_argument("--sizes", type=lambda t: [int(v) for v in t.split(",")],
                    default=[64, 128, 224, 512], help="image sides (default 64,128,224,512)")


def _bound_text(r: dict) -> str:
    if "bound" in r:
        return f"b = {r['bound']:.4g} (worst sample uses {r['used']:.2f})"
    if "could_differ" in r:
        return f"{100 * r['could_differ']:.4f} % may differ"
    return f"~{100 * r['predicted']:.4f} % predicted"


def run(args: argparse.Namespace) -> tuple[dict, str]:
    backend = _backend(args.backend)
    jobs = [(label, settings, shift, size) for label, settings, shift in CASES
            for size in args.sizes]
    jobs += [(label, settings, shift, LARGE_SIDE) for label, settings, shift in LARGE]
    rows = [dict(case=label, size=size, **measure(backend, size, settings, shift))
            for label, settings, shift, size in harness.progress(jobs, desc="fast error")]
    lines = ["| case | side | max abs error (0..255) | values that differ | differ by > 0.5 "
             "| bound (tests/test_fast_precision.py) |",
             "|---|---:|---:|---:|---:|---|"]
    lines += [f"| {r['case']} | {r['size']} | {r['max']:.4g} | {100 * r['differ']:.4f} % | "
              f"{100 * r['differ_by_half']:.4f} % | {_bound_text(r)} |" for r in rows]
    order1 = [r for r in rows if "bound" in r]
    order0 = [r["differ"] for r in rows if "could_differ" in r]
    used = [r["used"] for r in order1]
    held = "every sample within its bound b" if max(used) <= 1 else "SOME SAMPLE OVER ITS BOUND"
    summary = (f"fast: order 1 max {max(r['max'] for r in order1):.4f} of 255, {held} (the "
               f"worst sample of a row uses {min(used):.2f} to {max(used):.2f} of it); order 0 "
               f"{100 * max(order0):.4f} % values differ ({backend.name})")
    payload = dict(metadata=harness.metadata(dict(benchmark="fast_error", backend=backend.name,
                                                  geometry=GEOMETRY)), results=rows)
    return payload, "\n".join(lines) + "\n\n" + summary


if __name__ == "__main__":
    sys.exit(harness.script_main(None, __doc__.split("\n\n")[0], add_arguments, run,
                                 "fast_error"))

"""Kernel-only benchmark: gpuaug's fused kernel against the GPU alternatives, one run.

A resident batch (default B=256 of 224x224x3 uint8 on the GPU) is augmented to
float32 with the classic configuration (rotation 40, width / height shift, shear
and zoom 0.2, horizontal flip, order 1, fill 'nearest', rescale 1/255).  Contenders:

- gpuaug: the fused kernel (host-side parameter packing and upload included), with
  ``precision="exact"`` (NHWC and NCHW out) and ``"fast"``;
- torch: ``affine_grid`` + ``grid_sample``, batched, per-sample matrices;
- cupyx: ``cupyx.scipy.ndimage.affine_transform`` looped per image (the naive GPU port);
- dali: ``fn.warp_affine`` with per-sample matrices;
- kornia: ``RandomAffine`` (where installed);
- cast: ``x.astype(float32)``, no warp (a vectorised element-wise kernel);
- copy: a device-to-device copy of the same number of bytes: the bandwidth ceiling.

Bytes moved per batch = uint8 input read once + output written once.  For each
contender: images/s, GB/s, the fraction of the measured copy bandwidth and the
ratio to gpuaug.  A sweep over batch size and image side shows how gpuaug's
throughput and bandwidth fraction grow with the work.  Writes
``<out>/kernel.json`` (with metadata) and ``<out>/kernel.md``, and
``<out>/kernel.png`` through bench/plot.py where matplotlib is installed.

Usage: python bench/kernel.py [--batch 256] [--size 224] [--repeats 20] [--out-dir bench/out]
                              [--no-sweep] [--sweep-batches 1,4,...] [--sweep-sides 64,...]
"""

from __future__ import annotations

import argparse
import functools

import numpy as np

from ..environment import cuda_status
from ..presets import CLASSIC
from . import harness
from .geometry import normalised_theta, volume_matrices, with_flips, xy_matrices
from .harness import NotInstalled

SLOW_REPEATS = 3  # for contenders that take a second or more per batch


class Workload:
    """One resident batch, its parameters and matrices, shared by every contender."""

    def __init__(self, batch: int, size: int, channels: int = 3, seed: int = 0) -> None:
        import cupy

        import gpuaug
        from gpuaug.compose import compose_matrices

        self.b, self.h, self.w, self.c = batch, size, size, channels
        rng = np.random.default_rng(seed)
        host = rng.integers(0, 256, (batch, size, size, channels), dtype=np.uint8)
        self.x = cupy.asarray(host)
        self.gen = gpuaug.ImageDataGenerator(**CLASSIC, device="cuda")
        self.gen.random_state.seed(seed)
        self.params = self.gen.sampler.draw_batch(self.gen.random_state, batch, host.shape[1:])
        self.matrices = compose_matrices(self.params, size, size, self.gen.compat)
        self.rc = with_flips(self.matrices, self.params, size, size)  # (B, 3, 3), flips folded

    @property
    def bytes_moved(self) -> int:
        return self.b * self.h * self.w * self.c * (1 + 4)  # uint8 in, float32 out


def gpuaug_setup(work: Workload, output_data_format: str | None = None,
                 precision: str = "exact"):
    import dataclasses

    from gpuaug.backends.cuda import cuda_backend

    backend = cuda_backend(0)
    config = dataclasses.replace(work.gen.config(), output_data_format=output_data_format,
                                 precision=precision)
    fn = lambda: backend.augment(work.x, work.matrices, work.params, config)  # noqa: E731
    return fn, (f"fused kernel, 1 launch, precision={precision}"
                + (" (NCHW out)" if output_data_format else ""))


def copy_setup(work: Workload):
    import cupy

    n = work.bytes_moved // 2  # read n + write n = the kernel's traffic
    src = cupy.ones(n, dtype=np.uint8)
    dst = cupy.empty_like(src)
    return (lambda: cupy.copyto(dst, src)), f"cudaMemcpy D2D of {n / 1e6:.1f} MB"


def cast_setup(work: Workload):
    import cupy

    out = cupy.empty(work.x.shape, dtype=np.float32)
    return ((lambda: cupy.multiply(work.x, np.float32(1 / 255), out=out)),
            "uint8 * (1/255) -> float32, no warp")


def torch_setup(work: Workload):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as exc:
        raise NotInstalled(f"torch: {exc}") from None
    if not torch.cuda.is_available():
        raise NotInstalled("torch without CUDA")
    x = torch.from_dlpack(work.x)
    theta = torch.as_tensor(normalised_theta(work.rc, work.h, work.w), dtype=torch.float32,
                            device=x.device)
    size = (work.b, work.c, work.h, work.w)

    def run():
        inp = x.permute(0, 3, 1, 2).float()
        grid = F.affine_grid(theta, size, align_corners=True)
        out = F.grid_sample(inp, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return out.mul_(1 / 255)

    return run, f"torch {torch.__version__}, NCHW out"


def cupyx_setup(work: Workload):
    import cupy
    from cupyx.scipy.ndimage import affine_transform

    mats = [cupy.asarray(m) for m in volume_matrices(work.rc)]
    out = cupy.empty(work.x.shape, dtype=np.float32)

    def run():
        xf = work.x.astype(np.float32)
        for i in range(work.b):
            affine_transform(xf[i], mats[i], order=1, mode="nearest", output=out[i])
        cupy.multiply(out, np.float32(1 / 255), out=out)  # in place, without rebinding `out`

    return run, "one affine_transform call per image"


def dali_setup(work: Workload):
    try:
        import nvidia.dali as dali
        from nvidia.dali import fn, pipeline_def, types
    except ImportError as exc:
        raise NotInstalled(f"nvidia-dali: {exc}") from None
    mats = xy_matrices(work.rc, half_pixel=True)[:, :2].astype(np.float32)

    @pipeline_def(batch_size=work.b, num_threads=4, device_id=0, prefetch_queue_depth=1)
    def pipe():
        images = fn.external_source(source=lambda: work.x, device="gpu", batch=True, layout="HWC",
                                    cycle=False, no_copy=True)
        matrix = fn.external_source(source=lambda: mats, batch=True)
        out = fn.warp_affine(images, matrix=matrix, interp_type=types.INTERP_LINEAR,
                             dtype=types.FLOAT)
        return out * (1 / 255)

    p = pipe()
    p.build()
    return (lambda: p.run()), f"DALI {dali.__version__}, pipeline run incl. external_source"


def kornia_setup(work: Workload):
    try:
        import kornia
        import torch
    except ImportError as exc:
        raise NotInstalled(f"kornia: {exc}") from None
    aug = kornia.augmentation.RandomAffine(degrees=40, translate=(0.2, 0.2), scale=(0.8, 1.2),
                                           shear=0.2, p=1.0, padding_mode="border")
    x = torch.from_dlpack(work.x)
    return (lambda: aug(x.permute(0, 3, 1, 2).float() / 255)), f"kornia {kornia.__version__}"


CONTENDERS = [
    ("gpuaug", gpuaug_setup, "cuda", False),
    ("gpuaug NCHW", lambda w: gpuaug_setup(w, "channels_first"), "cuda", False),
    ("gpuaug fast", lambda w: gpuaug_setup(w, precision="fast"), "cuda", False),
    ("torch grid_sample", torch_setup, "wall", False),
    ("dali warp_affine", dali_setup, "wall", False),
    ("kornia RandomAffine", kornia_setup, "wall", True),
    ("cupyx per image", cupyx_setup, "cuda", True),
    ("cast (no warp)", cast_setup, "cuda", False),
    ("copy (ceiling)", copy_setup, "cuda", False),
]


def run_main(work: Workload, warmup: int, repeats: int) -> list[harness.Result]:
    results = []
    for name, setup, timer, slow in harness.progress(CONTENDERS, desc="contenders"):
        results.append(harness.run_contender(
            name, functools.partial(setup, work), images=work.b, bytes_moved=work.bytes_moved,
            warmup=1 if slow else warmup, repeats=SLOW_REPEATS if slow else repeats, timer=timer))
    return results


def run_sweep(batches: list[int], sides: list[int], warmup: int, repeats: int,
              ceiling_gb_s: float | None, max_bytes: float) -> list[dict]:
    import cupy

    rows = []
    jobs = [(b, s) for s in sides for b in batches if b * s * s * 3 * 5 <= max_bytes]
    for b, s in harness.progress(jobs, desc="sweep"):
        work = Workload(b, s)
        r = harness.run_contender("gpuaug", functools.partial(gpuaug_setup, work), images=b,
                                  bytes_moved=work.bytes_moved, warmup=warmup, repeats=repeats)
        rows.append(dict(batch=b, side=s, status=r.status, note=r.note, median_s=r.median,
                         images_per_s=r.images_per_s, gb_per_s=r.gb_per_s,
                         fraction_of_copy=(r.gb_per_s / ceiling_gb_s
                                           if r.gb_per_s and ceiling_gb_s else None)))
        del work
        cupy.get_default_memory_pool().free_all_blocks()
    return rows


def sweep_table(rows: list[dict]) -> str:
    lines = ["| batch | side | images/s | GB/s | of copy bw |", "|---:|---:|---:|---:|---:|"]
    for r in rows:
        frac = r["fraction_of_copy"]
        lines.append(f"| {r['batch']} | {r['side']} | "
                     f"{r['images_per_s'] and format(r['images_per_s'], ',.0f') or r['status']} | "
                     f"{r['gb_per_s'] and format(r['gb_per_s'], '.1f') or '—'} | "
                     f"{format(frac * 100, '.1f') + '%' if frac else '—'} |")
    return "\n".join(lines)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=224, help="image side (square images)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--no-sweep", dest="sweep", action="store_false")
    ap.add_argument("--sweep-batches", type=_ints, default=[1, 4, 16, 64, 256, 1024])
    ap.add_argument("--sweep-sides", type=_ints, default=[64, 128, 224, 512, 1024])
    ap.add_argument("--sweep-max-gb", type=float, default=20.0,
                    help="skip sweep points whose input + output exceed this many GB")


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Run every contender and the sweep; ``(payload, Markdown text)``."""
    usable, reason = cuda_status()
    if not usable:
        raise harness.Unavailable(f"the kernel benchmark needs a CUDA device: {reason}")
    work = Workload(args.batch, args.size)
    results = run_main(work, args.warmup, args.repeats)
    ceiling = next((r.gb_per_s for r in results if r.name == "copy (ceiling)" and r.gb_per_s), None)
    table = harness.markdown_table(results, ceiling, baseline="gpuaug")
    sweep = run_sweep(args.sweep_batches, args.sweep_sides, args.warmup, args.repeats, ceiling,
                      args.sweep_max_gb * 1e9) if args.sweep else []
    text = table + ("\n\nSweep (gpuaug, classic configuration):\n\n" + sweep_table(sweep)
                    if sweep else "")
    payload = dict(
        metadata=harness.metadata(dict(
            benchmark="kernel", batch=args.batch, shape=[args.size, args.size, 3],
            input_dtype="uint8", output_dtype="float32", config=CLASSIC,
            bytes_per_batch=work.bytes_moved, warmup=args.warmup, repeats=args.repeats,
            copy_ceiling_gb_s=ceiling)),
        results=[r.as_dict() for r in results],
        sweep=sweep,
    )
    return payload, text


def main(argv: list[str] | None = None) -> int:
    return harness.script_main(argv, __doc__.split("\n\n")[0], add_arguments, run, "kernel")

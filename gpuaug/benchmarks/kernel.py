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
ratio to gpuaug.  Then gpuaug's kernels alone, per configuration (classic exact and
fast, NCHW out, order 0, each fill mode, samplewise, channel shift and brightness): the
records packed and uploaded once, ten calls back to back per CUDA-event sample, beside
the SASS model's time for the same kernels (``gpuaug bench sass``; where cuobjdump is
installed).  The classic exact and fast kernels alone with 4 (the default) and 8 pixels
per thread, at several batch sizes (``--shape-batches``): the launch shape the model
cannot judge.  A sweep over batch size and image side shows how gpuaug's
throughput and bandwidth fraction grow with the work.  Writes
``<out>/kernel.json`` (with metadata) and ``<out>/kernel.md``, and
``<out>/kernel.png`` through bench/plot.py where matplotlib is installed.

Usage: python bench/kernel.py [--batch 256] [--size 224] [--repeats 20] [--out-dir bench/out]
                              [--no-sweep] [--sweep-batches 1,4,...] [--sweep-sides 64,...]
                              [--shape-batches 32,256,1024]
"""

from __future__ import annotations

import argparse
import functools
import re

import numpy as np

from ..backends.cuda.launch_args import PIXELS_PER_THREAD
from ..backends.cuda.variants import KernelVariant
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


#: The kernels alone (``FusedBackend.kernels_alone``: no drawing, packing or upload), per
#: configuration, against the SASS model's prediction for the same kernels: (label,
#: generator arguments on top of the classic configuration).  uint8 input throughout, as
#: the model's memory floor assumes.
ALONE = (
    ("classic exact", {}),
    ("classic fast", dict(precision="fast")),
    ("NCHW out", dict(output_data_format="channels_first")),
    ("order 0", dict(interpolation_order=0)),
    ("reflect", dict(fill_mode="reflect")),
    ("wrap", dict(fill_mode="wrap")),
    ("constant", dict(fill_mode="constant")),
    ("samplewise", dict(samplewise_center=True, samplewise_std_normalization=True)),
    ("channel shift + brightness", dict(channel_shift_range=20.0, brightness_range=(0.7, 1.3))),
    ("samplewise + channel shift", dict(samplewise_center=True, samplewise_std_normalization=True,
                                        channel_shift_range=20.0)),
)


def alone_setup(work: Workload, settings: dict, pixels_per_thread: int | None = None):
    """``FusedBackend.kernels_alone`` on the workload's batch, drawn for ``settings``."""
    import gpuaug
    from gpuaug.backends.cuda import cuda_backend
    from gpuaug.compose import compose_matrices

    backend = cuda_backend(0)
    gen = gpuaug.ImageDataGenerator(**{**CLASSIC, **settings}, device="cuda")
    gen.random_state.seed(0)
    params = gen.sampler.draw_batch(gen.random_state, work.b, (work.h, work.w, work.c))
    matrices = compose_matrices(params, work.h, work.w, gen.compat)
    return backend.kernels_alone(work.x, matrices, params, gen.config(),
                                 pixels_per_thread=pixels_per_thread)


#: The device names each GPU of the model answers to (CUDA's device name, e.g. "NVIDIA H100
#: 80GB HBM3"): whole words, so an L40S is not an L4, a GH200 not an H200, and a PCIe or NVL
#: card (other clocks and bandwidth) not the SXM part the model describes.
_DEVICE_NAMES = {
    "H100 SXM": r"\bH100\b(?!.*\b(PCIe|NVL)\b)",
    "H200": r"(?<![A-Za-z])H200\b(?!.*\bNVL\b)",
    "L4": r"\bL4\b",
    "T4": r"\bT4\b",
}


def model_seconds(variant: KernelVariant, passes: tuple[str, ...],
                  device_name: str) -> tuple[float | None, str]:
    """The SASS model's time for these kernels on the GPU called ``device_name`` (B = 256 at
    224^2), where the model can run (NVRTC, cuobjdump and nvdisasm, a GPU it knows);
    else None and why."""
    import tempfile
    from pathlib import Path

    from . import sass

    gpu = next((g for g in sass.GPUS if re.search(_DEVICE_NAMES[g.name], device_name)), None)
    if gpu is None:
        return None, f"no model for {device_name}"
    try:
        with tempfile.TemporaryDirectory(prefix="gpuaug-alone-") as folder:
            row = sass.analyse(variant, passes, gpu.arch, Path(folder))
    except Exception as exc:  # the disassembler is missing, say: the table still has times
        return None, f"{type(exc).__name__}: {exc}"
    return sass.predict(row, gpu)["seconds"], gpu.name


def _time_alone(label: str, alone, work: Workload, warmup: int,
                repeats: int) -> harness.Result:
    """One ``kernels_alone`` result timed: ten calls back to back per CUDA-event sample."""
    return harness.run_contender(label, lambda: (alone.run, ""), images=work.b,
                                 bytes_moved=work.bytes_moved, warmup=warmup, repeats=repeats,
                                 timer="cuda back to back")


def run_alone(work: Workload, warmup: int, repeats: int,
              ceiling_gb_s: float | None) -> list[dict]:
    """Each configuration's kernels timed alone, back to back, beside the model's time."""
    import cupy

    from . import sass

    rows = []
    modelled = (work.b, work.h, work.w, work.c) == (sass.BATCH, sass.SIDE, sass.SIDE,
                                                    sass.CHANNELS)
    device = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"].decode()
    for label, settings in harness.progress(ALONE, desc="kernels alone"):
        alone = None
        try:
            alone = alone_setup(work, settings)
            r = _time_alone(label, alone, work, warmup, repeats)
        except Exception as exc:  # a configuration that cannot be set up is a row, not a crash
            r = harness.Result(label, "failed", f"{type(exc).__name__}: {exc}")
        if not modelled:
            model, why = None, "not B=256 at 224^2"
        elif alone is None:
            model, why = None, "not set up"
        else:
            model, why = model_seconds(alone.variant, alone.passes, device)
        rows.append(dict(variant=label, passes=list(alone.passes if alone else ()),
                         status=r.status, note=r.note, median_s=r.median, gb_per_s=r.gb_per_s,
                         fraction_of_copy=(r.gb_per_s / ceiling_gb_s
                                           if r.gb_per_s and ceiling_gb_s else None),
                         model_s=model, model_note=why))
    return rows


def _percent(fraction: float | None) -> str:
    return format(fraction * 100, ".1f") + "%" if fraction else "—"


def alone_table(rows: list[dict]) -> str:
    lines = ["| variant | kernels | median us | GB/s | of copy bw | model us | measured / model |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        us = r["median_s"] and r["median_s"] * 1e6
        model = r["model_s"] and r["model_s"] * 1e6
        lines.append(
            f"| {r['variant']} | {' + '.join(r['passes']) or r['status']} | "
            f"{format(us, ',.1f') if us else r['status'] + ': ' + r['note']} | "
            f"{format(r['gb_per_s'], '.1f') if r['gb_per_s'] else '—'} | "
            f"{_percent(r['fraction_of_copy'])} | "
            f"{format(model, ',.1f') if model else '— (' + r['model_note'] + ')'} | "
            f"{format(us / model, '.2f') if us and model else '—'} |")
    return "\n".join(lines)


#: Pixels per thread the launch-shape table compares (the default first): more amortise a
#: thread's setup over more pixels, fewer give small batches more waves of blocks.
LAUNCH_SHAPES = (PIXELS_PER_THREAD, 2 * PIXELS_PER_THREAD)


def run_launch_shapes(batches: list[int], side: int, warmup: int,
                      repeats: int) -> list[dict]:
    """Classic exact and fast kernels alone with each of :data:`LAUNCH_SHAPES` pixels per
    thread, for each batch size: which launch shape a GPU prefers (the SASS model counts
    the setup, not the waves)."""
    import cupy

    rows = []
    jobs = [(label, b) for label, _ in ALONE[:2] for b in batches]
    for label, b in harness.progress(jobs, desc="launch shapes"):
        work = Workload(b, side)
        settings = dict(ALONE)[label]
        row = dict(variant=label, batch=b, side=side, median_s={})
        for per_thread in LAUNCH_SHAPES:
            try:
                alone = alone_setup(work, settings, per_thread)
                row["median_s"][per_thread] = _time_alone(f"{label} {per_thread}", alone, work,
                                                          warmup, repeats).median
            except Exception as exc:  # a row that says why, not a crash
                row["median_s"][per_thread] = None
                row["note"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
        del work
        cupy.get_default_memory_pool().free_all_blocks()
    return rows


def launch_shape_table(rows: list[dict]) -> str:
    first, *others = LAUNCH_SHAPES
    lines = ["| variant | batch | " + " | ".join(f"{p} px/thread us" for p in LAUNCH_SHAPES)
             + " | " + " | ".join(f"{p} / {first}" for p in others) + " |",
             "|---|---:|" + "---:|" * (len(LAUNCH_SHAPES) + len(others))]
    for r in rows:
        times = r["median_s"]
        cells = [format(times[p] * 1e6, ",.1f") if times.get(p) else r.get("note", "failed")
                 for p in LAUNCH_SHAPES]
        ratios = [format(times[p] / times[first], ".2f") if times.get(p) and times.get(first)
                  else "—" for p in others]
        lines.append(f"| {r['variant']} | {r['batch']} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


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
    ap.add_argument("--batch", type=int, default=256,
                    help="images per resident batch of the main table")
    ap.add_argument("--size", type=int, default=224, help="image side (square images)")
    ap.add_argument("--warmup", type=int, default=3,
                    help="untimed calls per contender before timing (compiles, caches)")
    ap.add_argument("--repeats", type=int, default=20,
                    help="timed calls per contender (the median is reported)")
    ap.add_argument("--no-sweep", dest="sweep", action="store_false",
                    help="skip the sweep over batch size and image side")
    # Defaults in the help as they are typed (the formatter would print the lists).
    ap.add_argument("--sweep-batches", type=_ints, default=[1, 4, 16, 64, 256, 1024],
                    help="batch sizes of the sweep, comma-separated (default 1,4,16,64,256,1024)")
    ap.add_argument("--sweep-sides", type=_ints, default=[64, 128, 224, 512, 1024],
                    help="image sides of the sweep, comma-separated (default 64,128,224,512,1024)")
    ap.add_argument("--shape-batches", type=_ints, default=[32, 256, 1024],
                    help="batch sizes of the launch-shape table, comma-separated (empty: none; "
                    "default 32,256,1024)")
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
    alone = run_alone(work, args.warmup, args.repeats, ceiling)
    table += ("\n\nThe kernels alone (records packed and uploaded once; "
              f"{harness.BACK_TO_BACK} calls back to back per sample), against the SASS "
              "model:\n\n" + alone_table(alone))
    shapes = run_launch_shapes(args.shape_batches, args.size, args.warmup, args.repeats)
    if shapes:
        table += ("\n\nLaunch shapes: the classic kernels alone with "
                  f"{' and '.join(map(str, LAUNCH_SHAPES))} pixels per thread, side "
                  f"{args.size}:\n\n" + launch_shape_table(shapes))
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
        kernels_alone=alone,
        launch_shapes=shapes,
        sweep=sweep,
    )
    return payload, text


def main(argv: list[str] | None = None) -> int:
    return harness.script_main(argv, __doc__.split("\n\n")[0], add_arguments, run, "kernel")

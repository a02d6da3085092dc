"""The main job: augment the built-in sample, write a preview grid, report images/s.

``python -m gpuaug.demo`` (or ``make demo``) generates the sample dataset if
needed, streams it through ``flow_from_directory`` at ``--size`` (decoded as
Keras's ``load_img`` does, or by DALI on a GPU) with the classic configuration
(rotation 40, shifts / shear / zoom 0.2, horizontal flip, rescale 1/255),
prints the throughput and the device, and writes a PNG grid: each original
beside augmented draws of it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from . import ImageDataGenerator
from .datasets import make_sample
from .iterators.loading import WHITE_LIST_FORMATS, load_image

CLASSIC = dict(
    rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
    zoom_range=0.2, horizontal_flip=True, fill_mode="nearest", rescale=1 / 255,
)


def _to_host(x) -> np.ndarray:
    """A NumPy copy of a batch from either device (CuPy arrays have ``.get()``)."""
    return x.get() if hasattr(x, "__cuda_array_interface__") else np.asarray(x)


def _synchronize(device: str) -> None:
    """Wait for queued GPU work, so that the timing covers it."""
    if device != "cpu":
        import cupy

        cupy.cuda.Device(int(device.split(":")[1])).synchronize()


def preview_grid(originals: np.ndarray, augmented: list[np.ndarray]) -> Image.Image:
    """Rows of [original | draw 1 | draw 2 | ...]; inputs uint8 (N, H, W, 3)."""
    rows = np.concatenate([originals] + augmented, axis=2)  # side by side
    return Image.fromarray(np.concatenate(list(rows), axis=0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpuaug.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="class-folder dataset (default: the built-in sample)")
    parser.add_argument("--out", type=Path, default=Path("gpuaug-demo"), help="output folder")
    parser.add_argument("--size", type=int, default=128, help="images are resized to size x size")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3, help="passes over the data to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    args = parser.parse_args(argv)

    data = args.data
    if data is None:
        data = args.out / "sample"
        if not data.exists():
            make_sample(data)
            print(f"Wrote the built-in sample dataset to {data}")
    gen = ImageDataGenerator(**CLASSIC, device=args.device)
    it = gen.flow_from_directory(str(data), target_size=(args.size, args.size),
                                 batch_size=args.batch_size, seed=args.seed)
    if it.samples == 0:
        raise FileNotFoundError(
            f"No images ({', '.join(WHITE_LIST_FORMATS)}) in class folders under {data}")
    start = time.perf_counter()
    count = 0
    for _ in range(args.epochs):
        for i in range(len(it)):
            batch, _ = it[i]
            count += len(batch)
        it.on_epoch_end()
    _synchronize(gen.device)
    elapsed = time.perf_counter() - start
    print(f"Augmented {count} images of {args.size}x{args.size} on {gen.device} "
          f"(decoder: {it.decoder}) in {elapsed:.2f} s: {count / elapsed:.0f} images/s")

    chosen = np.linspace(0, it.samples - 1, min(8, it.samples)).astype(int)
    shown = np.stack([load_image(it.filepaths[j], "rgb", (args.size, args.size)) for j in chosen])
    draws = [np.clip(_to_host(gen.random_transform_batch(shown)[0]) * 255, 0, 255).astype(np.uint8)
             for _ in range(4)]
    args.out.mkdir(parents=True, exist_ok=True)
    grid_path = args.out / "preview.png"
    preview_grid(shown, draws).save(grid_path)
    print(f"Preview grid (original, then 4 augmented draws per row): {grid_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

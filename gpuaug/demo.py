"""The main job: augment the built-in sample, write a preview grid, report images/s.

``python -m gpuaug.demo`` (or ``make demo``) generates the sample dataset if
needed, loads it at ``--size`` (Pillow, nearest, as Keras's ``load_img``
does), augments every image with the classic configuration (rotation 40,
shifts / shear / zoom 0.2, horizontal flip, rescale 1/255) through gpuaug's
batched engine, prints the throughput and the device, and writes a PNG grid:
each original beside augmented draws of it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from . import ImageDataGenerator
from .datasets import make_sample

CLASSIC = dict(
    rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
    zoom_range=0.2, horizontal_flip=True, fill_mode="nearest", rescale=1 / 255,
)
_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")


def load_folder(directory: Path, size: int) -> tuple[np.ndarray, list[str]]:
    """Every image under ``directory/<class>/`` as one uint8 batch, plus class names."""
    classes = sorted(p.name for p in directory.iterdir() if p.is_dir())
    images, labels = [], []
    for name in classes:
        for path in sorted((directory / name).rglob("*")):
            if path.suffix.lower() in _EXTENSIONS:
                with Image.open(path) as img:
                    img = img.convert("RGB").resize((size, size), Image.NEAREST)
                    images.append(np.asarray(img))
                labels.append(name)
    if not images:
        raise FileNotFoundError(f"No images ({', '.join(_EXTENSIONS)}) in class folders under {directory}")
    return np.stack(images), labels


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
    images, labels = load_folder(data, args.size)
    print(f"Found {len(images)} images belonging to {len(set(labels))} classes.")

    gen = ImageDataGenerator(**CLASSIC, device=args.device)
    gen.random_state.seed(args.seed)
    start = time.perf_counter()
    count = 0
    for _ in range(args.epochs):
        for i in range(0, len(images), args.batch_size):
            batch, _ = gen.random_transform_batch(images[i:i + args.batch_size])
            count += len(batch)
    _synchronize(gen.device)
    elapsed = time.perf_counter() - start
    print(f"Augmented {count} images of {args.size}x{args.size} on {gen.device} "
          f"in {elapsed:.2f} s: {count / elapsed:.0f} images/s")

    shown = images[np.linspace(0, len(images) - 1, min(8, len(images))).astype(int)]
    draws = [np.clip(_to_host(gen.random_transform_batch(shown)[0]) * 255, 0, 255).astype(np.uint8)
             for _ in range(4)]
    args.out.mkdir(parents=True, exist_ok=True)
    grid_path = args.out / "preview.png"
    preview_grid(shown, draws).save(grid_path)
    print(f"Preview grid (original, then 4 augmented draws per row): {grid_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

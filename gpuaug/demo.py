"""The main job: augment the built-in sample, write a preview grid, report images/s.

``python -m gpuaug.demo`` (or ``make demo``) generates the sample dataset if
needed, streams it through ``flow_from_directory`` at ``--size`` (decoded as
Keras's ``load_img`` does, or by DALI on a GPU) with the classic configuration
(rotation 40, shifts / shear / zoom 0.2, horizontal flip, rescale 1/255),
prints the throughput and the device, and writes a PNG grid: each original
beside augmented draws of it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from . import ImageDataGenerator
from .datasets import make_sample
from .iterators.loading import WHITE_LIST_FORMATS, load_image
from .iterators.outputs import to_host

CLASSIC = dict(
    rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
    zoom_range=0.2, horizontal_flip=True, fill_mode="nearest", rescale=1 / 255,
)


def _synchronize(device: str) -> None:
    """Wait for queued GPU work, so that the timing covers it."""
    if device != "cpu":
        import cupy

        cupy.cuda.Device(int(device.split(":")[1])).synchronize()


def preview_grid(originals: np.ndarray, augmented: list[np.ndarray]) -> Image.Image:
    """Rows of [original | draw 1 | draw 2 | ...]; inputs uint8 (N, H, W, 3)."""
    rows = np.concatenate([originals] + augmented, axis=2)  # side by side
    return Image.fromarray(np.concatenate(list(rows), axis=0))


def run(data: Path | None, out: Path, size: int = 128, batch_size: int = 32, epochs: int = 3,
        seed: int = 0, device: str = "auto", progress: bool = True) -> Path:
    """The main job; returns the preview's path.  ``gpuaug demo`` is its command line."""
    from tqdm.auto import tqdm

    gen = ImageDataGenerator(**CLASSIC, device=device)  # a bad device fails before any writing
    if data is None:
        data = out / "sample"
        if not data.exists():
            make_sample(data)
            print(f"Wrote the built-in sample dataset to {data}")
    it = gen.flow_from_directory(str(data), target_size=(size, size), batch_size=batch_size,
                                 seed=seed)
    if it.samples == 0:
        raise FileNotFoundError(
            f"No images ({', '.join(WHITE_LIST_FORMATS)}) in class folders under {data}")
    start = time.perf_counter()
    count = 0
    with tqdm(total=epochs * len(it), desc="augmenting", unit="batch", disable=not progress,
              leave=False) as bar:
        for _ in range(epochs):
            for i in range(len(it)):
                batch, _ = it[i]
                count += len(batch)
                bar.update()
            it.on_epoch_end()
        _synchronize(gen.device)
    elapsed = time.perf_counter() - start
    print(f"Augmented {count} images of {size}x{size} on {gen.device} "
          f"(decoder: {it.decoder}) in {elapsed:.2f} s: {count / elapsed:.0f} images/s")

    chosen = np.linspace(0, it.samples - 1, min(8, it.samples)).astype(int)
    shown = np.stack([load_image(it.filepaths[j], "rgb", (size, size)) for j in chosen])
    draws = [np.clip(to_host(gen.random_transform_batch(shown)[0]) * 255, 0, 255).astype(np.uint8)
             for _ in range(4)]
    out.mkdir(parents=True, exist_ok=True)
    grid_path = out / "preview.png"
    preview_grid(shown, draws).save(grid_path)
    print(f"Preview grid (original, then 4 augmented draws per row): {grid_path}")
    return grid_path


def main(argv: list[str] | None = None) -> int:
    """``python -m gpuaug.demo [...]`` is ``gpuaug demo [...]``."""
    import sys

    from .cli import main as cli_main

    return cli_main(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())

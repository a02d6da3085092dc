"""The main job: augment the built-in sample, write a preview grid, report images/s.

``gpuaug demo`` (or ``make demo``, or ``python -m gpuaug demo``) generates the sample
dataset if needed, streams it through ``flow_from_directory`` at ``--size`` (decoded
as Keras's ``load_img`` does, or by DALI on a GPU) with the classic configuration
(:data:`gpuaug.presets.CLASSIC`), prints the throughput and the device, and writes a
PNG grid: each original beside augmented draws of it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import preview
from .datasets import make_sample
from .environment import cuda_index
from .errors import ImageFileError
from .generator import ImageDataGenerator
from .presets import CLASSIC
from .sources.listing import WHITE_LIST_FORMATS


def _synchronize(device: str) -> None:
    """Wait for queued GPU work, so that the timing covers it."""
    index = cuda_index(device)
    if index is not None:
        import cupy

        cupy.cuda.Device(index).synchronize()


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
                try:
                    batch, _ = it[i]
                except ImageFileError as exc:  # the command has no on_error: say the fix there
                    if type(exc) is not ImageFileError:
                        raise
                    raise ImageFileError(exc.path, exc.cause,
                                         hint="remove or replace the file") from exc.cause
                count += len(batch)
                bar.update()
            it.on_epoch_end()
        _synchronize(gen.device)
    elapsed = time.perf_counter() - start
    print(f"Augmented {count} images of {size}x{size} on {gen.device} "
          f"(decoder: {it.decoder}) in {elapsed:.2f} s: {count / elapsed:.0f} images/s")

    chosen = np.linspace(0, it.samples - 1, min(8, it.samples)).astype(int)
    shown = preview.load_tiles([it.filepaths[j] for j in chosen], size)  # a bad file is named
    draws = [preview.to_uint8(gen.random_transform_batch(shown)[0]) for _ in range(4)]
    out.mkdir(parents=True, exist_ok=True)
    grid_path = out / "preview.png"
    # Labelled as `gpuaug preview --compare` labels its grid: the picture explains itself.
    names = {index: name for name, index in it.class_indices.items()}
    headers = ["original", *(f"draw {k + 1}" for k in range(len(draws)))]
    preview.grid([[original, *(d[i] for d in draws)] for i, original in enumerate(shown)],
                 [headers] * len(shown),
                 row_labels=[names[int(it.classes[j])] for j in chosen]).save(grid_path)
    print(f"Preview grid (a row per image, labelled with its class: the original, then "
          f"{len(draws)} augmented draws): {grid_path}")
    return grid_path


if __name__ == "__main__":  # `python -m gpuaug.demo ...` is `python -m gpuaug demo ...`
    import sys

    from gpuaug.cli import main

    raise SystemExit(main(["demo", *sys.argv[1:]]))

"""Preview grids: what the augmentation does to your images, with class names.

Grids are image mosaics built with Pillow (exact pixel sizes: every tile is
``size x size`` under a caption strip), saved as PNG.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..iterators.outputs import to_host

CAPTION = 14  # pixels of caption strip above every tile


def to_uint8(batch: Any) -> np.ndarray:
    """A float batch in [0, 1] or [0, 255] (either device) as uint8 NHWC for display."""
    x = to_host(batch).astype(np.float32)
    if x.size and x.max() <= 1.0 + 1e-6 and x.min() >= -1e-6:
        x = x * 255
    return np.clip(x, 0, 255).astype(np.uint8)


def grid(rows: Sequence[Sequence[np.ndarray]], captions: Sequence[Sequence[str]],
         size: int) -> Image.Image:
    """A mosaic of ``size x size`` tiles (uint8 HWC, 1 or 3 channels) with captions above."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    canvas = Image.new("RGB", (n_cols * size, n_rows * (size + CAPTION)), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (row, texts) in enumerate(zip(rows, captions)):
        for j, (tile, text) in enumerate(zip(row, texts)):
            tile = tile if tile.shape[-1] == 3 else np.repeat(tile[..., :1], 3, axis=-1)
            x0, y0 = j * size, i * (size + CAPTION)
            canvas.paste(Image.fromarray(tile).resize((size, size), Image.Resampling.NEAREST),
                         (x0, y0 + CAPTION))
            draw.text((x0 + 2, y0 + 1), text[: max(1, size // 6)], fill="black")
    return canvas


def expected_size(n_rows: int, n_cols: int, size: int) -> tuple[int, int]:
    """The (width, height) of :func:`grid`'s picture."""
    return n_cols * size, n_rows * (size + CAPTION)

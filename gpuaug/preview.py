"""Preview grids: what the augmentation does to your images, as one picture.

One way to draw them, used by ``gpuaug demo``, ``gpuaug preview`` and
``docs/compat_pictures.py``: a mosaic of equal tiles (Pillow, exact pixel sizes),
each optionally under a caption strip, rows optionally labelled in a left margin,
saved as PNG by the caller.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw

from .errors import ArgumentError, ImageFileError, the_files_own
from .output import to_host
from .sources.load_img import load_image

CAPTION = 14  # pixels of caption strip above every tile, when there are captions
LABEL_WIDTH = 150  # pixels of left margin, when rows are labelled


def load_tiles(paths: Sequence[str], size: int) -> np.ndarray:
    """The files as ``size x size`` RGB tiles (uint8 NHWC), decoded as Keras's ``load_img``.

    A file that cannot be read raises :class:`ImageFileError` naming it, as the iterators
    do: Pillow's own errors ("image file is truncated") do not say which file.
    """
    return np.stack([_tile(path, size) for path in paths])


def _tile(path: str, size: int) -> np.ndarray:
    try:
        return load_image(path, "rgb", (size, size))
    except ArgumentError:  # a bad argument is not the file's fault
        raise
    except Exception as exc:
        if not the_files_own(exc):  # the machine's state (memory, open files): as it is
            raise
        # No on_error here: the fix is the file's.
        raise ImageFileError(path, exc, hint="remove or replace the file") from exc


def to_uint8(batch: Any) -> np.ndarray:
    """A float batch in [0, 1] or [0, 255] (either device) as uint8 NHWC for display."""
    x = to_host(batch).astype(np.float32)
    if x.size and x.max() <= 1.0 + 1e-6 and x.min() >= -1e-6:
        x = x * 255
    return np.clip(x, 0, 255).astype(np.uint8)


def grid(rows: Sequence[Sequence[np.ndarray]],
         captions: Optional[Sequence[Sequence[str]]] = None, size: Optional[int] = None, *,
         row_labels: Optional[Sequence[str]] = None, gap: int = 0) -> Image.Image:
    """A mosaic of tiles (uint8 HWC, 1 or 3 channels), row by row.

    ``size``: every tile is resized (nearest) to ``size x size``; None keeps the tiles'
    own size, which must then be the same for all.  ``captions``: one text per tile,
    drawn in a strip above it.  ``row_labels``: one text per row, in a left margin.
    ``gap``: white pixels between neighbouring tiles.
    """
    first = rows[0][0]
    tile_w, tile_h = (size, size) if size else (first.shape[1], first.shape[0])
    strip = CAPTION if captions is not None else 0
    margin = LABEL_WIDTH if row_labels is not None else 0
    n_cols = max(len(r) for r in rows)
    step_x, step_y = tile_w + gap, tile_h + strip + gap
    canvas = Image.new("RGB", (margin + n_cols * step_x - gap, len(rows) * step_y - gap), "white")
    draw = ImageDraw.Draw(canvas)
    for i, row in enumerate(rows):
        y0 = i * step_y
        if row_labels is not None:
            draw.text((4, y0 + strip + tile_h // 2), row_labels[i], fill="black")
        for j, tile in enumerate(row):
            tile = tile if tile.shape[-1] == 3 else np.repeat(tile[..., :1], 3, axis=-1)
            picture = Image.fromarray(tile)
            if size:
                picture = picture.resize((size, size), Image.Resampling.NEAREST)
            x0 = margin + j * step_x
            canvas.paste(picture, (x0, y0 + strip))
            if captions is not None:
                draw.text((x0 + 2, y0 + 1), captions[i][j][: max(1, tile_w // 6)], fill="black")
    return canvas


def expected_size(n_rows: int, n_cols: int, size: int, *,
                  row_labels: bool = False) -> tuple[int, int]:
    """The (width, height) of :func:`grid`'s captioned picture of ``size`` tiles
    (``row_labels``: with the rows' label margin)."""
    return (LABEL_WIDTH if row_labels else 0) + n_cols * size, n_rows * (size + CAPTION)

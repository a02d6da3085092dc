"""A small built-in dataset, generated on the spot, so nothing needs a download.

``make_sample`` writes a Keras-style class-folder tree of textured shapes
(one class per shape and texture), mixing JPEG and PNG and varying the image sizes,
which exercises decoders, resizing and the warp's edges.  The same seed always
writes the same images.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw

#: The default sample's classes: striped shapes.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
#: Every shape a class can have: SHAPES first, so their classes come first.
ALL_SHAPES: tuple[str, ...] = SHAPES + ("cross", "ring")
#: What fills a shape; the first is SHAPES' own and is left out of class names.
TEXTURES: tuple[str, ...] = ("stripes", "dots", "plain")
#: The most classes whose images differ systematically (a shape and a texture each):
#: beyond it a class would repeat one, and no model could tell the two apart.
MAX_CLASSES = len(ALL_SHAPES) * len(TEXTURES)


def class_names(count: int) -> list[str]:
    """``count`` distinct class names: every shape striped ("circle"), then dotted
    ("circle_dots"), then plain ("circle_plain"); at most :data:`MAX_CLASSES`."""
    if not 1 <= count <= MAX_CLASSES:
        raise ValueError(f"at most {MAX_CLASSES} distinct classes ({len(ALL_SHAPES)} shapes x "
                         f"{len(TEXTURES)} textures), at least 1. Received: {count}")
    names = []
    for i in range(count):
        shape, texture = ALL_SHAPES[i % len(ALL_SHAPES)], TEXTURES[i // len(ALL_SHAPES)]
        names.append(shape if texture == TEXTURES[0] else f"{shape}_{texture}")
    return names


_STYLES = class_names(MAX_CLASSES)


def _style(name: str) -> tuple[str, str]:
    """``(shape, texture)`` of one of :func:`class_names`' names."""
    shape, _, texture = name.partition("_")
    return shape, texture or TEXTURES[0]


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        corners, radii = 4, [r]
    elif shape == "triangle":
        corners, radii = 3, [r]
    elif shape == "cross":  # a plus sign: 12 corners on two alternating radii
        return [(cx + d * math.cos(angle + a) - e * math.sin(angle + a),
                 cy + d * math.sin(angle + a) + e * math.cos(angle + a))
                for a in (0, math.pi / 2, math.pi, 3 * math.pi / 2)
                for d, e in ((0.35 * r, -0.35 * r), (r, -0.35 * r), (r, 0.35 * r))]
    else:  # star: alternate outer and inner radius
        corners, radii = 10, [r, 0.45 * r]
    return [
        (cx + radii[i % len(radii)] * math.cos(angle + 2 * math.pi * i / corners),
         cy + radii[i % len(radii)] * math.sin(angle + 2 * math.pi * i / corners))
        for i in range(corners)
    ]


def _render(name: str, width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """One image of class ``name`` (one of :func:`class_names`), drawn from ``rng``."""
    shape, texture = _style(name)
    # Background: a smooth two-colour gradient plus noise, so every pixel
    # differs from its neighbours and fill modes are visible at the edges.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = (xx / max(width - 1, 1) + yy / max(height - 1, 1))[..., None] / 2
    background = c0 * (1 - t) + c1 * t + rng.normal(0, 12, (height, width, 3))
    image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    r = rng.uniform(0.25, 0.4) * min(width, height)
    cx = rng.uniform(r, width - r)
    cy = rng.uniform(r, height - r)
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    outline = tuple(255 - v for v in fill)
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=outline, width=3)
    elif shape == "ring":  # a thick circle line, edged, the background seen through it
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill, width=max(3, int(0.45 * r)))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=outline, width=2)
        inner = r - max(3, int(0.45 * r))
        draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], outline=outline, width=2)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, rng.uniform(0, 2 * math.pi)),
                     fill=fill, outline=outline, width=3)
    # Texture inside the shape gives the warp something to move (and tells classes of
    # the same shape apart): SHAPES' stripes, a grid of dots, or none.
    if texture == "stripes":
        for k in range(-int(r), int(r), 6):
            draw.line([cx + k, cy - r, cx + k + r / 2, cy + r], fill=outline, width=1)
    elif texture == "dots":
        for dx in range(-int(r), int(r), 7):
            for dy in range(-int(r), int(r), 7):
                draw.rectangle([cx + dx, cy + dy, cx + dx + 2, cy + dy + 2], fill=outline)
    return image


def make_sample(
    directory: str | Path,
    *,
    classes: Sequence[str] = SHAPES,
    per_class: int = 8,
    sizes: tuple[int, int] = (72, 160),
    seed: int = 0,
    formats: Sequence[str] = ("png", "jpg"),
    image_size: Optional[tuple[int, int]] = None,
    on_image: Optional[Callable[[Path], None]] = None,
) -> Path:
    """Write ``per_class`` images for each class under ``directory/<class>/``.

    A class named as :func:`class_names` names them ("circle", "star_dots") gets that
    shape and texture; any other name gets the first one no other class has, so the
    classes always differ (at most :data:`MAX_CLASSES` of them).  Sizes are uniform in
    ``sizes`` per side, and images cycle through ``formats`` ("png", "jpg": quality 90).
    ``image_size`` ``(width, height)`` fixes every image's size instead; ``on_image`` is
    called with each written path (a progress bar, say).  Returns the directory.
    """
    if image_size is not None:
        if len(image_size) != 2 or min(image_size) < 1:
            raise ValueError(f"`image_size` must be (width, height) >= 1. Received: {image_size}")
    formats = tuple(formats)
    if not formats or any(f not in ("png", "jpg") for f in formats):
        raise ValueError(f"`formats` must name 'png' and/or 'jpg'. Received: {formats}")
    if per_class < 1:
        raise ValueError(f"`per_class` must be at least 1. Received: {per_class}")
    low, high = sizes
    if not 1 <= low <= high:
        raise ValueError(f"`sizes` must be (min, max) with 1 <= min <= max. Received: {sizes}")
    classes = list(classes)
    if len(set(classes)) > MAX_CLASSES:  # a style would repeat: classes no model tells apart
        raise ValueError(f"`classes` can name at most {MAX_CLASSES} classes (each a distinct "
                         f"shape and texture). Received: {len(set(classes))}")
    spare = iter(s for s in _STYLES if s not in classes)
    styles = {name: name if name in _STYLES else next(spare) for name in dict.fromkeys(classes)}
    root = Path(directory)
    rng = np.random.default_rng(seed)
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            width, height = (int(v) for v in rng.integers(low, high + 1, 2))
            if image_size is not None:
                width, height = int(image_size[0]), int(image_size[1])
            image = _render(styles[name], width, height, rng)
            fmt = formats[i % len(formats)]
            path = folder / f"{name}_{i:03d}.{fmt}"
            if fmt == "png":
                image.save(path)
            else:
                image.save(path, quality=90)
            if on_image is not None:
                on_image(path)
    return root

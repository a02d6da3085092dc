"""Render docs/compat-modes.png: one image under each compat mode, side by side.

Usage: python docs/compat_pictures.py   (writes docs/compat-modes.png)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import gpuaug
from gpuaug import preview
from gpuaug.datasets import make_sample

COLUMNS = [
    ("original", {}),
    ("height shift +0.25", {"tx": None}),  # filled in per image: 0.25 * H
    ("zoom 0.6", {"zx": 0.6, "zy": 0.6}),
    ("rotation +30", {"theta": 30.0}),
    ("brightness 1.3, [0,1] data", {"brightness": 1.3}),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_sample(Path(tmp), classes=["star"], per_class=1, sizes=(120, 120), seed=5)
        with Image.open(next(root.rglob("*.png"))) as img:
            image = np.asarray(img.convert("RGB").resize((180, 110), Image.NEAREST))
    h = image.shape[0]
    tiles = []
    for compat in gpuaug.COMPAT_MODES:
        gen = gpuaug.ImageDataGenerator(compat=compat, fill_mode="constant", cval=0)
        row = []
        for _, params in COLUMNS:
            params = dict(params)
            if "tx" in params:
                params["tx"] = -0.25 * h  # Keras: tx = height_shift_range * H, sign drawn
            if "brightness" in params:
                x = image.astype(np.float32) / 255
                out = gen.apply_transform(x, params)
                out = np.clip(out * 255, 0, 255)
            else:
                out = gen.apply_transform(image.astype(np.float32), params)
            row.append(np.clip(out, 0, 255).astype(np.uint8))
        tiles.append(row)
    captions = [[title for title, _ in COLUMNS]] * len(tiles)
    sheet = preview.grid(tiles, captions, row_labels=list(gpuaug.COMPAT_MODES),
                         gap=4)
    out = Path(__file__).with_name("compat-modes.png")
    sheet.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

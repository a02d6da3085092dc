"""The same per-sample warp, expressed in each contender's convention.

gpuaug's composer gives inverse matrices in (row, col) pixel coordinates with
pixel centres on integers, flips applied to the output coordinates by the kernel.
Other libraries want (x, y) = (col, row), pixel centres at +0.5 (DALI) or
normalised [-1, 1] coordinates (PyTorch ``affine_grid``, align_corners=True).
These helpers fold the flips in and convert, so every contender warps alike.
"""

from __future__ import annotations

import numpy as np

from gpuaug.params import TransformParams

_SWAP = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def homogeneous(m: np.ndarray) -> np.ndarray:
    """(B, 2, 3) -> (B, 3, 3)."""
    out = np.zeros((len(m), 3, 3))
    out[:, :2] = m
    out[:, 2, 2] = 1.0
    return out


def with_flips(matrices: np.ndarray, params: TransformParams, h: int, w: int) -> np.ndarray:
    """(B, 3, 3) row/col matrices that include the flips (output r -> h-1-r, c -> w-1-c)."""
    m = homogeneous(matrices)
    flip = np.tile(np.eye(3), (len(m), 1, 1))
    flip[params.flip_vertical, 0, 0] = -1.0
    flip[params.flip_vertical, 0, 2] = h - 1
    flip[params.flip_horizontal, 1, 1] = -1.0
    flip[params.flip_horizontal, 1, 2] = w - 1
    return m @ flip


def xy_matrices(rc: np.ndarray, *, half_pixel: bool) -> np.ndarray:
    """(B, 3, 3) row/col inverse matrices -> (x, y) ones, optionally with centres at +0.5."""
    xy = _SWAP @ rc @ _SWAP
    if half_pixel:
        shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
        unshift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
        xy = shift @ xy @ unshift
    return xy


def normalised_theta(rc: np.ndarray, h: int, w: int) -> np.ndarray:
    """(B, 2, 3) ``theta`` for ``torch.nn.functional.affine_grid(..., align_corners=True)``."""
    to_norm = np.array([[2.0 / max(w - 1, 1), 0.0, -1.0], [0.0, 2.0 / max(h - 1, 1), -1.0],
                        [0.0, 0.0, 1.0]])
    return (to_norm @ xy_matrices(rc, half_pixel=False) @ np.linalg.inv(to_norm))[:, :2]


def volume_matrices(rc: np.ndarray) -> np.ndarray:
    """(B, 4, 4) matrices for ``affine_transform`` on an (H, W, C) image: channels untouched."""
    out = np.tile(np.eye(4), (len(rc), 1, 1))
    out[:, :2, :2] = rc[:, :2, :2]
    out[:, :2, 3] = rc[:, :2, 2]
    return out

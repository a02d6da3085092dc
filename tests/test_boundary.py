"""The boundary function against SciPy itself, on out-of-range coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from gpuaug.backends.reference.boundary import FILL_MODES, map_coordinate
from gpuaug.backends.reference.warp import warp_nhwc

ndimage = pytest.importorskip("scipy.ndimage", reason="SciPy is the oracle for the boundary rules")

# A grid well outside [0, n-1] on both sides, plus the edge cases SciPy treats
# specially: ties at .5, values a hair beyond the edges, whole periods away.
EDGE_CASES = [-1e-9, -1e-15, -0.5, -0.4, 0.5, 2.5, 1e-9]


def _coordinates(n: int) -> np.ndarray:
    grid = np.linspace(-3 * n - 0.7, 4 * n + 0.3, 97)
    near = [n - 1 + 1e-9, n - 1 - 1e-9, n - 0.5, n + 0.5, -n, -n - 0.5, 2 * n, -2 * n - 0.25]
    return np.concatenate([grid, EDGE_CASES, near])


@pytest.mark.parametrize("mode", FILL_MODES)
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_rows_match_map_coordinates(mode, order, n):
    """Sampling along rows: our fold + taps + weights equal SciPy's, exactly."""
    rng = np.random.default_rng(n * 10 + order)
    image = rng.uniform(0, 255, (n, 5))
    u = _coordinates(n)
    cols = rng.uniform(0, 4, u.size)
    expected = ndimage.map_coordinates(image, [u, cols], order=order, mode=mode, cval=-7.25)
    # Drive the batched warp with a matrix that maps output pixel (0, k) to (u_k, cols_k):
    # one sample per coordinate, identity elsewhere.
    batch = np.broadcast_to(image[None, :, :, None], (u.size, n, 5, 1)).copy()
    matrices = np.zeros((u.size, 2, 3))
    matrices[:, 0, 2] = u
    matrices[:, 1, 2] = cols
    flips = np.zeros(u.size, dtype=bool)
    out = warp_nhwc(batch, matrices, flips, flips, order=order, fill_mode=mode, cval=-7.25)
    np.testing.assert_array_equal(out[:, 0, 0, 0], expected)


@pytest.mark.parametrize("mode", FILL_MODES)
def test_map_coordinate_keeps_in_range_values(mode):
    n = 6
    u = np.linspace(0, n - 1, 23)
    np.testing.assert_array_equal(map_coordinate(u, n, mode), u)


@pytest.mark.parametrize("mode", ["reflect", "wrap"])
def test_folded_coordinates_land_inside(mode):
    n = 5
    u = _coordinates(n)
    folded = map_coordinate(u, n, mode)
    assert np.all(folded > -1) and np.all(folded < n)


@pytest.mark.parametrize("mode", FILL_MODES)
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_affine_warps_match_scipy(mode, order, dtype):
    """Whole images under random matrices, including exact half-pixel shifts."""
    rng = np.random.default_rng(hash((mode, order)) % 2**32)
    for trial in range(25):
        h, w = (int(v) for v in rng.integers(1, 14, 2))
        image = rng.uniform(0, 255, (h, w)).astype(dtype)
        m = np.zeros((1, 2, 3))
        m[0, :, :2] = rng.normal(0, 1.2, (2, 2))
        m[0, :, 2] = rng.normal(0, 8, 2)
        if trial % 3 == 0:
            m = np.round(m * 2) / 2  # order-0 ties and integer shifts
        expected = ndimage.affine_transform(image, m[0, :, :2], m[0, :, 2], order=order,
                                            mode=mode, cval=3.5)
        no_flip = np.zeros(1, dtype=bool)
        out = warp_nhwc(image[None, :, :, None], m, no_flip, no_flip, order=order,
                        fill_mode=mode, cval=3.5)
        np.testing.assert_array_equal(out[0, :, :, 0], expected)

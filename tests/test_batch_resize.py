"""One launch resizes a batch of decoded images of any sizes as Pillow's NEAREST does.

The kernel (gpuaug/kernels/resize.cu) runs here on its host build, from the source
NVRTC compiles, against Pillow itself: RGB pixels and the luma of grayscale, images
smaller, larger and already at the target size, index maps shared between images of a
size.  On a GPU the same checks run through CuPy (``gpu``-marked).
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from PIL import Image

from gpuaug.sources import batch_resize
from tests.emulation import poison, resize_launch

SIZES = [(37, 53), (1, 1), (20, 24), (240, 180), (20, 24), (9, 400), (24, 20)]
TARGET = (20, 24)  # (height, width)


def _images(rng):
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in SIZES]


def _pillow(image, target, channels):
    resized = Image.fromarray(image).resize((target[1], target[0]), Image.Resampling.NEAREST)
    return np.asarray(resized.convert("L"))[..., None] if channels == 1 else np.asarray(resized)


_POISONED = types.SimpleNamespace(empty=lambda shape, dtype: poison(shape, dtype),
                                  asarray=np.ascontiguousarray)


@pytest.mark.parametrize("channels", [3, 1])
def test_one_launch_gives_pillows_nearest_resize_of_every_image(build_dir, channels):
    images = _images(np.random.default_rng(channels))
    launches = []
    run = resize_launch(build_dir)

    def launch(grid, block, args):
        launches.append(grid)
        run(grid, block, args)

    out = batch_resize.resize([im.ctypes.data for im in images], [im.shape[:2] for im in images],
                              TARGET, channels, _POISONED, launch)
    assert out.shape == (len(images), *TARGET, channels) and len(launches) == 1
    for k, image in enumerate(images):
        np.testing.assert_array_equal(out[k], _pillow(image, TARGET, channels), err_msg=str(k))


def test_images_of_one_size_share_their_index_maps():
    records, maps = batch_resize.plan([(30, 40)] * 3 + [(20, 24)], [1, 2, 3, 4], TARGET)
    assert len(maps) == 2 * (TARGET[0] + TARGET[1])  # (30, 40) maps, then identity maps
    assert len({int(r["row_map"]) for r in records[:3]}) == 1
    np.testing.assert_array_equal(maps[records[3]["row_map"]:][:TARGET[0]], np.arange(20))
    assert list(records["pixels"]) == [1, 2, 3, 4] and list(records["width"]) == [40] * 3 + [24]


def test_each_images_record_points_at_its_own_maps():
    """Random sizes, repeats and the target's own: every record's maps are Pillow's nearest
    indices for its height and width, and a later batch reuses the maps made before."""
    from gpuaug.sources.pillow_rules import pil_nearest_indices

    rng = np.random.default_rng(3)
    shapes = [tuple(int(v) for v in hw) for hw in rng.integers(1, 60, (40, 2))]
    shapes += [TARGET, (TARGET[0], 7), (7, TARGET[1]), shapes[0]]
    pointers = [int(v) for v in rng.integers(1, 2**60, len(shapes))]
    records, maps = batch_resize.plan(shapes, pointers, TARGET)
    assert maps.dtype == np.int32 and len(records) == len(shapes)
    for record, (height, width), pointer in zip(records, shapes, pointers, strict=True):
        assert (int(record["pixels"]), int(record["width"])) == (pointer, width)
        for n_in, n_out, at in ((height, TARGET[0], record["row_map"]),
                                (width, TARGET[1], record["col_map"])):
            expected = np.arange(n_out) if n_in == n_out else pil_nearest_indices(n_in, n_out)
            np.testing.assert_array_equal(maps[int(at):int(at) + n_out], expected)
    made = batch_resize.index_map(shapes[0][0], TARGET[0])
    assert batch_resize.index_map(shapes[0][0], TARGET[0]) is made  # kept, not rebuilt
    assert not made.flags.writeable  # shared by the batches: nobody may change it


def test_an_image_too_large_for_32_bit_indices_is_refused():
    with pytest.raises(ValueError, match="too large"):
        batch_resize.plan([(40000, 20000)], [0], TARGET)


def test_an_empty_batch_launches_nothing():
    out = batch_resize.resize([], [], TARGET, 3, np, lambda *a: pytest.fail("launched"))
    assert out.shape == (0, *TARGET, 3)


@pytest.mark.gpu
@pytest.mark.parametrize("channels", [3, 1])
def test_the_cuda_kernel_gives_pillows_resize(channels):
    import cupy

    images = [cupy.asarray(im) for im in _images(np.random.default_rng(7))]
    out = batch_resize.resize([im.data.ptr for im in images], [im.shape[:2] for im in images],
                              TARGET, channels, cupy, batch_resize.cuda_launch(0))
    for k, image in enumerate(images):
        np.testing.assert_array_equal(cupy.asnumpy(out[k]),
                                      _pillow(cupy.asnumpy(image), TARGET, channels))

"""Work derived once for a stretch of draws equals the same work done batch by batch.

The iterators hand the engine :class:`~gpuaug.drawn.DrawnBatch` slices of a span: its
matrices and the kernels' packed records are made once for the span.  Every slice must
give the very bytes the per-batch path gives: the same matrices, the same upload.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gpuaug
from gpuaug.backends.cuda.launch_args import make_epilogue, pack_upload
from gpuaug.compose import compose_matrices
from gpuaug.config import AugmentConfig
from gpuaug.drawn import DrawnSpan
from gpuaug.rng import epoch_key

CONFIG = dict(rotation_range=30, width_shift_range=0.1, height_shift_range=3, shear_range=8,
              zoom_range=0.2, horizontal_flip=True, channel_shift_range=20.0,
              brightness_range=(0.7, 1.3))


def _span(count=23, seed=0):
    sampler = gpuaug.ImageDataGenerator(**CONFIG, device="cpu", rng="keyed").sampler
    indices = np.random.default_rng(seed).permutation(count * 3)[:count]
    return DrawnSpan(sampler.draw_keyed(epoch_key(seed, 1), indices, (13, 17, 3)))


@pytest.mark.parametrize("work", ["float32", "float64"])
@pytest.mark.parametrize("statistics", [False, True])
@pytest.mark.parametrize("precision", ["exact", "fast"])
def test_every_slice_of_a_span_uploads_what_its_batch_alone_uploads(work, statistics,
                                                                     precision):
    span = _span()
    config = AugmentConfig(dtype=work, rescale=1 / 255, featurewise_center=statistics,
                           featurewise_std_normalization=statistics,
                           mean=np.full((1, 1, 3), 0.3), std=np.full((1, 1, 3), 1.5))
    epilogue = make_epilogue(config, (13, 17, 3), standardize=True,
                             featurewise=(statistics, statistics))
    for start, stop in ((0, 23), (0, 8), (8, 16), (16, 23), (5, 6), (23, 23)):
        batch = span.batch(start, stop)
        alone = batch.params.view(0, len(batch))
        matrices = compose_matrices(alone, 13, 17, keras_rounding=False)
        np.testing.assert_array_equal(batch.matrices(13, 17, "keras", False), matrices)
        records = batch.records(13, 17, "keras", False, work, precision)
        assert records.shape == (stop - start, records.shape[1])
        fast_image = (13, 17) if precision == "fast" else None
        got = pack_upload(batch.matrices(13, 17, "keras", False), batch.params, work,
                          epilogue, records, fast_image=fast_image)
        expected = pack_upload(matrices, alone, work, epilogue, fast_image=fast_image)
        assert got.dtype == np.uint8 and got.tobytes() == expected.tobytes(), (start, stop)


def test_a_span_derives_each_array_once_whatever_the_threads():
    span = _span(200)
    results = []
    barrier = threading.Barrier(8)

    def ask():
        barrier.wait()
        results.append(span.records(13, 17, "keras", True, "float32"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert span.matrices(13, 17, "keras", True) is span.matrices(13, 17, "keras", True)
    # Another size or rounding is another array.
    assert span.matrices(13, 17, "keras", False) is not span.matrices(13, 17, "keras", True)

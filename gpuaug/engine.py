"""The batched engine: parameters in, augmented batch out, on the batch's device.

:func:`augment_batch` and :func:`transform_batch` run where the batch lives (the
backends' dispatch picks NumPy or CUDA); :func:`augment_on` runs on a device the
caller names and owns the one host-to-device hop, so the generator and the
iterators never move batches themselves.
"""

from __future__ import annotations

import contextlib
from typing import Any, Union

import numpy as np

from .backends import NumpyBackend, backend_for
from .backends.cuda.variants import resized_allowed
from .backends.reference import SUPPORTED_INPUT_DTYPES, keras_planar_layout
from .config import AugmentConfig
from .decoded import DecodedImages
from .drawn import DrawnBatch
from .environment import cuda_index
from .params import TransformParams

__all__ = ["array_module", "augment_batch", "augment_decoded", "augment_gathered", "augment_on",
           "keras_planar_layout", "transform_batch"]


def _check_batch(batch: Any, params: Union[TransformParams, DrawnBatch],
                 config: AugmentConfig):
    if hasattr(batch, "__cuda_array_interface__"):
        import cupy  # a GPU array of any library: view it as CuPy, without a copy

        x = batch if isinstance(batch, cupy.ndarray) else cupy.asarray(batch)
    else:
        x = np.asarray(batch)
    if x.ndim != 4:
        raise ValueError(
            f"`batch` must be a 4-D array of images "
            f"({'B, H, W, C' if config.channels_last else 'B, C, H, W'}"
            f" for data_format={config.data_format!r}); got shape {x.shape}"
        )
    if x.dtype.type not in SUPPORTED_INPUT_DTYPES:
        names = ", ".join(np.dtype(t).name for t in SUPPORTED_INPUT_DTYPES)
        raise TypeError(f"`batch` has dtype {x.dtype}; supported dtypes are {names}")
    if len(params) != x.shape[0]:
        raise ValueError(
            f"`params` describes {len(params)} samples but `batch` holds {x.shape[0]}"
        )
    return x


def _run(method: str, x: Any, params: Union[TransformParams, DrawnBatch],
         config: AugmentConfig, backend: Any = None) -> Any:
    """``backend.apply`` / ``backend.augment`` of the backend where ``x`` lives.

    ``backend``: another one (the host benchmark's, which launches nothing).
    """
    drawn = params if isinstance(params, DrawnBatch) else DrawnBatch.of(params)
    backend = backend_for(x) if backend is None else backend
    if isinstance(x, DecodedImages):
        h, w = x.target
    else:
        h, w = x.shape[1:3] if config.channels_last else x.shape[2:4]
    rounding = config.rng == "keras"  # keyed draws have no Keras to match
    matrices = drawn.matrices(h, w, config.compat, rounding)
    if backend.packs_records:  # the kernels' records, packed once per span of draws
        records = drawn.records(h, w, config.compat, rounding, config.dtype, config.precision)
        return getattr(backend, method)(x, matrices, drawn.params, config, records)
    return getattr(backend, method)(x, matrices, drawn.params, config)


def transform_batch(batch: Any, params: Union[TransformParams, DrawnBatch],
                    config: AugmentConfig):
    """Keras's ``apply_transform`` for every sample: warp, channel shift, flips, brightness.

    Runs where ``batch`` lives: a NumPy array on the CPU reference, a CuPy array
    (or any ``__cuda_array_interface__`` array) on the CUDA backend.  ``params`` may
    also be a :class:`~gpuaug.drawn.DrawnBatch` (an iterator's draws, whose matrices and
    records are made once for many batches).
    """
    return _run("apply", _check_batch(batch, params, config), params, config)


def augment_batch(batch: Any, params: Union[TransformParams, DrawnBatch],
                  config: AugmentConfig):
    """Augment and standardize a batch: what a Keras iterator yields for it.

    Equivalent to ``standardize(apply_transform(x.astype(dtype), p))`` for every
    image ``x`` with its parameters ``p``, computed for the whole batch at once,
    then delivered in ``config.out_dtype`` and the output layout.  Runs where
    ``batch`` lives (see :func:`transform_batch`); returns a new array there.
    """
    return _run("augment", _check_batch(batch, params, config), params, config)


def augment_on(device: str, batch: Any, params: Union[TransformParams, DrawnBatch],
               config: AugmentConfig) -> Any:
    """:func:`augment_batch` on ``device`` ("cpu" or "cuda:N", a generator's resolved device).

    On a GPU a host batch is uploaded once (a batch already there is used where it
    lies) and the result is a CuPy array on that device; on the CPU the batch runs
    where it lives.  ``batch`` may also be :class:`DecodedImages` (a file iterator's, lent
    by its decoder): see :func:`augment_decoded`.
    """
    if isinstance(batch, DecodedImages):
        return augment_decoded(device, batch, params, config)
    index = cuda_index(device)
    if index is None:
        return augment_batch(batch, params, config)
    import cupy

    with cupy.cuda.Device(index):
        return augment_batch(cupy.asarray(batch), params, config)


def augment_decoded(device: str, images: DecodedImages,
                    params: Union[TransformParams, DrawnBatch], config: AugmentConfig) -> Any:
    """:func:`augment_on` of ``images.resized()``: the resize read by the kernels where they can.

    The CUDA kernels read images on their GPU through Pillow's nearest index maps, with
    no resized batch (:meth:`FusedBackend.augment_resized`, float32 work); any other case
    takes the two-step path, resize then augment, with the same result.
    """
    if len(params) != len(images):
        raise ValueError(f"`params` describes {len(params)} samples but {len(images)} images "
                         "were decoded")
    backend = decoded_backend(images)
    if getattr(backend, "reads_resized", False) and resized_allowed(config.dtype):
        index = cuda_index(device)
        if index is None:
            place: Any = contextlib.nullcontext()
        else:
            import cupy

            place = cupy.cuda.Device(index)
        with place:
            return _run("augment_resized", images, params, config, backend)
    return augment_on(device, images.resized(config.channels_last), params, config)


def decoded_backend(images: DecodedImages) -> Any:
    """The backend where ``images`` lie: CUDA for images on a GPU, NumPy on the host."""
    if images.device is None:
        return NumpyBackend()
    from .backends.cuda import cuda_backend

    return cuda_backend(images.device)


def augment_gathered(device: str, source: Any, index: np.ndarray,
                     params: Union[TransformParams, DrawnBatch], config: AugmentConfig) -> Any:
    """:func:`augment_on` for the rows ``index`` of a dataset ``source`` (``flow``'s batches).

    A dataset on a GPU is gathered there; a host dataset on the CPU is indexed; a host
    dataset for a GPU goes through pinned memory and an asynchronous copy that overlaps
    the previous batch's kernels (:mod:`gpuaug.transfer`).
    """
    if hasattr(source, "__cuda_array_interface__"):
        import cupy

        with cupy.cuda.Device(source.device.id):
            return augment_batch(source[cupy.asarray(index)], params, config)
    gpu = cuda_index(device)
    if gpu is None:
        return augment_batch(source[index], params, config)
    import cupy

    from .transfer import stager

    with cupy.cuda.Device(gpu), stager(gpu).batch(source, index) as batch:
        return augment_batch(batch, params, config)


def array_module(x: Any) -> Any:
    """``cupy`` for an array on a GPU, ``numpy`` otherwise."""
    if hasattr(x, "__cuda_array_interface__"):
        import cupy

        return cupy
    return np

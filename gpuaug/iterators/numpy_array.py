"""``flow(x, y)``: Keras's ``NumpyArrayIterator`` (docs/semantics.md §8) on gpuaug's engine."""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np

from .. import validation
from ..backends.reference import SUPPORTED_INPUT_DTYPES
from ..engine import augment_gathered
from ..environment import cuda_index
from ..output import check_output, convert_batch, convert_labels, to_host
from .base import BatchDraws, Iterator, ShardArg
from .saving import check_save_to_dir, save_batch
from .state import array_fingerprint


class NumpyArrayIterator(Iterator):
    """Batches of an in-memory dataset, with Keras's checks, split, order and seeded draws.

    Keras keeps a float32 copy of the whole dataset; gpuaug keeps the array as given
    when it converts to the generator's dtype exactly (uint8, say) and converts per
    batch, which gives the same values with a quarter of the memory.

    ``x`` may live on the generator's GPU (a CuPy array, a CUDA ``torch.Tensor``, any
    ``__cuda_array_interface__`` array, used in place): each batch is then gathered
    there.  A host ``x`` for a GPU generator travels batch by batch through pinned
    memory, overlapped with the previous batch's kernels.  Labels and weights stay on
    the host.
    """

    _save_hash_high = int(1e4)

    def __init__(self, x: Any, y: Any, image_data_generator: Any, batch_size: int = 32,
                 shuffle: bool = False, sample_weight: Any = None, seed: Optional[int] = None,
                 data_format: Optional[str] = None, save_to_dir: Optional[str] = None,
                 save_prefix: str = "", save_format: str = "png", subset: Optional[str] = None,
                 ignore_class_split: bool = False, dtype: Any = None, *,
                 output: str = "auto", shard_id: ShardArg = None,
                 num_shards: ShardArg = None, equal_shards: bool = False,
                 workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10, numpy_labels: bool = False) -> None:
        data_format = data_format or "channels_last"
        self.dtype = np.dtype(dtype or "float32").name
        if isinstance(x, (tuple, list)):
            x_misc = [np.asarray(x[1])] if not isinstance(x[1], list) else [
                np.asarray(xx) for xx in x[1]]
            x = x[0]
            for xx in x_misc:
                if len(x) != len(xx):
                    raise ValueError(
                        "All of the arrays in `x` should have the same length. Found a pair "
                        f"with: len(x[0]) = {len(x)}, len(x[?]) = {len(xx)}")
        else:
            x_misc = []
        y, sample_weight = _on_host(y), _on_host(sample_weight)
        if y is not None and len(x) != len(y):
            raise ValueError(
                "`x` (images tensor) and `y` (labels) should have the same length. Found: "
                f"x.shape = {_shape(x)}, y.shape = {np.asarray(y).shape}")
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError(
                "`x` (images tensor) and `sample_weight` should have the same length. Found: "
                f"x.shape = {_shape(x)}, "
                f"sample_weight.shape = {np.asarray(sample_weight).shape}")
        if subset is not None:
            if subset not in {"training", "validation"}:
                raise ValueError(
                    f'Invalid subset name: {subset}; expected "training" or "validation".')
            split_idx = int(len(x) * image_data_generator._validation_split)
            if (y is not None and not ignore_class_split and not np.array_equal(
                    np.unique(y[:split_idx]), np.unique(y[split_idx:]))):
                raise ValueError(
                    "Training and validation subsets have different number of classes after "
                    "the split. If your numpy arrays are sorted by the label, you might want "
                    "to shuffle them.")
            part = slice(None, split_idx) if subset == "validation" else slice(split_idx, None)
            x = x[part]
            x_misc = [np.asarray(xx[part]) for xx in x_misc]
            if y is not None:
                y = y[part]
            if sample_weight is not None:
                sample_weight = sample_weight[part]
        x = _on_generators_device(x, image_data_generator) \
            if hasattr(x, "__cuda_array_interface__") else np.asarray(x)
        if not (x.dtype.kind in "uif" and np.can_cast(x.dtype, self.dtype, casting="safe")
                and x.dtype.type in SUPPORTED_INPUT_DTYPES):
            x = x.astype(self.dtype)  # Keras's conversion, rounding included
        self.x = x
        self.x_misc = x_misc
        if self.x.ndim != 4:
            raise ValueError("Input data in `NumpyArrayIterator` should have rank 4. You passed "
                             f"an array with shape {self.x.shape}")
        channels_axis = 3 if data_format == "channels_last" else 1
        if self.x.shape[channels_axis] not in {1, 3, 4}:
            warnings.warn(
                f'NumpyArrayIterator is set to use the data format convention "{data_format}" '
                f"(channels on axis {channels_axis}), i.e. expected either 1, 3, or 4 channels "
                f"on axis {channels_axis}. However, it was passed an array with shape "
                f"{self.x.shape} ({self.x.shape[channels_axis]} channels).", stacklevel=3)
        self.y = np.asarray(y) if y is not None else None
        self.sample_weight = np.asarray(sample_weight) if sample_weight is not None else None
        self.image_data_generator = image_data_generator
        self.data_format = data_format
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        if save_to_dir:
            validation.check_save_format(save_format)
            check_save_to_dir(save_to_dir)
        self.output = check_output(output)
        self.numpy_labels = validation.check_bool("numpy_labels", numpy_labels)
        self.image_shape = tuple(self.x.shape[1:])
        super().__init__(self.x.shape[0], batch_size, shuffle, seed,
                         shard_id=shard_id, num_shards=num_shards, equal_shards=equal_shards,
                         workers=workers, use_multiprocessing=use_multiprocessing,
                         max_queue_size=max_queue_size)

    def _data_fingerprint(self) -> str:
        if getattr(self, "_fingerprint", None) is None:
            self._fingerprint = array_fingerprint(self.x, self.y, self.sample_weight,
                                                  *self.x_misc)
        return self._fingerprint

    def _batch(self, index_array: np.ndarray, draws: BatchDraws):
        config = self.image_data_generator.config(self.dtype)
        batch = augment_gathered(self.image_data_generator.device, self.x, index_array,
                                 draws.drawn, config)
        if self._saves():
            layout = "channels_last" if config.out_channels_last else "channels_first"
            save_batch(to_host(batch), index_array, draws.save_hashes, self.save_to_dir,
                       self.save_prefix, self.save_format, layout)
        misc = [xx[index_array] for xx in self.x_misc]
        batch = convert_batch(batch, self.output)
        out: tuple = (batch if not misc else [batch] + misc,)
        if self.y is None:
            return out[0]
        out += (self.y[index_array],)
        if self.sample_weight is not None:
            out += (self.sample_weight[index_array],)
        if self.numpy_labels:
            return out
        return out[:1] + tuple(convert_labels(v, batch, self.output) for v in out[1:])


def _shape(a: Any) -> tuple:
    return tuple(a.shape) if hasattr(a, "shape") else np.shape(a)


def _on_host(a: Any) -> Any:
    """Labels and weights as host arrays, wherever they came from."""
    if a is not None and hasattr(a, "__cuda_array_interface__"):
        import cupy

        return cupy.asnumpy(cupy.asarray(a))
    return a


def _on_generators_device(x: Any, generator: Any) -> Any:
    """A GPU dataset as a CuPy view, if it lives where the generator computes."""
    device = getattr(generator, "device", "cpu")
    gpu = cuda_index(device)
    if gpu is None:
        raise ValueError(f"`x` lives on a GPU but the generator runs on the CPU "
                         f"(device={device!r}): make the generator with device='cuda' (on "
                         "the GPU that holds `x`), or pass `x` in host memory")
    import cupy

    x = cupy.asarray(x)  # no copy for CuPy, CUDA torch tensors and the like
    if gpu != x.device.id:
        raise ValueError(f"`x` lives on cuda:{x.device.id} but the generator runs on "
                         f"cuda:{gpu}: put them on one device")
    return x

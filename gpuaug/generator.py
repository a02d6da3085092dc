"""``ImageDataGenerator``: Keras's API in front of gpuaug's batched engine."""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from . import validation
from .backends.interface import FILL_MODES, PRECISIONS
from .backends.reference.output_format import (
    OUTPUT_DTYPES,
    check_output_dtype,
    dtype_name,
    numpy_dtype,
)
from .backends.reference.pointwise import brightness
from .backends.reference.standardize import standardize_batch
from .compat import check_compat
from .config import AugmentConfig
from .engine import augment_on, transform_batch
from .environment import cuda_status, parse_device
from .errors import Unavailable
from .fit_statistics import feature_statistics, zca_matrix
from .host_memory import keep_heap_top
from .options import GENERATOR_OPTIONS, render_options
from .params import TransformParams
from .rng import RNG_MODES, epoch_key
from .sampler import RandomTransformSampler

if TYPE_CHECKING:  # imported when a flow method is called: `import gpuaug` stays light
    from .iterators import DataFrameIterator, DirectoryIterator, NumpyArrayIterator
    from .iterators.base import ShardArg

_log = logging.getLogger("gpuaug")


#: Settings compared by identity, not value, in the caches' key: fit() and users replace
#: them, and comparing a large array's bytes per batch would cost more than a batch.
_STATISTICS = ("mean", "std", "zca_whitening_matrix", "preprocessing_function")


#: Values that can change without an assignment (``gen.zoom_range[0] = 0.5``).
_MUTABLE = (list, dict, set, bytearray, np.ndarray)


def _mutable_settings(state: dict[str, Any]) -> tuple[str, ...]:
    """The settings whose value can change in place, compared by value in the caches' key.

    Statistics are compared by identity (see _STATISTICS); random_state is not a setting.
    """
    return tuple(sorted(name for name, value in state.items()
                        if not name.startswith("_") and name != "random_state"
                        and name not in _STATISTICS and isinstance(value, _MUTABLE)))


_PLAIN_NUMBERS = frozenset((int, float))


def _frozen(value: Any) -> Any:
    """A value to compare with ``==``: sequences and arrays as tuples (copies, not views)."""
    if isinstance(value, (int, float, str, type(None))):
        return value.__class__, value  # the type too: Keras treats 2 and 2.0 differently
    if isinstance(value, (list, tuple)):
        types = tuple(map(type, value))
        if _PLAIN_NUMBERS.issuperset(types):  # the usual ranges: no recursion per batch
            return ("seq", types, tuple(value))
        return ("seq", tuple(_frozen(v) for v in value))
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    return (type(value), value)


def _resolve_device(device: Any) -> str:
    """Turn ``device=`` into "cpu" or "cuda:N"; say which once for "auto"."""
    spec = parse_device(device)
    if spec.kind == "cpu":
        return "cpu"
    if spec.kind == "auto":
        usable, reason = cuda_status()
        chosen = "cuda:0" if usable else "cpu"
        _log.info("gpuaug: device='auto' runs on %s (%s)", chosen, reason)
        return chosen
    from .backends.cuda import cuda_backend

    try:
        cuda_backend(spec.index)
    except Unavailable as exc:
        raise Unavailable(f"device={device!r}: {exc}; use device='cpu' or 'auto'") from None
    except RuntimeError as exc:  # the driver's own error, once CUDA was found usable
        raise RuntimeError(f"device={device!r}: {exc}; use device='cpu' or 'auto'") from exc
    return str(spec)


class ImageDataGenerator:
    # The docstring is rendered from gpuaug.options below the class.

    def __init__(
        self,
        featurewise_center: bool = False,
        samplewise_center: bool = False,
        featurewise_std_normalization: bool = False,
        samplewise_std_normalization: bool = False,
        zca_whitening: bool = False,
        zca_epsilon: float = 1e-6,
        rotation_range: float = 0,
        width_shift_range: Any = 0.0,
        height_shift_range: Any = 0.0,
        brightness_range: Any = None,
        shear_range: float = 0.0,
        zoom_range: Any = 0.0,
        channel_shift_range: float = 0.0,
        fill_mode: str = "nearest",
        cval: float = 0.0,
        horizontal_flip: bool = False,
        vertical_flip: bool = False,
        rescale: Optional[float] = None,
        preprocessing_function: Optional[Callable[[np.ndarray], np.ndarray]] = None,
        data_format: Optional[str] = None,
        validation_split: float = 0.0,
        interpolation_order: int = 1,
        dtype: Any = None,
        *,
        device: str = "auto",
        compat: str = "keras",
        rng: str = "keras",
        precision: str = "exact",
        output_dtype: Optional[str] = None,
        output_data_format: Optional[str] = None,
    ) -> None:
        keep_heap_top()  # the per-batch host work reuses its memory (gpuaug.host_memory)
        if data_format is None:
            data_format = "channels_last"
        if dtype is None:
            dtype = "float32"
        self.compat = check_compat(compat)
        self.device = _resolve_device(device)
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.shear_range = shear_range
        self.zoom_range = zoom_range
        self.channel_shift_range = channel_shift_range
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.dtype = dtype
        self.interpolation_order = interpolation_order

        # Keras's checks and messages, in Keras's order.
        if not isinstance(data_format, str) or data_format not in {"channels_last",
                                                                   "channels_first"}:
            raise ValueError(
                '`data_format` should be `"channels_last"` (channel after row and column) or '
                '`"channels_first"` (channel before row and column). '
                f"Received: {data_format}"
            )
        self.data_format = data_format
        if data_format == "channels_first":
            self.channel_axis, self.row_axis, self.col_axis = 1, 2, 3
        else:
            self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        validation.check_real("validation_split", validation_split)  # Keras compares blindly
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(
                "`validation_split` must be strictly between 0 and 1. "
                f" Received: {validation_split}"
            )
        self._validation_split = validation_split
        self.mean: Optional[np.ndarray] = None
        self.std: Optional[np.ndarray] = None
        self.zca_whitening_matrix: Optional[np.ndarray] = None

        if isinstance(zoom_range, (float, int)):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif not hasattr(zoom_range, "__len__"):
            # Keras calls len() here and fails with "object of type ... has no len()" (for
            # None, or a NumPy scalar); the same TypeError, with a message naming the argument.
            raise TypeError(
                "`zoom_range` should be a float or a tuple or list of two floats. "
                f"Received: {zoom_range}"
            )
        elif len(zoom_range) == 2 and all(isinstance(v, (float, int)) for v in zoom_range):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(
                "`zoom_range` should be a float or a tuple or list of two floats. "
                f"Received: {zoom_range}"
            )
        if zca_whitening:
            if not featurewise_center:
                self.featurewise_center = True
                warnings.warn(
                    "This ImageDataGenerator specifies `zca_whitening`, which overrides "
                    "setting of `featurewise_center`.", stacklevel=2)
            if featurewise_std_normalization:
                self.featurewise_std_normalization = False
                warnings.warn(
                    "This ImageDataGenerator specifies `zca_whitening` which overrides "
                    "setting of`featurewise_std_normalization`.", stacklevel=2)
        if featurewise_std_normalization and not featurewise_center:
            self.featurewise_center = True
            warnings.warn(
                "This ImageDataGenerator specifies `featurewise_std_normalization`, which "
                "overrides setting of `featurewise_center`.", stacklevel=2)
        if samplewise_std_normalization and not samplewise_center:
            self.samplewise_center = True
            warnings.warn(
                "This ImageDataGenerator specifies `samplewise_std_normalization`, which "
                "overrides setting of `samplewise_center`.", stacklevel=2)
        if brightness_range is not None:
            if not isinstance(brightness_range, (tuple, list)) or len(brightness_range) != 2:
                raise ValueError(
                    "`brightness_range should be tuple or list of two floats. "
                    f"Received: {brightness_range}"
                )
        self.brightness_range = brightness_range

        # gpuaug's own checks: Keras defers these to NumPy or SciPy, mid-epoch.
        try:
            work = np.dtype(dtype)
        except Exception:  # NumPy raises TypeError, ValueError or even SyntaxError here
            work = np.dtype("O")
        if work.kind != "f":
            raise ValueError(f"`dtype` must be a floating-point dtype. Received: {dtype!r}")
        for name, value in (("rotation_range", rotation_range), ("shear_range", shear_range),
                            ("channel_shift_range", channel_shift_range)):
            validation.check_real(name, value, limit=validation.RANGE_LIMIT)
        validation.check_real("zca_epsilon", zca_epsilon)
        # Values must stay finite in the working dtype: cval is written as is, and rescale
        # multiplies data of up to 16 bits.
        top = float(np.finfo(work).max)
        validation.check_real("cval", cval, limit=top)
        validation.check_real("rescale", rescale, allow_none=True, limit=top / 65536)
        validation.check_shift_range("width_shift_range", width_shift_range)
        validation.check_shift_range("height_shift_range", height_shift_range)
        validation.check_reals("zoom_range", self.zoom_range, length=2)
        if brightness_range is not None:  # factors multiply data of up to 16 bits, in float32
            validation.check_reals("brightness_range", brightness_range, length=2,
                                   limit=float(np.finfo(np.float32).max) / 65536)
        if preprocessing_function is not None and not callable(preprocessing_function):
            raise TypeError("`preprocessing_function` must be callable or None. "
                            f"Received: {preprocessing_function!r}")
        validation.check_choice("fill_mode", fill_mode, FILL_MODES)
        validation.check_choice("interpolation_order", interpolation_order, (0, 1),
                                why="0: nearest, 1: bilinear; gpuaug does not implement "
                                    "higher spline orders")
        validation.check_choice("output_dtype", output_dtype, (None, *OUTPUT_DTYPES))
        if output_dtype is not None:
            numpy_dtype(check_output_dtype(output_dtype, work.name))  # bfloat16 needs ml_dtypes
        validation.check_choice("output_data_format", output_data_format,
                                (None, "channels_last", "channels_first"))
        self.output_dtype = output_dtype
        self.output_data_format = output_data_format
        self.rng = validation.check_choice("rng", rng, RNG_MODES)
        self.precision = validation.check_choice("precision", precision, PRECISIONS)

        # Private RNG: seeded where Keras seeds the global one, never global.
        self.random_state = np.random.RandomState()

    # ------------------------------------------------------------------ state
    def __setattr__(self, name: str, value: Any) -> None:
        """Every assignment of a setting moves :meth:`_settings` on (the caches' key)."""
        super().__setattr__(name, value)
        if name.startswith("_") or name == "random_state":
            return
        state = self.__dict__
        state["_generation"] = state.get("_generation", 0) + 1
        state["_mutable"] = _mutable_settings(state)

    def _settings(self) -> tuple:
        """A key that changes whenever a setting does: assigned, or edited in place.

        What the per-batch caches (:attr:`sampler`, :meth:`config`) are keyed on: a
        counter of assignments plus the value of the few settings that are mutable
        containers (a list ``zoom_range``, say), so that a batch costs no walk over
        every setting.
        """
        state = self.__dict__
        return (state.get("_generation", 0),
                *(_frozen(state[name]) for name in state.get("_mutable", ())))

    @property
    def sampler(self) -> RandomTransformSampler:
        """The random ranges as a sampler, read from the current attributes.

        Made again only when an attribute changed (Keras lets users assign them), so
        its per-shape plans are built once, not per batch.
        """
        key = self._settings()
        cached = self.__dict__.get("_sampler")
        if cached is not None and cached[0] == key:
            return cached[1]
        ranges = dict(
            rotation_range=self.rotation_range,
            width_shift_range=self.width_shift_range,
            height_shift_range=self.height_shift_range,
            shear_range=self.shear_range,
            zoom_range=tuple(self.zoom_range),
            channel_shift_range=self.channel_shift_range,
            brightness_range=self.brightness_range,
            horizontal_flip=self.horizontal_flip,
            vertical_flip=self.vertical_flip,
            row_axis=self.row_axis - 1,
            col_axis=self.col_axis - 1,
        )
        sampler = RandomTransformSampler(**ranges)
        self.__dict__["_sampler"] = (key, sampler)
        return sampler

    def config(self, dtype: Any = None, *, delivered: bool = True) -> AugmentConfig:
        """The engine configuration for the generator's current settings and statistics.

        ``delivered`` False leaves the batch in the working dtype and data format
        (``output_dtype`` / ``output_data_format`` None), for callers that convert it
        themselves.  The same object while nothing changed (iterators ask per batch;
        the CUDA backend keeps its launch plan per configuration object).
        """
        configs = self.__dict__.setdefault("_configs", {})
        try:
            key = (dtype, delivered, self._settings())
            cached = configs.get(key)
        except TypeError:  # an unhashable dtype or setting: made every time
            return self._make_config(dtype_name(np.dtype(self.dtype if dtype is None else dtype)),
                                     delivered)
        if cached is None:
            if len(configs) >= 8:
                configs.clear()
            work = dtype_name(np.dtype(self.dtype if dtype is None else dtype))
            cached = configs[key] = self._make_config(work, delivered)
        return cached

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()  # the caches are rebuilt where the copy lands
        state.pop("_configs", None)
        state.pop("_sampler", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("precision", "exact")  # pickled before precision existed
        self.__dict__["_mutable"] = _mutable_settings(self.__dict__)

    def _make_config(self, work: str, delivered: bool) -> AugmentConfig:
        return AugmentConfig(
            data_format=self.data_format,
            dtype=work,
            interpolation_order=self.interpolation_order,
            fill_mode=self.fill_mode,
            cval=self.cval,
            compat=self.compat,
            rescale=self.rescale,
            preprocessing_function=self.preprocessing_function,
            samplewise_center=self.samplewise_center,
            samplewise_std_normalization=self.samplewise_std_normalization,
            featurewise_center=self.featurewise_center,
            featurewise_std_normalization=self.featurewise_std_normalization,
            zca_whitening=self.zca_whitening,
            mean=self.mean,
            std=self.std,
            zca_whitening_matrix=self.zca_whitening_matrix,
            output_dtype=self.output_dtype if delivered else None,
            output_data_format=self.output_data_format if delivered else None,
            rng=self.rng,
            precision=self.precision,
        )

    def _image_config(self, x: np.ndarray) -> AugmentConfig:
        # A single float image keeps its dtype, as Keras's apply_transform does.
        return self.config(x.dtype if x.dtype.kind == "f" else None)

    # ------------------------------------------------------------ Keras API
    def get_random_transform(self, img_shape: tuple[int, ...], seed: Optional[int] = None) -> dict:
        """Random parameters for one image, equal to Keras's for the same seed."""
        if seed is not None:
            self.random_state.seed(seed)
        return self.sampler.draw(self.random_state, img_shape)

    def apply_transform(self, x: np.ndarray, transform_parameters: dict) -> np.ndarray:
        """Apply one image's parameters (Keras semantics); returns a new array."""
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError("Input arrays must be multi-channel 2D images.")
        factor = transform_parameters.get("brightness")
        if factor is None or self.compat == "fixed":
            params = TransformParams.from_dicts([transform_parameters])
            return transform_batch(x[None], params, self._image_config(x))[0]
        # Keras's PIL brightness hands back float32, except that data outside
        # 0..255 (checked on the image just before brightness) comes back in
        # float32 x its own dtype.  So stop before brightness, look, then apply it.
        before = TransformParams.from_dicts([dict(transform_parameters, brightness=None)])
        out = transform_batch(x[None], before, self._image_config(x))
        local = self.compat == "keras" and bool(out.min() < 0 or out.max() > 255)
        nhwc = out if self.data_format == "channels_last" else out.transpose(0, 2, 3, 1)
        nhwc = brightness(nhwc, np.array([factor], dtype=np.float64), self.compat)
        if self.data_format != "channels_last":
            nhwc = nhwc.transpose(0, 3, 1, 2)
        return nhwc[0].astype(np.result_type(np.float32, x.dtype) if local else np.float32)

    def random_transform(self, x: np.ndarray, seed: Optional[int] = None) -> np.ndarray:
        """``apply_transform(x, get_random_transform(x.shape, seed))``."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed))

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Normalise ``x`` (in place for float arrays, like Keras) and return it."""
        x = np.asarray(x)
        return standardize_batch(x[None], self._image_config(x))[0]

    def fit(self, x: Any, augment: bool = False, rounds: int = 1,
            seed: Optional[int] = None) -> None:
        """Compute ``mean``, ``std`` and the ZCA matrix from sample data (rank 4)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(
                "Input to `.fit()` should have rank 4. Got array with shape: " + str(x.shape)
            )
        if x.shape[self.channel_axis] not in {1, 3, 4}:
            warnings.warn(
                "Expected input to be images (as Numpy array) following the data format "
                f'convention "{self.data_format}" (channels on axis {self.channel_axis}), i.e. '
                f"expected either 1, 3 or 4 channels on axis {self.channel_axis}. However, it "
                f"was passed an array with shape {x.shape} ({x.shape[self.channel_axis]} "
                "channels).", stacklevel=2)
        if seed is not None:
            self.random_state.seed(seed)
        x = np.copy(x)
        if self.rescale:
            x *= self.rescale
        if augment:
            config = self.config()
            image_shape = x.shape[1:]
            x = np.concatenate([
                transform_batch(x, self.sampler.draw_batch(self.random_state, len(x), image_shape),
                                config)
                for _ in range(rounds)
            ]).astype(self.dtype, copy=False)
        self.mean, self.std, x = feature_statistics(
            x, self.channel_axis,
            center=self.featurewise_center, std_normalize=self.featurewise_std_normalization,
        )
        if self.zca_whitening:
            self.zca_whitening_matrix = zca_matrix(x, self.zca_epsilon, self.compat)

    @property
    def principal_components(self) -> Optional[np.ndarray]:
        """keras-preprocessing's name for the ZCA matrix."""
        return self.zca_whitening_matrix

    # ------------------------------------------------------------- iterators
    def flow(
        self, x: Any, y: Any = None, batch_size: int = 32, shuffle: bool = True,
        sample_weight: Any = None, seed: Optional[int] = None, save_to_dir: Optional[str] = None,
        save_prefix: str = "", save_format: str = "png", ignore_class_split: bool = False,
        subset: Optional[str] = None, *, output: str = "auto", shard_id: ShardArg = None,
        num_shards: ShardArg = None, equal_shards: bool = False,
        workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10,
        numpy_labels: bool = False,
    ) -> "NumpyArrayIterator":
        """Keras's ``flow``: seeded batches of an in-memory dataset (``x``, ``y``).

        The iterator is a ``keras.utils.PyDataset`` (for ``model.fit``) once the program
        imports Keras, before or after this call, and a plain Python iterable (PyTorch
        loops) either way.

        ``output`` (gpuaug only): "auto" (NumPy on CPU, CuPy on CUDA), "numpy",
        "cupy", "torch", "jax" or "tf".  With "torch", "jax" and "tf" the labels and
        sample weights follow: that library, on the batch's device (``numpy_labels=True``
        keeps them NumPy); otherwise they are NumPy, as Keras gives them.

        ``shard_id`` / ``num_shards`` (gpuaug only) split every epoch between
        data-parallel workers: shard k gets positions k, k + num_shards, ... of the
        epoch's order, so the shards are disjoint and together cover the epoch once.
        Both None: one shard, whatever the environment; ``"env"``: RANK / WORLD_SIZE
        (torch.distributed's variables, as ``torchrun`` sets them), one shard without them.
        With more than one shard the epoch order comes from ``seed`` and the epoch
        number (``seed`` is then required with ``shuffle``), not from Keras's
        per-batch stream; one shard is Keras's behaviour exactly.  Shards then differ by
        at most one sample: exactly once.  ``equal_shards=True`` makes every shard
        ``ceil(n / num_shards)`` samples long (so every rank runs the same number of steps,
        as data-parallel training needs) by repeating the first ``num_shards *
        ceil(n / num_shards) - n`` samples of the epoch's order, as torch's
        ``DistributedSampler`` pads: at least once, those few twice.

        ``workers``, ``use_multiprocessing`` and ``max_queue_size``: Keras 3's
        ``PyDataset`` settings, read by ``model.fit`` (threads or processes that call
        ``it[i]``; in worker processes each batch is still the one a single process
        yields, see docs/guide/iterators.md).
        """
        from .iterators import NumpyArrayIterator, keras_compatible

        return keras_compatible(NumpyArrayIterator)(
            x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
            seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
            save_prefix=save_prefix, save_format=save_format,
            ignore_class_split=ignore_class_split, subset=subset, dtype=self.dtype,
            output=output, shard_id=shard_id, num_shards=num_shards, equal_shards=equal_shards,
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
            numpy_labels=numpy_labels)

    def flow_from_directory(
        self, directory: str, target_size: tuple[int, int] = (256, 256), color_mode: str = "rgb",
        classes: Optional[list[str]] = None, class_mode: Optional[str] = "categorical",
        batch_size: int = 32, shuffle: bool = True, seed: Optional[int] = None,
        save_to_dir: Optional[str] = None, save_prefix: str = "", save_format: str = "png",
        follow_links: bool = False, subset: Optional[str] = None, interpolation: str = "nearest",
        keep_aspect_ratio: bool = False, *, output: str = "auto", decoder: str = "auto",
        on_error: str = "raise", shard_id: ShardArg = None, num_shards: ShardArg = None,
        equal_shards: bool = False, decode_threads: Optional[int] = None,
        workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10,
        numpy_labels: bool = False,
    ) -> "DirectoryIterator":
        """Keras's ``flow_from_directory``: seeded batches of images in class sub-folders.

        ``decoder`` (gpuaug only): "auto" (DALI ``mixed`` on a CUDA device where DALI
        is installed and the settings allow, else Pillow), "dali" or "pillow" (Keras's
        ``load_img`` exactly).  ``decode_threads`` (gpuaug only): the threads that
        decode a batch's files (Pillow's pool, DALI's ``num_threads``); None: one per
        CPU this process may use.  The same pixels in the same order whatever the
        count.  ``on_error`` (gpuaug only): "raise" an
        :class:`gpuaug.ImageFileError` naming an unreadable file and
        the cause, or "skip" it (its label goes too), log it once and list it in
        ``it.skipped_files``.  ``output``, ``shard_id``, ``num_shards``, ``equal_shards``,
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` and ``numpy_labels`` as
        for :meth:`flow`.
        """
        from .iterators import DirectoryIterator, keras_compatible

        return keras_compatible(DirectoryIterator)(
            directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
            class_mode=class_mode, data_format=self.data_format, batch_size=batch_size,
            shuffle=shuffle, seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
            save_format=save_format, follow_links=follow_links, subset=subset,
            interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio, dtype=self.dtype,
            output=output, decoder=decoder, on_error=on_error, shard_id=shard_id,
            num_shards=num_shards, equal_shards=equal_shards, decode_threads=decode_threads,
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
            numpy_labels=numpy_labels)

    def flow_from_dataframe(
        self, dataframe: Any, directory: Optional[str] = None, x_col: str = "filename",
        y_col: Any = "class", weight_col: Optional[str] = None,
        target_size: tuple[int, int] = (256, 256), color_mode: str = "rgb",
        classes: Optional[list[str]] = None, class_mode: Optional[str] = "categorical",
        batch_size: int = 32, shuffle: bool = True, seed: Optional[int] = None,
        save_to_dir: Optional[str] = None, save_prefix: str = "", save_format: str = "png",
        subset: Optional[str] = None, interpolation: str = "nearest",
        validate_filenames: bool = True, *, output: str = "auto", decoder: str = "auto",
        on_error: str = "raise", shard_id: ShardArg = None,
        num_shards: ShardArg = None, equal_shards: bool = False,
        decode_threads: Optional[int] = None,
        workers: int = 1, use_multiprocessing: bool = False,
        max_queue_size: int = 10, numpy_labels: bool = False, **kwargs: Any,
    ) -> "DataFrameIterator":
        """Keras's ``flow_from_dataframe``: seeded batches of the files a DataFrame lists.

        Keras's deprecated ``has_ext``, ``sort`` and ``drop_duplicates`` only warn, and
        ``class_mode="other"`` becomes ``"raw"``, as in Keras.  ``decoder``,
        ``decode_threads`` and ``on_error`` as for :meth:`flow_from_directory`; ``output``,
        ``shard_id``, ``num_shards``, ``equal_shards``, ``workers``, ``use_multiprocessing``,
        ``max_queue_size`` and ``numpy_labels`` as for :meth:`flow`.
        """
        from .iterators import DataFrameIterator, keras_compatible

        if "has_ext" in kwargs:
            warnings.warn("has_ext is deprecated, filenames in the dataframe have to match the "
                          "exact filenames in disk.", DeprecationWarning, stacklevel=2)
        if "sort" in kwargs:
            warnings.warn("sort is deprecated, batches will be created in thesame order than "
                          "the filenames provided if `shuffle`is set to `False`.",
                          DeprecationWarning, stacklevel=2)
        if class_mode == "other":
            warnings.warn('`class_mode="other"` is deprecated, please use `class_mode="raw"`.',
                          DeprecationWarning, stacklevel=2)
            class_mode = "raw"
        if "drop_duplicates" in kwargs:
            warnings.warn("drop_duplicates is deprecated, you can drop duplicates by using the "
                          "pandas.DataFrame.drop_duplicates method.", DeprecationWarning,
                          stacklevel=2)
        unknown = set(kwargs) - {"has_ext", "sort", "drop_duplicates"}
        if unknown:
            raise TypeError(f"flow_from_dataframe() got unexpected keyword argument(s): "
                            f"{', '.join(sorted(unknown))}")
        return keras_compatible(DataFrameIterator)(
            dataframe, directory, self, x_col=x_col, y_col=y_col, weight_col=weight_col,
            target_size=target_size, color_mode=color_mode, classes=classes,
            class_mode=class_mode, data_format=self.data_format, batch_size=batch_size,
            shuffle=shuffle, seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
            save_format=save_format, subset=subset, interpolation=interpolation,
            validate_filenames=validate_filenames, dtype=self.dtype, output=output,
            decoder=decoder, on_error=on_error, shard_id=shard_id, num_shards=num_shards,
            equal_shards=equal_shards, decode_threads=decode_threads,
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
            numpy_labels=numpy_labels)

    # ------------------------------------------------------ batched gpuaug API
    def random_transform_batch(
        self, batch: np.ndarray, seed: Optional[int] = None
    ) -> tuple[np.ndarray, TransformParams]:
        """Draw parameters for every image (in Keras's order) and augment + standardize.

        Returns ``(augmented_batch, params)``; the parameters can be replayed
        with :func:`gpuaug.augment_batch`.  The batch is computed on the
        generator's device: on CUDA a host batch is uploaded once and the result
        is a CuPy array (a GPU batch is used where it lies); on the CPU the
        result is a NumPy array.
        """
        if not hasattr(batch, "__cuda_array_interface__"):
            batch = np.asarray(batch)
        if batch.ndim != 4:
            raise ValueError(f"`batch` must be a 4-D array of images; got shape {batch.shape}")
        if self.rng == "keyed":
            # Keyed by the seed, or by a draw from the generator's own stream (so that
            # seeding ``random_state`` reproduces a run), and the sample's position.
            key = epoch_key(seed, 0) if seed is not None else epoch_key(
                int(self.random_state.randint(2**32)), 0)
            params = self.sampler.draw_keyed(key, np.arange(len(batch)), batch.shape[1:])
        else:
            if seed is not None:
                self.random_state.seed(seed)
            params = self.sampler.draw_batch(self.random_state, len(batch), batch.shape[1:])
        return augment_on(self.device, batch, params, self.config()), params


# gpuaug's own arguments are the table's keyword-only ones: named from it, so a new one
# is listed here without an edit.
ImageDataGenerator.__doc__ = (
    "Keras's ``ImageDataGenerator``, computed by gpuaug's batched engine.\n\n"
    "Same arguments, defaults, validation and seeded parameters as Keras; "
    + ", ".join(f"``{o.name}``" for o in GENERATOR_OPTIONS if o.keyword_only)
    + " are gpuaug's own, keyword-only.\n\n" + render_options()
)

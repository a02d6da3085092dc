"""``flow_from_dataframe``: Keras's ``DataFrameIterator`` (docs/semantics.md §9) on the engine."""

from __future__ import annotations

import os
import warnings
from typing import Any, Optional

import numpy as np

from ..sources.listing import WHITE_LIST_FORMATS
from .base import ShardArg, shard_note
from .directory import warn_empty_subset
from .files import FileBatchIterator

_NO_CLASS_MODES = ("input", "multi_output", "raw", None)


def _remove_unknown(labels: Any, classes: list[str], y_col: Any) -> Any:
    if isinstance(labels, (list, tuple)):
        kept = [c for c in labels if c in classes]
        return kept or None
    if isinstance(labels, str):
        return labels if labels in classes else None
    raise TypeError(f"Expect string, list or tuple but found {type(labels)} in {y_col} column ")


class DataFrameIterator(FileBatchIterator):
    """Batches of the files a DataFrame names, with Keras's checks, classes, split and labels."""

    allowed_class_modes = {"binary", "categorical", "input", "multi_output", "raw", "sparse",
                           None}

    def __init__(self, dataframe: Any, directory: Optional[str] = None,
                 image_data_generator: Any = None, x_col: str = "filename", y_col: Any = "class",
                 weight_col: Optional[str] = None, target_size: tuple[int, int] = (256, 256),
                 color_mode: str = "rgb", classes: Optional[list[str]] = None,
                 class_mode: Optional[str] = "categorical", batch_size: int = 32,
                 shuffle: bool = True, seed: Optional[int] = None,
                 data_format: str = "channels_last", save_to_dir: Optional[str] = None,
                 save_prefix: str = "", save_format: str = "png", subset: Optional[str] = None,
                 interpolation: str = "nearest", keep_aspect_ratio: bool = False,
                 dtype: Any = "float32", validate_filenames: bool = True, *,
                 output: str = "auto", decoder: str = "auto", on_error: str = "raise",
                 shard_id: ShardArg = None, num_shards: ShardArg = None,
                 equal_shards: bool = False, decode_threads: Optional[int] = None,
                 workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10, numpy_labels: bool = False) -> None:
        self._set_processing_attrs(image_data_generator, target_size, color_mode, data_format,
                                   save_to_dir, save_prefix, save_format, subset, interpolation,
                                   keep_aspect_ratio, output, decoder, batch_size, on_error,
                                   decode_threads, numpy_labels)
        df = dataframe.copy()
        self.directory = directory or ""
        self.class_mode = class_mode
        self.dtype = np.dtype(dtype or "float32").name
        self._check_params(df, x_col, y_col, weight_col, classes)
        if validate_filenames:
            df = self._filter_valid_filepaths(df, x_col)
        num_classes = 0
        if class_mode not in _NO_CLASS_MODES:
            df, classes = self._filter_classes(df, y_col, classes)
            num_classes = len(classes)
            self.class_indices = {name: i for i, name in enumerate(classes)}
        if self.split:
            start, stop = int(self.split[0] * len(df)), int(self.split[1] * len(df))
            df = df.iloc[start:stop, :]
        if class_mode not in _NO_CLASS_MODES:
            self.classes = self._get_classes(df, y_col)
        self.filenames = df[x_col].tolist()
        self._sample_weight = df[weight_col].values if weight_col else None
        if class_mode == "multi_output":
            self._targets = [np.array(df[col].tolist()) for col in y_col]
        if class_mode == "raw":
            self._targets = df[y_col].values
        self.samples = len(self.filenames)
        validated = "validated" if validate_filenames else "non-validated"
        self._filepaths = [os.path.join(self.directory, f) for f in self.filenames]
        super().__init__(self.samples, batch_size, shuffle, seed,
                         shard_id=shard_id, num_shards=num_shards, equal_shards=equal_shards,
                         workers=workers, use_multiprocessing=use_multiprocessing,
                         max_queue_size=max_queue_size)
        note = shard_note(self.shard_id, self.num_shards, self.n)
        if class_mode in _NO_CLASS_MODES:
            print(f"Found {self.samples} {validated} image filenames.{note}")
        else:
            print(f"Found {self.samples} {validated} image filenames belonging to "
                  f"{num_classes} classes.{note}")
        warn_empty_subset(subset, image_data_generator, self.samples)  # Keras: silently empty

    def _check_params(self, df: Any, x_col: str, y_col: Any, weight_col: Optional[str],
                      classes: Optional[list[str]]) -> None:
        mode = self.class_mode
        # Columns named by an argument must exist (Keras: a bare KeyError, e.g. "KeyError: 3").
        wanted = [("x_col", x_col)]
        if mode not in _NO_CLASS_MODES:
            wanted += [("y_col", c) for c in (y_col if isinstance(y_col, list) else [y_col])]
        if weight_col:
            wanted.append(("weight_col", weight_col))
        for name, column in wanted:
            try:
                present = column in df.columns
            except TypeError:  # unhashable
                present = False
            if not present:
                raise ValueError(f"{name}={column!r} is not a column of the dataframe; its "
                                 f"columns are {list(df.columns)!r}")
        if isinstance(classes, str):  # a string is a sequence: one class per character
            raise TypeError(f"`classes` must be a list of class names, not a string. "
                            f"Received: {classes!r}; did you mean [{classes!r}]?")
        if not isinstance(mode, (str, type(None))) or mode not in self.allowed_class_modes:
            raise ValueError(
                f"Invalid class_mode: {mode}; expected one of: {self.allowed_class_modes}")
        if mode == "multi_output" and not isinstance(y_col, list):
            raise TypeError(f'If class_mode="{mode}", y_col must be a list. '
                            f"Received {type(y_col).__name__}.")
        if not all(df[x_col].apply(lambda x: isinstance(x, str))):
            raise TypeError(f"All values in column x_col={x_col} must be strings.")
        if mode in {"binary", "sparse"}:
            if not all(df[y_col].apply(lambda x: isinstance(x, str))):
                raise TypeError(f'If class_mode="{mode}", y_col="{y_col}" column values must '
                                "be strings.")
        if mode == "binary":
            if classes:
                if len(set(classes)) != 2:
                    raise ValueError('If class_mode="binary" there must be 2 classes. '
                                     f"{len(set(classes))} class/es were given.")
            elif df[y_col].nunique() != 2:
                raise ValueError('If class_mode="binary" there must be 2 classes. '
                                 f"Found {df[y_col].nunique()} classes.")
        if mode == "categorical":
            if not all(df[y_col].apply(lambda x: isinstance(x, (str, list, tuple)))):
                raise TypeError(f'If class_mode="{mode}", y_col="{y_col}" column values must '
                                "be type string, list or tuple.")
        if classes and mode in _NO_CLASS_MODES:
            warnings.warn(f'`classes` will be ignored given the class_mode="{mode}"',
                          stacklevel=4)
        if weight_col and not issubclass(df[weight_col].dtype.type, np.number):
            raise TypeError(f"Column weight_col={weight_col} must be numeric.")

    def _filter_valid_filepaths(self, df: Any, x_col: str) -> Any:
        paths = df[x_col].map(lambda fname: os.path.join(self.directory, fname))
        mask = paths.apply(lambda p: p.lower().endswith(WHITE_LIST_FORMATS) and os.path.isfile(p))
        n_invalid = int((~mask).sum())
        if n_invalid:
            warnings.warn(f'Found {n_invalid} invalid image filename(s) in x_col="{x_col}". '
                          "These filename(s) will be ignored.", stacklevel=4)
        return df[mask]

    @staticmethod
    def _filter_classes(df: Any, y_col: Any, classes: Optional[list[str]]):
        df = df.copy()
        if classes:
            classes = list(dict.fromkeys(classes))
            df[y_col] = df[y_col].apply(lambda x: _remove_unknown(x, classes, y_col))
        else:
            found: set = set()
            for v in df[y_col]:
                found.update(v) if isinstance(v, (list, tuple)) else found.add(v)
            classes = sorted(found)
        return df.dropna(subset=[y_col]), classes

    def _get_classes(self, df: Any, y_col: Any) -> list:
        return [[self.class_indices[c] for c in label] if isinstance(label, (list, tuple))
                else self.class_indices[label] for label in df[y_col]]

    @property
    def labels(self) -> Any:
        return self._targets if self.class_mode in {"multi_output", "raw"} else self.classes

    @property
    def sample_weight(self) -> Any:
        return self._sample_weight

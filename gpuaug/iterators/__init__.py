"""Keras's iterators (``flow``, ``flow_from_directory``) on gpuaug's batched engine."""

from .base import Iterator, keras_compatible
from .dataframe import DataFrameIterator
from .directory import DirectoryIterator
from .numpy_array import NumpyArrayIterator
from .outputs import OUTPUTS

__all__ = ["DataFrameIterator", "DirectoryIterator", "Iterator", "NumpyArrayIterator", "OUTPUTS", "keras_compatible"]

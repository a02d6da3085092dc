"""Keras's iterators (``flow``, ``flow_from_directory``, ``flow_from_dataframe``) on the engine.

Each batch: indices and the seeded draws under the iterator's lock (``base``), pixels
from memory (``numpy_array``) or from files through a decode source
(``files`` + :mod:`gpuaug.sources`), one engine call, the labels, and the batch
handed to the training framework (:mod:`gpuaug.output`).
"""

from ..output import OUTPUTS
from .base import Iterator, keras_compatible
from .dataframe import DataFrameIterator
from .directory import DirectoryIterator
from .numpy_array import NumpyArrayIterator

__all__ = ["OUTPUTS", "DataFrameIterator", "DirectoryIterator", "Iterator", "NumpyArrayIterator",
           "keras_compatible"]

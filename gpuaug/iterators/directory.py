"""``flow_from_directory``: Keras's ``DirectoryIterator`` (docs/semantics.md §7) on the engine."""

from __future__ import annotations

import os
import warnings
from typing import Any, Optional

import numpy as np

from ..sources.listing import discover_classes, images_in, list_class_files
from .base import ShardArg, shard_note
from .files import FileBatchIterator


def warn_empty_subset(subset: Optional[str], image_data_generator: Any, samples: int) -> None:
    """Warn where ``subset="validation"`` is empty because the generator has no split.

    Keras gives an empty validation subset without a word; ``model.fit`` then fails (or
    validates on nothing) far from the cause.
    """
    split = getattr(image_data_generator, "_validation_split", None)
    if subset == "validation" and not split and not samples:
        warnings.warn("subset='validation' is empty: the generator's validation_split is "
                      f"{split!r}; set validation_split on the generator (e.g. "
                      "ImageDataGenerator(validation_split=0.2)) and take subset='training' and "
                      "subset='validation' from it",
                      stacklevel=4)


class DirectoryIterator(FileBatchIterator):
    """Batches of images read from class sub-folders, with Keras's files, labels and draws.

    Images are decoded with Pillow exactly as Keras's ``load_img`` does, stacked as
    one batch and augmented in one engine call on the generator's device.
    """

    allowed_class_modes = {"categorical", "binary", "sparse", "input", None}

    def __init__(self, directory: str, image_data_generator: Any,
                 target_size: tuple[int, int] = (256, 256), color_mode: str = "rgb",
                 classes: Optional[list[str]] = None, class_mode: Optional[str] = "categorical",
                 batch_size: int = 32, shuffle: bool = True, seed: Optional[int] = None,
                 data_format: Optional[str] = None, save_to_dir: Optional[str] = None,
                 save_prefix: str = "", save_format: str = "png", follow_links: bool = False,
                 subset: Optional[str] = None, interpolation: str = "nearest",
                 keep_aspect_ratio: bool = False, dtype: Any = None, *,
                 output: str = "auto", decoder: str = "auto", on_error: str = "raise",
                 shard_id: ShardArg = None, num_shards: ShardArg = None,
                 equal_shards: bool = False, decode_threads: Optional[int] = None,
                 workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10, numpy_labels: bool = False) -> None:
        if not isinstance(directory, (str, os.PathLike)):  # None listed the working directory
            raise TypeError(f"`directory` must be a path (str or os.PathLike). "
                            f"Received: {directory!r}")
        if isinstance(classes, str):  # a string is a sequence: one class per character
            raise TypeError(f"`classes` must be a list of class names, not a string. "
                            f"Received: {classes!r}; did you mean [{classes!r}]?")
        self._set_processing_attrs(image_data_generator, target_size, color_mode, data_format,
                                   save_to_dir, save_prefix, save_format, subset, interpolation,
                                   keep_aspect_ratio, output, decoder, batch_size, on_error,
                                   decode_threads, numpy_labels)
        self.directory = directory
        self.classes = classes
        if (not isinstance(class_mode, (str, type(None)))
                or class_mode not in self.allowed_class_modes):
            raise ValueError(
                f"Invalid class_mode: {class_mode}; expected one of: {self.allowed_class_modes}")
        self.class_mode = class_mode
        self.dtype = np.dtype(dtype or "float32").name
        self.samples = 0
        names = list(classes) if classes else discover_classes(directory)
        missing = [name for name in names if not os.path.isdir(os.path.join(directory, name))]
        if classes and missing:  # Keras: silently empty classes
            warnings.warn(f"{len(missing)} class(es) in `classes` have no folder in {directory!r}"
                          f" and will be empty: {', '.join(map(repr, missing[:5]))}", stacklevel=3)
        self.num_classes = len(names)
        self.class_indices = {name: i for i, name in enumerate(names)}
        self.filenames, self.classes = list_class_files(directory, names, self.split,
                                                        follow_links)
        self.samples = len(self.filenames)
        self._filepaths = [os.path.join(directory, f) for f in self.filenames]
        super().__init__(self.samples, batch_size, shuffle, seed,
                         shard_id=shard_id, num_shards=num_shards, equal_shards=equal_shards,
                         workers=workers, use_multiprocessing=use_multiprocessing,
                         max_queue_size=max_queue_size)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes."
              + shard_note(self.shard_id, self.num_shards, self.n))
        # Keras lists nothing and says no more; model.fit then fails with a bare
        # StopIteration far from the cause.  The same, plus what to do.
        warn_empty_subset(subset, image_data_generator, self.samples)
        if not self.samples and not names:
            direct = images_in(directory)
            if direct:
                warnings.warn(
                    f"flow_from_directory({directory!r}) found no class sub-folders: the folder "
                    f"holds {len(direct)} images directly, and each class must be a sub-folder "
                    "of its own; point `directory` at the parent folder of the class folders "
                    "(for one class, move the images into a sub-folder)", stacklevel=3)
            else:
                warnings.warn(f"flow_from_directory({directory!r}) found no class sub-folders "
                              "and no images: point `directory` at the parent folder of the "
                              "class folders", stacklevel=3)

    @property
    def labels(self) -> np.ndarray:
        return self.classes

    @property
    def sample_weight(self) -> None:
        return None

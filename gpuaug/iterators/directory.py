"""``flow_from_directory``: Keras's ``DirectoryIterator`` (keras-semantics.md §7) on gpuaug's engine."""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from .base import BatchDraws, Iterator
from .engine_call import run_in_float32
from .loading import CHANNELS, discover_classes, list_class_files, load_image
from .outputs import check_output, convert, to_host
from .saving import save_batch


class DirectoryIterator(Iterator):
    """Batches of images read from class sub-folders, with Keras's files, labels and draws.

    Images are decoded with Pillow exactly as Keras's ``load_img`` does, stacked as
    one uint8 batch and augmented in one engine call on the generator's device.
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
                 output: str = "auto", shard_id: Optional[int] = None,
                 num_shards: Optional[int] = None) -> None:
        data_format = data_format or "channels_last"
        self.dtype = np.dtype(dtype or "float32").name
        self.image_data_generator = image_data_generator
        self.target_size = tuple(target_size)
        self.keep_aspect_ratio = keep_aspect_ratio
        if color_mode not in {"rgb", "rgba", "grayscale"}:
            raise ValueError(
                f'Invalid color mode: {color_mode}; expected "rgb", "rgba", or "grayscale".')
        self.color_mode = color_mode
        self.data_format = data_format
        channels = (CHANNELS[color_mode],)
        self.image_shape = (self.target_size + channels if data_format == "channels_last"
                            else channels + self.target_size)
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        self.interpolation = interpolation
        if subset is not None:
            vs = image_data_generator._validation_split
            if subset == "validation":
                split: Optional[tuple[float, float]] = (0, vs)
            elif subset == "training":
                split = (vs, 1)
            else:
                raise ValueError(
                    f'Invalid subset name: {subset};expected "training" or "validation"')
        else:
            split = None
        self.split = split
        self.subset = subset
        self.directory = directory
        self.classes = classes
        if class_mode not in self.allowed_class_modes:
            raise ValueError(
                f"Invalid class_mode: {class_mode}; expected one of: {self.allowed_class_modes}")
        self.class_mode = class_mode
        self.output = check_output(output)
        self.samples = 0
        names = list(classes) if classes else discover_classes(directory)
        self.num_classes = len(names)
        self.class_indices = dict(zip(names, range(len(names))))
        self.filenames, self.classes = list_class_files(directory, names, split, follow_links)
        self.samples = len(self.filenames)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        self._filepaths = [os.path.join(directory, f) for f in self.filenames]
        super().__init__(self.samples, batch_size, shuffle, seed,
                         shard_id=shard_id, num_shards=num_shards)

    @property
    def filepaths(self) -> list[str]:
        return self._filepaths

    @property
    def labels(self) -> np.ndarray:
        return self.classes

    @property
    def sample_weight(self) -> None:
        return None

    def _load(self, index_array: np.ndarray) -> np.ndarray:
        images = [load_image(self._filepaths[j], self.color_mode, self.target_size,
                             self.interpolation, self.keep_aspect_ratio) for j in index_array]
        if not images:
            return np.zeros((0,) + self.target_size + (self.image_shape[-1 if
                            self.data_format == "channels_last" else 0],), np.uint8)
        batch = np.stack(images) if len({im.dtype for im in images}) == 1 else np.stack(
            [im.astype(np.float32) for im in images])
        return batch if self.data_format == "channels_last" else np.ascontiguousarray(
            batch.transpose(0, 3, 1, 2))

    def _batch(self, index_array: np.ndarray, draws: BatchDraws):
        batch = run_in_float32(self.image_data_generator, self._load(index_array), draws.params)
        if self.save_to_dir:
            config = self.image_data_generator.config()
            layout = "channels_last" if config.out_channels_last else "channels_first"
            save_batch(to_host(batch), index_array, draws.save_hashes, self.save_to_dir,
                       self.save_prefix, self.save_format, layout)
        if self.class_mode == "input":
            batch_y = batch.copy()
        elif self.class_mode in {"binary", "sparse"}:
            batch_y = self.classes[index_array].astype(self.dtype)
        elif self.class_mode == "categorical":
            batch_y = np.zeros((len(index_array), len(self.class_indices)), dtype=self.dtype)
            batch_y[np.arange(len(index_array)), self.classes[index_array]] = 1.0
        else:
            return convert(batch, self.output)
        return convert(batch, self.output), (convert(batch_y, self.output)
                                             if self.class_mode == "input" else batch_y)

"""Finding image files exactly as Keras's ``DirectoryIterator`` does (docs/semantics.md §7).

Class discovery, walk order, the extension white-list and the per-class
validation split; nothing here opens an image.
"""

from __future__ import annotations

import os
import warnings
from typing import Optional

import numpy as np

WHITE_LIST_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")


def discover_classes(directory: str) -> list[str]:
    """Sub-directories of ``directory`` in Python's string order (hidden ones included)."""
    return [d for d in sorted(os.listdir(directory)) if os.path.isdir(os.path.join(directory, d))]


def _walk(class_dir: str, follow_links: bool) -> list[tuple[str, list[str], list[str]]]:
    """``os.walk``, except that a directory already on the path down to it is not re-entered.

    With ``follow_links`` a symbolic link back to one of its own ancestors (directly, or
    through other links) makes ``os.walk`` (and Keras) walk forever; here the looping
    directory is skipped with a warning naming it.  Two links to the same directory that
    are not a loop are both walked, as in Keras.
    """
    entries = []
    ancestors: dict[str, tuple[str, ...]] = {}  # root -> real paths from class_dir down to it
    for root, dirs, files in os.walk(class_dir, followlinks=follow_links):
        real = os.path.realpath(root)
        above = ancestors.get(os.path.dirname(root), ())
        if follow_links and real in above:
            warnings.warn(f"{root} leads back to {real}, a directory above it: not followed "
                          "(a symbolic link loop would never end)", stacklevel=5)
            dirs[:] = []
            continue
        ancestors[root] = above + (real,)
        entries.append((root, dirs, files))
    return entries


def _valid_files(class_dir: str, follow_links: bool):
    walk = sorted(_walk(class_dir, follow_links), key=lambda entry: entry[0])
    for root, _, files in walk:
        for fname in sorted(files):
            if fname.lower().endswith(".tiff"):
                warnings.warn('Using ".tiff" files with multiple bands will cause distortion. '
                              "Please verify your output.", stacklevel=4)
            if fname.lower().endswith(WHITE_LIST_FORMATS):
                yield root, fname


def list_class_files(directory: str, classes: list[str], split: Optional[tuple[float, float]],
                     follow_links: bool) -> tuple[list[str], np.ndarray]:
    """``(filenames relative to directory, int32 class index per file)`` in Keras's order."""
    filenames: list[str] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        class_dir = os.path.join(directory, name)
        files = list(_valid_files(class_dir, follow_links))
        if split:
            files = files[int(split[0] * len(files)):int(split[1] * len(files))]
        for root, fname in files:
            filenames.append(os.path.join(name, os.path.relpath(os.path.join(root, fname),
                                                                class_dir)))
            labels.append(index)
    return filenames, np.asarray(labels, dtype=np.int32)

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


def _regular_files(root: str) -> set[str]:
    """Names in ``root`` that are regular files once links are followed (``DirEntry``'s
    type, so a stat only for links)."""
    try:
        with os.scandir(root) as entries:
            return {e.name for e in entries if e.is_file()}
    except OSError:  # the folder vanished or is unreadable: nothing in it is an image
        return set()


def images_in(folder: str) -> list[str]:
    """The regular files with Keras's image extensions directly in ``folder`` (not in
    sub-folders), sorted: what a class folder would hold."""
    return sorted(f for f in _regular_files(folder) if f.lower().endswith(WHITE_LIST_FORMATS))


def _valid_files(class_dir: str, follow_links: bool):
    """Keras's image files of a class folder, minus what is not a regular file.

    ``os.walk`` lists FIFOs, sockets, devices and broken links among files, and reading a
    FIFO named like an image blocks forever (Keras hangs there): such names are left out,
    with a warning that names them.
    """
    walk = sorted(_walk(class_dir, follow_links), key=lambda entry: entry[0])
    others = []
    for root, _, files in walk:
        images = [f for f in sorted(files) if f.lower().endswith(WHITE_LIST_FORMATS)]
        regular = _regular_files(root) if images else set()
        for fname in sorted(files):
            if fname.lower().endswith(".tiff"):
                warnings.warn('Using ".tiff" files with multiple bands will cause distortion. '
                              "Please verify your output.", stacklevel=4)
            if fname.lower().endswith(WHITE_LIST_FORMATS):
                if fname in regular:
                    yield root, fname
                else:
                    others.append(os.path.join(root, fname))
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        warnings.warn(f"{len(others)} path(s) with an image extension are not regular files "
                      f"(FIFOs, sockets, devices or broken links) and were left out: {shown}",
                      stacklevel=4)


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

"""A batch's decoded images before their resize: what the kernels read through index maps.

DALI decodes a batch into RGB images of their own sizes.  With Keras's default
``interpolation="nearest"`` the resized batch holds, at each pixel, one decoded pixel
chosen by Pillow's nearest index maps; so the augment kernels can read the decoded
images through those maps (``INPUT_RESIZED``, ``gpuaug/kernels/warp.cuh``) and never
make the resized batch.  :class:`DecodedImages` is such a batch, lent by a decoder
(:meth:`gpuaug.sources.decoders.DaliDecoder.lend`) for as long as its buffers stay valid;
:meth:`DecodedImages.resized` is the two-step path (resize, then augment the batch),
which the NumPy reference and every backend without the fused read take.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class DecodedImages:
    """Decoded uint8 RGB images of any sizes, to be resized to ``target`` (Pillow's nearest)
    and, for ``channels`` 1, converted to Pillow's luma (``color_mode="grayscale"``).

    Attributes:
        images: the images, ``(height, width, 3)`` uint8, C-contiguous: DALI's tensors
            (``data_ptr()``, ``shape()``), or arrays (NumPy on the host, CuPy or any
            ``__cuda_array_interface__`` array on device ``device``).  Valid only while
            the decoder lends them.
        target: ``(height, width)`` of the resized images.
        device: the CUDA device index of GPU images; None for host images.
        resize_launch: on a GPU, :mod:`.batch_resize`'s kernel, for :meth:`resized`.
        channels: of the resized images: 3 (RGB) or 1 (Pillow's luma of the RGB pixels).
    """

    images: Sequence[Any]
    target: tuple[int, int]
    device: Optional[int] = None
    resize_launch: Optional[Callable[..., None]] = None
    channels: int = 3

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"DecodedImages: channels must be 1 or 3, not {self.channels!r}")
        for k, image in enumerate(self.images):
            if not hasattr(image, "data_ptr"):  # an array (DALI's tensors are RGB uint8, dense)
                _check_array(image, k)

    def __len__(self) -> int:
        return len(self.images)

    @functools.cached_property
    def pointers(self) -> list[int]:
        """Each image's address (device or host)."""
        return [_address(image) for image in self.images]

    @functools.cached_property
    def sizes(self) -> list[tuple[int, int]]:
        """Each image's ``(height, width)``."""
        return [_size(image) for image in self.images]

    @functools.cached_property
    def fits_the_kernels(self) -> bool:
        """Whether the augment kernels' 32-bit offsets reach every pixel and map entry: every
        image under 2^31 bytes, the index maps under 2^31 entries (asked by the decoder
        before it lends a batch, and again by :meth:`plan`: made once)."""
        sizes = self.sizes
        h, w = self.target
        map_entries = len({s[0] for s in sizes}) * h + len({s[1] for s in sizes}) * w
        return map_entries < 2**31 and all(y * x * 3 < 2**31 for y, x in sizes)

    def shape(self, channels_last: bool = True) -> tuple[int, int, int, int]:
        """The resized batch's shape, ``(n, h, w, c)`` or ``(n, c, h, w)``."""
        (h, w), c = self.target, self.channels
        return (len(self), h, w, c) if channels_last else (len(self), c, h, w)

    def plan(self) -> tuple[np.ndarray, np.ndarray]:
        """One ``ResizeSource`` record per image and the index maps (:func:`batch_resize.plan`),
        for the augment kernels: refused where their 32-bit offsets fall short."""
        from .sources import batch_resize

        if not self.fits_the_kernels:
            raise ValueError(f"{len(self)} decoded images of up to {max(self.sizes)} pixels, "
                             f"to {self.target}, are past the augment kernels' 32-bit offsets "
                             "(2^31 bytes an image, 2^31 index map entries); resize them first "
                             "(DecodedImages.resized)")
        return batch_resize.plan(self.sizes, self.pointers, self.target)

    def resized(self, channels_last: bool = True) -> Any:
        """The resized batch (Pillow's nearest), in ``channels_last`` or channels-first layout.

        A CuPy array from one launch of :mod:`.batch_resize` for GPU images, a NumPy array
        for host images: the two-step path, the fused read's oracle.
        """
        from .sources import batch_resize
        from .sources.pillow_rules import pil_luma

        if self.device is None:
            h, w = self.target
            batch = np.empty(self.shape(), dtype=np.uint8)
            for k, image in enumerate(self.images):
                height, width = _size(image)
                rows = batch_resize.index_map(height, h)
                cols = batch_resize.index_map(width, w)
                rgb = np.asarray(image)[rows[:, None], cols[None, :]]
                batch[k] = pil_luma(rgb) if self.channels == 1 else rgb
        else:
            import cupy

            if self.resize_launch is None:
                raise ValueError("DecodedImages on a GPU need their resize_launch to be resized")
            batch = batch_resize.resize(self.pointers, self.sizes, self.target, self.channels,
                                        cupy, self.resize_launch)
        return batch if channels_last else batch.transpose(0, 3, 1, 2)


def _check_array(image: Any, k: int) -> None:
    """An array image is read by its address: it must be dense (h, w, 3) uint8."""
    if hasattr(image, "__cuda_array_interface__"):
        interface = image.__cuda_array_interface__
        shape, strides = tuple(interface["shape"]), interface.get("strides")
        # None is the interface's word for C-contiguous; some libraries give the strides
        dense = strides is None or (len(shape) == 3 and tuple(strides) == (
            shape[1] * shape[2], shape[2], 1))
    else:
        image = np.asarray(image)
        interface, dense = image.__array_interface__, image.flags.c_contiguous
    shape, typestr = tuple(interface["shape"]), interface["typestr"]
    if len(shape) != 3 or shape[2] != 3 or typestr != "|u1" or not dense:
        raise ValueError(f"DecodedImages: image {k} must be a C-contiguous (height, width, 3) "
                         f"uint8 array; got shape {shape}, type {typestr!r}"
                         f"{'' if dense else ', not contiguous'}")


def _address(image: Any) -> int:
    if hasattr(image, "data_ptr"):  # DALI's TensorCPU / TensorGPU
        return int(image.data_ptr())
    if hasattr(image, "__cuda_array_interface__"):
        return int(image.__cuda_array_interface__["data"][0])
    return int(image.ctypes.data)


def _size(image: Any) -> tuple[int, int]:
    """``(height, width)``: host time per image counts, 256 of them a batch."""
    shape = image.shape
    return tuple(shape()[:2]) if callable(shape) else shape[:2]  # DALI's shape() is a method

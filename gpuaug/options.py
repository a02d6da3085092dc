"""Every ``ImageDataGenerator`` argument, declared once with its documentation.

The constructor's docstring is rendered from this table, and a test holds the
constructor's signature (names, order, defaults) equal to it, so the code and
the docs cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    doc: str
    keyword_only: bool = False


GENERATOR_OPTIONS: tuple[Option, ...] = (
    Option("featurewise_center", False, "Subtract the per-channel dataset mean (needs `fit`)."),
    Option("samplewise_center", False, "Subtract each image's own mean (all pixels and channels)."),
    Option("featurewise_std_normalization", False,
           "Divide by the per-channel dataset std (needs `fit`; turns on `featurewise_center`)."),
    Option("samplewise_std_normalization", False,
           "Divide each image by its own std (turns on `samplewise_center`)."),
    Option("zca_whitening", False,
           "Apply ZCA whitening (needs `fit`; turns on `featurewise_center`, turns off "
           "`featurewise_std_normalization`)."),
    Option("zca_epsilon", 1e-6, "Epsilon added to the singular values in ZCA whitening."),
    Option("rotation_range", 0, "Degrees; each image turns by uniform(-r, r)."),
    Option("width_shift_range", 0.0,
           "float < 1: fraction of the width; float >= 1: pixels, uniform; int: pixels from "
           "{-(r-1)..r-1}; 1-D sequence: one of its values with a random sign. In compat='keras' "
           "(Keras >= 2.9) this moves content *vertically* by a fraction of the width."),
    Option("height_shift_range", 0.0,
           "As `width_shift_range`, for the height. In compat='keras' it moves content "
           "*horizontally* by a fraction of the height (Keras's swapped axes)."),
    Option("brightness_range", None,
           "Tuple or list of two floats; the brightness factor is uniform in it."),
    Option("shear_range", 0.0, "Shear angle in degrees, counter-clockwise; uniform(-r, r)."),
    Option("zoom_range", 0.0,
           "float z: zoom factors uniform in [1-z, 1+z] per axis; or [lo, hi]. "
           "Factors below 1 magnify."),
    Option("channel_shift_range", 0.0,
           "Adds uniform(-r, r) to every channel, clipped to the image's own min and max."),
    Option("fill_mode", "nearest",
           "Points outside the image: 'nearest', 'reflect', 'wrap' or 'constant', with "
           "SciPy's exact rules (wrap has period n-1; constant cuts off hard)."),
    Option("cval", 0.0, "Fill value for fill_mode='constant'."),
    Option("horizontal_flip", False, "Flip half of the images left-right."),
    Option("vertical_flip", False, "Flip half of the images upside down."),
    Option("rescale", None, "Multiply by this value (None or 0: off), before other normalisation."),
    Option("preprocessing_function", None,
           "Called on each augmented image (rank 3) before rescaling; returns an array of the "
           "same shape."),
    Option("data_format", None,
           "'channels_last' (default) or 'channels_first'."),
    Option("validation_split", 0.0,
           "Fraction of images reserved for the 'validation' subset (strictly between 0 and 1)."),
    Option("interpolation_order", 1, "0 (nearest neighbour) or 1 (bilinear)."),
    Option("dtype", None, "Output dtype (default float32)."),
    Option("device", "auto",
           "'auto' (CUDA when usable, else CPU), 'cpu', 'cuda' or 'cuda:N'. gpuaug only.",
           keyword_only=True),
    Option("compat", "keras",
           "'keras' (Keras >= 2.9 and Keras 3, quirks included), 'keras-preprocessing' "
           "(Keras <= 2.8 / TF <= 2.8 geometry) or 'fixed' (what the Keras docs promise). "
           "gpuaug only.", keyword_only=True),
    Option("rng", "keras",
           "How parameters are drawn: 'keras' (Keras's values in Keras's order, from a seeded "
           "stream per batch) or 'keyed' (each sample's values from (seed, epoch, sample index) "
           "alone: the same whatever the batch size, shards, worker processes, prefetch or "
           "resume point). gpuaug only.", keyword_only=True),
    Option("precision", "exact",
           "Arithmetic of the CUDA kernels' warp: 'exact' (SciPy's float64, Keras's results "
           "bit for bit) or 'fast' (float32 coordinates, weights and interpolation: no FP64 "
           "instruction per pixel; at order 1 within a bound that grows with the source "
           "coordinates' magnitude, 0.025 of 0..255 at 224x224 with Keras's usual ranges: see "
           "docs/guide/exact-or-fast.md). The NumPy (CPU) path is always exact. gpuaug only.",
           keyword_only=True),
    Option("output_dtype", None,
           "dtype of the delivered batch: 'float32', 'float16', 'bfloat16' (rounded once to "
           "nearest even), 'uint8' (rounded half to even, saturated to 0..255, NaN 0) or "
           "'float64' (needs dtype='float64'); None: "
           "`dtype`. Converted after standardization, in the same kernel on CUDA. gpuaug only.",
           keyword_only=True),
    Option("output_data_format", None,
           "Layout of the delivered batch, 'channels_last' (NHWC) or 'channels_first' (NCHW, "
           "what PyTorch models take); None: `data_format`. gpuaug only.", keyword_only=True),
)


def render_options(options: tuple[Option, ...] = GENERATOR_OPTIONS) -> str:
    """The "Args:" section of a docstring, one entry per option."""
    lines = ["Args:"]
    for opt in options:
        marker = " (keyword-only)" if opt.keyword_only else ""
        lines.append(f"    {opt.name}{marker}: {opt.doc} Default: {opt.default!r}.")
    return "\n".join(lines)

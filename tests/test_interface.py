"""The Python <-> kernel interface is declared once, and a layout mismatch cannot compile.

``gpuaug.backends.interface`` emits ``interface.cuh`` (enums, flags, records with
``static_assert``s on sizes and offsets); these tests hold that the emitted text is
what the kernel source carries and that the asserts do fire on a record whose C++
layout differs from the NumPy one.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import numpy as np
import pytest

from gpuaug.backends import interface
from gpuaug.backends.cuda.launch_args import (
    BLOCK,
    launch_grid,
    make_epilogue,
    pack_samples,
    pack_upload,
)
from gpuaug.backends.cuda.source import kernel_source
from gpuaug.config import AugmentConfig
from gpuaug.params import TransformParams

COMPILER = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")


def _compiles(text: str) -> subprocess.CompletedProcess:
    if COMPILER is None:
        pytest.skip("no C++ compiler on PATH")
    return subprocess.run([COMPILER, "-std=c++17", "-fsyntax-only", "-x", "c++", "-"],
                          input=text, capture_output=True, text=True, timeout=120)


def test_the_kernel_source_carries_the_generated_interface_once():
    source = kernel_source()
    header = interface.cuda_header()
    assert source.count(header) == 1
    assert '#include "interface.cuh"' not in source  # spliced, not left to a missing file
    for enum in interface.ENUMS:
        assert source.count(f"enum {enum.cpp_name} ") == 1


def test_the_emitted_header_compiles_on_its_own():
    done = _compiles(interface.cuda_header())
    assert done.returncode == 0, done.stderr


def test_a_record_laid_out_differently_in_cpp_fails_to_compile():
    record = interface.SAMPLE_RECORD
    # NumPy packed (no alignment), C++ aligned: flags at offset 52 against 56.
    odd = interface.CppStruct("Odd", "test record", (
        interface.Field("a", "i32", "4 bytes"), interface.Field("m", "f64", "8 bytes", 6),
        interface.Field("flags", "u64", "8 bytes")))
    packed = np.dtype([("a", np.int32), ("m", np.float64, (6,)), ("flags", np.uint64)])
    assert packed.fields["flags"][1] != odd.dtype.fields["flags"][1]

    class Packed(interface.CppStruct):
        @property
        def dtype(self) -> np.dtype:
            return packed

    text = Packed(**{f.name: getattr(odd, f.name) for f in dataclasses.fields(odd)}).cpp()
    done = _compiles(text)
    assert done.returncode != 0 and "offsets differ" in done.stderr, done.stderr
    assert _compiles(record.cpp()).returncode == 0


def test_flag_bits_and_codes_follow_the_declaration_order():
    assert [interface.FILL_MODE.code(m) for m in interface.FILL_MODES] == [0, 1, 2, 3]
    assert interface.SAMPLE_FLAGS.FLIP_H == 1 and interface.SAMPLE_FLAGS.FLIP_V == 2
    assert interface.STANDARDIZE_FLAGS.STD_FEATURE_SCALE == 16
    assert interface.COMPAT.enumerator("keras-preprocessing") == \
        "gpuaug::COMPAT_KERAS_PREPROCESSING"
    with pytest.raises(AttributeError):
        interface.SAMPLE_FLAGS.FLIP_DIAGONAL  # noqa: B018


def test_the_upload_is_the_epilogue_then_the_samples_then_the_statistics():
    params = TransformParams.from_dicts([{"theta": 10.0, "flip_horizontal": True}, {}])
    config = AugmentConfig(featurewise_center=True, featurewise_std_normalization=True,
                           rescale=0.5, mean=np.full((1, 1, 3), 0.25),
                           std=np.full((1, 1, 3), 2.0))
    epilogue = make_epilogue(config, (4, 5, 3), standardize=True, featurewise=(True, True))
    records = pack_samples(np.zeros((2, 2, 3)), params, "float32")
    upload = pack_upload(np.zeros((2, 2, 3)), params, "float32", epilogue)
    head_size = interface.EPILOGUE_RECORD.dtype.itemsize
    head = upload[:head_size].view(interface.EPILOGUE_RECORD.dtype)[0]
    samples = upload[head_size:head_size + records.nbytes].view(interface.SAMPLE_RECORD.dtype)
    # The second sample has every geometric default: Keras skips its warp (UNWARPED).
    assert samples["flags"].tolist() == [interface.SAMPLE_FLAGS.FLIP_H,
                                         interface.SAMPLE_FLAGS.UNWARPED]
    assert head["flags"] == (interface.STANDARDIZE_FLAGS.STD_RESCALE
                             | interface.STANDARDIZE_FLAGS.STD_FEATURE_CENTER
                             | interface.STANDARDIZE_FLAGS.STD_FEATURE_SCALE)
    assert head["rescale"] == 0.5 and head["compat"] == interface.COMPAT.code("keras")
    mean = upload[head["mean_offset"]:head["mean_offset"] + 24].view(np.float64)
    std = upload[head["std_offset"]:head["std_offset"] + 24].view(np.float64)
    np.testing.assert_array_equal(mean, 0.25)
    np.testing.assert_array_equal(std, 2.0 + 1e-6)
    assert tuple(head["mean_strides"]) == (0, 0, 1)  # one value per channel, channels last
    assert head["mean_offset"] % 8 == 0 and head["std_offset"] % 8 == 0
    # Where each sample starts (4 x 5 x 3 elements apart), and the width's magic number.
    assert head["sample_elements"] == 60 and samples["first"].tolist() == [0, 60]
    assert (head["width_magic"], head["width_shift"]) == (-(-(2**34) // 5), 34)


@pytest.mark.parametrize("pixels", [1, 255, 256, 50_176, 2**30 + 3, 2**31 - 256, 2**31 - 1])
@pytest.mark.parametrize("per_thread", [1, 4, 8])
def test_the_pixel_walks_32_bit_index_never_wraps(pixels, per_thread):
    """The kernels walk q = q0, q0 + stride, ... in 32 bits while q < h * w: the last pixel
    plus the grid's stride stays below 2^32, so the loop ends, and every pixel has a thread."""
    (blocks, _, _), (threads, _, _) = launch_grid(4, pixels, per_thread)
    stride = blocks * threads
    assert threads == BLOCK == interface.BLOCK_THREADS
    assert (pixels - 1) + stride < 2**32
    assert stride * per_thread >= pixels and stride <= max(pixels, 1) + BLOCK - 1
    with pytest.raises(ValueError, match="pixels"):
        launch_grid(4, 2**31, per_thread)


def test_the_epilogue_reads_the_width_in_either_data_format():
    for channels_last, shape in ((True, (4, 7, 3)), (False, (3, 4, 7))):
        config = AugmentConfig(data_format="channels_last" if channels_last else "channels_first")
        head = make_epilogue(config, shape, standardize=True, featurewise=(False, False)).record
        assert (head["width_magic"], head["width_shift"]) == (-(-(2**34) // 7), 34)
        assert head["sample_elements"] == 84


def test_fast_records_carry_the_float32_geometry_about_the_centre():
    """precision="fast": the matrix words hold (m0, m1, m3, m4, row0, col0) as float32, the
    linear part halved and negated where a flip mirrors the offset it multiplies."""
    from gpuaug.backends.cuda.launch_args import pack_sample_words

    rng = np.random.default_rng(3)
    matrices = rng.normal(0, 2, (5, 2, 3))
    params = TransformParams.identity(5)
    params.flip_vertical[[1, 3]] = True
    params.flip_horizontal[[2, 3]] = True
    words = pack_sample_words(matrices, params, "float32", fast_image=(31, 40))
    exact = pack_sample_words(matrices, params, "float32")
    m = interface.SAMPLE_RECORD.dtype.fields["m"][1] // 8
    geometry = words[:, m:m + 3].copy().view(np.float32)
    signs = np.ones((5, 2, 2))
    signs[[1, 3], :, 0] = -1  # the row offset's coefficients: (m0, m3)
    signs[[2, 3], :, 1] = -1  # the column offset's: (m1, m4)
    np.testing.assert_array_equal(geometry[:, :4], (0.5 * signs * matrices[:, :, :2])
                                  .reshape(5, 4).astype(np.float32))
    # The centre pixel (15, 19.5) maps where the exact matrix maps it, rounded once.
    centre = (matrices[:, :, 2] + 15.0 * matrices[:, :, 0]) + 19.5 * matrices[:, :, 1]
    np.testing.assert_array_equal(geometry[:, 4:], centre.astype(np.float32))
    np.testing.assert_array_equal(words[:, m + 3:m + 6], 0.0)
    np.testing.assert_array_equal(words[:, m + 6:], exact[:, m + 6:])  # the rest as exact

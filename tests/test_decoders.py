"""The decode sources: Pillow's rules restated, DALI against Pillow, decoder choice.

DALI runs here on its CPU decoder (``device="cpu"``); the GPU (``mixed``) path is
``gpu``-marked.  Measured differences are asserted, so the README's numbers stay true.
"""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np
import pytest
from PIL import Image

import gpuaug
from gpuaug.sources.decoders import choose_decoder
from gpuaug.sources.pillow_rules import pil_luma, pil_nearest_indices


def test_nearest_indices_follow_pillow():
    pairs = [(i, o) for i in range(1, 40) for o in range(1, 40)] + [
        (500, 224), (375, 224), (224, 500), (1023, 7), (7, 1023), (640, 480), (333, 256)]
    for n_in, n_out in pairs:
        ramp = np.tile(np.arange(n_in, dtype=np.int32), (2, 1))
        resized = Image.fromarray(ramp, "I").resize((n_out, 2), Image.Resampling.NEAREST)
        np.testing.assert_array_equal(pil_nearest_indices(n_in, n_out), np.asarray(resized)[0],
                                      err_msg=f"{n_in} -> {n_out}")


def test_luma_follows_pillow():
    rgb = np.random.default_rng(0).integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(rgb, "RGB").convert("L"))
    np.testing.assert_array_equal(pil_luma(rgb)[..., 0], expected)


@pytest.mark.parametrize("decoder,device,color_mode,interp,keep,expected", [
    ("auto", "cpu", "rgb", "nearest", False, "pillow"),
    ("pillow", "cuda:0", "rgb", "nearest", False, "pillow"),
    ("dali", "cpu", "grayscale", "bilinear", False, "dali-cpu"),
])
def test_decoder_choice(decoder, device, color_mode, interp, keep, expected):
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    assert choose_decoder(decoder, device, color_mode, interp, keep) == expected


@pytest.mark.parametrize("kwargs,match", [
    (dict(decoder="nvjpeg"), "decoder"),
    (dict(decoder="dali", color_mode="rgba"), "color_mode='rgba'"),
    (dict(decoder="dali", interpolation="hamming"), "interpolation='hamming'"),
    (dict(decoder="dali", keep_aspect_ratio=True), "keep_aspect_ratio"),
])
def test_unsupported_decoder_settings_name_the_argument(tmp_path, kwargs, match):
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match=match), contextlib.redirect_stdout(io.StringIO()):
        gpuaug.ImageDataGenerator(device="cpu").flow_from_directory(str(tmp_path), **kwargs)


def _tree(root, rng):
    """PNG (RGB, RGBA, L, P) and JPEG (q90, 4:2:0) files of mixed sizes, two classes."""
    sizes = [(37, 53), (64, 48), (20, 24), (100, 75), (33, 19), (240, 180)]
    for i, (w, h) in enumerate(sizes):
        # smooth content, as photographs are: a random field blurred by upsampling
        small = rng.integers(0, 256, (h // 4 + 2, w // 4 + 2, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
        os.makedirs(f"{root}/a", exist_ok=True)
        os.makedirs(f"{root}/b", exist_ok=True)
        img.save(f"{root}/a/{i}.jpg", quality=90)
        mode = ["RGB", "RGBA", "L", "P", "RGB", "RGB"][i]
        (img.convert(mode) if mode != "P" else img.convert("P")).save(f"{root}/b/{i}.png")
    return str(root)


def _batches(directory, decoder, **kwargs):
    gen = gpuaug.ImageDataGenerator(rotation_range=20, horizontal_flip=True, rescale=1 / 255,
                                    device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        it = gen.flow_from_directory(directory, batch_size=4, seed=3, decoder=decoder,
                                     **kwargs)
    return [it[i] for i in range(len(it))]


@pytest.mark.parametrize("color_mode", ["rgb", "grayscale"])
@pytest.mark.parametrize("target_size", [(24, 20), (48, 64), (180, 240)])
def test_dali_cpu_decoder_matches_pillow_exactly_with_nearest(tmp_path, color_mode, target_size):
    """RGB decode identical for PNG and JPEG; gpuaug's luma and nearest rules close the rest."""
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    directory = _tree(tmp_path, np.random.default_rng(0))
    pillow = _batches(directory, "pillow", color_mode=color_mode, target_size=target_size)
    dali = _batches(directory, "dali", color_mode=color_mode, target_size=target_size)
    for (xp, yp), (xd, yd) in zip(pillow, dali):
        np.testing.assert_array_equal(yd, yp)
        np.testing.assert_array_equal(xd, xp)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "lanczos"])
def test_dali_filters_differ_from_pillow_within_the_documented_bound(tmp_path, interpolation):
    """DALI's antialiased filters are its own: at most 24 levels apart, 3 on average."""
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    from gpuaug.sources.decoders import DaliDecoder, PillowDecoder

    directory = _tree(tmp_path, np.random.default_rng(1))
    paths = sorted(str(p) for p in (tmp_path / "a").iterdir()) + sorted(
        str(p) for p in (tmp_path / "b").iterdir())
    target = (48, 40)
    a = PillowDecoder("rgb", target, interpolation, False)(paths)[0].astype(int)
    b = DaliDecoder("cpu", None, "rgb", target, interpolation, len(paths))(paths)[0].astype(int)
    diff = np.abs(a - b)
    assert diff.max() <= 24 and diff.mean() <= 3.0, (diff.max(), diff.mean())
    assert directory


@pytest.mark.gpu
def test_dali_mixed_decode_feeds_the_gpu_and_torch_without_copies(tmp_path):
    import cupy

    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    pytest.importorskip("torch")
    directory = _tree(tmp_path, np.random.default_rng(2))
    gen = gpuaug.ImageDataGenerator(rotation_range=20, horizontal_flip=True, rescale=1 / 255,
                                    device="cuda")
    with contextlib.redirect_stdout(io.StringIO()):
        it = gen.flow_from_directory(directory, target_size=(24, 20), batch_size=4, seed=3,
                                     classes=["b"])  # PNG: lossless, so exact decode
    assert it.decoder == "dali-mixed"
    x, y = next(it)
    assert isinstance(x, cupy.ndarray)
    cpu = _batches(directory, "pillow", target_size=(24, 20), classes=["b"])[0]
    np.testing.assert_allclose(cupy.asnumpy(x), cpu[0], atol=5e-5)
    from gpuaug.output import convert

    t = convert(x, "torch")
    assert t.is_cuda and t.data_ptr() == x.data.ptr  # the same memory


@pytest.mark.gpu
def test_dali_mixed_decode_does_not_wait_for_work_on_other_streams(tmp_path):
    """A training step running on another stream is not waited for while a batch decodes."""
    import cupy

    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    spin = cupy.RawKernel(r"""
    extern "C" __global__ void spin(long long cycles) {
        long long start = clock64();
        while (clock64() - start < cycles) {}
    }""", "spin")
    directory = _tree(tmp_path, np.random.default_rng(3))
    gen = gpuaug.ImageDataGenerator(rotation_range=20, device="cuda")
    with contextlib.redirect_stdout(io.StringIO()):
        it = gen.flow_from_directory(directory, target_size=(24, 20), batch_size=4, seed=3,
                                     decoder="dali")
    it[0]  # the pipeline and the kernels are built
    other = cupy.cuda.Stream(non_blocking=True)
    with other:
        spin((1,), (1,), (np.int64(4_000_000_000),))  # about two seconds at 2 GHz
    it[1]
    assert not other.done, "decoding a batch waited for another stream's work"
    other.synchronize()

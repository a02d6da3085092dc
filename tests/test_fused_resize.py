"""The file iterators' resize fused into the warp, bit for bit.

With ``interpolation="nearest"`` the kernels read the decoded images (each of its own
size) through Pillow's nearest index maps (``INPUT_RESIZED``) instead of a resized
batch.  Here the kernels' host build (and the GPU, ``gpu``-marked) reads fresh random
images of sizes smaller, larger and equal to the target, and the result is held equal,
bit for bit, to resizing first and augmenting the batch (the two-step path) and to the
NumPy reference, in every pass the kernels have: the lean write, the pre-passes for
channel shift and brightness, samplewise statistics, order 0, every fill mode, fast
precision, both data formats and output layouts, featurewise statistics, RGB and
grayscale (each tap Pillow's luma of its pixel); then the file iterator end to end on
DALI's CPU decoder, lending its images as its GPU decoder does.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import gpuaug
from gpuaug import presets
from gpuaug.backends import NumpyBackend
from gpuaug.backends.cuda.launch_args import make_epilogue, pack_upload
from gpuaug.backends.cuda.variants import KernelVariant, all_variants
from gpuaug.backends.interface import EPILOGUE_RECORD
from gpuaug.compose import compose_matrices
from gpuaug.decoded import DecodedImages
from gpuaug.params import TransformParams
from gpuaug.sources import batch_resize
from probe_files import failing_on, png_declaring

from fused_backends import BACKENDS, assert_matches_reference, make_backend, to_host

SIZES = [(37, 53), (20, 24), (240, 180), (1, 1), (9, 400), (20, 24), (24, 20)]
TARGET = (20, 24)  # (height, width)
CLASSIC = {**{k: v for k, v in presets.CLASSIC.items() if k not in ("fill_mode", "rescale")},
           "shear_range": 20, "vertical_flip": True}

CASES = {
    "classic": dict(CLASSIC, rescale=1 / 255),
    "shift and brightness": dict(CLASSIC, channel_shift_range=60.0,
                                 brightness_range=(0.4, 1.6)),
    "samplewise": dict(CLASSIC, fill_mode="reflect", samplewise_center=True,
                       samplewise_std_normalization=True),
    "samplewise, shifted": dict(CLASSIC, channel_shift_range=30.0, samplewise_center=True),
    "constant, order 0": dict(CLASSIC, fill_mode="constant", cval=7.0, interpolation_order=0),
    "wrap, fast": dict(CLASSIC, fill_mode="wrap", precision="fast", rescale=1 / 255),
    "channels_first": dict(CLASSIC, data_format="channels_first", rescale=1 / 255),
    "NCHW float16 out": dict(CLASSIC, output_data_format="channels_first",
                             output_dtype="float16"),
    # not on the kernel table: written as float32 channels-last, converted after
    "NCHW uint8 out": dict(CLASSIC, output_data_format="channels_first", output_dtype="uint8"),
    "featurewise": dict(CLASSIC, featurewise_center=True, featurewise_std_normalization=True),
}


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, build_dir):
    return make_backend(request.param, build_dir)


def _decoded(backend, rng, sizes=SIZES, target=TARGET, channels=3) -> DecodedImages:
    """Fresh random RGB images of ``sizes``, where ``backend`` reads them; ``channels`` 1:
    to be read as Pillow's luma."""
    host = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]
    if backend.xp is np:
        return DecodedImages(host, target, channels=channels)
    return DecodedImages([backend.xp.asarray(im) for im in host], target, device=0,
                         resize_launch=batch_resize.cuda_launch(0), channels=channels)


def _generator(kwargs, rng, channels) -> gpuaug.ImageDataGenerator:
    gen = gpuaug.ImageDataGenerator(**kwargs)
    if kwargs.get("featurewise_center"):
        shape = (1, 1, channels) if gen.config().channels_last else (channels, 1, 1)
        gen.mean = rng.uniform(80, 160, shape).astype(np.float32)
        gen.std = rng.uniform(30, 70, shape).astype(np.float32)
    return gen


@pytest.mark.parametrize("channels", [3, 1], ids=["rgb", "grayscale"])
@pytest.mark.parametrize("case", list(CASES))
def test_reading_decoded_images_through_the_maps_equals_resizing_first(backend, case,
                                                                       channels):
    rng = np.random.default_rng(len(case))
    gen = _generator(CASES[case], rng, channels)
    config = gen.config()
    images = _decoded(backend, rng, channels=channels)
    resized = images.resized(config.channels_last)
    gen.random_state.seed(int(rng.integers(1 << 31)))
    params = gen.sampler.draw_batch(gen.random_state, len(images), resized.shape[1:])
    params.theta[1] = params.tx[1] = params.ty[1] = params.shear[1] = 0.0  # one unwarped
    params.zx[1] = params.zy[1] = 1.0
    matrices = compose_matrices(params, *TARGET, config.compat)
    launches = getattr(backend.launcher, "launches", None)  # the emulation's record
    if launches is not None:
        launches.clear()
    two_step = to_host(backend.augment(resized, matrices, params, config))
    passes = list(launches or [])
    if launches is not None:
        launches.clear()
    fused = to_host(backend.augment_resized(images, matrices, params, config))
    if launches is not None:
        assert launches == passes and passes  # the same kernels, reading another input

    np.testing.assert_array_equal(fused.view(np.uint8), two_step.view(np.uint8))
    if config.precision == "exact":  # and the reference's values (docs/semantics.md §14)
        ref = NumpyBackend().augment(to_host(resized), matrices, params, config)
        exact = backend.name == "cuda-emulated" and not config.samplewise_center
        brightness = CASES[case].get("brightness_range")
        assert_matches_reference(fused, ref, order=config.interpolation_order,
                                 fill_mode=config.fill_mode, exact=exact,
                                 brightness=max(brightness) if brightness else None)


@pytest.mark.parametrize("target", [(1, 1), (1, 9), (13, 1), (57, 3), (31, 64)])
@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "wrap", "constant"])
def test_any_target_size_and_fill_mode_reads_the_resized_images_pixels(backend, target,
                                                                        fill_mode):
    """Targets down to one pixel, far from the images' aspect ratios, every fill mode, in
    both orders: the taps the rules choose on the resized image, read through the maps."""
    rng = np.random.default_rng(target[0] * 100 + target[1])
    sizes = [tuple(int(v) for v in rng.integers(1, 90, 2)) for _ in range(5)] + [target]
    images = _decoded(backend, rng, sizes, target)
    for order in (0, 1):
        gen = gpuaug.ImageDataGenerator(**CLASSIC, fill_mode=fill_mode, cval=3.0,
                                        interpolation_order=order)
        config = gen.config()
        gen.random_state.seed(order)
        params = gen.sampler.draw_batch(gen.random_state, len(images), (*target, 3))
        matrices = compose_matrices(params, *target, config.compat)
        two_step = to_host(backend.augment(images.resized(), matrices, params, config))
        fused = to_host(backend.augment_resized(images, matrices, params, config))
        np.testing.assert_array_equal(fused.view(np.uint8), two_step.view(np.uint8))


def test_the_two_step_path_is_pillows_nearest_resize():
    """``DecodedImages.resized`` on the host: Pillow's NEAREST of every image, either layout."""
    rng = np.random.default_rng(5)
    host = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in SIZES]
    images = DecodedImages(host, TARGET)
    batch = images.resized()
    assert batch.shape == images.shape() == (len(SIZES), *TARGET, 3)
    for k, image in enumerate(host):
        pillow = Image.fromarray(image).resize(TARGET[::-1], Image.Resampling.NEAREST)
        np.testing.assert_array_equal(batch[k], np.asarray(pillow), err_msg=str(k))
    np.testing.assert_array_equal(images.resized(False), batch.transpose(0, 3, 1, 2))
    gray = DecodedImages(host, TARGET, channels=1).resized()
    for k, image in enumerate(host):
        pillow = Image.fromarray(image).resize(TARGET[::-1], Image.Resampling.NEAREST)
        np.testing.assert_array_equal(gray[k, ..., 0], np.asarray(pillow.convert("L")))


def test_the_upload_carries_the_sources_at_the_offsets_it_states():
    rng = np.random.default_rng(6)
    host = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in SIZES]
    records, maps = DecodedImages(host, TARGET).plan()
    gen = gpuaug.ImageDataGenerator(**CLASSIC, featurewise_center=True)
    gen.mean = rng.uniform(0, 255, (1, 1, 3)).astype(np.float32)
    config = gen.config()
    params = TransformParams.identity(len(host))
    epilogue = make_epilogue(config, (*TARGET, 3), standardize=True, featurewise=(True, False))
    upload = pack_upload(compose_matrices(params, *TARGET, config.compat), params, "float32",
                         epilogue, sources=(records, maps))
    head = upload[:EPILOGUE_RECORD.dtype.itemsize].view(EPILOGUE_RECORD.dtype)[0]
    at, maps_at = int(head["sources_offset"]), int(head["maps_offset"])
    assert at > int(head["mean_offset"]) and at % 8 == 0 and maps_at % 8 == 0
    np.testing.assert_array_equal(upload[at:at + records.nbytes], records.view(np.uint8))
    np.testing.assert_array_equal(upload[maps_at:maps_at + maps.nbytes].view(np.int32), maps)
    assert len(upload) == maps_at + -(-maps.nbytes // 8) * 8  # maps last, padded to a word
    assert not upload[maps_at + maps.nbytes:].any()  # the padding is zeros, not stale bytes
    plain = pack_upload(compose_matrices(params, *TARGET, config.compat), params, "float32",
                        epilogue)
    head = plain[:EPILOGUE_RECORD.dtype.itemsize].view(EPILOGUE_RECORD.dtype)[0]
    assert int(head["sources_offset"]) == int(head["maps_offset"]) == 0


def test_the_resized_input_is_uint8_rgb_with_float32_work_only():
    resized = [v for v in all_variants() if v.resized]
    assert resized and {(v.in_dtype, v.work_dtype) for v in resized} == {("uint8", "float32")}
    for bad in (dict(in_dtype="float32"), dict(work_dtype="float64", out_dtype="float64")):
        args = dict(in_dtype="uint8", out_dtype="float32", work_dtype="float32", order=1,
                    fill_mode="nearest", out_chw=False, resized=True)
        with pytest.raises(ValueError, match="resized input"):
            KernelVariant(**{**args, **bad})
    names = resized[0].names()
    assert all("gpuaug::INPUT_RESIZED" in name for name in names)


def test_an_image_or_maps_too_large_for_32_bit_offsets_are_refused():
    with pytest.raises(ValueError, match="too large to resize"):
        batch_resize.plan([(50000, 50000)], [1], TARGET)
    small = [np.zeros((1 + k, 1 + k, 3), np.uint8) for k in range(3)]
    images = DecodedImages(small, (2**29, 2**29))  # three heights and widths: 3 (h + w) entries
    assert not images.fits_the_kernels
    with pytest.raises(ValueError, match="past the augment kernels' 32-bit offsets"):
        images.plan()
    assert DecodedImages(small, (2**28, 2**28)).fits_the_kernels  # 3 x 2^29 entries


# ------------------------------------------------------------------ the iterators' path
def _folder_of_photos(root, rng, count=9):
    """RGB files of several sizes (PNG and baseline JPEG: DALI's CPU decode is Pillow's),
    a 16-bit PNG that Pillow decodes, and a broken file."""
    (root / "a").mkdir()
    (root / "b").mkdir()
    for i in range(count):
        h, w = (int(v) for v in rng.integers(8, 70, 2))
        small = rng.integers(0, 256, (h // 4 + 2, w // 4 + 2, 3), dtype=np.uint8)
        photo = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
        photo.save(root / "ab"[i % 2] / f"{i}.{'png' if i % 3 else 'jpg'}", quality=92)
    return root


def _iterate(folder, decoder, gen, **kwargs):
    kwargs = dict(dict(batch_size=4, shuffle=True, seed=11), **kwargs)
    it = gen.flow_from_directory(str(folder), target_size=TARGET, decoder=decoder, **kwargs)
    return it, [it[i] for i in range(len(it))]


@pytest.mark.parametrize("data_format, color_mode", [
    ("channels_last", "rgb"), ("channels_first", "rgb"), ("channels_last", "grayscale")])
def test_an_iterator_hands_dalis_images_to_the_kernels_unresized(tmp_path, build_dir,
                                                                   monkeypatch, data_format,
                                                                   color_mode):
    """DALI's CPU decoder lends its images as its GPU decoder does; the kernels' host build
    reads them through the maps: the Pillow iterator's batches, bit for bit, a file refused
    by name beside a lent batch, and the decoder free again after each batch."""
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    from gpuaug import engine

    folder = _folder_of_photos(tmp_path, np.random.default_rng(21))
    # refused before DALI decodes: a failure of its own, beside a lent batch
    (folder / "b" / "bomb.png").write_bytes(png_declaring(20000, 20000))
    emulated = make_backend("emulated", build_dir)
    lent = []

    def augment_resized(images, *args):
        lent.append(len(images))
        return type(emulated).augment_resized(emulated, images, *args)

    monkeypatch.setattr(emulated, "augment_resized", augment_resized)
    monkeypatch.setattr(engine, "decoded_backend", lambda images: emulated)
    kwargs = dict(CLASSIC, rescale=1 / 255, data_format=data_format, device="cpu")
    gen = gpuaug.ImageDataGenerator(**kwargs)
    _, pillow = _iterate(folder, "pillow", gen, on_error="skip", color_mode=color_mode)
    gen = gpuaug.ImageDataGenerator(**kwargs)
    it = gen.flow_from_directory(str(folder), target_size=TARGET, batch_size=4, shuffle=True,
                                 seed=11, decoder="dali", on_error="skip",
                                 color_mode=color_mode)
    it._decode.lends = True  # off on the CPU, where the NumPy reference resizes first anyway
    by_dali = [it[i] for i in range(len(it))]
    assert sum(lent) == sum(len(y) for _, y in pillow) == 9 and len(lent) == len(pillow)
    for (xp, yp), (xd, yd) in zip(pillow, by_dali, strict=True):
        np.testing.assert_array_equal(yd, yp)
        np.testing.assert_array_equal(xd.view(np.uint8), xp.view(np.uint8))
    assert [p.rsplit("/", 1)[1] for p, _ in it.skipped_files] == ["bomb.png"]
    assert not it._decode._lock.locked()


def test_a_batch_dali_fails_on_is_narrowed_down_and_copied_as_before(tmp_path, monkeypatch):
    """A lent run that fails is not lent: the files go through the copying path, which
    finds the one DALI fails on and has Pillow decode it."""
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    from gpuaug.sources import decoders

    folder = _folder_of_photos(tmp_path, np.random.default_rng(22), count=5)
    picky = (folder / "a" / "0.jpg").read_bytes()
    monkeypatch.setattr(decoders.DaliDecoder, "_decoded_samples",
                        failing_on(picky, decoders.DaliDecoder._decoded_samples))
    gen = gpuaug.ImageDataGenerator(**CLASSIC, rescale=1 / 255, device="cpu")
    it = gen.flow_from_directory(str(folder), target_size=TARGET, batch_size=5, shuffle=False,
                                 seed=11, decoder="dali")
    it._decode.lends = True
    with it._decode.lend(it.filepaths) as (images, failures):
        assert not isinstance(images, DecodedImages) and not failures
    _, [(expected, _)] = _iterate(folder, "pillow", gpuaug.ImageDataGenerator(
        **CLASSIC, rescale=1 / 255, device="cpu"), shuffle=False, batch_size=5)
    np.testing.assert_array_equal(it[0][0], expected)


@pytest.mark.gpu
def test_on_the_gpu_dalis_images_are_read_unresized_with_the_copying_paths_bits(tmp_path,
                                                                              monkeypatch):
    """DALI ``mixed`` lends its images to the kernels: the batches of the same iterator with
    lending off (DALI's images resized by one launch, then augmented), bit for bit, over
    more batches than DALI has buffers, with a prefetching thread reading ahead."""
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    import cupy

    from gpuaug.backends.cuda.fused import FusedBackend

    folder = _folder_of_photos(tmp_path, np.random.default_rng(23), count=23)
    lent = []
    augment_resized = FusedBackend.augment_resized
    monkeypatch.setattr(FusedBackend, "augment_resized",
                        lambda self, images, *a: lent.append(len(images))
                        or augment_resized(self, images, *a))

    def epoch(lends):
        gen = gpuaug.ImageDataGenerator(**CLASSIC, rescale=1 / 255, device="cuda")
        it = gen.flow_from_directory(str(folder), target_size=TARGET, batch_size=4, seed=5,
                                     decoder="dali")
        assert it.decoder == "dali-mixed" and it._decode.lends
        it._decode.lends = lends
        with it.prefetch(2) as ahead:  # an epoch and a batch of the next
            return [cupy.asnumpy(next(ahead)[0]) for _ in range(len(it) + 1)]

    copied = epoch(False)
    assert not lent
    by_lending = epoch(True)
    assert sum(lent) >= 23 + 4
    for a, b in zip(copied, by_lending, strict=True):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def test_decoded_images_are_dense_rgb_uint8_and_as_many_as_the_draws():
    good = np.zeros((4, 5, 3), np.uint8)
    for bad in (good.astype(np.float32), np.zeros((4, 5, 4), np.uint8),
                np.zeros((4, 10, 3), np.uint8)[:, ::2], np.zeros((4, 5), np.uint8)):
        with pytest.raises(ValueError, match="image 1 must be a C-contiguous"):
            DecodedImages([good, bad], TARGET)
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        DecodedImages([good], TARGET, channels=4)

    class OnDevice:  # another library's GPU array: strides given, or None (C-contiguous)
        def __init__(self, strides, shape=(4, 5, 3)):
            self.__cuda_array_interface__ = dict(shape=shape, typestr="|u1", strides=strides,
                                                 data=(1 << 40, False), version=3)

    for strides in (None, (15, 3, 1)):
        assert DecodedImages([OnDevice(strides)], TARGET, device=0).pointers == [1 << 40]
    for bad in (OnDevice((30, 6, 2)), OnDevice(None, (4, 5, 4))):
        with pytest.raises(ValueError, match="image 0 must be a C-contiguous"):
            DecodedImages([bad], TARGET, device=0)
    from gpuaug import engine

    gen = gpuaug.ImageDataGenerator(**CLASSIC)
    with pytest.raises(ValueError, match="describes 3 samples but 2 images"):
        engine.augment_decoded("cpu", DecodedImages([good, good], TARGET),
                               TransformParams.identity(3), gen.config())
    assert DecodedImages([good], TARGET).fits_the_kernels
    images = DecodedImages([good], TARGET)
    images.__dict__["sizes"] = [(46341, 15447)]  # 2^31 + 4,633 bytes: past the offsets
    assert not images.fits_the_kernels


def _dali_iterator(folder, gen, **kwargs):
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    it = gen.flow_from_directory(str(folder), target_size=TARGET, seed=11, decoder="dali",
                                 **kwargs)
    it._decode.lends = True  # off on the CPU, where the NumPy reference resizes first anyway
    return it


def test_a_lent_batch_holds_the_decoder_and_a_copied_one_frees_it(tmp_path):
    folder = _folder_of_photos(tmp_path, np.random.default_rng(24), count=4)
    it = _dali_iterator(folder, gpuaug.ImageDataGenerator(device="cpu"))
    decoder = it._decode
    with decoder.lend(it.filepaths) as (images, _):
        assert isinstance(images, DecodedImages) and decoder._lock.locked()
    assert not decoder._lock.locked()
    Image.new("I;16", (9, 7)).save(folder / "a" / "deep.png")  # Pillow's to decode
    with decoder.lend([*it.filepaths, str(folder / "a" / "deep.png")]) as (batch, _):
        assert not isinstance(batch, DecodedImages) and not decoder._lock.locked()


def test_images_too_large_for_the_kernels_or_another_layout_are_resized_first(
        tmp_path, build_dir, monkeypatch):
    """A DirectoryIterator made by hand in another data format than its generator's, and
    images past the kernels' 32-bit offsets, take the copying path's batches."""
    from gpuaug import engine
    from gpuaug.iterators import DirectoryIterator

    folder = _folder_of_photos(tmp_path, np.random.default_rng(25), count=6)
    emulated = make_backend("emulated", build_dir)
    monkeypatch.setattr(engine, "decoded_backend", lambda images: emulated)
    gen = gpuaug.ImageDataGenerator(**CLASSIC, rescale=1 / 255, device="cpu",
                                    data_format="channels_first")
    by_hand = dict(target_size=TARGET, batch_size=3, seed=11, shuffle=False)
    expected = DirectoryIterator(str(folder), gen, decoder="pillow", **by_hand)[0][0]
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    it = DirectoryIterator(str(folder), gen, decoder="dali", **by_hand)
    it._decode.lends = True
    assert it.data_format == "channels_last" and expected.shape == (3, *TARGET, 3)
    np.testing.assert_array_equal(it[0][0], expected)

    monkeypatch.setattr(DecodedImages, "fits_the_kernels", property(lambda self: False))
    it = _dali_iterator(folder, gpuaug.ImageDataGenerator(**CLASSIC, device="cpu"),
                        batch_size=3, shuffle=False)
    with it._decode.lend(it.filepaths[:3]) as (batch, failures):
        assert not isinstance(batch, DecodedImages) and not failures
    gen = gpuaug.ImageDataGenerator(**CLASSIC, device="cpu")
    _, [(first, _), *_] = _iterate(folder, "pillow", gen, batch_size=3, shuffle=False)
    np.testing.assert_array_equal(it[0][0], first)

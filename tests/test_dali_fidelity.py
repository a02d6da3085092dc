"""DALI gives Pillow's answers, or Pillow gives them: every probe of issue 15 on DALI's CPU decoder.

DALI decodes only the files whose pixels were shown equal to Pillow's (8-bit JPEG and
PNG, read from their headers); EXIF orientation is ignored as Pillow and Keras ignore
it; 16-bit, 1-bit, TIFF, BMP, CMYK and anything DALI fails on go to Pillow; a declared
size over Pillow's decompression-bomb limit is refused before DALI decodes it; a huge
``batch_size`` does not size DALI's pipeline.  The GPU decoder (nvJPEG) shares these
rules; its JPEG pixels are not libjpeg-turbo's (``gpu``-marked tests measure that).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from PIL import Image

import gpuaug
from gpuaug.sources import decoders
from gpuaug.sources.sniff import Header, sniff
from probe_files import failing_on, png_declaring

dali = pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")


def _photo(rng, h, w):
    """Smooth content, as photographs are (a random field blurred by upsampling)."""
    small = rng.integers(0, 256, (h // 4 + 2, w // 4 + 2, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    """One folder per class of file that DALI and Pillow used to disagree on."""
    root = tmp_path_factory.mktemp("probes")
    rng = np.random.default_rng(15)
    (root / "a").mkdir()
    photo = _photo(rng, 45, 61)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": DALI applied it, Pillow and Keras do not
    photo.save(root / "a" / "exif6.jpg", quality=90, exif=exif)
    photo.save(root / "a" / "progressive.jpg", quality=85, progressive=True)
    photo.convert("L").save(root / "a" / "gray.jpg", quality=90)
    photo.convert("CMYK").save(root / "a" / "cmyk.jpg", quality=90)
    deep = (rng.integers(0, 65536, (33, 29))).astype(np.uint16)
    Image.fromarray(deep).save(root / "a" / "deep16.png")
    Image.fromarray(deep).save(root / "a" / "deep16.tif")
    photo.convert("1").save(root / "a" / "bilevel.tif")
    photo.convert("LA").save(root / "a" / "gray_alpha.png")
    photo.save(root / "a" / "plain.bmp")
    photo.save(root / "a" / "plain.png")
    photo.save(root / "a" / "plain.jpg", quality=95)
    return str(root)


def _batches(directory, decoder, **kwargs):
    gen = gpuaug.ImageDataGenerator(device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        it = gen.flow_from_directory(directory, target_size=kwargs.pop("target_size", (40, 50)),
                                     batch_size=kwargs.pop("batch_size", 4), shuffle=False,
                                     decoder=decoder, **kwargs)
    return it, [it[i] for i in range(len(it))]


@pytest.mark.parametrize("color_mode", ["rgb", "grayscale"])
def test_every_probe_decodes_to_pillows_pixels(probes, color_mode):
    _, pillow = _batches(probes, "pillow", color_mode=color_mode)
    _, by_dali = _batches(probes, "dali", color_mode=color_mode)
    for (xp, yp), (xd, yd) in zip(pillow, by_dali, strict=True):
        np.testing.assert_array_equal(yd, yp)
        np.testing.assert_array_equal(xd, xp)


def test_dali_decodes_the_files_it_agrees_on_and_pillow_the_rest(probes, monkeypatch):
    sent = []
    decode = decoders.DaliDecoder._decode

    def recording(self, encoded):
        sent.extend(sniff(e.tobytes()) for e in encoded)
        return decode(self, encoded)

    monkeypatch.setattr(decoders.DaliDecoder, "_decode", recording)
    _batches(probes, "dali")
    kinds = sorted((h.format, h.kind, h.channels) for h in sent)
    # exif6, gray, plain, progressive JPEGs and the 8-bit RGB PNG: nothing else
    assert kinds == [("jpeg", 0xC0, 1), ("jpeg", 0xC0, 3), ("jpeg", 0xC0, 3),
                     ("jpeg", 0xC2, 3), ("png", 2, 0)]


def _folder(tmp_path, files):
    (tmp_path / "a").mkdir()
    for name, data in files.items():
        (tmp_path / "a" / name).write_bytes(data)
    return str(tmp_path)


def _jpeg_bytes(rng, **kwargs):
    buf = io.BytesIO()
    _photo(rng, 20, 24).save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def test_a_decompression_bomb_is_refused_before_dali_decodes_it(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    folder = _folder(tmp_path, {"0.jpg": _jpeg_bytes(rng), "bomb.png": png_declaring(20000,
                                                                                        20000)})
    sent = []
    decode = decoders.DaliDecoder._decode
    monkeypatch.setattr(decoders.DaliDecoder, "_decode",
                        lambda self, encoded: sent.extend(encoded) or decode(self, encoded))
    it, batches = _batches(folder, "dali", on_error="skip")
    assert len(sent) == 1 and sum(len(y) for _, y in batches) == 1
    [(path, reason)] = it.skipped_files
    assert path.endswith("bomb.png") and reason.startswith("DecompressionBombError")
    assert "400000000 pixels" in reason
    with pytest.raises(gpuaug.ImageFileError, match="bomb.png.*DecompressionBombError"):
        _batches(folder, "dali")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # Pillow's limit, read at each batch
    with pytest.raises(gpuaug.EmptyBatchError, match="0.jpg.*DecompressionBombError"):
        _batches(folder, "dali", on_error="skip")


def test_a_file_dali_fails_on_is_pillows_to_decode_or_to_name(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    good = {f"{i}.jpg": _jpeg_bytes(rng, quality=90) for i in range(5)}
    picky = _jpeg_bytes(rng, quality=70)  # DALI "fails" on it below; Pillow reads it
    broken = _jpeg_bytes(rng)[:200] + b"\x00" * 50  # a JPEG header, then garbage
    folder = _folder(tmp_path, {**good, "2picky.jpg": picky, "3broken.jpg": broken})
    monkeypatch.setattr(decoders.DaliDecoder, "_decode",
                        failing_on(picky, decoders.DaliDecoder._decode))
    it, by_dali = _batches(folder, "dali", on_error="skip", batch_size=7)
    pillow_it, pillow = _batches(folder, "pillow", on_error="skip", batch_size=7)
    np.testing.assert_array_equal(by_dali[0][0], pillow[0][0])
    assert [p for p, _ in it.skipped_files] == [p for p, _ in pillow_it.skipped_files]
    assert [p.rsplit("/", 1)[1] for p, _ in it.skipped_files] == ["3broken.jpg"]
    with pytest.raises(gpuaug.ImageFileError, match="3broken.jpg"):
        _batches(folder, "dali", batch_size=7)


def test_a_huge_batch_size_does_not_size_dalis_pipeline(tmp_path):
    rng = np.random.default_rng(4)
    folder = _folder(tmp_path, {f"{i}.jpg": _jpeg_bytes(rng) for i in range(3)})
    it, [(x, _)] = _batches(folder, "dali", batch_size=10**9)
    assert it._decode.max_batch == decoders.MAX_DALI_BATCH and len(x) == 3
    _, [(expected, _)] = _batches(folder, "pillow", batch_size=10**9)
    np.testing.assert_array_equal(x, expected)


# ------------------------------------------------------------------ the header reader
@pytest.mark.parametrize("mode, save, expected", [
    ("RGB", dict(format="JPEG"), ("jpeg", 8, 0xC0, 3, True)),
    ("RGB", dict(format="JPEG", progressive=True), ("jpeg", 8, 0xC2, 3, True)),
    ("L", dict(format="JPEG"), ("jpeg", 8, 0xC0, 1, True)),
    ("CMYK", dict(format="JPEG"), ("jpeg", 8, 0xC0, 4, False)),
    ("RGB", dict(format="PNG"), ("png", 8, 2, 0, True)),
    ("RGBA", dict(format="PNG"), ("png", 8, 6, 0, True)),
    ("P", dict(format="PNG"), ("png", 8, 3, 0, True)),
    ("LA", dict(format="PNG"), ("png", 8, 4, 0, False)),
    ("I;16", dict(format="PNG"), ("png", 16, 0, 0, False)),
    ("1", dict(format="PNG"), ("png", 1, 0, 0, False)),
])
def test_the_header_reader_reads_what_pillow_wrote(mode, save, expected):
    buf = io.BytesIO()
    _photo(np.random.default_rng(0), 37, 53).convert(mode).save(buf, **save)
    header = sniff(buf.getvalue())
    assert (header.height, header.width) == (37, 53)
    assert (header.format, header.bits, header.kind, header.channels,
            header.dali_equals_pillow) == expected


def test_the_header_reader_finds_the_frame_after_exif_and_fill_bytes():
    data = _jpeg_bytes(np.random.default_rng(1), exif=b"Exif\x00\x00" + b"\x00" * 3000)
    assert sniff(data) == Header("jpeg", 20, 24, bits=8, kind=0xC0, channels=3)
    padded = data[:2] + b"\xff\xff\xff" + data[2:]  # fill bytes before a marker are allowed
    assert sniff(padded) == sniff(data)


@pytest.mark.parametrize("data", [b"", b"GIF89a....", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n",
                                  b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 5,
                                  b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 20])
def test_the_header_reader_leaves_anything_else_to_pillow(data):
    assert sniff(data) is None

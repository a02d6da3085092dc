"""Bad files and bad trees: clear errors naming the file, or documented skips; nothing lost.

Every odd-but-valid image kind is compared with Keras itself; every broken file is
tried with both decoders (Pillow; DALI's CPU decoder where installed), which must
behave the same under ``on_error="raise"`` and ``on_error="skip"``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings

import numpy as np
import pytest
from PIL import Image

import gpuaug
from gpuaug.errors import ImageFileError


def _dali_installed() -> bool:
    import importlib.util

    try:  # find_spec imports the parent package: no `nvidia` at all raises, not None
        return importlib.util.find_spec("nvidia.dali") is not None
    except ImportError:
        return False


DECODERS = ["pillow", pytest.param("dali", marks=pytest.mark.skipif(
    not _dali_installed(), reason="NVIDIA DALI not installed"))]


def _png(path, value, size=(6, 5)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)


def _broken_files(root) -> dict[str, str]:
    """name -> what is wrong with it; every one is in class folder 'bad'."""
    d = os.path.join(root, "bad")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "zero.png"), "wb").close()
    with open(os.path.join(d, "text.jpg"), "w") as f:
        f.write("this is not a JPEG\n" * 20)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)).save(
        buf, "JPEG", quality=90)
    with open(os.path.join(d, "truncated.jpg"), "wb") as f:
        f.write(buf.getvalue()[: len(buf.getvalue()) // 3])
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), np.uint8)).save(
        buf, "PNG")
    with open(os.path.join(d, "truncated.png"), "wb") as f:
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
    return {"zero.png": "zero bytes", "text.jpg": "text", "truncated.jpg": "truncated",
            "truncated.png": "truncated"}


def _flow(directory, decoder, **kwargs):
    gen = gpuaug.ImageDataGenerator(rescale=1.0, device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        return gen.flow_from_directory(str(directory), target_size=(5, 6), decoder=decoder,
                                       **kwargs)


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("name", ["zero.png", "text.jpg", "truncated.jpg", "truncated.png"])
def test_raise_names_the_file_and_the_cause(tmp_path, decoder, name):
    _broken_files(tmp_path / "all")
    only = tmp_path / "one" / "bad"
    only.mkdir(parents=True)
    os.replace(tmp_path / "all" / "bad" / name, only / name)
    it = _flow(tmp_path / "one", decoder, batch_size=1)
    with pytest.raises(ImageFileError, match=name) as info:
        it[0]
    assert info.value.path.endswith(name) and info.value.cause is not None


@pytest.mark.parametrize("decoder", DECODERS)
def test_skip_drops_only_the_bad_files_keeps_labels_and_reports_them_once(tmp_path, decoder,
                                                                          caplog):
    broken = _broken_files(tmp_path)
    for c, cls in enumerate(["a", "b", "c"]):
        for i in range(5):
            _png(tmp_path / cls / f"{i}.png", 10 * c + 100)  # the label, in the pixels
    it = _flow(tmp_path, decoder, batch_size=4, seed=1, class_mode="sparse", on_error="skip")
    classes = it.class_indices
    with caplog.at_level(logging.WARNING, logger="gpuaug"):
        for _ in range(2):  # two epochs: known-bad files are not read or logged again
            seen = []
            for i in range(len(it)):
                x, y = it[i]
                assert len(x) == len(y)
                for img, label in zip(x, y):
                    name = [k for k, v in classes.items() if v == int(label)][0]
                    assert name != "bad"
                    assert np.all(img == 10 * "abc".index(name) + 100)
                    seen.append(name)
            it.on_epoch_end()
            assert sorted(seen) == sorted(["a"] * 5 + ["b"] * 5 + ["c"] * 5)
    skipped = dict(it.skipped_files)
    assert sorted(os.path.basename(p) for p in skipped) == sorted(broken)
    logged = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(logged) == len(broken)


def test_decompression_bombs_are_refused_by_name(tmp_path, monkeypatch):
    _png(tmp_path / "a" / "huge.png", 1, size=(100, 100))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 100x100 is > 2x the limit
    with pytest.raises(ImageFileError, match="huge.png.*DecompressionBomb"):
        _flow(tmp_path, "pillow", batch_size=1)[0]


def _odd_images(root):
    """Valid images in every mode Keras meets, one class each (Keras parity)."""
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (9, 7, 3), np.uint8)
    os.makedirs(f"{root}/odd", exist_ok=True)
    Image.fromarray(rgb).convert("CMYK").save(f"{root}/odd/cmyk.jpg", quality=95)
    Image.fromarray(rgb).convert("P").save(f"{root}/odd/palette.png")
    Image.fromarray(rgb).convert("LA").save(f"{root}/odd/la.png")
    Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (9, 7, 1), np.uint8)])).save(
        f"{root}/odd/rgba.png")
    Image.fromarray(rng.integers(0, 65536, (9, 7), np.uint16)).save(f"{root}/odd/gray16.png")
    Image.fromarray(rgb).convert("1").save(f"{root}/odd/bilevel.png")
    Image.fromarray(rgb[:1, :1]).save(f"{root}/odd/one_pixel.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": Keras does not apply it, nor does gpuaug
    Image.fromarray(rgb).save(f"{root}/odd/exif_rotated.jpg", exif=exif, quality=95)


@pytest.mark.keras
@pytest.mark.parametrize("color_mode", ["rgb", "grayscale", "rgba"])
def test_odd_image_kinds_equal_keras(keras_image, tmp_path, color_mode):
    _odd_images(tmp_path)
    kwargs = dict(target_size=(8, 6), color_mode=color_mode, batch_size=8, shuffle=False)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        ki = keras_image.ImageDataGenerator().flow_from_directory(str(tmp_path), **kwargs)
        gi = gpuaug.ImageDataGenerator(device="cpu").flow_from_directory(
            str(tmp_path), decoder="pillow", **kwargs)
        (kx, ky), (gx, gy) = ki[0], gi[0]
    assert ki.filenames == gi.filenames
    np.testing.assert_array_equal(gx, kx)  # 16-bit grayscale keeps its 16-bit values
    np.testing.assert_array_equal(gy, ky)


def test_symlink_loops_end_with_every_file_once(tmp_path):
    _png(tmp_path / "a" / "x.png", 1)
    _png(tmp_path / "a" / "sub" / "y.png", 2)
    os.symlink(tmp_path / "a", tmp_path / "a" / "sub" / "loop")  # a/sub/loop -> a
    with pytest.warns(UserWarning, match="loop"):
        it = _flow(tmp_path, "pillow", follow_links=True)
    assert sorted(it.filenames) == [os.path.join("a", "sub", "y.png"), os.path.join("a", "x.png")]


def test_empty_trees_and_empty_classes(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    gen = gpuaug.ImageDataGenerator(device="cpu")
    it = gen.flow_from_directory(str(tmp_path / "empty"))
    assert "Found 0 images belonging to 0 classes." in capsys.readouterr().out
    assert len(it) == 0
    with pytest.raises(ValueError, match="has length 0"):
        it[0]
    (tmp_path / "classes" / "none").mkdir(parents=True)
    _png(tmp_path / "classes" / "some" / "a.png", 3)
    it = gen.flow_from_directory(str(tmp_path / "classes"), target_size=(5, 6))
    assert it.num_classes == 2 and it.samples == 1 and it.class_indices == {"none": 0, "some": 1}
    with pytest.raises(FileNotFoundError):
        gen.flow_from_directory(str(tmp_path / "missing"))


def test_non_utf8_and_long_file_names(tmp_path):
    root = os.fsencode(tmp_path / "names" / "c")
    os.makedirs(root)
    weird = root + b"/\xff\xfe-latin1-\xe9.png"
    long = root + b"/" + b"n" * 250 + b".png"
    for i, name in enumerate((weird, long)):
        buf = io.BytesIO()
        Image.fromarray(np.full((5, 6, 3), 50 + i, np.uint8)).save(buf, "PNG")
        with open(name, "wb") as f:
            f.write(buf.getvalue())
    it = _flow(tmp_path / "names", "pillow", batch_size=2, shuffle=False)
    x, _ = it[0]
    assert it.samples == 2 and sorted(np.unique(x).tolist()) == [50.0, 51.0]


def test_save_to_dir_never_writes_outside_it(tmp_path):
    _png(tmp_path / "data" / "a" / "x.png", 9)
    out = tmp_path / "out"
    out.mkdir()
    it = _flow(tmp_path / "data", "pillow", save_to_dir=str(out), save_prefix="../escape")
    with pytest.raises(ValueError, match="outside save_to_dir"):
        it[0]
    assert not list(tmp_path.glob("escape*"))


def test_symlink_loops_through_several_links_end_too(tmp_path):
    _png(tmp_path / "c" / "a" / "x.png", 1)
    _png(tmp_path / "c" / "b" / "y.png", 2)
    os.symlink(tmp_path / "c" / "b", tmp_path / "c" / "a" / "l1")  # a/l1 -> b
    os.symlink(tmp_path / "c" / "a", tmp_path / "c" / "b" / "l2")  # b/l2 -> a
    with pytest.warns(UserWarning, match="loop"):
        it = _flow(tmp_path, "pillow", follow_links=True)
    # each real image at most twice (once per way in), never an endless chain
    assert it.samples <= 4 and {os.path.basename(f) for f in it.filenames} == {"x.png", "y.png"}


def _in_thread(fn, timeout: float = 20):
    """``fn()`` in a thread; fails the test (instead of hanging it) if it does not return."""
    import threading

    result: dict = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as exc:  # handed back to the test
            result["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"blocked for over {timeout} s"
    if "error" in result:
        raise result["error"]
    return result.get("value")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")
def test_only_regular_files_are_listed_and_the_others_are_named(tmp_path):
    """A FIFO named like an image blocked next() forever (Keras hangs too)."""
    for i in range(3):
        _png(str(tmp_path / "a" / f"{i}.png"), 10 * i)
    os.mkfifo(tmp_path / "a" / "pipe.png")
    os.symlink(tmp_path / "nowhere.png", tmp_path / "a" / "gone.png")
    with pytest.warns(UserWarning, match=r"2 path\(s\).*not regular files") as caught:
        it = _flow(tmp_path, "pillow", batch_size=8)
    message = str(caught[0].message)
    assert "pipe.png" in message and "gone.png" in message
    assert it.samples == 3 and sorted(os.path.basename(f) for f in it.filenames) == [
        "0.png", "1.png", "2.png"]
    x, _ = _in_thread(lambda: next(it))
    assert len(x) == 3


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")
def test_a_fifo_given_by_name_fails_at_once_as_its_own_error(tmp_path, decoder):
    """flow_from_dataframe without validation reads what it is given: never block on it."""
    pd = pytest.importorskip("pandas")
    _png(str(tmp_path / "ok.png"), 7)
    os.mkfifo(tmp_path / "pipe.png")
    frame = pd.DataFrame({"filename": ["ok.png", "pipe.png"], "class": ["a", "a"]})
    gen = gpuaug.ImageDataGenerator(device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        raising = gen.flow_from_dataframe(frame, str(tmp_path), target_size=(5, 6),
                                          batch_size=2, shuffle=False, decoder=decoder,
                                          validate_filenames=False)
        skipping = gen.flow_from_dataframe(frame, str(tmp_path), target_size=(5, 6),
                                           batch_size=2, shuffle=False, decoder=decoder,
                                           validate_filenames=False, on_error="skip")
    with pytest.raises(ImageFileError, match="pipe.png.*FIFO"):
        _in_thread(lambda: raising[0])
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        x, _ = _in_thread(lambda: skipping[0])
    assert len(x) == 1 and [os.path.basename(p) for p, _ in skipping.skipped_files] == [
        "pipe.png"]


@pytest.mark.parametrize("decoder", DECODERS)
def test_running_out_of_file_handles_is_not_blamed_on_the_files(tmp_path, decoder, monkeypatch):
    """EMFILE during one batch put every good file into skipped_files for good (issue 16)."""
    import errno

    from gpuaug.sources import decoders, load_img

    for i in range(4):
        _png(str(tmp_path / "a" / f"{i}.png"), 20 * i)
    it = _flow(tmp_path, decoder, batch_size=4, shuffle=False, on_error="skip")

    def exhausted(path):
        raise OSError(errno.EMFILE, "Too many open files", path)

    with monkeypatch.context() as patch:
        patch.setattr(load_img, "read_regular_file", exhausted)
        patch.setattr(decoders, "read_regular_file", exhausted)
        with pytest.raises(OSError, match="Too many open files") as info:
            it[0]
    assert not isinstance(info.value, ImageFileError) and info.value.errno == errno.EMFILE
    assert it.skipped_files == []  # nothing charged to the files
    x, _ = it[0]  # the limit is back: every file reads
    assert len(x) == 4


def test_a_target_size_too_large_for_any_image_fails_at_the_call(tmp_path):
    """It blamed the first file (OverflowError) under "raise" and skipped every file under
    "skip"; it is the argument's fault, said when it is given."""
    _png(str(tmp_path / "a" / "img000.png"), 1)
    for policy in ("raise", "skip"):
        with pytest.raises(ValueError, match="target_size"):
            gpuaug.ImageDataGenerator(device="cpu").flow_from_directory(
                str(tmp_path), target_size=(2**31, 1), on_error=policy)


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_batch_of_only_unreadable_files_is_an_error_naming_them(tmp_path, decoder):
    """An empty batch made model.fit fail far away ("Output had shape: (0,)")."""
    from gpuaug.errors import EmptyBatchError

    _broken_files(tmp_path)
    _png(str(tmp_path / "good" / "0.png"), 9)
    it = _flow(tmp_path, decoder, batch_size=4, shuffle=False, on_error="skip")
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        with pytest.raises(EmptyBatchError) as info:
            it[0]  # the four broken files of class "bad"
        assert sorted(os.path.basename(p) for p in info.value.paths) == sorted(
            ["zero.png", "text.jpg", "truncated.jpg", "truncated.png"])
        assert "zero.png" in str(info.value)
        x, y = it[1]  # the good file's batch is unaffected
    assert len(x) == 1


def test_save_to_dir_never_overwrites_a_saved_sample(tmp_path):
    """Keras's names collide (1 in 9,000 over 3 epochs of flow(); two subsets with one seed
    in one folder overwrote 100 of 200): a taken name gets -1, -2, ... instead (issue 16)."""
    x = np.random.default_rng(2).integers(0, 256, (6, 5, 5, 3), dtype=np.uint8)
    out = tmp_path / "saved"
    out.mkdir()
    gen = gpuaug.ImageDataGenerator(rotation_range=10, device="cpu")
    first = gen.flow(x, batch_size=6, shuffle=False, seed=3, save_to_dir=str(out),
                     save_prefix="s")
    twin = gen.flow(x, batch_size=6, shuffle=False, seed=3, save_to_dir=str(out),
                    save_prefix="s")  # the same seed: the same names, batch for batch
    next(first)
    keras_names = sorted(p.name for p in out.iterdir())
    assert len(keras_names) == 6 and all(n.startswith("s_") and n.endswith(".png")
                                         for n in keras_names)
    next(twin)
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 12  # nothing replaced
    assert sorted(n for n in names if "-1." in n) == sorted(
        n.replace(".png", "-1.png") for n in keras_names)
    for name in names:  # every file is a whole image
        with Image.open(out / name) as img:
            assert img.size == (5, 5)

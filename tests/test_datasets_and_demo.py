"""The built-in sample dataset and the main job."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from gpuaug.cli import main as gpuaug_main
from gpuaug.datasets import SHAPES, make_sample
from gpuaug.preview import CAPTION, LABEL_WIDTH


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_sample_is_a_class_folder_tree_of_pngs_and_jpegs(tmp_path):
    root = make_sample(tmp_path / "data", per_class=4, sizes=(40, 90))
    assert sorted(p.name for p in root.iterdir()) == sorted(SHAPES)
    files = sorted(root.rglob("*.*"))
    assert len(files) == 4 * len(SHAPES)
    assert {p.suffix for p in files} == {".png", ".jpg"}
    sizes = set()
    for path in files:
        with Image.open(path) as img:
            assert img.mode == "RGB"
            assert 40 <= img.width <= 90 and 40 <= img.height <= 90
            sizes.add(img.size)
            assert np.asarray(img).std() > 5  # textured, not flat
    assert len(sizes) > 4


def test_sample_formats_choose_the_files(tmp_path):
    root = make_sample(tmp_path / "jpg", per_class=3, formats=("jpg",))
    assert {p.suffix for p in root.rglob("*.*")} == {".jpg"}


def test_sample_is_deterministic_per_seed(tmp_path):
    a = _digest(make_sample(tmp_path / "a", per_class=2, seed=3))
    b = _digest(make_sample(tmp_path / "b", per_class=2, seed=3))
    c = _digest(make_sample(tmp_path / "c", per_class=2, seed=4))
    assert a == b and a != c


@pytest.mark.parametrize("kwargs, name", [(dict(per_class=0), "per_class"),
                                          (dict(sizes=(50, 10)), "sizes"),
                                          (dict(formats=("gif",)), "formats")])
def test_sample_rejects_bad_arguments(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_sample(tmp_path, **kwargs)


def test_demo_runs_and_writes_a_preview(tmp_path, capsys):
    assert gpuaug_main(["demo", "--out", str(tmp_path), "--size", "48", "--epochs", "1",
                      "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert f"Found {8 * len(SHAPES)} images belonging to {len(SHAPES)} classes." in out
    assert "images/s" in out and "on cpu" in out
    with Image.open(tmp_path / "preview.png") as grid:  # class names left, headers above
        assert grid.size == (LABEL_WIDTH + 48 * 5, (48 + CAPTION) * 8)
        pixels = np.asarray(grid)
    # The augmented draws differ from the originals beside them.
    x0 = LABEL_WIDTH
    assert not np.array_equal(pixels[:, x0:x0 + 48], pixels[:, x0 + 48:x0 + 96])


def test_demo_reports_a_folder_without_images(tmp_path, capsys):
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    assert gpuaug_main(["demo", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o"),
                      "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "No images" in err and "empty" in err

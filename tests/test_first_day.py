"""The first day with gpuaug (issue 35): each trap a new user fell into, held shut.

A dataset whose classes a model cannot tell apart, an empty listing that says nothing,
errors that do not say the fix, help without text or with defaults in another form
than the option's, a preview without its labels.
"""

from __future__ import annotations

import argparse
import re
import warnings

import numpy as np
import pytest
from PIL import Image

from gpuaug import ImageDataGenerator, datasets
from gpuaug.cli import build_parser
from gpuaug.cli import main as gpuaug_main
from gpuaug.datasets import make_sample
from gpuaug.errors import ImageFileError
from gpuaug.options import GENERATOR_OPTIONS
from gpuaug.preview import CAPTION, LABEL_WIDTH


def _subparsers(parser: argparse.ArgumentParser, name: str = "gpuaug"):
    """``(name, parser)`` for the parser and every subcommand's, depth first."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _subparsers(sub, f"{name} {sub_name}")


# --------------------------------------------------------------- 1. distinct classes
def test_every_class_up_to_the_maximum_has_its_own_name():
    MAX_CLASSES, class_names = datasets.MAX_CLASSES, datasets.class_names
    names = class_names(MAX_CLASSES)
    assert len(set(names)) == MAX_CLASSES
    with pytest.raises(ValueError, match=f"at most {MAX_CLASSES}"):
        class_names(MAX_CLASSES + 1)


def test_classes_drawn_from_the_same_draws_still_differ():
    # Same background, position, radius and colours: only the class differs, so any two
    # classes whose pictures coincide are classes no model can tell apart.
    names = datasets.class_names(datasets.MAX_CLASSES)
    pictures = {}
    for name in names:
        rng = np.random.default_rng(7)
        pictures[name] = np.asarray(datasets._render(name, 96, 96, rng), dtype=np.int16)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            differing = (np.abs(pictures[a] - pictures[b]).max(axis=-1) > 40).mean()
            assert differing > 0.02, (a, b, differing)


def test_make_dataset_writes_the_maximum_of_distinct_classes_and_refuses_more(tmp_path, capsys):
    MAX_CLASSES, class_names = datasets.MAX_CLASSES, datasets.class_names
    root = tmp_path / "many"
    assert gpuaug_main(["make-dataset", str(root), "--classes", str(MAX_CLASSES),
                        "--per-class", "1", "--size", "32x32", "--quiet"]) == 0
    assert sorted(p.name for p in root.iterdir()) == sorted(class_names(MAX_CLASSES))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        gpuaug_main(["make-dataset", str(tmp_path / "more"), "--classes", str(MAX_CLASSES + 1)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--classes" in err and f"at most {MAX_CLASSES}" in err
    with pytest.raises(SystemExit):
        gpuaug_main(["make-dataset", "--help"])
    assert f"at most {MAX_CLASSES}" in " ".join(capsys.readouterr().out.split())


def test_make_sample_refuses_more_classes_than_it_can_draw_apart(tmp_path):
    with pytest.raises(ValueError, match="`classes`.*at most"):
        make_sample(tmp_path, classes=[f"c{i}" for i in range(datasets.MAX_CLASSES + 1)],
                    per_class=1)


# ------------------------------------------------------------- 2. empty listings warn
def test_a_folder_of_images_without_class_folders_warns_and_says_what_to_do(tmp_path, capsys):
    for i in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / f"img{i}.png")
    with pytest.warns(UserWarning, match=r"holds 3 images directly.*parent folder"):
        it = ImageDataGenerator(device="cpu").flow_from_directory(str(tmp_path))
    assert it.samples == 0  # Keras's behaviour, kept
    assert "Found 0 images belonging to 0 classes." in capsys.readouterr().out


def test_a_validation_subset_without_validation_split_warns(tmp_path, capsys):
    make_sample(tmp_path, per_class=2, sizes=(20, 20))
    with pytest.warns(UserWarning, match=r"subset='validation'.*validation_split"):
        it = ImageDataGenerator(device="cpu").flow_from_directory(
            str(tmp_path), subset="validation", target_size=(8, 8))
    assert it.samples == 0
    assert "Found 0 images belonging to 4 classes." in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a listing that found images says nothing
        ImageDataGenerator(device="cpu", validation_split=0.5).flow_from_directory(
            str(tmp_path), subset="validation", target_size=(8, 8))
        ImageDataGenerator(device="cpu").flow_from_directory(str(tmp_path), target_size=(8, 8))


# ------------------------------------------------------------- 3. on_error hint
def test_an_unreadable_file_names_on_error_skip(tmp_path):
    make_sample(tmp_path, classes=("a",), per_class=2, sizes=(20, 20), formats=("png",))
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png")
    it = ImageDataGenerator(device="cpu").flow_from_directory(
        str(tmp_path), target_size=(8, 8), batch_size=8, shuffle=False)
    with pytest.raises(ImageFileError, match=r"^cannot read image file .*on_error=\"skip\""):
        it[0]


def test_the_preview_does_not_suggest_an_argument_it_lacks(tmp_path):
    from gpuaug.preview import load_tiles

    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ImageFileError, match="^cannot read image file") as exc:
        load_tiles([str(tmp_path / "broken.png")], 8)
    assert "on_error" not in str(exc.value)


# ------------------------------------------------------------- 4. decoder="dali"
def test_a_missing_dali_suggests_pillow(monkeypatch):
    from gpuaug.errors import Unavailable
    from gpuaug.sources import decoders

    monkeypatch.setattr(decoders, "dali_status", lambda: (False, "NVIDIA DALI is not installed"))
    with pytest.raises(Unavailable, match=r"^decoder='dali': .*decoder='pillow'"):
        decoders.choose_decoder("dali", "cpu", "rgb", "nearest", False)


# ------------------------------------------------------------- 5. the docstring
def test_the_docstring_names_every_gpuaug_only_argument_as_such():
    own = [o.name for o in GENERATOR_OPTIONS if o.keyword_only]
    assert own == [o.name for o in GENERATOR_OPTIONS if "gpuaug only" in o.doc]
    intro = ImageDataGenerator.__doc__.split("Args:")[0]
    for name in own:
        assert f"``{name}``" in intro, name


# ------------------------------------------------------------- 6, 7. help text
def test_every_option_of_every_command_has_help_text():
    missing = [f"{name} {'/'.join(action.option_strings) or action.dest}"
               for name, parser in _subparsers(build_parser())
               for action in parser._actions
               if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
               and not (action.help or "").strip()]
    assert not missing, missing


def test_help_shows_defaults_as_they_are_typed(capsys):
    with pytest.raises(SystemExit):
        gpuaug_main(["make-dataset", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 128x128)" in text
    for name, parser in _subparsers(build_parser()):
        text = " ".join(parser.format_help().split())
        assert not re.search(r"\(default: [(\[]", text), (name, text)


# ------------------------------------------------------------- 8. one-line errors
@pytest.mark.parametrize("argv, needle", [
    (["make-dataset", "OUT", "--no-such-option"], "--no-such-option"),
    (["make-dataset", "OUT", "--classes", "many"], "--classes"),
    (["preview", "DATA", "--samples", "-1"], "--samples"),
    (["make-dataset"], "directory"),
])
def test_argparse_errors_are_one_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        gpuaug_main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"gpuaug {argv[0]}: error: ") and needle in lines[0]
    assert captured.out == ""


# ------------------------------------------------------------- 9. the demo's picture
def test_the_demo_picture_has_class_names_and_column_headers(tmp_path, monkeypatch):
    from gpuaug import preview

    calls = []
    original = preview.grid

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(preview, "grid", spy)
    assert gpuaug_main(["demo", "--out", str(tmp_path), "--size", "40", "--epochs", "1",
                        "--device", "cpu", "--quiet"]) == 0
    (rows, captions, *_), kwargs = calls[0]
    assert captions[0] == ["original", "draw 1", "draw 2", "draw 3", "draw 4"]
    assert set(kwargs["row_labels"]) == {"circle", "square", "triangle", "star"}
    with Image.open(tmp_path / "preview.png") as picture:
        assert picture.size == (LABEL_WIDTH + 40 * 5, (40 + CAPTION) * 8)

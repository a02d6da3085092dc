"""Where Keras's errors are bare (or come late, or never), gpuaug's name the argument at the call.

Issue 16's list: missing dataframe columns (``KeyError: 'path'``, ``KeyError: 3``), a
string for ``classes`` (one phantom class per character), a class listed in ``classes``
without a folder (silently empty), ``directory=None`` (a bare TypeError), a
``save_to_dir`` that does not exist (fails at the first batch) and ``output="torch"`` or
``"tf"`` without that library (``ModuleNotFoundError`` at the first batch).
"""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np
import pytest
from PIL import Image

import gpuaug

pd = pytest.importorskip("pandas")


def _tree(root) -> None:
    for cls in ("class0", "class1"):
        os.makedirs(root / cls, exist_ok=True)
        for i in range(2):
            Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(root / cls / f"{i}.png")


def _quiet(call):
    with contextlib.redirect_stdout(io.StringIO()):
        return call()


GEN = gpuaug.ImageDataGenerator(device="cpu")


@pytest.mark.parametrize("kwargs,name", [
    (dict(x_col="path"), "x_col='path'"),
    (dict(x_col=3), "x_col=3"),
    (dict(y_col="label"), "y_col='label'"),
    (dict(weight_col="w"), "weight_col='w'"),
])
def test_a_dataframe_column_that_is_not_there_is_named(tmp_path, kwargs, name):
    _tree(tmp_path)
    frame = pd.DataFrame({"filename": ["class0/0.png", "class1/1.png"],
                          "class": ["class0", "class1"]})
    with pytest.raises(ValueError, match=f"{name} is not a column.*'filename', 'class'"):
        _quiet(lambda: GEN.flow_from_dataframe(frame, str(tmp_path), target_size=(4, 4),
                                               **kwargs))


def test_classes_given_as_a_string_is_refused_with_the_fix(tmp_path):
    _tree(tmp_path)
    frame = pd.DataFrame({"filename": ["class0/0.png"], "class": ["class0"]})
    with pytest.raises(TypeError, match=r"did you mean \['class0'\]"):
        _quiet(lambda: GEN.flow_from_directory(str(tmp_path), classes="class0"))
    with pytest.raises(TypeError, match="classes"):
        _quiet(lambda: GEN.flow_from_dataframe(frame, str(tmp_path), classes="class0"))


def test_a_listed_class_without_a_folder_is_warned_about(tmp_path):
    _tree(tmp_path)
    with pytest.warns(UserWarning, match="have no folder.*'class9'"):
        it = _quiet(lambda: GEN.flow_from_directory(str(tmp_path), target_size=(4, 4),
                                                    classes=["class0", "class9"]))
    assert it.samples == 2 and it.class_indices == {"class0": 0, "class9": 1}


def test_directory_none_is_named(tmp_path):
    with pytest.raises(TypeError, match="`directory` must be a path"):
        GEN.flow_from_directory(None)


def test_a_save_to_dir_that_does_not_exist_fails_at_the_call(tmp_path):
    _tree(tmp_path)
    with pytest.raises(FileNotFoundError, match="save_to_dir"):
        _quiet(lambda: GEN.flow_from_directory(str(tmp_path), target_size=(4, 4),
                                               save_to_dir=str(tmp_path / "missing")))


def test_an_output_library_that_is_not_installed_fails_at_the_call(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    _tree(tmp_path)
    with pytest.raises(ValueError, match="output='tf' needs tensorflow"):
        _quiet(lambda: GEN.flow_from_directory(str(tmp_path), target_size=(4, 4), output="tf"))
    with pytest.raises(ValueError, match="output='tf' needs tensorflow"):
        GEN.flow(np.zeros((2, 4, 4, 3), np.uint8), output="tf")

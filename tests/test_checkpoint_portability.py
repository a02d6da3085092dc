"""Checkpoints that a training job meets: resumed on another mount, refused when they lie.

A state identifies a file iterator's data by the files' paths relative to their common
folder, so it resumes over the same files wherever they are (a trailing slash, a relative
path, a symlink, a copy on node-local scratch); other files are refused with what differs,
folder by folder.  Every field of a state is checked before any is assigned: a state that
is refused names the field and leaves the iterator as it was.  ``on_error`` is part of what
a state must match.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil

import numpy as np
import pytest

import gpuaug
from gpuaug.iterators import state as state_module
from gpuaug.iterators.state import StateError

CONFIG = dict(rotation_range=20, zoom_range=0.1, horizontal_flip=True)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    from gpuaug.datasets import make_sample

    return make_sample(tmp_path_factory.mktemp("portable") / "train", classes=("a", "b"),
                       per_class=5, sizes=(10, 16), seed=3, formats=("png",))


def _iterator(directory, **kwargs):
    gen = gpuaug.ImageDataGenerator(**CONFIG, device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        return gen.flow_from_directory(str(directory), target_size=(8, 8), batch_size=3, seed=7,
                                       decoder="pillow", **kwargs)


def _batches(it, count):
    return [next(it) for _ in range(count)]


def _same(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def _state_after(it, count=2):
    _batches(it, count)
    return json.loads(json.dumps(it.state_dict()))


def _forged(state, edit):
    """``state`` with ``edit(body)`` applied and its checksum made again: consistent, wrong."""
    body = json.loads(json.dumps(state["gpuaug_iterator_state"]))
    edit(body)
    return {"gpuaug_iterator_state": body, "checksum": state_module._checksum(body)}


@pytest.mark.parametrize("spelling", ["trailing slash", "relative", "symlink", "copy"])
def test_a_state_resumes_over_the_same_files_wherever_they_are(tree, tmp_path, monkeypatch,
                                                               spelling):
    expected = _batches(_iterator(tree), 6)
    state = _state_after(_iterator(tree))
    if spelling == "trailing slash":
        where = str(tree) + os.sep
    elif spelling == "relative":
        monkeypatch.chdir(tree.parent)
        where = tree.name
    elif spelling == "symlink":
        where = tmp_path / "link"
        where.symlink_to(tree, target_is_directory=True)
    else:  # node-local scratch
        where = shutil.copytree(tree, tmp_path / "scratch" / "train")
    resumed = _iterator(where)
    resumed.load_state_dict(state)
    _same(_batches(resumed, 4), expected[2:])


def test_other_files_are_refused_with_what_differs_by_folder(tree, tmp_path):
    state = _state_after(_iterator(tree))
    other = shutil.copytree(tree, tmp_path / "other")
    os.remove(sorted((other / "a").iterdir())[0])
    (other / "b" / sorted(os.listdir(other / "b"))[0]).rename(other / "b" / "zz_renamed.png")
    with pytest.raises(StateError) as refused:
        _iterator(other).load_state_dict(state)
    message = str(refused.value)
    assert "'a': 5 files in the state, 4 here" in message
    assert "'b': 5 files in both, other names" in message
    assert "samples: 10 in the state, 9 here" in message
    assert not re.search(r"[0-9a-f]{32}", message)  # folders and counts, not two hashes


def test_other_classes_are_refused(tree):
    state = _state_after(_iterator(tree))
    with pytest.raises(StateError, match=r"classes: \['a', 'b'\] in the state, \['b', 'a'\]"):
        _iterator(tree, classes=["b", "a"]).load_state_dict(state)


def test_the_on_error_policy_is_part_of_what_a_state_must_match(tree, tmp_path):
    broken = shutil.copytree(tree, tmp_path / "broken")
    bad = sorted((broken / "a").iterdir())[0]
    bad.write_bytes(b"not a png")
    skipping = _iterator(broken, on_error="skip")
    state = _state_after(skipping, 4)  # every file read once: the bad one skipped
    assert [os.path.basename(p) for p, _ in skipping.skipped_files] == [bad.name]
    with pytest.raises(StateError, match="on_error: 'skip' in the state, 'raise' here"):
        _iterator(broken, on_error="raise").load_state_dict(state)
    resumed = _iterator(broken, on_error="skip")
    resumed.load_state_dict(state)
    assert resumed.skipped_files == skipping.skipped_files  # this mount's paths
    moved = shutil.copytree(broken, tmp_path / "moved" / "broken")
    elsewhere = _iterator(moved, on_error="skip")
    elsewhere.load_state_dict(state)
    assert [p for p, _ in elsewhere.skipped_files] == [str(moved / "a" / bad.name)]


@pytest.mark.parametrize("field, value, says", [
    ("batch_index", 10**6, "position batch_index is 1000000, not an integer from 0 to 4"),
    ("batch_index", 2**70, "position batch_index is"),
    ("batch_index", True, "position batch_index is True"),
    ("epoch", -1, "position epoch is -1"),
    ("total_batches_seen", 1.5, "position total_batches_seen is 1.5"),
    ("skipped_files", "abc", "skipped_files is not a list of \\[file, reason\\] pairs"),
    ("skipped_files", [5], "skipped_files is not a list"),
    ("skipped_files", [["a", "b", "c"]], "skipped_files is not a list"),
    ("skipped_files", [["a/nowhere.png", "gone"]], "names 'a/nowhere.png', which is not one"),
    ("has_gauss", 2, "not a MT19937 state"),
    ("key", [2**40] * 624, "beyond 32 bits"),
])
def test_a_lying_state_is_refused_naming_the_field_and_changes_nothing(tree, field, value,
                                                                       says):
    state = _state_after(_iterator(tree, on_error="skip"))

    def edit(body):
        if field in body["position"]:
            body["position"][field] = value
        elif field in ("has_gauss", "key"):
            body["random_state"][field] = value
        else:
            body[field] = value

    expected = _batches(_iterator(tree, on_error="skip"), 3)
    fresh = _iterator(tree, on_error="skip")
    with pytest.raises(StateError, match=says):
        fresh.load_state_dict(_forged(state, edit))
    assert fresh.batch_index == 0 and fresh.total_batches_seen == 0 and fresh.skipped_files == []
    _same(_batches(fresh, 3), expected)  # as if no load had been tried


def test_a_state_of_format_1_is_refused_with_why(tree):
    state = _state_after(_iterator(tree))
    with pytest.raises(StateError, match="before 2026-12-08, which named files by absolute"):
        _iterator(tree).load_state_dict(_forged(state, lambda body: body.update(format=1)))


def test_a_prefetchers_state_resumes_on_a_copy_of_the_files(tree, tmp_path):
    expected = _batches(_iterator(tree), 5)
    with _iterator(tree).prefetch() as batches:
        _batches(batches, 2)
        state = json.loads(json.dumps(batches.state_dict()))
    resumed = _iterator(shutil.copytree(tree, tmp_path / "scratch"))
    resumed.load_state_dict(state)
    _same(_batches(resumed, 3), expected[2:])


def test_a_data_frame_of_absolute_paths_resumes_from_another_folder(tree, tmp_path):
    import pandas as pd

    def frame(root):
        files = sorted(str(p) for p in root.rglob("*.png"))
        return pd.DataFrame({"filename": files, "class": [os.path.basename(os.path.dirname(f))
                                                          for f in files]})

    def iterator(root):
        gen = gpuaug.ImageDataGenerator(**CONFIG, device="cpu")
        with contextlib.redirect_stdout(io.StringIO()):
            return gen.flow_from_dataframe(frame(root), None, target_size=(8, 8), batch_size=3,
                                           seed=7, decoder="pillow")

    expected = _batches(iterator(tree), 5)
    state = _state_after(iterator(tree))
    resumed = iterator(shutil.copytree(tree, tmp_path / "elsewhere" / "data"))
    resumed.load_state_dict(state)
    _same(_batches(resumed, 3), expected[2:])


def test_a_file_listed_under_two_spellings_stays_skipped_under_both(tree, tmp_path):
    import pandas as pd

    broken = shutil.copytree(tree, tmp_path / "spelled")
    (broken / "a" / "0_bad.png").write_bytes(b"not a png")
    frame = pd.DataFrame({"filename": ["a/0_bad.png", "a/../a/0_bad.png", "b/" + sorted(
        os.listdir(broken / "b"))[0]], "class": ["a", "a", "b"]})

    def iterator():
        gen = gpuaug.ImageDataGenerator(device="cpu")
        with contextlib.redirect_stdout(io.StringIO()):
            return gen.flow_from_dataframe(frame, str(broken), target_size=(8, 8), batch_size=3,
                                           shuffle=False, decoder="pillow", on_error="skip")

    skipping = iterator()
    next(skipping)
    assert len(skipping.skipped_files) == 2
    resumed = iterator()
    resumed.load_state_dict(skipping.state_dict())
    assert sorted(p for p, _ in resumed.skipped_files) == sorted(
        p for p, _ in skipping.skipped_files)

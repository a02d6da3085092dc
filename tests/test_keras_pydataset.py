"""Keras's ``model.fit`` takes gpuaug's iterators whatever the import order, with their settings.

An iterator made before ``import keras`` becomes a ``keras.utils.PyDataset`` when the
program imports Keras (``fit`` refuses anything else); ``workers``,
``use_multiprocessing`` and ``max_queue_size`` are taken at construction, as Keras 3's
PyDataset takes them, checked by name, and reach Keras's adapter.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gpuaug

ROOT = Path(__file__).resolve().parents[1]


def _in_fresh_python(code: str) -> str:
    """Run ``code`` where neither Keras nor gpuaug is imported yet; its stdout."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={"KERAS_BACKEND": "numpy", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.keras
def test_an_iterator_made_before_keras_is_imported_is_a_pydataset_after(keras_image):
    out = _in_fresh_python("""
        import numpy as np
        import gpuaug
        from gpuaug.iterators import base

        gen = gpuaug.ImageDataGenerator(rotation_range=10, device="cpu")
        it = gen.flow(np.random.rand(6, 8, 8, 3), np.arange(6), batch_size=2, seed=1,
                      workers=2, max_queue_size=3)
        import json  # another import leaves the iterator alone
        assert "keras" not in __import__("sys").modules
        import keras
        from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

        adapter = PyDatasetAdapter(it)  # what model.fit makes of it
        adapter.on_epoch_begin()
        batches = list(adapter.get_numpy_iterator())
        adapter.on_epoch_end()
        print(isinstance(it, keras.utils.PyDataset), len(batches), it.workers,
              it.max_queue_size, adapter.enqueuer is not None,
              base._hook in __import__("sys").meta_path)
    """)
    assert out.split() == ["True", "3", "2", "3", "True", "False"]


@pytest.mark.keras
def test_a_lookup_of_keras_before_its_import_leaves_the_hook_in_place(keras_image):
    """TensorFlow calls importlib.util.find_spec("keras") while importing, before anyone
    imports Keras: the iterator made first is still a PyDataset once Keras is imported."""
    out = _in_fresh_python("""
        import importlib.util
        import sys
        import numpy as np
        import gpuaug
        from gpuaug.iterators import base

        it = gpuaug.ImageDataGenerator(device="cpu").flow(np.zeros((4, 8, 8, 3)), batch_size=2)
        assert importlib.util.find_spec("keras") is not None  # a lookup, not an import
        assert importlib.util.find_spec("keras") is not None
        print(base._hook in sys.meta_path, "keras" in sys.modules)
        import keras
        print(isinstance(it, keras.utils.PyDataset), base._hook in sys.meta_path)
    """)
    assert out.split() == ["True", "False", "True", "False"]


@pytest.mark.keras
def test_two_hooks_do_not_ask_each_other_forever(keras_image):
    """A second copy of the hook in sys.meta_path (a reloaded module, IPython's autoreload)
    must not make `import keras` recurse."""
    out = _in_fresh_python("""
        import sys
        import numpy as np
        import gpuaug
        from gpuaug.iterators import base

        it = gpuaug.ImageDataGenerator(device="cpu").flow(np.zeros((4, 8, 8, 3)), batch_size=2)
        sys.meta_path.insert(0, type(base._hook)())  # as a reloaded module's would be
        import keras
        print(isinstance(it, keras.utils.PyDataset))
    """)
    assert out.split() == ["True"]


@pytest.mark.keras
def test_an_iterator_made_before_tensorflow_and_keras_is_a_pydataset_after(keras_image):
    """The README's "whatever the import order": `import tensorflow, keras` after the
    iterator (TensorFlow looks Keras up on its way in)."""
    pytest.importorskip("tensorflow")
    out = _in_fresh_python("""
        import numpy as np
        import gpuaug

        it = gpuaug.ImageDataGenerator(device="cpu").flow(np.zeros((4, 8, 8, 3)), batch_size=2)
        import tensorflow, keras
        print(isinstance(it, keras.utils.PyDataset))
    """)
    assert out.split() == ["True"]


@pytest.mark.keras
def test_pydataset_settings_reach_kerass_adapter(keras_image, tmp_path):
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    (tmp_path / "a").mkdir()
    for i in range(4):
        Image.fromarray(np.full((6, 6, 3), i * 40, np.uint8)).save(tmp_path / "a" / f"{i}.png")
    gen = gpuaug.ImageDataGenerator(device="cpu")
    settings = dict(workers=3, use_multiprocessing=True, max_queue_size=5)
    import pandas as pd

    frame = pd.DataFrame({"filename": [f"a/{i}.png" for i in range(4)], "class": ["a"] * 4})
    with contextlib.redirect_stdout(io.StringIO()):
        iterators = [gen.flow(np.zeros((4, 6, 6, 3)), np.arange(4), **settings),
                     gen.flow_from_directory(str(tmp_path), target_size=(6, 6), **settings),
                     gen.flow_from_dataframe(frame, str(tmp_path), target_size=(6, 6),
                                             **settings)]
    for it in iterators:
        assert (it.workers, it.use_multiprocessing, it.max_queue_size) == (3, True, 5)
        enqueuer = PyDatasetAdapter(it).enqueuer
        assert enqueuer is not None and enqueuer.future_queue.maxsize == 5


def test_the_defaults_are_kerass_and_bad_settings_are_refused_by_name():
    gen = gpuaug.ImageDataGenerator(device="cpu")
    x, y = np.zeros((4, 6, 6, 3)), np.arange(4)
    it = gen.flow(x, y)
    assert (it.workers, it.use_multiprocessing, it.max_queue_size) == (1, False, 10)
    for kwargs, error, name in ((dict(workers=-1), ValueError, "workers"),
                                (dict(workers=1.5), ValueError, "workers"),
                                (dict(workers=True), ValueError, "workers"),
                                (dict(use_multiprocessing="yes"), TypeError,
                                 "use_multiprocessing"),
                                (dict(max_queue_size=0), ValueError, "max_queue_size")):
        with pytest.raises(error, match=f"`{name}`"):
            gen.flow(x, y, **kwargs)

"""Every script in examples/ runs, on the CPU, on tiny data: what the README points users to works.

Each runs in a fresh Python as a user would run it (Keras with the JAX backend; torch
and torchrun where torch is installed).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _run(args: list[str], stderr: bool = False, **env: str) -> str:
    """The script's stdout (and its stderr after it, with ``stderr``: Python's warnings)."""
    environment = {**os.environ, **env}
    environment.pop("GPUAUG_REQUIRE_NVRTC", None)
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=environment)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout + (done.stderr if stderr else "")


def test_every_example_is_tested_here():
    tested = {"keras_fit.py", "torch_loop.py", "torchrun_shards.py", "bench_your_folder.py",
              "tf_data.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


@pytest.mark.keras
def test_keras_fit_trains_with_a_validation_split():
    pytest.importorskip("jax", reason="the example runs Keras on the JAX backend here")
    out = _run([str(EXAMPLES / "keras_fit.py"), "--epochs", "1", "--size", "32"],
               KERAS_BACKEND="jax")
    assert "Found 36 images belonging to 4 classes." in out  # training subset: 3/4 of 48
    assert "Found 12 images belonging to 4 classes." in out
    assert "final val_accuracy" in out


def test_a_torch_loop_trains_an_epoch_at_a_time():
    pytest.importorskip("torch")
    out = _run([str(EXAMPLES / "torch_loop.py"), "--epochs", "2", "--size", "32",
                "--device", "cpu"])
    assert "epoch 1: 48 images" in out and "epoch 2: 48 images" in out


def test_torchrun_gives_every_rank_the_same_number_of_batches():
    pytest.importorskip("torch")
    out = _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                str(EXAMPLES / "torchrun_shards.py"), "--epochs", "1", "--size", "24"],
               OMP_NUM_THREADS="1")
    # The ranks share one stdout, unbuffered (PYTHONUNBUFFERED): a line's text and its
    # newline are two writes, so one rank's line may run into the other's.
    reports = sorted(re.findall(r"rank (\d): epoch 1, (\d+) batches", out))
    assert [rank for rank, _ in reports] == ["0", "1"], out
    assert len({batches for _, batches in reports}) == 1, out  # 3 batches on both ranks


def test_benchmarking_your_own_folder_runs(tmp_path):
    from gpuaug.datasets import make_sample

    data = make_sample(tmp_path / "mine", classes=("a", "b"), per_class=4, sizes=(40, 60),
                       formats=("jpg",))
    out = _run([str(EXAMPLES / "bench_your_folder.py"), str(data), "--size", "32", "--batch",
                "4", "--out-dir", str(tmp_path / "out")])
    assert "| gpuaug decode, 1 thread | ok |" in out
    assert (tmp_path / "out" / "e2e.json").exists()


def test_a_tf_data_pipeline_trains_keras_on_tensorflow():
    pytest.importorskip("tensorflow",
                        reason="TensorFlow not installed (the test extra has it on Linux x86-64)")
    out = _run([str(EXAMPLES / "tf_data.py"), "--epochs", "2", "--size", "32"], stderr=True,
               KERAS_BACKEND="tensorflow")
    assert "Found 48 images belonging to 4 classes." in out and "final accuracy" in out
    # Keras's warning where the dataset's end cuts an epoch short (tf.data of unknown length).
    assert "ran out of data" not in out, out[-3000:]
    assert "Epoch 2/2" in out and "3/3" in out  # every epoch is the iterator's 3 batches

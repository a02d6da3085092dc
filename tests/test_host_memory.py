"""gpuaug keeps the heap's freed top between batches (glibc's M_TOP_PAD), unless told not to.

Decided once per process, so each case runs in a fresh interpreter.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt(M_TOP_PAD) is glibc's")


def _applied(**env: str) -> tuple[str, str]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("MALLOC_TOP_PAD_", "GPUAUG_MALLOC_TOP_PAD")}
    environment.update(env)
    code = ("import gpuaug, gpuaug.host_memory as h\n"
            "gpuaug.ImageDataGenerator(device='cpu')\n"
            "print(h.keep_heap_top())")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=environment)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


def test_a_generator_keeps_32_mb_at_the_heap_top():
    assert _applied()[0] == str(32 << 20)


def test_the_users_setting_wins():
    assert _applied(GPUAUG_MALLOC_TOP_PAD="0")[0] == "0"
    assert _applied(GPUAUG_MALLOC_TOP_PAD="1048576")[0] == "1048576"
    assert _applied(MALLOC_TOP_PAD_="65536")[0] == "0"  # glibc applied the user's own


def test_a_bad_value_is_reported_and_ignored():
    out, err = _applied(GPUAUG_MALLOC_TOP_PAD="lots")
    assert out == "0" and "GPUAUG_MALLOC_TOP_PAD='lots' is not a number" in err


def test_a_pad_over_glibcs_int_is_clamped_and_reported_as_taken():
    out, err = _applied(GPUAUG_MALLOC_TOP_PAD=str(2**40))  # M_TOP_PAD is a C int
    assert out == str(2**31 - 1)
    assert "GPUAUG_MALLOC_TOP_PAD=1099511627776" in err and "2147483647" in err

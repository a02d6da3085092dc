"""The API reference builds from the docstrings with warnings as errors.

A docstring that does not render (a broken list, a stray indent) or an API page that
names something gone fails here, as it would fail the documentation build.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_api_reference_builds_without_a_warning(tmp_path):
    pytest.importorskip("sphinx", reason="Sphinx not installed")
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                           "html", str(ROOT / "docs" / "api"), str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    page = (tmp_path / "iterators.html").read_text()
    for name in ("one_epoch", "tf_dataset", "state_dict", "skipped_files"):
        assert name in page, name
    assert "flow_from_directory" in (tmp_path / "generator.html").read_text()

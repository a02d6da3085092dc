"""The guide and the API reference build with warnings as errors.

A docstring that does not render (a broken list, a stray indent), an API page that names
something gone, a guide page with a broken cross-reference or one left out of the table of
contents fails here, as it would fail the documentation build.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_guide_and_the_api_reference_build_without_a_warning(tmp_path):
    pytest.importorskip("sphinx", reason="Sphinx not installed")
    pytest.importorskip("myst_parser", reason="myst-parser not installed")
    guide = ROOT / "docs" / "guide"
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                           "html", str(guide), str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    page = (tmp_path / "api" / "iterators.html").read_text()
    for name in ("one_epoch", "tf_dataset", "state_dict", "skipped_files"):
        assert name in page, name
    assert "flow_from_directory" in (tmp_path / "api" / "generator.html").read_text()
    for source in guide.glob("*.md"):  # every page written, so every page in the toctree
        assert (tmp_path / source.with_suffix(".html").name).exists(), source.name


def test_the_readmes_links_into_the_guide_resolve():
    """Every `docs/guide/...` link of the README names a page, and its #anchor a heading."""
    import re

    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/guide/[^)#]+)(?:#([^)]+))?\)", readme)
    assert len(links) >= 8, "the README points to the guide's pages"
    for path, anchor in links:
        page = ROOT / path
        assert page.exists(), path
        if anchor:
            slugs = {_slug(line.lstrip("#").strip()) for line in page.read_text().splitlines()
                     if line.startswith("#") and not line.startswith("#!")}
            assert anchor in slugs, (path, anchor)


def _slug(heading: str) -> str:
    """GitHub's (and MyST's) anchor of a heading."""
    import re

    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")

"""Sphinx configuration of gpuaug's guide (MyST Markdown) and API reference (the docstrings).

Build: ``python -m sphinx -W -b html docs/guide docs/guide/_build`` (warnings are errors, so
a docstring or page that does not render, or a broken cross-reference, fails the build;
tests/test_api_docs.py runs it).
"""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

project = "gpuaug"
author = "the gpuaug developers"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
myst_heading_anchors = 3  # the README links to the guide's sections
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
# Keras, CuPy, DALI, torch and TensorFlow are optional: importing gpuaug never needs them.
autodoc_mock_imports = ["cupy", "nvidia", "torch", "tensorflow", "jax", "keras"]
html_theme = "alabaster"
exclude_patterns = ["_build"]

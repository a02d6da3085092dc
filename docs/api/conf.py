"""Sphinx configuration of gpuaug's API reference: rendered from the docstrings.

Build: ``sphinx-build -W -b html docs/api docs/api/_build`` (warnings are errors, so a
docstring that does not render fails the build; tests/test_api_docs.py runs it).
"""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

project = "gpuaug"
author = "the gpuaug developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
# Keras, CuPy, DALI, torch and TensorFlow are optional: importing gpuaug never needs them.
autodoc_mock_imports = ["cupy", "nvidia", "torch", "tensorflow", "jax", "keras"]
html_theme = "alabaster"
exclude_patterns = ["_build"]

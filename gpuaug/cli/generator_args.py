"""Generator arguments on the command line and in config files, same names as Keras.

Flags are generated from the one declaration of the arguments
(:data:`gpuaug.options.GENERATOR_OPTIONS`), so a new generator argument is a new
flag and a new config key without further code: ``rotation_range`` is
``--rotation-range`` on the command line and ``rotation_range`` in TOML, JSON or
YAML.  Values are Python literals (``0.2``, ``[0.8, 1.2]``, ``'reflect'``); booleans
are ``--horizontal-flip`` / ``--no-horizontal-flip``.  Flags override the file, which
overrides the preset (``--preset``): a file describes a generator as Keras's
constructor would read it, so with ``--config`` the keys it leaves out are Keras's
defaults unless ``--preset classic`` is asked for.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path
from typing import Any

from ..options import GENERATOR_OPTIONS
from ..presets import CLASSIC_DESCRIPTION, PRESETS

#: Arguments that cannot come from a command line or a file (they are code or per run).
_EXCLUDED = {"preprocessing_function", "device"}
OPTION_NAMES = tuple(o.name for o in GENERATOR_OPTIONS if o.name not in _EXCLUDED)


def _literal(text: str) -> Any:
    """``0.2`` -> 0.2, ``[0.8,1.2]`` -> [0.8, 1.2], ``reflect`` -> 'reflect', ``None`` -> None."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


#: Default of every generator flag: "not given" (None is a value: ``--rescale None``).
NOT_GIVEN = argparse.SUPPRESS


def add_generator_flags(parser: argparse.ArgumentParser, default_preset: str = "keras") -> None:
    """``--preset``, ``--config`` and one flag per generator argument.

    ``default_preset``: the command's starting point where no ``--config`` is given.
    """
    group = parser.add_argument_group(
        "generator arguments (Keras's names; see `help(gpuaug.ImageDataGenerator)`)")
    group.add_argument("--preset", choices=tuple(PRESETS), default=None,
                       help="what --config and the flags start from: 'keras' (Keras's defaults, "
                       f"no augmentation) or 'classic' ({CLASSIC_DESCRIPTION}). Default: "
                       f"'{default_preset}' without --config, 'keras' with it")
    group.add_argument("--config", type=Path, metavar="FILE",
                       help="generator arguments from a .toml, .json, .yaml or .yml file")
    for option in GENERATOR_OPTIONS:
        if option.name in _EXCLUDED:
            continue
        flag = "--" + option.name.replace("_", "-")
        doc = option.doc.replace("%", "%%")
        default = f"Default: {option.default!r}"
        if option.name in PRESETS["classic"]:
            default += f" (classic preset: {PRESETS['classic'][option.name]!r})"
        if isinstance(option.default, bool):
            group.add_argument(flag, dest=option.name, action=argparse.BooleanOptionalAction,
                               default=NOT_GIVEN, help=f"{doc} {default}.")
        else:
            group.add_argument(flag, dest=option.name, type=_literal, default=NOT_GIVEN,
                               metavar="VALUE", help=f"{doc} {default}.")


def load_config_file(path: Path) -> dict[str, Any]:
    """Generator arguments from a TOML / JSON / YAML file; unknown keys are errors."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"--config {path}: {exc.strerror or exc}") from None
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml  # a dependency of gpuaug

            data = yaml.safe_load(text) or {}
        else:
            raise ValueError(f"--config {path}: use a .toml, .json, .yaml or .yml file")
    except ValueError as exc:  # json.JSONDecodeError, tomllib.TOMLDecodeError are ValueErrors
        raise ValueError(f"--config {path}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError
        raise ValueError(f"--config {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"--config {path}: expected a table of generator arguments")
    unknown = sorted(set(data) - set(OPTION_NAMES))
    if unknown:
        raise ValueError(f"--config {path}: unknown generator argument(s) {', '.join(unknown)}; "
                         f"known: {', '.join(OPTION_NAMES)}")
    return data


def generator_kwargs(args: argparse.Namespace, default_preset: str = "keras") -> dict[str, Any]:
    """The preset, then the config file, then the flags given on the command line.

    The preset is ``--preset``; else "keras" with ``--config`` (a file's missing keys are
    Keras's defaults), else ``default_preset`` (the command's own).
    """
    config = getattr(args, "config", None)
    preset = getattr(args, "preset", None) or ("keras" if config is not None else default_preset)
    kwargs = dict(PRESETS[preset])
    if config is not None:
        kwargs.update(load_config_file(config))
    for name in OPTION_NAMES:
        if hasattr(args, name):  # given on the command line (None included)
            kwargs[name] = getattr(args, name)
    return kwargs

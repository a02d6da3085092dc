"""The ``gpuaug`` command: demo, preview, bench, info, make-dataset.

Exit codes: 0 success; 1 a failure (an NVRTC, DALI or CUDA error included: its
message is printed whole); 2 a bad argument, value or input (the message names it,
one line); 3 the request needs what this machine lacks (a CUDA device, CuPy, DALI:
:class:`gpuaug.errors.Unavailable` and nothing else).  ``GPUAUG_DEBUG=1`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

from ..errors import ImageFileError, Unavailable
from ..presets import CLASSIC_DESCRIPTION
from . import generator_args

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each option's default, unless its text says it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False):
            return text
        return super()._get_help_string(action)


_HELP = _HelpWithDefaults


class _Parser(argparse.ArgumentParser):
    """argparse's errors as one line, ``gpuaug <cmd>: error: ...`` (exit 2), as the
    command's own errors are: the usage it prints first is ``--help``'s job."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


EPILOG = ("exit codes: 0 success, 1 failure, 2 bad argument or input, "
          "3 not possible here (no CUDA device, CuPy or DALI)")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT, e.g. 224x224; got {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive; got {text!r}")
    return w, h


def _class_count(text: str) -> int:
    from ..datasets import ALL_SHAPES, MAX_CLASSES, TEXTURES

    count = _positive(text)
    if count > MAX_CLASSES:  # more would repeat a class's images: classes no model tells apart
        raise argparse.ArgumentTypeError(
            f"at most {MAX_CLASSES} classes, each a distinct shape and texture "
            f"({len(ALL_SHAPES)} shapes x {len(TEXTURES)} textures); got {text!r}")
    return count


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


# ------------------------------------------------------------------- commands
def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run

    run(args.data, args.out, size=args.size, batch_size=args.batch_size, epochs=args.epochs,
        seed=args.seed, device=args.device, progress=not args.quiet)
    return EXIT_OK


def _preview_generator(args: argparse.Namespace, **overrides):
    from ..generator import ImageDataGenerator

    kwargs = generator_args.generator_kwargs(args, default_preset="classic")
    kwargs.update(overrides)
    return ImageDataGenerator(**kwargs, device=args.device)


def cmd_preview(args: argparse.Namespace) -> int:
    import contextlib
    import io

    import numpy as np

    from .. import preview

    if not args.directory.is_dir():
        raise FileNotFoundError(f"dataset directory {args.directory} does not exist")
    gen = _preview_generator(args)
    for name in ("data_format", "output_data_format", "output_dtype"):
        if getattr(gen, name) not in (None, "channels_last"):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"preview draws channels_last float images; drop {flag}")
    with contextlib.redirect_stdout(io.StringIO()):  # the listing, without Keras's print
        it = gen.flow_from_directory(str(args.directory), target_size=(args.size, args.size),
                                     batch_size=args.samples, seed=args.seed, shuffle=True,
                                     decoder="pillow")
    if it.samples == 0:
        raise FileNotFoundError(f"no images in class folders under {args.directory}")
    names = {v: k for k, v in it.class_indices.items()}
    picks = np.random.RandomState(args.seed).permutation(it.samples)[:args.samples]
    # A file that cannot be read is named (ImageFileError: exit 2), as demo's iterator does.
    originals = preview.load_tiles([it.filepaths[j] for j in picks], args.size)
    labels = [names[int(it.classes[j])] for j in picks]
    gen.random_state.seed(args.seed)
    if args.fill_modes:
        rows, captions = [], []
        for mode in ("nearest", "reflect", "wrap", "constant"):
            g = _preview_generator(args, fill_mode=mode)
            g.random_state.seed(args.seed)
            out, _ = g.random_transform_batch(originals[:1])  # the same draw for every mode
            rows.append(preview.to_uint8(out)[0])
            captions.append(mode)
        tiles, texts = [[originals[0]] + rows], [[labels[0]] + captions]
    elif args.compare:
        draws = [preview.to_uint8(gen.random_transform_batch(originals)[0])
                 for _ in range(args.draws)]
        tiles = [[originals[i]] + [d[i] for d in draws] for i in range(len(originals))]
        texts = [[labels[i]] + [f"draw {k + 1}" for k in range(args.draws)]
                 for i in range(len(originals))]
    else:
        out = preview.to_uint8(gen.random_transform_batch(originals)[0])
        cols = min(args.columns, len(out))
        tiles = [list(out[r:r + cols]) for r in range(0, len(out), cols)]
        texts = [labels[r:r + cols] for r in range(0, len(out), cols)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    preview.grid(tiles, texts, args.size).save(args.out)
    print(f"wrote {args.out}")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    import json

    from ..benchmarks import e2e, harness, host, kernel, numpy_engine, sass

    chosen = {"kernel": [("kernel", kernel)], "e2e": [("e2e", e2e)], "host": [("host", host)],
              "sass": [("sass", sass)], "numpy": [("numpy", numpy_engine)],
              "all": [("kernel", kernel), ("e2e", e2e), ("host", host), ("sass", sass)]
              }[args.which]
    payloads, texts = {}, []
    for stem, module in chosen:
        defaults = argparse.ArgumentParser()
        module.add_arguments(defaults)
        bench_args = defaults.parse_args([])
        for key, value in vars(args).items():  # the flags this subcommand was given
            if hasattr(bench_args, key) and value is not None:
                setattr(bench_args, key, value)
        bench_args.out_dir = args.out_dir
        payload, text = module.run(bench_args)  # harness.Unavailable is an Unavailable
        payloads[stem] = payload
        texts.append(text)
        json_path = args.json if (args.json and len(chosen) == 1) else args.out_dir / f"{stem}.json"
        plot_path = args.plot if (args.plot and len(chosen) == 1) else args.out_dir / f"{stem}.png"
        for path in harness.write_outputs(payload, text, json_path, plot_path):
            print(f"wrote {path}", file=sys.stderr)
    if args.json and len(chosen) > 1:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payloads, indent=2, default=str))
    print("\n\n".join(texts))
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from .info import report

    lines = report()
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label:<{width}}  {value}")
    return EXIT_OK


def cmd_make_dataset(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..datasets import class_names, make_sample

    names = class_names(args.classes)  # a distinct shape and texture each
    if args.directory.is_dir() and any(args.directory.iterdir()) and not args.force:
        raise ValueError(f"{args.directory} is not empty: its files would mix with the new "
                         "ones (a listing would count both); choose an empty or new folder, or "
                         "pass --force to write into it anyway")
    with tqdm(total=args.classes * args.per_class, desc="writing", unit="img",
              disable=args.quiet, leave=False) as bar:
        make_sample(args.directory, classes=names, per_class=args.per_class,
                    image_size=args.size, formats=(args.format,), seed=args.seed,
                    on_image=lambda _: bar.update())
    print(f"wrote {args.classes * args.per_class} {args.format} images of "
          f"{args.size[0]}x{args.size[1]} in {args.classes} class folders under {args.directory}")
    return EXIT_OK


# --------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gpuaug", epilog=EPILOG,
        description="Keras's ImageDataGenerator as a GPU augmentation engine.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"gpuaug {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", epilog=EPILOG, formatter_class=_HELP,
                           help="the main job: augment the built-in "
                          "sample (or --data), report images/s, write a preview",
                          description="Stream the data (--epochs, 3 by default) through the "
                          f"classic configuration ({CLASSIC_DESCRIPTION}) on the best device, "
                          "print images/s and the device, write preview.png.")
    demo.add_argument("--data", type=Path, help="class-folder dataset (default: the built-in "
                      "sample, written under --out)")
    demo.add_argument("--out", type=Path, default=Path("gpuaug-demo"), help="output folder")
    demo.add_argument("--size", type=_positive, default=128,
                      help="images are resized to size x size")
    demo.add_argument("--batch-size", type=_positive, default=32, help="images per batch")
    demo.add_argument("--epochs", type=_positive, default=3, help="passes over the data to time")
    demo.add_argument("--seed", type=int, default=0, help="seed of the iterator's draws")
    demo.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=cmd_demo)

    prev = sub.add_parser("preview", epilog=EPILOG, formatter_class=_HELP,
                           help="a grid of augmented samples with "
                          "their class names", description="Write a PNG grid of augmented "
                          "images from a class-folder dataset. Generator arguments come from "
                          "--preset, --config and flags (default: the classic preset; with "
                          "--config, Keras's defaults for the keys it leaves out).")
    prev.add_argument("directory", type=Path, help="class-folder dataset")
    prev.add_argument("--out", type=Path, default=Path("grid.png"), help="PNG to write")
    mode = prev.add_mutually_exclusive_group()
    mode.add_argument("--compare", action="store_true",
                      help="each original beside --draws augmented draws")
    mode.add_argument("--fill-modes", action="store_true",
                      help="one image under all four fill modes side by side")
    prev.add_argument("--samples", type=_positive, default=8, help="images to show")
    prev.add_argument("--draws", type=_positive, default=4, help="draws per image with --compare")
    prev.add_argument("--columns", type=_positive, default=4,
                      help="tiles per row in the plain grid")
    prev.add_argument("--size", type=_positive, default=128, help="tile side in pixels")
    prev.add_argument("--seed", type=int, default=0, help="seed of the picks and the draws")
    prev.add_argument("--device", default="cpu", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    generator_args.add_generator_flags(prev, default_preset="classic")
    prev.set_defaults(func=cmd_preview)

    bench = sub.add_parser("bench", epilog=EPILOG, help="run the benchmarks (kernel and e2e "
                           "need a GPU, host and sass do not)",
                           description="Run bench/'s harness: the kernel against GPU "
                           "alternatives, JPEG files to augmented GPU batches, the host's cost "
                           "per batch, the kernels' machine code. Prints the Markdown table; "
                           "writes JSON (with metadata) "
                           "and PNG plots.")
    bench_sub = bench.add_subparsers(dest="which", metavar="WHICH")
    from ..benchmarks import e2e, host, kernel, numpy_engine, sass

    for which, help_text, modules in (
            ("kernel", "fused kernel vs torch / cupyx / DALI / Kornia / copy", [kernel]),
            ("e2e", "JPEG files to augmented GPU batches vs Keras / DALI / torchvision", [e2e]),
            ("host", "host microseconds per batch, kernel launch replaced by nothing (no GPU)",
             [host]),
            ("sass", "the kernels' machine code: registers, occupancy, instructions per "
             "element, predicted time per GPU (no GPU)", [sass]),
            ("numpy", "the NumPy engine against Keras on the CPU, one process (no GPU)",
             [numpy_engine]),
            ("all", "kernel, e2e, host and sass", [])):
        p = bench_sub.add_parser(which, help=help_text, epilog=EPILOG,
                                formatter_class=_HELP)
        for module in modules:
            module.add_arguments(p)
        p.add_argument("--json", type=Path, help="JSON results (default <out-dir>/<which>.json)")
        p.add_argument("--plot", type=Path, help="PNG plot (default <out-dir>/<which>.png)")
        p.add_argument("--out-dir", type=Path, default=Path("bench/out"),
                       help="where the JSON, Markdown and plot go")
        p.set_defaults(func=cmd_bench, which=which)
    bench.set_defaults(func=lambda a: (bench.print_help(), EXIT_USAGE)[1])

    info = sub.add_parser("info", epilog=EPILOG, help="versions, devices and decoders",
                          description="gpuaug, NumPy, Pillow, CuPy, DALI and CUDA versions; "
                          "which devices and decoders are usable here, and why not.")
    info.set_defaults(func=cmd_info)

    from ..datasets import MAX_CLASSES

    make = sub.add_parser("make-dataset", epilog=EPILOG, formatter_class=_HELP,
                           help="write a synthetic class-folder "
                          "dataset", description="Write K class folders of N synthetic "
                          "images (textured shapes) for trials and benchmarks.")
    make.add_argument("directory", type=Path, help="where the class folders go (new or empty)")
    make.add_argument("--classes", type=_class_count, default=4,
                      help="class folders, each a distinct shape and texture; "
                      f"at most {MAX_CLASSES}")
    make.add_argument("--per-class", type=_positive, default=8, help="images per class")
    # A string default goes through `type` too: --help shows it as it is typed.
    make.add_argument("--size", type=_size, default="128x128", metavar="WxH",
                      help="image width x height")
    make.add_argument("--format", choices=("jpg", "png"), default="jpg", help="file format")
    make.add_argument("--seed", type=int, default=0, help="seed of the shapes and textures")
    make.add_argument("--force", action="store_true",
                      help="write into a folder that is not empty (same names are replaced)")
    make.add_argument("--quiet", action="store_true", help="no progress bar")
    make.set_defaults(func=cmd_make_dataset)
    return parser


def _exit_code(exc: BaseException) -> tuple[int, str]:
    """The exit code for a failure, and the message to print."""
    if isinstance(exc, (ValueError, TypeError, FileNotFoundError, NotADirectoryError,
                        ImageFileError)):
        return EXIT_USAGE, (str(exc).splitlines() or ["?"])[0]
    if isinstance(exc, Unavailable):
        return EXIT_UNAVAILABLE, str(exc)
    # A library that is there failed (NVRTC's log, DALI's error, the driver's): all of it.
    return EXIT_FAILURE, f"{type(exc).__name__}: {exc}"


def _command_parser(parser: argparse.ArgumentParser,
                    args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub)command that ``args`` were parsed for."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if name not in (subs[0].choices if subs else {}):
            return parser
        parser = subs[0].choices[name]


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    # Exits 2 with a one-line message on bad flags (_Parser); an unknown option is named
    # by the command it was given to, not by the top-level parser argparse leaves it to.
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("GPUAUG_DEBUG") == "1":
            raise
        code, message = _exit_code(exc)
    print(f"gpuaug {args.command}: error: {message or '?'}", file=sys.stderr)
    return code

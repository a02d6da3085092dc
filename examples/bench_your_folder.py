"""How fast gpuaug reads and augments YOUR folder, against Keras, in one run.

    python examples/bench_your_folder.py DIR [--size 224] [--batch 64]

The CPU comparison of ``gpuaug bench e2e --cpu``: Pillow decode on 1 and N threads,
gpuaug's augmentation, Keras in one process and with a worker per core; on a machine
with a GPU, ``gpuaug bench e2e --data DIR`` runs the GPU contenders (DALI, the fused
kernel, torchvision).  DIR holds class sub-folders of JPEGs, as flow_from_directory
reads them.  The table goes to stdout, the JSON and Markdown to ``--out-dir``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gpuaug.benchmarks import e2e


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="class-folder dataset of JPEGs")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out-dir", type=Path, default=Path("bench-my-folder"))
    args = ap.parse_args()
    return e2e.main(["--cpu", "--data", str(args.data), "--size", str(args.size),
                     "--batch", str(args.batch), "--out-dir", str(args.out_dir)])


if __name__ == "__main__":
    sys.exit(main())

"""Run ``gpuaug.benchmarks.sass`` from a checkout: ``python bench/sass_report.py --help``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpuaug.benchmarks.sass import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

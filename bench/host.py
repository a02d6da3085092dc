"""Run ``gpuaug.benchmarks.host`` from a checkout: ``python bench/host.py --help``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpuaug.benchmarks.host import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

"""Run ``gpuaug.benchmarks.numpy_engine`` from a checkout (``--help`` for its options)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpuaug.benchmarks.numpy_engine import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

"""``python -m gpuaug ...`` is the ``gpuaug`` command (``python -m gpuaug --help``)."""

from gpuaug.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

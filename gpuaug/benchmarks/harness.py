"""The benchmark harness: timing, metadata, and the JSON / Markdown / PNG outputs.

Shared by every benchmark in ``bench/``.  Rules it enforces:
- every contender is timed in the same run, after warm-up, as the median of repeats;
- GPU work is timed with CUDA events on the stream it runs on, or (for libraries
  with their own streams) by wall clock around a device synchronisation;
- a contender whose library is missing is reported as "not installed" with the
  reason, never dropped;
- results carry the metadata needed to compare runs (device, driver, library
  versions, shapes, date).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .. import errors
from ..environment import module_version


class NotInstalled(Exception):
    """Raised by a contender's setup when its library is missing or unusable."""


@dataclass
class Result:
    name: str
    status: str  # "ok", "not installed", "failed"
    note: str = ""
    seconds: list[float] = field(default_factory=list)
    images: int = 0
    bytes_moved: int = 0

    @property
    def median(self) -> Optional[float]:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def images_per_s(self) -> Optional[float]:
        return self.images / self.median if self.median else None

    @property
    def gb_per_s(self) -> Optional[float]:
        return self.bytes_moved / self.median / 1e9 if self.median else None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(median_s=self.median, images_per_s=self.images_per_s, gb_per_s=self.gb_per_s)
        return d


def progress(iterable, **kwargs):
    """tqdm where installed (bench extra); the plain iterable elsewhere."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, **kwargs)


#: Calls per sample of the "cuda back to back" timer.
BACK_TO_BACK = 10


def cuda_timer(fn: Callable[[], Any], *, warmup: int, repeats: int,
               calls: int = 1) -> list[float]:
    """Seconds per call of ``fn`` by CUDA events on CuPy's current stream.

    With ``calls`` > 1 each sample times that many calls back to back, divided: the
    device then runs one call after the other without waiting for the host to launch
    the next (what a kernel's own time needs, where the host takes tens of us a call).
    """
    import cupy

    for _ in range(warmup):
        fn()
    cupy.cuda.get_current_stream().synchronize()
    times = []
    for _ in range(repeats):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, end) / 1e3 / calls)
    return times


def wall_timer(fn: Callable[[], Any], *, warmup: int, repeats: int,
               sync: Callable[[], None] = lambda: None) -> list[float]:
    """Seconds per call of ``fn`` by wall clock, with ``sync`` (device sync) inside the timing."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def run_contender(name: str, setup: Callable[[], tuple[Callable[[], Any], str]], *,
                  images: int, bytes_moved: int, warmup: int, repeats: int,
                  timer: str = "cuda") -> Result:
    """Set a contender up and time it; failures become results, not crashes.

    ``setup`` returns ``(fn, note)`` or raises :class:`NotInstalled`.
    """
    try:
        fn, note = setup()
    except NotInstalled as exc:
        return Result(name, "not installed", str(exc))
    try:
        if timer == "cuda":
            seconds = cuda_timer(fn, warmup=warmup, repeats=repeats)
        elif timer == "cuda back to back":
            seconds = cuda_timer(fn, warmup=warmup, repeats=repeats, calls=BACK_TO_BACK)
        elif timer == "host":  # no device: wall clock, nothing to synchronise
            seconds = wall_timer(fn, warmup=warmup, repeats=repeats)
        else:
            import cupy

            seconds = wall_timer(fn, warmup=warmup, repeats=repeats,
                                 sync=cupy.cuda.runtime.deviceSynchronize)
    except Exception as exc:  # a contender that breaks is reported, the run goes on
        return Result(name, "failed", f"{type(exc).__name__}: {exc}")
    return Result(name, "ok", note, seconds, images, bytes_moved)


def metadata(extra: dict[str, Any]) -> dict[str, Any]:
    """Where and with what a run happened."""
    meta: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {m: module_version(m) for m in (
            "gpuaug", "numpy", "cupy", "torch", "nvidia.dali", "kornia", "scipy")},
    }
    try:
        import cupy

        dev = cupy.cuda.Device()
        props = cupy.cuda.runtime.getDeviceProperties(dev.id)
        meta["device"] = {
            "name": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
            "compute_capability": dev.compute_capability,
            "memory_gib": round(props["totalGlobalMem"] / 2**30, 1),
            "sm_count": props["multiProcessorCount"],
            "driver": cupy.cuda.runtime.driverGetVersion(),
            "runtime": cupy.cuda.runtime.runtimeGetVersion(),
        }
    except Exception as exc:
        meta["device"] = {"error": f"{type(exc).__name__}: {exc}"}
    meta.update(extra)
    return meta


def _fmt(value: Optional[float], spec: str) -> str:
    return "—" if value is None else format(value, spec)


def markdown_table(results: list[Result], ceiling_gb_s: Optional[float],
                   baseline: Optional[str] = None) -> str:
    """images/s, GB/s, fraction of the copy bandwidth, and ratio to ``baseline``."""
    base = next((r for r in results if r.name == baseline and r.status == "ok"), None)
    lines = ["| contender | status | median ms | images/s | GB/s | of copy bw | x " +
             (baseline or "baseline") + " | note |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        frac = r.gb_per_s / ceiling_gb_s if (r.gb_per_s and ceiling_gb_s) else None
        ratio = (r.images_per_s / base.images_per_s
                 if (base and r.images_per_s and r.bytes_moved) else None)
        lines.append(
            f"| {r.name} | {r.status} | {_fmt(r.median and r.median * 1e3, '.3f')} | "
            f"{_fmt(r.images_per_s, ',.0f')} | {_fmt(r.gb_per_s, '.1f')} | "
            f"{_fmt(frac and frac * 100, '.1f')}{'%' if frac else ''} | "
            f"{_fmt(ratio, '.2f')} | {r.note} |")
    return "\n".join(lines)


class Unavailable(errors.Unavailable):
    """A benchmark cannot run here (no CUDA device, say); the message says why."""


def write_outputs(payload: dict[str, Any], table: str, json_path: Path,
                  plot_path: Optional[Path] = None) -> list[Path]:
    """The JSON (with metadata), the Markdown table beside it, and the PNG plot if asked.

    The plot needs matplotlib; without it the JSON and table are still written and
    the message says how to plot later.
    """
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(payload, indent=2, default=str))
    md_path = json_path.with_suffix(".md")
    md_path.write_text(table + "\n")
    paths = [json_path, md_path]
    if plot_path is not None:
        try:
            from . import plot

            paths.append(plot.plot_payload(payload, plot_path))
        except ImportError as exc:
            print(f"(no plot: {exc}; run `python bench/plot.py {json_path}` where matplotlib "
                  "is installed)")
    return paths


def add_output_arguments(ap: Any, stem: str) -> None:
    ap.add_argument("--out-dir", type=Path, default=Path("bench/out"),
                    help=f"where {stem}.json, {stem}.md and {stem}.png go (default bench/out)")
    ap.add_argument("--json", type=Path, help=f"JSON path (default <out-dir>/{stem}.json; the "
                    "Markdown table is written beside it)")
    ap.add_argument("--plot", type=Path, help=f"PNG path (default <out-dir>/{stem}.png)")


def output_paths(args: Any, stem: str) -> tuple[Path, Path]:
    return (args.json or args.out_dir / f"{stem}.json", args.plot or args.out_dir / f"{stem}.png")


def script_main(argv: Optional[list[str]], description: str, add_arguments: Callable,
                run: Callable, stem: str) -> int:
    """A benchmark module's command line: parse, run, write the outputs, print the table."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=description)
    add_arguments(ap)
    add_output_arguments(ap, stem)
    args = ap.parse_args(argv)
    try:
        payload, text = run(args)
    except Unavailable as exc:  # as the `gpuaug` command: 3, not possible here
        print(exc, file=sys.stderr)
        return 3
    paths = write_outputs(payload, text, *output_paths(args, stem))
    print(text)
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0

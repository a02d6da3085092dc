"""Plots for the benchmark JSON files (matplotlib).

Usage: python bench/plot.py bench/out/kernel.json [--out kernel.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def plot_kernel(payload: dict, out: Path) -> Path:
    """Left: each contender's fraction of the copy bandwidth. Right: the gpuaug sweep."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = payload["metadata"]
    ok = [r for r in payload["results"] if r["status"] == "ok"]
    ceiling = meta.get("copy_ceiling_gb_s")
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    names = [r["name"] for r in ok]
    fractions = [100 * r["gb_per_s"] / ceiling if ceiling else 0 for r in ok]
    bars = left.barh(names, fractions, color=["tab:green" if n.startswith("gpuaug") else
                                               "tab:gray" for n in names])
    for bar, r in zip(bars, ok, strict=True):
        left.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                  f" {r['images_per_s']:,.0f} img/s", va="center", fontsize=8)
    left.set_xscale("log")
    left.set_xlabel("% of measured copy bandwidth (log)")
    left.invert_yaxis()
    device = meta.get("device", {}).get("name", "?")
    left.set_title(f"B={meta['batch']}, {meta['shape'][0]}x{meta['shape'][1]}x3 uint8 -> "
                   f"float32, {device}", fontsize=9)
    missing = [r["name"] + ": " + r["status"] for r in payload["results"] if r["status"] != "ok"]
    if missing:
        left.text(0.99, 0.01, "\n".join(missing), transform=left.transAxes, ha="right",
                  va="bottom", fontsize=7, color="tab:red")
    sides = sorted({row["side"] for row in payload.get("sweep", [])})
    for side in sides:
        rows = [r for r in payload["sweep"] if r["side"] == side and r["fraction_of_copy"]]
        right.plot([r["batch"] for r in rows], [100 * r["fraction_of_copy"] for r in rows],
                   marker="o", label=f"{side}x{side}")
    right.set_xscale("log", base=2)
    right.set_xlabel("batch size")
    right.set_ylabel("% of copy bandwidth")
    right.set_title("gpuaug: bandwidth fraction vs work", fontsize=9)
    if sides:
        right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_e2e(payload: dict, out: Path) -> Path:
    """Images/s of each end-to-end contender (log scale), gpuaug highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = payload["metadata"]
    ok = [r for r in payload["results"] if r["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(8, 4))
    names = [r["name"] for r in ok]
    ax.barh(names, [r["images_per_s"] for r in ok],
            color=["tab:green" if n.startswith("gpuaug") else "tab:gray" for n in names])
    ax.set_xscale("log")
    ax.set_xlabel("images/s (log)")
    ax.invert_yaxis()
    device = meta.get("device", {}).get("name", meta.get("device_used", "?"))
    ax.set_title(f"JPEG files -> augmented float32 batches, {meta['images']} images, "
                 f"batch {meta['batch']}, {device}" + (" (smoke run)" if meta.get("smoke") else ""),
                 fontsize=9)
    missing = [r["name"] + ": " + r["status"] for r in payload["results"] if r["status"] != "ok"]
    if missing:
        ax.text(0.99, 0.01, "\n".join(missing), transform=ax.transAxes, ha="right", va="bottom",
                fontsize=7, color="tab:red")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def _stacked_bars(rows: list[dict], labels: list[str],
                  series: tuple[tuple[Any, str, str], ...], xlabel: str, title: str, out: Path, *,
                  log: bool = False) -> Path:
    """Horizontal bars, one per row, stacked from ``series``: (value of a row, label, colour)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, max(3, 0.3 * len(rows))))
    left = np.zeros(len(rows))
    for value, label, colour in series:
        values = np.array([value(r) for r in rows], dtype=float)
        ax.barh(labels, values, left=left, color=colour, label=label)
        left += values
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_host(payload: dict, out: Path) -> Path:
    """Host microseconds per batch, stacked by step, per batch size and draw mode."""
    rows = payload["results"]
    return _stacked_bars(
        rows, [f"B={r['batch']} {r['mode']}" for r in rows],
        ((lambda r: r["draws"], "draws", "tab:blue"),
         (lambda r: r["derive"], "matrices + records", "tab:orange"),
         (lambda r: r["call"], "fused call", "tab:green")),
        "host microseconds per batch (log), kernel launch replaced by nothing",
        "Host cost of one batch, classic configuration, 224x224x3", out, log=True)


def plot_sass(payload: dict, out: Path) -> Path:
    """Instructions per output element by unit (lightest path), per variant and architecture."""
    rows = payload["results"]
    units = (("fp64", "tab:red"), ("fp32", "tab:orange"), ("integer", "tab:blue"),
             ("memory", "tab:green"), ("control", "tab:gray"))
    return _stacked_bars(
        rows, [f"{r['variant']} {r['arch']}" for r in rows],
        tuple((lambda r, unit=unit: r["per_element"][unit], unit, colour)
              for unit, colour in units),
        "SASS instructions per output element (lightest path)",
        "The kernels' machine code, by unit", out)


def plot_fast_error(payload: dict, out: Path) -> Path:
    """precision="fast": the largest error per case and image side; for order 1 the bound b
    of tests/test_fast_precision.py (a function of the transform) as a black tick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = payload["results"]
    cases = list(dict.fromkeys(r["case"] for r in rows))
    sides = sorted({r["size"] for r in rows})
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(len(sides), 1)
    for i, side in enumerate(sides):
        found = [next((r for r in rows if r["case"] == c and r["size"] == side), {})
                 for c in cases]
        x = np.arange(len(cases)) + i * width
        # No bar for a case not run at this side; a tick for each order-1 row's bound.
        measured = [(xi, max(r["max"], 1e-6)) for xi, r in zip(x, found, strict=True) if r]
        ax.bar([m[0] for m in measured], [m[1] for m in measured], width,
               label=f"{side}x{side}")
        bounded = [(xi, r["bound"]) for xi, r in zip(x, found, strict=True) if "bound" in r]
        if bounded:
            ax.scatter([b[0] for b in bounded], [b[1] for b in bounded], marker="_", s=120,
                       color="black", zorder=3, label="order 1 bound b" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(cases)) + width * (len(sides) - 1) / 2, cases, rotation=20,
                  ha="right", fontsize=8)
    ax.set_ylabel("largest |fast - exact| on 0..255 (log)")
    ax.set_title(f"precision='fast' vs the exact reference ({payload['metadata']['backend']})",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_numpy(payload: dict, out: Path) -> Path:
    """The two engines' images/s side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta, result = payload["metadata"], payload["results"]
    names, rates = ["gpuaug NumPy"], [result["gpuaug_images_per_s"]]
    if "keras_images_per_s" in result:
        names.append(f"Keras {result['keras']}")
        rates.append(result["keras_images_per_s"])
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.barh(names, rates, color=["tab:green", "tab:gray"][:len(names)])
    ax.set_xlabel("images/s")
    ax.invert_yaxis()
    ax.set_title(f"CPU, batch {meta['batch']} of {meta['size']}x{meta['size']}x3, one process",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_payload(payload: dict, out: Path) -> Path:
    """The plot for a benchmark's JSON payload, by its ``metadata.benchmark``."""
    kind = payload["metadata"]["benchmark"]
    return {"kernel": plot_kernel, "e2e": plot_e2e, "host": plot_host,
            "sass": plot_sass, "fast_error": plot_fast_error,
            "numpy": plot_numpy}[kind](payload, Path(out))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Plot a benchmark's JSON result.")
    ap.add_argument("json", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    payload = json.loads(args.json.read_text())
    print(plot_payload(payload, args.out or args.json.with_suffix(".png")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

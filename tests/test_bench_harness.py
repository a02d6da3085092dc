"""The benchmark harness's host-side parts: geometry conversions, reporting, missing libraries.

The timings themselves need a GPU (bench/kernel.py); what can be checked on the
CPU is that every contender is handed the same warp and that a missing library is
reported rather than dropped.
"""

from __future__ import annotations

import numpy as np
import pytest

import gpuaug
from gpuaug.benchmarks import geometry, harness
from gpuaug.compose import compose_matrices


@pytest.fixture()
def case():
    gen = gpuaug.ImageDataGenerator(rotation_range=40, width_shift_range=0.2, shear_range=20,
                                    zoom_range=0.2, horizontal_flip=True, vertical_flip=True,
                                    device="cpu")
    h, w = 9, 14
    gen.random_state.seed(1)
    params = gen.sampler.draw_batch(gen.random_state, 6, (h, w, 3))
    return params, compose_matrices(params, h, w, gen.compat), h, w


def _gpuaug_source(params, m, h, w, r, c):
    """Where gpuaug's kernel reads output pixel (r, c) of each sample (flips folded)."""
    rr = np.where(params.flip_vertical, h - 1 - r, r)
    cc = np.where(params.flip_horizontal, w - 1 - c, c)
    u_row = m[:, 0, 2] + rr * m[:, 0, 0] + cc * m[:, 0, 1]
    u_col = m[:, 1, 2] + rr * m[:, 1, 0] + cc * m[:, 1, 1]
    return u_row, u_col


@pytest.mark.parametrize("r,c", [(0, 0), (3, 11), (8, 13)])
def test_every_contender_gets_the_same_warp(case, r, c):
    params, m, h, w = case
    u_row, u_col = _gpuaug_source(params, m, h, w, r, c)
    rc = geometry.with_flips(m, params, h, w)
    # DALI: (x, y) with pixel centres at +0.5
    dali = geometry.xy_matrices(rc, half_pixel=True) @ np.array([c + 0.5, r + 0.5, 1.0])
    np.testing.assert_allclose(dali[:, 0], u_col + 0.5, atol=1e-9)
    np.testing.assert_allclose(dali[:, 1], u_row + 0.5, atol=1e-9)
    # PyTorch affine_grid, align_corners=True: normalised (x, y)
    theta = geometry.normalised_theta(rc, h, w)
    xn = theta @ np.array([2 * c / (w - 1) - 1, 2 * r / (h - 1) - 1, 1.0])
    np.testing.assert_allclose(xn[:, 0], 2 * u_col / (w - 1) - 1, atol=1e-9)
    np.testing.assert_allclose(xn[:, 1], 2 * u_row / (h - 1) - 1, atol=1e-9)
    # cupyx affine_transform on (H, W, C): channel axis untouched
    vol = geometry.volume_matrices(rc) @ np.array([r, c, 2.0, 1.0])
    np.testing.assert_allclose(vol[:, :3], np.stack([u_row, u_col, np.full(6, 2.0)], 1), atol=1e-9)


def test_missing_and_broken_contenders_are_reported_not_dropped():
    def missing():
        raise harness.NotInstalled("nvidia-dali: No module named 'nvidia'")

    def broken():
        def fn():
            raise RuntimeError("boom")
        return fn, ""

    results = [
        harness.Result("gpuaug", "ok", "", [0.002, 0.001, 0.003], 256, 10**9),
        harness.run_contender("dali warp_affine", missing, images=256, bytes_moved=10**9,
                              warmup=1, repeats=3),
    ]
    assert results[1].status == "not installed" and "nvidia" in results[1].note
    table = harness.markdown_table(results, ceiling_gb_s=2000.0, baseline="gpuaug")
    assert "| dali warp_affine | not installed |" in table
    assert "| gpuaug | ok | 2.000 | 128,000 | 500.0 | 25.0% | 1.00 |" in table
    failed = harness.run_contender("kornia", broken, images=256, bytes_moved=10**9, warmup=1,
                                   repeats=3)
    assert failed.status == "failed" and "boom" in failed.note
    seconds = harness.wall_timer(lambda: None, warmup=1, repeats=4)
    assert len(seconds) == 4 and all(s >= 0 for s in seconds)


def test_e2e_benchmark_smoke_run_reports_every_contender(tmp_path, capsys):
    """The end-to-end script runs on the CPU (``--smoke``) and reports all contenders."""
    import json

    from gpuaug.benchmarks import e2e

    assert e2e.main(["--smoke", "--out-dir", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "e2e.json").read_text())
    names = [r["name"] for r in payload["results"]]
    assert names == [name for name, _ in e2e.CONTENDERS]
    status = {r["name"]: r["status"] for r in payload["results"]}
    assert status["gpuaug"] == "ok" and status["gpuaug + prefetch"] == "ok"
    assert all(s in ("ok", "not installed") for s in status.values()), status
    assert "| gpuaug | ok |" in (tmp_path / "e2e.md").read_text()


def test_e2e_cpu_comparison_runs_every_cpu_contender(tmp_path):
    """``--cpu``: Pillow on 1 and N threads, with and without augmentation, against Keras."""
    import json

    from gpuaug.benchmarks import e2e

    assert e2e.main(["--cpu", "--smoke", "--out-dir", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "e2e.json").read_text())
    results = {r["name"]: r for r in payload["results"]}
    assert list(results) == [name for name, _ in e2e.CPU_CONTENDERS]
    assert payload["metadata"]["cpu"] is True
    for name in ("gpuaug decode, 1 thread", "gpuaug, N threads"):
        assert results[name]["status"] == "ok", results[name]
    threads = results["gpuaug decode, N threads"]["note"]
    assert f"{e2e.usable_cpus()} thread(s)" in threads
    assert "| gpuaug decode, 1 thread | ok |" in (tmp_path / "e2e.md").read_text()

"""The ``gpuaug`` command on the CPU path: exit codes, files written, help, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from gpuaug.cli import main
from gpuaug.preview import expected_size


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "data"
    assert main(["make-dataset", str(root), "--classes", "3", "--per-class", "4",
                 "--size", "40x30", "--format", "png", "--quiet"]) == 0
    return root


def test_make_dataset_writes_the_requested_tree(data, capsys):
    classes = sorted(p.name for p in data.iterdir())
    assert len(classes) == 3
    files = sorted(data.rglob("*.png"))
    assert len(files) == 12
    for path in files:
        with Image.open(path) as img:
            assert img.size == (40, 30)


def test_demo_runs_on_the_cpu_and_writes_a_preview(data, tmp_path, capsys):
    assert main(["demo", "--data", str(data), "--out", str(tmp_path), "--size", "32",
                 "--epochs", "1", "--device", "cpu", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Found 12 images belonging to 3 classes." in out
    assert "images/s" in out and "on cpu" in out
    with Image.open(tmp_path / "preview.png") as grid:  # class names left, headers above
        assert grid.size == expected_size(8, 5, 32, row_labels=True)


@pytest.mark.parametrize("flags,rows,cols", [
    (["--samples", "6", "--columns", "4"], 2, 4),
    (["--compare", "--samples", "3", "--draws", "2"], 3, 3),
    (["--fill-modes"], 1, 5),
])
def test_preview_grids_have_the_expected_size(data, tmp_path, flags, rows, cols):
    out = tmp_path / "grid.png"
    assert main(["preview", str(data), "--out", str(out), "--size", "24", *flags]) == 0
    with Image.open(out) as grid:
        assert grid.size == expected_size(rows, cols, 24)
        assert grid.getextrema() != ((255, 255),) * 3  # not a blank canvas


@pytest.mark.parametrize("suffix,text", [
    (".toml", 'rotation_range = 90\nfill_mode = "wrap"\nzoom_range = [0.5, 1.0]\n'),
    (".json", '{"rotation_range": 90, "fill_mode": "wrap", "zoom_range": [0.5, 1.0]}'),
    (".yaml", "rotation_range: 90\nfill_mode: wrap\nzoom_range: [0.5, 1.0]\n"),
])
def test_config_files_give_generator_arguments_and_flags_override_them(tmp_path, suffix, text):
    import argparse

    from gpuaug.cli.generator_args import add_generator_flags, generator_kwargs

    path = tmp_path / f"config{suffix}"
    path.write_text(text)
    parser = argparse.ArgumentParser()
    add_generator_flags(parser)
    args = parser.parse_args(["--config", str(path), "--fill-mode", "reflect",
                              "--horizontal-flip"])
    # A file's missing keys are Keras's defaults (not the command's classic preset) ...
    kwargs = generator_kwargs(args, default_preset="classic")
    assert kwargs == {"rotation_range": 90, "fill_mode": "reflect", "zoom_range": [0.5, 1.0],
                      "horizontal_flip": True}
    # ... unless a preset is asked for; the file then overrides it, the flags the file.
    args = parser.parse_args(["--config", str(path), "--preset", "classic"])
    kwargs = generator_kwargs(args, default_preset="keras")
    assert kwargs["rotation_range"] == 90 and kwargs["zoom_range"] == [0.5, 1.0]
    assert kwargs["shear_range"] == 0.2 and kwargs["rescale"] == 1 / 255


def test_without_a_config_file_the_commands_preset_applies():
    import argparse

    from gpuaug.cli.generator_args import add_generator_flags, generator_kwargs
    from gpuaug.presets import CLASSIC

    parser = argparse.ArgumentParser()
    add_generator_flags(parser, default_preset="classic")
    assert generator_kwargs(parser.parse_args([]), "classic") == CLASSIC
    assert generator_kwargs(parser.parse_args(["--preset", "keras"]), "classic") == {}
    kwargs = generator_kwargs(parser.parse_args(["--rotation-range", "0"]), "classic")
    assert kwargs == {**CLASSIC, "rotation_range": 0}
    assert "classic preset: 40" in parser.format_help()


def test_unknown_config_key_is_a_one_line_error_naming_it(data, tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{"rotation": 10}')
    assert main(["preview", str(data), "--config", str(path), "--out",
                 str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "rotation" in err and "unknown generator argument" in err


@pytest.mark.parametrize("argv,code,needle", [
    (["preview", "DATA", "--fill-mode", "mirror"], 2, "fill_mode"),
    (["preview", "DATA", "--zoom-range", "[1,2,3]"], 2, "zoom_range"),
    (["preview", "DATA", "--rotation-range"], 2, "--rotation-range"),
    (["preview", "MISSING"], 2, "does not exist"),
    (["make-dataset", "OUT", "--size", "10by10"], 2, "--size"),
    (["make-dataset", "OUT", "--classes", "0"], 2, "--classes"),
    (["demo", "--device", "tpu"], 2, "device"),
    (["frobnicate"], 2, "invalid choice"),
])
def test_bad_input_is_rejected_with_a_clear_message(data, tmp_path, capsys, argv, code, needle):
    argv = [str(data) if a == "DATA" else str(tmp_path / "none") if a == "MISSING" else
            str(tmp_path / "o") if a == "OUT" else a for a in argv]
    try:
        result = main(argv)
    except SystemExit as exc:  # argparse's own errors
        result = exc.code
    assert result == code
    assert needle in capsys.readouterr().err


def test_bench_e2e_smoke_writes_json_markdown_and_plot(tmp_path, capsys):
    assert main(["bench", "e2e", "--smoke", "--out-dir", str(tmp_path), "--json",
                 str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png")]) == 0
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["metadata"]["benchmark"] == "e2e"
    assert (tmp_path / "r.md").read_text().startswith("| contender |")
    with Image.open(tmp_path / "r.png") as img:
        assert img.size[0] > 0
    assert "| gpuaug | ok |" in capsys.readouterr().out


def test_bench_host_needs_no_gpu_and_ends_with_the_summary_line(tmp_path, capsys):
    assert main(["bench", "host", "--batches", "8,16", "--blocks", "2", "--slow-blocks", "1",
                 "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"host: B=8 keras \d+ us, keyed \d+ us per batch", out[-1]), out[-1]
    payload = json.loads((tmp_path / "host.json").read_text())
    assert payload["metadata"]["benchmark"] == "host"
    rows = {(r["batch"], r["mode"]) for r in payload["results"]}
    assert rows == {(b, m) for b in (8, 16) for m in ("keras", "keyed", "keras, image by image")}
    assert all(r["total"] >= r["total_min"] > 0 for r in payload["results"])
    with Image.open(tmp_path / "host.png") as img:
        assert img.size[0] > 0


def test_the_host_benchmark_times_a_real_fused_call():
    from gpuaug.benchmarks import host

    for mode in host.MODES:
        draws, derive, call = host._steps(mode, 4)
        drawn = draws()
        out = call(drawn, derive(drawn))
        assert out.shape == (4, 224, 224, 3) and out.dtype == "float32", mode


def test_bench_kernel_without_a_gpu_exits_3(tmp_path, capsys):
    from gpuaug.environment import cuda_status

    if cuda_status()[0]:
        pytest.skip("a GPU is present: this would run the whole kernel benchmark")
    assert main(["bench", "kernel", "--out-dir", str(tmp_path)]) == 3
    assert "needs a CUDA device" in capsys.readouterr().err


def test_an_nvrtc_failure_exits_1_with_nvrtcs_log(data, tmp_path, capsys, monkeypatch):
    """A library that is there and fails is a failure (1), not 'no device here' (3)."""
    pytest.importorskip("cupy", reason="NVRTC comes with CuPy")
    import gpuaug.demo
    from gpuaug.backends.cuda.nvrtc import compile_for_arch

    def compile_something_wrong(*args, **kwargs):
        compile_for_arch(["gpuaug::no_such_kernel<int>"], "sm_90")  # NVRTC rejects the name

    monkeypatch.setattr(gpuaug.demo, "run", compile_something_wrong)
    assert main(["demo", "--data", str(data), "--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "NVRTC failed for sm_90" in err and "no_such_kernel" in err  # the log, not one line


def test_a_decoder_failure_exits_1_with_its_message(data, tmp_path, capsys, monkeypatch):
    from gpuaug.sources.decoders import PillowDecoder

    def fail(self, paths):  # what DALI raises when its pipeline breaks, not a bad file
        raise RuntimeError("Critical error in pipeline:\nnvImageCodec failure")

    monkeypatch.setattr(PillowDecoder, "__call__", fail)
    assert main(["demo", "--data", str(data), "--out", str(tmp_path), "--device", "cpu",
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: Critical error in pipeline" in err and "nvImageCodec failure" in err


def test_only_a_missing_device_exits_3(data, tmp_path, capsys):
    from gpuaug.environment import cuda_status

    usable, reason = cuda_status()
    if usable:
        pytest.skip("a GPU is present: device='cuda' is available here")
    assert main(["demo", "--data", str(data), "--out", str(tmp_path), "--device", "cuda",
                 "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "device='cuda'" in err and reason in err


def test_info_reports_versions_devices_and_decoders(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for label in ("gpuaug", "numpy", "pillow", "cupy", "nvidia-dali", "device cpu",
                  "device cuda", "decoder pillow", "decoder dali cpu", "device='auto' picks"):
        assert label in out


@pytest.mark.parametrize("command", ["demo", "preview", "bench", "info", "make-dataset"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "exit codes" in capsys.readouterr().out


def test_the_console_script_is_installed():
    exe = shutil.which("gpuaug") or str(
        __import__("pathlib").Path(sys.executable).with_name("gpuaug"))
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("gpuaug ")


def test_make_dataset_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("mine")
    assert main(["make-dataset", str(tmp_path), "--quiet", "--per-class", "1"]) == 2
    assert "is not empty" in capsys.readouterr().err and sorted(os.listdir(tmp_path)) == [
        "old.txt"]
    assert main(["make-dataset", str(tmp_path), "--quiet", "--per-class", "1", "--force"]) == 0
    assert len(os.listdir(tmp_path)) == 5  # old.txt and 4 class folders
    fresh = tmp_path / "new"
    assert main(["make-dataset", str(fresh), "--quiet", "--per-class", "1"]) == 0


@pytest.mark.parametrize("command, needles", [
    (["demo"], ["(default: 128)", "(default: 32)", "(default: 3)"]),
    (["make-dataset"], ["(default: 4)", "(default: 8)", "(default: jpg)"]),
    (["preview"], ["(default: 8)", "(default: 4)", "(default: grid.png)", "Default: 0 (classic"]),
    (["bench", "host"], ["(default: bench/out)", "(default 20)"]),
])
def test_help_shows_every_default_once(command, needles, capsys):
    with pytest.raises(SystemExit):
        main(command + ["--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for needle in needles:
        assert needle in text, needle
    assert "(default: None)" not in text and ") (default:" not in text


def test_info_says_why_cuda_is_not_usable_in_words():
    from gpuaug.environment import _why_cuda_fails

    class Runtime:
        def __init__(self, driver):
            self.driver = driver

        def driverGetVersion(self):  # noqa: N802 (CuPy's name)
            return self.driver

        def runtimeGetVersion(self):  # noqa: N802
            return 13020

    def cupy_with(driver):
        return type("cupy", (), {"cuda": type("cuda", (), {"runtime": Runtime(driver)})})

    error = RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    assert _why_cuda_fails(cupy_with(0), error) == "no NVIDIA driver is installed"
    older = _why_cuda_fails(cupy_with(12040), error)
    assert older.startswith("the NVIDIA driver supports CUDA 12.4, older than the CUDA 13.2")
    assert "cudaError" in _why_cuda_fails(cupy_with(13020), error)  # anything else: as is


@pytest.mark.parametrize("driver, needle", [
    (0, "no NVIDIA driver found"), (13010, "CUDA 13.1: pip install 'gpuaug[cuda,dali]'"),
    (12040, "CUDA 12.4: pip install 'gpuaug[cuda12,dali12]'"), (11080, "update the NVIDIA driver"),
])
def test_info_names_the_extras_that_fit_the_driver(driver, needle):
    from gpuaug.environment import install_hint

    assert needle in install_hint(driver)


def test_info_reads_the_driver_without_cupy(capsys):
    from gpuaug.environment import driver_cuda_version, install_hint

    version = driver_cuda_version()  # None here without a driver; an int with one
    assert version is None or version >= 1000
    assert main(["info"]) == 0
    assert install_hint() in capsys.readouterr().out


def test_bench_numpy_times_both_engines_without_a_gpu(tmp_path, capsys):
    assert main(["bench", "numpy", "--batch", "2", "--size", "16", "--repeats", "1",
                 "--out-dir", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "numpy.json").read_text())
    assert payload["metadata"]["benchmark"] == "numpy"
    result = payload["results"]
    assert result["gpuaug_images_per_s"] > 0
    assert result.get("keras") == "not installed" or result["ratio"] > 0
    assert "| gpuaug NumPy batch engine |" in capsys.readouterr().out
    assert (tmp_path / "numpy.png").exists()

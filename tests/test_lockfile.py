"""The lock files (requirements/*.lock, written by scripts/lock) still satisfy
pyproject.toml: a dependency added or narrowed there without re-locking fails here,
before an install from the lock would miss it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def pins(lock: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if match := PIN.match(line):
            found[canonicalize_name(match[1])] = match[2]
    return found


def test_every_pin_carries_hashes() -> None:
    for lock in ("app.lock", "dev.lock"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / "requirements" / lock).read_text())
        unhashed = [e.split()[0] for e in entries if PIN.match(e) and "--hash=sha256:" not in e]
        assert unhashed == [], lock


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("app.lock", PROJECT["dependencies"]),
        ("dev.lock", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]),
    ],
)
def test_the_lock_satisfies_pyproject(lock: str, requirements: list[str]) -> None:
    locked = pins(lock)
    unmet = []
    for line in requirements:
        requirement = Requirement(line)
        version = locked.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            unmet.append(f"{requirement} (locked: {version})")
    assert unmet == [], "run scripts/lock"


def test_dev_lock_pins_the_runtime_as_the_image_does() -> None:
    app, dev = pins("app.lock"), pins("dev.lock")
    assert {name: dev.get(name) for name in app} == app

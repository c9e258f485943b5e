"""What the README promises a newcomer: ``scripts/dev --help`` and ``python -m app
--help``/``--version`` only print, and ``scripts/dev --port P`` serves on P and says so."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.edge.live import _free_port, stop

ROOT = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash") or "/bin/bash"


def _run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (fixed argv)
        argv,
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dev_help_prints_usage_and_does_nothing_else(tmp_path: Path) -> None:
    """No .venv, no database, no token: a copy of the scripts in an empty folder."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    for flag in ["--help", "-h"]:
        done = _run([BASH, "scripts/dev", flag], tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("usage: scripts/dev [--host H] [--port P]")
        assert "--port P" in done.stdout
    bad = _run([BASH, "scripts/dev", "--port", "eighty"], tmp_path)
    assert (bad.returncode, bad.stderr) == (
        2,
        "scripts/dev: --port must be a number, not 'eighty'\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scripts"]


@pytest.mark.slow
def test_app_help_and_version_touch_no_database(tmp_path: Path) -> None:
    database = tmp_path / "never.db"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    printed = {}
    for args in [["--help"], ["serve", "--help"], ["migrate", "--help"], ["--version"]]:
        done = _run([sys.executable, "-m", "app", *args], tmp_path, **env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()
        printed[" ".join(args)] = done.stdout
    assert re.fullmatch(r"harmony-gateway \d+\.\d+\.\d+\S*\n", printed["--version"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_dev_serves_on_the_port_its_banner_names(tmp_path: Path) -> None:
    """The real script (on this checkout's .venv) over a fresh SQLite file: migrate,
    seed, tokens, then GraphiQL on the port asked for, signed in as the demo users."""
    port = _free_port()
    database = tmp_path / "dev.db"
    log = tmp_path / "dev.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 (fixed argv)
            [BASH, str(ROOT / "scripts/dev"), "--port", str(port)],
            env={
                **os.environ,
                "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
                "LOG_LEVEL": "WARNING",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        # One client for every poll (a new one builds its TLS context each time).
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=1) as http:
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            output = log.read_text()
            assert f"==> GraphiQL at http://127.0.0.1:{port}/graphql" in output
            assert "127.0.0.1:8000" not in output
            assert re.search(r"^  ada@acme\.test\s+eyJ\S+$", output, re.M)
            page = http.get("/graphql", headers={"Accept": "text/html"}, timeout=10)
            assert '"email":"ada@acme.test"' in page.text
    finally:
        stop(process)
    assert database.exists()  # the database the README says: DATABASE_URL's

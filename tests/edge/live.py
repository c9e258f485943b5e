"""A real gateway process (``python -m app serve``) for the tests where the server itself
matters: several processes, body limits on a real socket, deadlines."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.auth.keys import identifier_secret
from app.config import Settings, get_settings
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What uvicorn logs when the port was taken between ``_free_port`` and its bind (another
# test, e.g. on another pytest-xdist worker, got it first).
PORT_TAKEN = "address already in use"


def _healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> bool:
    """Waits until the gateway answers ``/healthz``; False when its port was taken."""
    deadline = time.monotonic() + 30
    # One client for every poll: each new client would build its TLS context (~20 ms of
    # CPU), and a gateway takes seconds to start on a busy machine.
    with httpx.Client(timeout=1) as http:
        while True:
            if process.poll() is not None:
                output = log.read_text()
                if PORT_TAKEN in output:
                    return False
                pytest.fail(f"the gateway exited: {output}")
            try:
                if http.get(f"{url}/healthz").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the gateway did not start: {log.read_text()}")
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a server process: SIGTERM, then SIGKILL if it has not exited in 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def gateway_process(settings: Settings, extra: dict[str, str], log: Path) -> Iterator[str]:
    """``python -m app serve`` on a free port over the test's database, with ``extra``
    environment; yields its URL."""
    env = {
        **os.environ,
        "APP_ENV": "development",
        "JWT_SECRET": TEST_SECRET,
        # IDs are keyed per process: the gateway must share this process's key, or the
        # IDs the tests encode (tests/factories.py) would not be its own.
        "ID_SECRET": identifier_secret(get_settings()),
        "DATABASE_URL": settings.database_url,
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    for _ in range(3):
        port = _free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 (fixed argv)
                [sys.executable, "-m", "app", "serve", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            if _healthy(process, url, log):
                yield url
                return
        finally:
            stop(process)
    pytest.fail(f"three free ports were taken before the gateway could bind: {log.read_text()}")

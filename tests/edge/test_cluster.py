"""``scripts/cluster`` itself: it creates, migrates and seeds its database, starts two
gateway processes on one PostgreSQL database and one Redis, prints their URLs and a demo
token that both accept (one budget between them), and Ctrl-C stops every process.
What two processes share is tested in detail in test_two_processes.py."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import PG_URL, _pg_admin
from tests.databases import Databases
from tests.edge.live import ROOT, _free_port

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def cluster_database(pg_databases: Databases | None) -> AsyncIterator[str]:
    if pg_databases is None:
        pytest.skip("PostgreSQL is not reachable")
    name = f"harmony_cluster_{uuid.uuid4().hex[:12]}"
    yield name
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


CLUSTER = str(ROOT / "scripts" / "cluster")


def _start(ports: list[int], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 (fixed argv) — own process group, as a terminal's foreground job
        [CLUSTER, *map(str, ports)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _read_until_ready(process: subprocess.Popen[str], log: list[str]) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    for line in process.stdout:
        log.append(line)
        if line.startswith("==> ready"):
            return
        assert time.monotonic() < deadline, "".join(log)
    pytest.fail(f"scripts/cluster exited before it was ready:\n{''.join(log)}")


@pytest.mark.slow
async def test_scripts_cluster_serves_two_replicas_and_stops_on_ctrl_c(
    backend: str, cluster_database: str, redis_prefix: str, redis_url: str
) -> None:
    ports = [_free_port(), _free_port()]
    server = PG_URL.rsplit("/", 1)[0]
    env = {
        **os.environ,
        "CLUSTER_POSTGRES": server,
        "CLUSTER_DATABASE": cluster_database,
        "CLUSTER_REDIS": redis_url,
        "CLUSTER_REDIS_PREFIX": redis_prefix,
        "RATE_LIMIT_RESTORE_PER_SECOND": "0.001",  # no point comes back during the test
        "LOG_LEVEL": "WARNING",
    }
    for name in ("DATABASE_URL", "MIGRATION_DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX"):
        env.pop(name, None)
    # A suite started in the background (``scripts/test &``) inherits an ignored SIGINT,
    # and so would the script, whose shell cannot trap a signal ignored on entry: it
    # starts with the default a terminal's foreground job has.
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        process = await asyncio.to_thread(_start, ports, env)
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    log: list[str] = []
    try:
        await asyncio.to_thread(_read_until_ready, process, log)
        output = "".join(log)
        urls = re.findall(r"^    (http://127\.0\.0\.1:\d+/graphql)$", output, re.MULTILINE)
        token = re.search(r"demo token.*\n    (\S+)\n", output)
        assert urls == [f"http://127.0.0.1:{port}/graphql" for port in ports], output
        assert token is not None, output
        assert f"created {cluster_database}" in output
        assert "demo data: created acme, globex" in output

        headers = {"Authorization": f"Bearer {token[1]}"}
        answers = []
        async with httpx.AsyncClient(timeout=10) as http:
            for url in [*urls, *urls]:
                response = await http.post(
                    url, json={"query": "{ viewer { email } }"}, headers=headers
                )
                body = response.json()
                throttle = body["extensions"]["cost"]["throttleStatus"]
                answers.append((body["data"], throttle["currentlyAvailable"]))
            viewer = {"viewer": {"email": "ada@acme.test"}}
            # One budget: each replica leases 50 points (1/20 of the bucket) with its first
            # cheap query, which the other replica then sees as spent (app.edge.ratelimit).
            assert answers == [(viewer, 999), (viewer, 948), (viewer, 998), (viewer, 947)]

            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
            assert await asyncio.to_thread(process.wait, 30) != 0
            for port in ports:
                with pytest.raises(httpx.ConnectError):
                    await http.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


def test_scripts_cluster_refuses_a_database_name_it_would_have_to_quote() -> None:
    result = subprocess.run(  # noqa: S603 (fixed argv)
        [CLUSTER],
        cwd=ROOT,
        env={**os.environ, "CLUSTER_DATABASE": 'x"; DROP'},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (
        2,
        'bad CLUSTER_DATABASE: x"; DROP',
    )

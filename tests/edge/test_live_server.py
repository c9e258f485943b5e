"""The edge on a real server (``python -m app serve``): an oversized body is refused on
the socket without being held, and a request stuck behind a database lock is answered
at its deadline, rolled back, and the server goes on answering."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.tokens import issue_user_token
from app.config import Settings
from tests import factories as f
from tests.conftest import app_settings, module_database_fixtures
from tests.edge.live import gateway_process

MB = 2**20


# One server per engine for the module (a gateway takes seconds to start): no test here
# changes data, and each measures the memory it grew by itself.
pytestmark = pytest.mark.xdist_group("live_server")

backend, database_url = module_database_fixtures()


@pytest.fixture(scope="module")
def server(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings, log = app_settings(module_database_url), tmp_path_factory.mktemp("server") / "s.log"
    with gateway_process(settings, {"REQUEST_TIMEOUT_SECONDS": "1"}, log) as url:
        yield url


def _rss_kib(url: str) -> int:
    """Resident memory of the process listening on the URL's port (Linux)."""
    port = int(url.rsplit(":", 1)[1])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":  # LISTEN
            inode = fields[9]
            break
    else:
        raise AssertionError("no listening socket")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(link.readlink().name == f"socket:[{inode}]" for link in (proc / "fd").iterdir()):
                for row in (proc / "status").read_text().splitlines():
                    if row.startswith("VmRSS:"):
                        return int(row.split()[1])
        except OSError:
            continue
    raise AssertionError("no process holds the socket")


def _raw_post(url: str, head: str, body_chunks: Iterator[bytes]) -> tuple[int, int]:
    """Send a request over a plain socket; (HTTP status, bytes the client got to send)."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed the connection: what we want
        sock.settimeout(10)
        reply = b""
        while b"\r\n" not in reply:
            part = sock.recv(4096)
            if not part:
                break
            reply += part
    return int(reply.split(b" ", 2)[1]), sent


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    block = b"x" * size
    for _ in range(total // size):
        yield block


def test_a_served_answer_leaves_in_one_piece_and_names_no_server(server: str) -> None:
    """``app serve``: uvicorn with app/edge/wire.py's protocol (head and body in one
    write; tests/edge/test_wire.py) and no ``server`` header naming what answers."""
    host, port = server.removeprefix("http://").split(":")
    body = b'{"query": "{ __typename }"}'
    head = (
        "POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        reply = b""
        while not reply.endswith(b"}"):
            part = sock.recv(65536)
            assert part, reply
            reply += part
    status, _, answer = reply.partition(b"\r\n\r\n")
    names = {line.split(b":")[0].lower() for line in status.split(b"\r\n")[1:]}
    assert status.startswith(b"HTTP/1.1 401 Unauthorized\r\n")  # (no credential)
    assert b"server" not in names and {b"date", b"content-length", b"x-request-id"} <= names
    assert [e["extensions"]["code"] for e in json.loads(answer)["errors"]] == ["UNAUTHENTICATED"]


def test_a_declared_300_mb_body_is_refused_before_it_is_read(server: str) -> None:
    before = _rss_kib(server)
    head = (
        "POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {300 * MB}\r\n\r\n"
    )
    started = time.monotonic()
    status, sent = _raw_post(server, head, _chunks(300 * MB))
    assert status == 413
    assert time.monotonic() - started < 5
    assert sent < 100 * MB  # the server hung up long before the end
    assert _rss_kib(server) - before < 20 * 1024


async def test_a_chunked_body_is_cut_off_at_the_cap(
    server: str, settings: Settings, session: AsyncSession
) -> None:
    # (Without credentials the body would not be read at all: 401.)
    token = issue_user_token(settings, await f.user_id(session, "ada@acme.test"))
    before = _rss_kib(server)

    def chunked() -> Iterator[bytes]:
        for block in _chunks(50 * MB):
            yield f"{len(block):x}\r\n".encode() + block + b"\r\n"
        yield b"0\r\n\r\n"

    head = (
        "POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    status, _ = _raw_post(server, head, chunked())
    assert status == 413
    assert _rss_kib(server) - before < 20 * 1024


async def _hold_lock(owner_engine: AsyncEngine, settings: Settings, held: asyncio.Event) -> Any:
    """Lock the workspaces table (PostgreSQL) or the database (SQLite) until cancelled."""
    async with owner_engine.connect() as conn:
        if settings.is_sqlite:
            await conn.exec_driver_sql("BEGIN EXCLUSIVE")
        else:
            await conn.execute(text("BEGIN"))
            await conn.execute(text("LOCK TABLE workspaces IN ACCESS EXCLUSIVE MODE"))
        held.set()
        try:
            await asyncio.sleep(30)
        finally:
            await conn.rollback()


async def test_a_request_stuck_behind_a_lock_times_out_and_changes_nothing(
    server: str, settings: Settings, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    ada = await f.user_id(session, "ada@acme.test")
    headers = {"Authorization": f"Bearer {issue_user_token(settings, ada)}"}
    rename = {
        "query": "mutation($id: ID!) { updateGeneralSettings(input: {workspaceId: $id, "
        'name: "Renamed"}) { userErrors { code } } }',
        "variables": {"id": await f.gid(session, "Workspace", "acme")},
    }
    await session.rollback()  # its reads would hold off the lock below
    held = asyncio.Event()
    locker = asyncio.create_task(_hold_lock(owner_engine, settings, held))
    await held.wait()
    try:
        async with httpx.AsyncClient(timeout=15) as http:
            started = time.monotonic()
            response = await http.post(f"{server}/graphql", json=rename, headers=headers)
            elapsed = time.monotonic() - started
    finally:
        locker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await locker
    assert response.status_code == 504
    assert response.json() == {
        "errors": [
            {
                "message": "The request did not finish within 1 seconds: its unfinished work was rolled back.",
                "extensions": {"code": "TIMEOUT"},
            }
        ]
    }
    assert elapsed < 3

    async with httpx.AsyncClient(timeout=15) as http:
        for _ in range(3):  # the pool's connections work again
            after = await http.post(
                f"{server}/graphql",
                json={"query": '{ workspace(slug: "acme") { name } }'},
                headers=headers,
            )
            assert after.status_code == 200, after.text
            assert after.json()["data"] == {"workspace": {"name": "Acme Corp"}}

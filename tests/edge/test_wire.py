"""The HTTP protocol the gateway serves with (app/edge/wire.py): each response leaves in
one write to the socket, head and body together, and the bytes on the wire are uvicorn's
own, byte for byte, for every shape of response.

Real uvicorn servers on 127.0.0.1 (one with ``OneWriteProtocol``, one with uvicorn's
stock httptools protocol), driven by raw sockets; the writes are counted on the real
transport as the protocol hands them over."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.edge.wire import OneWriteProtocol

Scope = dict[str, Any]


async def app(scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """One route per shape of response."""
    path = scope["path"]
    if path == "/upload":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = b"got %d bytes" % len(body)
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
    elif path == "/chunks":  # no length: chunked, three body messages
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one", b"two"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"three"})
    elif path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/close":
        headers = [(b"content-length", b"3"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"bye"})
    elif path == "/fails-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("the app fails after starting its response")
    elif path == "/fails-before-start":
        raise RuntimeError("the app fails before answering")
    else:
        answer = b'{"data":{"viewer":{"name":"Ada"}}}'
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(answer)),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


WRITES: list[bytes] = []


class _Counted:
    """The real transport, with each write kept in ``WRITES``."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CountedOneWrite(OneWriteProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(_Counted(transport))


class CountedStock(HttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(_Counted(transport))


@asynccontextmanager
async def serving(protocol: type[HttpToolsProtocol]) -> AsyncIterator[int]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, http=protocol, lifespan="off", log_level="critical"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.01)
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture(scope="module")
async def one_write() -> AsyncIterator[int]:
    async with serving(CountedOneWrite) as port:
        yield port


@pytest.fixture(scope="module")
async def stock() -> AsyncIterator[int]:
    async with serving(CountedStock) as port:
        yield port


def request(method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test"]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def exchange(port: int, *steps: bytes, expect: int) -> bytes:
    """Send each step (waiting for the server's bytes in between when told by an empty
    step) and read until ``expect`` responses ended, or the server closed. Responses to
    HEAD requests come first among the steps (``_ended``)."""
    heads = sum(step.startswith(b"HEAD ") for step in steps)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    try:
        for step in steps:
            if step:
                writer.write(step)
                await writer.drain()
            else:  # wait for the server's interim answer
                received += await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        while _ended(received, heads) < expect:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            received += chunk
    finally:
        writer.close()
    return received


def _ended(received: bytes, heads: int = 0) -> int:
    """How many final (non-1xx) responses ``received`` holds, complete; the first
    ``heads`` answer HEAD requests (a length but no body)."""
    count, rest = 0, received
    while (end := rest.find(b"\r\n\r\n")) >= 0:
        head, rest = rest[:end], rest[end + 4 :]
        if re.match(rb"HTTP/1\.1 1\d\d ", head):
            continue
        length = re.search(rb"(?i)content-length: (\d+)", head)
        if count < heads:
            pass
        elif length:
            size = int(length[1])
            if len(rest) < size:
                return count
            rest = rest[size:]
        elif re.search(rb"(?i)transfer-encoding: chunked", head):
            stop = rest.find(b"0\r\n\r\n")
            if stop < 0:
                return count
            rest = rest[stop + 5 :]
        count += 1
    return count


def _no_date(raw: bytes) -> bytes:
    return re.sub(rb"(?i)date: [^\r]*\r\n", b"", raw)


CASES = {
    "two keep-alive requests": ([request("GET", "/"), request("GET", "/")], 2),
    "HEAD, then GET on the same connection": ([request("HEAD", "/"), request("GET", "/")], 2),
    "a chunked body in three messages": ([request("GET", "/chunks")], 1),
    "204 without a body": ([request("GET", "/empty")], 1),
    "Connection: close from the app": ([request("GET", "/close")], 1),
    "two pipelined requests": ([request("GET", "/") + request("GET", "/chunks")], 2),
    "a body after 100-continue": (
        [request("POST", "/upload", Expect="100-continue", Content_Length="5"), b"", b"hello"],
        1,
    ),
    "the app fails before answering (500)": ([request("GET", "/fails-before-start")], 1),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_the_bytes_on_the_wire_are_uvicorns_own(
    case: str, one_write: int, stock: int
) -> None:
    steps, expect = CASES[case]
    ours, theirs = (
        await exchange(one_write, *steps, expect=expect),
        await exchange(stock, *steps, expect=expect),
    )
    assert _ended(ours, sum(step.startswith(b"HEAD ") for step in steps)) == expect
    assert _no_date(ours) == _no_date(theirs)


async def test_each_response_is_one_write_of_its_head_and_body(one_write: int) -> None:
    WRITES.clear()
    raw = await exchange(one_write, request("GET", "/"), request("GET", "/"), expect=2)
    answer = b'{"data":{"viewer":{"name":"Ada"}}}'
    assert len(WRITES) == 2
    assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(answer) for w in WRITES)
    assert b"".join(WRITES) == raw


async def test_stock_uvicorn_writes_head_and_body_apart(stock: int) -> None:
    """What the protocol saves: one of the two writes per response."""
    WRITES.clear()
    await exchange(stock, request("GET", "/"), expect=1)
    assert [w.startswith(b"HTTP/1.1 200 OK\r\n") for w in WRITES] == [True, False]


async def test_a_head_request_sends_its_head_when_the_response_ends(one_write: int) -> None:
    WRITES.clear()
    raw = await exchange(one_write, request("HEAD", "/"), expect=1)
    assert len(WRITES) == 1 and raw == WRITES[0]
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\n")


async def test_a_streamed_body_sends_its_head_with_the_first_part(one_write: int) -> None:
    WRITES.clear()
    await exchange(one_write, request("GET", "/chunks"), expect=1)
    head, first = WRITES[0].split(b"\r\n\r\n", 1)
    assert b"transfer-encoding: chunked" in head
    assert [first, *WRITES[1:]] == [
        b"3\r\none\r\n",
        b"3\r\ntwo\r\n",
        b"5\r\nthree\r\n0\r\n\r\n",
    ]


async def test_the_interim_100_continue_is_not_held_back(one_write: int) -> None:
    WRITES.clear()
    steps = [request("POST", "/upload", Expect="100-continue", Content_Length="5"), b"", b"hello"]
    raw = await exchange(one_write, *steps, expect=1)
    assert WRITES[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(WRITES) == 2 and raw.endswith(b"got 5 bytes")


async def test_an_app_failing_after_its_start_closes_without_a_head(one_write: int) -> None:
    """uvicorn would have sent the head, then closed: the client sees a cut-off answer
    either way, here an empty one."""
    WRITES.clear()
    raw = await exchange(one_write, request("GET", "/fails-after-start"), expect=1)
    assert raw == b"" and WRITES == []

"""One Redis connection per worker on which calls of one Lua script are pipelined.

The rate limiter calls Redis once per request. Through redis-py's asyncio client a call
costs about 0.1 ms of CPU (connection pool, command packing, a task switch per reply
element, timers), which is a third of a small request's whole cost. Here, every call is
written at once to a single connection and the replies, which Redis sends in order, are
matched to the waiting calls in order: concurrent requests share writes and reads, and a
call costs 0.01 to 0.035 ms (see docs/performance.md). Only what the limiter needs
is here: connect (AUTH, SELECT), EVALSHA (EVAL when Redis lost the script), RESP2 replies. Everything else
that talks to Redis uses redis-py.

A call that times out leaves its place in the queue: its reply, when it comes, is read
and dropped, so later replies stay matched. A lost connection fails every waiting call
(``ConnectionError``); the next call reconnects.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from typing import Any, cast
from urllib.parse import unquote, urlsplit


class RedisReplyError(Exception):
    """Redis answered with an error (``-ERR …``)."""


def _command(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def _parse(buf: bytes, pos: int) -> tuple[Any, int] | None:
    """One RESP2 reply at ``pos``: (value, position after it), or None if incomplete."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None
    kind, line = buf[pos : pos + 1], buf[pos + 1 : end]
    after = end + 2
    if kind == b":":
        return int(line), after
    if kind == b"+":
        return line.decode(), after
    if kind == b"-":
        return RedisReplyError(line.decode(errors="replace")), after
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buf) < after + size + 2:
            return None
        return buf[after : after + size].decode(errors="replace"), after + size + 2
    if kind == b"*":
        count = int(line)
        items: list[Any] = []
        for _ in range(max(count, 0)):
            parsed = _parse(buf, after)
            if parsed is None:
                return None
            item, after = parsed
            items.append(item)
        return (None if count < 0 else items), after
    raise RedisReplyError(f"unexpected reply from Redis: {buf[pos:end]!r}")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports do not derive from asyncio's classes: no isinstance check)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer + data if self.buffer else data
        pos = 0
        while pos < len(buf):
            try:
                parsed = _parse(buf, pos)
            except (RedisReplyError, ValueError) as exc:
                self._fail(ConnectionError(f"bad reply from Redis: {exc}"))
                return
            if parsed is None:
                break
            value, pos = parsed
            if not self.waiting:
                self._fail(ConnectionError("a reply from Redis nobody asked for"))
                return
            future = self.waiting.popleft()
            if not future.done():  # a call that timed out: its reply is dropped
                if isinstance(value, RedisReplyError):
                    future.set_exception(value)
                else:
                    future.set_result(value)
        self.buffer = buf[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._drain(ConnectionError(f"the connection to Redis was lost: {exc or 'closed'}"))

    def send(self, command: bytes) -> asyncio.Future[Any]:
        assert self.transport is not None
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self.transport.write(command)
        return future

    def _fail(self, exc: Exception) -> None:
        if self.transport is not None:
            self.transport.abort()
        self._drain(exc)

    def _drain(self, exc: Exception) -> None:
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)


class ScriptChannel:
    """Calls of one Lua script over one pipelined connection (see the module docstring)."""

    def __init__(self, url: str, script: str, timeout_seconds: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"unsupported Redis URL scheme: {parts.scheme}")
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 6379
        self._tls = parts.scheme == "rediss"
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        path = parts.path.strip("/")
        self._db = int(path) if path else 0
        self._script = script.encode()
        self._sha = hashlib.sha1(self._script, usedforsecurity=False).hexdigest().encode()
        self._timeout = timeout_seconds
        self._protocol: _Protocol | None = None
        self._connecting = asyncio.Lock()

    async def call(self, keys: list[str], args: list[bytes]) -> Any:
        """EVALSHA the script (loading it when Redis does not know it); bounded by the
        timeout. Raises TimeoutError, ConnectionError or RedisReplyError."""
        async with asyncio.timeout(self._timeout):
            protocol = self._protocol
            if protocol is None or protocol.transport is None:
                protocol = await self._connect()
            head = (b"EVALSHA", self._sha, b"%d" % len(keys), *(k.encode() for k in keys))
            try:
                return await protocol.send(_command(*head, *args))
            except RedisReplyError as exc:
                if not str(exc).startswith("NOSCRIPT"):
                    raise
            # Redis lost its scripts (a restart, SCRIPT FLUSH): send the script itself.
            body = (b"EVAL", self._script, b"%d" % len(keys), *(k.encode() for k in keys))
            return await protocol.send(_command(*body, *args))

    async def _connect(self) -> _Protocol:
        async with self._connecting:
            if self._protocol is not None and self._protocol.transport is not None:
                return self._protocol
            loop = asyncio.get_running_loop()
            _, protocol = await loop.create_connection(
                _Protocol, self._host, self._port, ssl=True if self._tls else None
            )
            setup: list[asyncio.Future[Any]] = []
            if self._password is not None:
                auth = (self._username.encode(),) if self._username else ()
                setup.append(protocol.send(_command(b"AUTH", *auth, self._password.encode())))
            if self._db:
                setup.append(protocol.send(_command(b"SELECT", b"%d" % self._db)))
            try:
                for reply in setup:
                    await reply
            except BaseException:
                if protocol.transport is not None:
                    protocol.transport.abort()
                raise
            self._protocol = protocol
            return protocol

    async def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()

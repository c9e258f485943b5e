"""Statements at the wire: a TCP proxy in front of PostgreSQL that reads what clients
send and counts it by message type, so every target (the gateway, the floor, each peer)
is counted the same way, whatever its driver does (``scripts/bench --peers``).

A *statement* is one simple query (``Q``: BEGIN, COMMIT, set_config, SQL sent as text)
or one execution of a prepared statement (``E`` of the extended protocol); a *round
trip* is a ``Q`` or a ``Sync`` (``S``). The proxy answers SSL and GSS encryption
requests with "no" (the loopback carries plain text) and otherwise forwards every byte
unchanged. It is used by separate counting instances of the targets, never under load.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections import Counter
from contextlib import suppress

# The startup packet's request codes a proxy must refuse (PostgreSQL protocol 3).
_ENCRYPTION_REQUESTS = {80877103, 80877104}  # SSLRequest, GSSENCRequest


class StatementCounter:
    """Counts, per message type, what every client connection sends; keeps the text of
    each statement executed (for one request's listing)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kinds: Counter[str] = Counter()
        self.texts: list[str] = []

    def snapshot(self) -> tuple[Counter[str], int]:
        with self.lock:
            return Counter(self.kinds), len(self.texts)

    def texts_since(self, index: int) -> list[str]:
        with self.lock:
            return self.texts[index:]

    def message(
        self, kind: str, body: bytes, prepared: dict[bytes, str], portals: dict[bytes, str]
    ) -> None:
        """One client message: ``prepared`` and ``portals`` are its connection's names."""
        text = None
        if kind == "Q":
            text = body.rstrip(b"\0").decode(errors="replace")
        elif kind == "P":
            name, _, rest = body.partition(b"\0")
            prepared[name] = rest.partition(b"\0")[0].decode(errors="replace")
        elif kind == "B":
            portal, _, rest = body.partition(b"\0")
            portals[portal] = prepared.get(rest.partition(b"\0")[0], "?")
        elif kind == "E":
            text = portals.get(body.partition(b"\0")[0], "?")
        with self.lock:
            self.kinds[kind] += 1
            if text is not None:
                self.texts.append(" ".join(text.split()))


def per_request(before: Counter[str], after: Counter[str], requests: int) -> dict[str, float]:
    """Statements and round trips per request between two snapshots."""
    delta = {k: after[k] - before[k] for k in "QESP"}
    return {
        "statements": round((delta["Q"] + delta["E"]) / requests, 2),
        "round_trips": round((delta["Q"] + delta["S"]) / requests, 2),
        "prepares": round(delta["P"] / requests, 2),
    }


class CountingProxy:
    """The proxy, on its own event loop in a thread: ``start()`` returns its port."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.counter = StatementCounter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> int:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the counting proxy did not start")
        return self.port

    def stop(self) -> None:
        """Closes every connection still open, then the loop and its thread."""
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _connection(self, client: asyncio.StreamReader, reply: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            reply.close()
            return
        back = asyncio.ensure_future(_forward(up_reader, reply))
        self._tasks.add(back)
        back.add_done_callback(self._tasks.discard)
        try:
            # Startup packets have no type byte; an encryption request is refused here.
            while True:
                head = await client.readexactly(4)
                body = await client.readexactly(struct.unpack("!I", head)[0] - 4)
                code = struct.unpack("!I", body[:4])[0] if len(body) >= 4 else 0
                if code not in _ENCRYPTION_REQUESTS:
                    up_writer.write(head + body)
                    break
                reply.write(b"N")
                await reply.drain()
            prepared: dict[bytes, str] = {}
            portals: dict[bytes, str] = {}
            while True:
                head = await client.readexactly(5)
                body = await client.readexactly(struct.unpack("!I", head[1:])[0] - 4)
                self.counter.message(chr(head[0]), body, prepared, portals)
                up_writer.write(head + body)
                await up_writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            up_writer.close()
            back.cancel()
            with suppress(Exception):
                reply.close()


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with suppress(ConnectionError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with suppress(Exception):
        writer.close()

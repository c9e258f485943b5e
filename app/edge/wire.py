"""uvicorn's HTTP/1.1 protocol (httptools), writing each response's head together with
its body: one ``send`` to the socket per response instead of two.

uvicorn writes the status line and headers when the app sends ``http.response.start``
and the body when it sends ``http.response.body``: two system calls, and on the
loopback two trips through the TCP stack, which are about a tenth of a small request's
CPU (docs/performance.md). Here the cycle keeps the head it wrote and writes it with the
first body message (a response without a body, HEAD or 204, writes the head alone when
it ends). Everything else is uvicorn's own code: the head's bytes, keep-alive,
``Connection: close``, the 100-continue line, pipelined requests.

A cycle whose app fails after ``http.response.start`` closes the connection without
the head (uvicorn closes it after the head): the client sees a cut-off answer either way.

This leans on how uvicorn's protocol works inside (fenced like app/db/driver.py; a
canary in tests/test_internals.py): ``on_headers_complete`` makes the request's
``RequestResponseCycle`` as ``self.cycle``, and the cycle writes through
``self.transport``, with ``flow.drain()`` as the only wait in its ``send``.
"""

from __future__ import annotations

import asyncio
from typing import cast

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class _Kept:
    """Stands in for the transport while uvicorn's ``send`` runs: keeps what it writes
    and whether it closed the connection."""

    __slots__ = ("closed", "parts")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


class OneWriteCycle(RequestResponseCycle):
    """A request's cycle whose response head waits for its first body message."""

    head = b""  # written, not yet sent

    async def send(self, message: ASGISendEvent) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()  # uvicorn's own wait, done before the swap below
        real = self.transport
        kept = _Kept()
        # No await from here to the restore: no other code sees the stand-in.
        self.transport = cast(asyncio.Transport, kept)
        try:
            await super().send(message)
        finally:
            self.transport = real
        if self.disconnected:
            self.head = b""
            return
        if message["type"] == "http.response.start":
            self.head = b"".join(kept.parts)
            return
        data, self.head = self.head + b"".join(kept.parts), b""
        if data:
            real.write(data)
        if kept.closed:
            real.close()


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``OneWriteCycle`` for every request
    (``uvicorn.run(http=…)``: app.cli's ``serve``)."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and type(cycle) is RequestResponseCycle:
            cycle.__class__ = OneWriteCycle

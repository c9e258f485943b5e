"""A real HTTP receiver on 127.0.0.1 for webhook tests: records each request (headers,
body) and answers the next of its scripted status codes (then 200). Given a TLS context
it speaks HTTPS and records the server name (SNI) each client asked for."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    port: int = 0
    scheme: str = "http"
    host: str = "127.0.0.1"  # as the URL names it
    server_names: list[str | None] = field(default_factory=list)  # SNI of each TLS client
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set at each request

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/hooks"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(path, headers, body.decode()))
            self.arrived.set()
            status = self.answers.pop(0) if self.answers else 200
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".encode()
            )
            await writer.drain()
        finally:
            writer.close()


@asynccontextmanager
async def receiver(
    *answers: int, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1", bind: str = ""
) -> AsyncIterator[Receiver]:
    """Listens on ``bind`` (default: ``host``); with ``tls``, HTTPS."""
    r = Receiver(answers=list(answers), scheme="https" if tls else "http", host=host)
    if tls is not None:
        tls.sni_callback = lambda _socket, name, _context: r.server_names.append(name)
    server = await asyncio.start_server(r.handle, bind or host, 0, ssl=tls)
    r.port = server.sockets[0].getsockname()[1]
    try:
        yield r
    finally:
        server.close()
        await server.wait_closed()

"""Hostile inputs for ``scripts/bench --adversarial``, and the small HTTP/1.1 client over
raw asyncio sockets that sends them.

The client only ever connects to 127.0.0.1; every exchange is bounded in time (the
caller's timeout), in what it writes (a streamed body stops at ``stream_cap``) and in what
it keeps of an answer (the first 256 KiB, enough for the status and the error codes).

Every document sent with a valid token is unique (its operation name or aliases carry
the request's number): a gateway that caches parsed documents by text must still parse
each one, as it would for a real attacker.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

CHUNK = 64 * 1024
DECLARED_HUGE = 300 * 2**20  # the Content-Length an oversized stream announces
KEEP = 256 * 1024  # bytes of an answer kept for its error codes
_CODE = re.compile(rb'"code"\s*:\s*"([A-Za-z0-9_]+)"')


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Attacker:
    """A user of the benchmark's dataset playing the attacker, with a valid token."""

    user_id: int
    token: str
    slug: str  # a workspace where it is an ACTIVE member


@dataclass(frozen=True)
class Hostile:
    body: bytes
    token: str | None = None  # None: no Authorization header
    declared_length: int | None = None  # set: announce this, stream ``stream_cap`` bytes
    stream_cap: int = 0


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    make: Callable[[int, Attacker], Hostile]
    expected: str  # what a defended gateway answers (for the reader of the report)
    share: float = 1.0  # fraction of the per-kind phase's request count (big bodies: less)


def gql(query: str, variables: dict[str, Any] | None = None) -> bytes:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    return orjson.dumps(payload)


def heavy_anonymous(n: int) -> str:
    """~16 KB: ~700 repetitions of ``viewer { workspaces { id } }`` (costly to validate)."""
    return f"query H{n}{{" + " ".join(["viewer{workspaces{id}}"] * 700) + "}"


def alias_bomb(n: int, slug: str) -> str:
    """1,600 aliases of one workspace's handbook (a text field behind a permission)."""
    field = f'workspace(slug:"{slug}"){{settings{{general{{handbook}}}}}}'
    return "{" + " ".join(f"a{n}x{i}:{field}" for i in range(1600)) + "}"


def field_bomb(n: int, fields: int = 3000) -> str:
    """``fields`` repetitions of one field (no alias; quadratic for overlap validation):
    the run makes it as large as MAX_TOKENS admits, the most parsing one request buys."""
    return f"query F{n}{{viewer{{" + " ".join(["name"] * fields) + "}}"


def deep_nesting(n: int, cycles: int = 60) -> str:
    """180 levels (User → workspaces → viewerMembership → user → …): a valid document far
    beyond MAX_DEPTH and below graphql-core's own parser nesting limit."""
    down = "workspaces{viewerMembership{user{" * cycles
    return f"query D{n}{{viewer{{{down}id{'}}}' * cycles}}}}}"


def fragment_bomb(n: int, depth: int = 24) -> str:
    """Each fragment spreads the next twice: 2^24 fields for a naive expansion, 25
    fragments (under MAX_FRAGMENTS) and < 1 KB of text."""
    parts = [f"query B{n}{{viewer{{...F0}}}}"]
    parts += [f"fragment F{i} on User{{id ...F{i + 1} ...F{i + 1}}}" for i in range(depth)]
    parts.append(f"fragment F{depth} on User{{id name}}")
    return " ".join(parts)


def fragment_cycle(n: int) -> str:
    """Two fragments spreading each other (invalid; a naive walk never ends)."""
    return (
        f"query C{n}{{viewer{{...A}}}} fragment A on User{{id ...B}} "
        "fragment B on User{name ...A}"
    )


def cost_bomb(n: int) -> str:
    """Nested 100-item connections, depth 10, ~10 fields: cost far above MAX_QUERY_COST."""
    return (
        f"query K{n}{{workspaces{{members(first:100){{nodes{{user{{workspaces{{"
        "members(first:100){nodes{id user{name email" + "}" * 9
    )


def unique_document(n: int) -> str:
    """A valid, cheap, unique document (~1 KB, 25 aliases, 127 fields, depth 3)."""
    aliases = " ".join(f"w{n}x{j}:workspaces{{id slug name logoUrl}}" for j in range(25))
    return f"query U{n}{{viewer{{id {aliases}}}}}"


def forged_token() -> str:
    """A well-formed HS256 token signed with the wrong secret."""
    import jwt

    claims = {"sub": "1", "iss": "harmony-dev", "exp": int(time.time()) + 3600}
    return jwt.encode(claims, "not-the-gateway-secret-" + "x" * 24, algorithm="HS256")


# Candidates for the rate-limit exhaustion, most expensive last: the run picks the most
# expensive one the gateway admits (below MAX_QUERY_COST), by the cost it reports.
_MEMBERS_100 = "members(first:100){nodes{id user{id name email} role{id name} teams{id name}}}"
_CONVERSATIONS = (
    "conversations(first:{n}){{nodes{{id title occurredAt host{{id name}} team{{id name}} "
    "participants{{name user{{id}}}}}}}}"
)
EXPENSIVE_CANDIDATES = (
    f"query E1($slug:String!){{workspace(slug:$slug){{{_MEMBERS_100}}}}}",
    f"query E2($slug:String!){{workspace(slug:$slug){{{_MEMBERS_100} "
    f"{_CONVERSATIONS.format(n=50)}}}}}",
    f"query E3($slug:String!){{workspace(slug:$slug){{{_MEMBERS_100} "
    f"{_CONVERSATIONS.format(n=100)}}}}}",
)


def kinds(
    greedy: Attacker, expensive: str, forged: str, stream_cap: int, max_tokens: int = 5000
) -> list[Kind]:
    """The hostile inputs, in the order the attackers cycle through them."""
    heavy_kb = len(heavy_anonymous(0)) // 1024
    bomb = max(100, max_tokens - 10)  # 7 more tokens: query, its name, braces, viewer
    pad = "x" * (2 * 2**20)
    return [
        Kind(
            "anonymous_heavy",
            f"no token, {heavy_kb} KB document of 700 x viewer{{workspaces{{id}}}}",
            lambda n, a: Hostile(gql(heavy_anonymous(n))),
            "401 UNAUTHENTICATED before any parsing",
        ),
        Kind(
            "invalid_token_heavy",
            "the same document with a forged token (HS256, wrong secret)",
            lambda n, a: Hostile(gql(heavy_anonymous(n)), token=forged),
            "401 UNAUTHENTICATED before any parsing",
        ),
        Kind(
            "alias_bomb",
            "1,600 aliases of workspace(slug){settings{general{handbook}}}, valid token",
            lambda n, a: Hostile(gql(alias_bomb(n, a.slug)), token=a.token),
            "TOO_MANY_TOKENS or TOO_MANY_ALIASES",
        ),
        Kind(
            "field_bomb",
            f"{bomb:,} x the same field (viewer{{name name …}}: just under MAX_TOKENS), "
            "valid token",
            lambda n, a: Hostile(gql(field_bomb(n, bomb)), token=a.token),
            "TOO_MANY_FIELDS before validation",
        ),
        Kind(
            "deep_nesting",
            "180 nested levels (workspaces → viewerMembership → user …), valid token",
            lambda n, a: Hostile(gql(deep_nesting(n)), token=a.token),
            "TOO_DEEP",
        ),
        Kind(
            "fragment_bomb",
            "25 fragments, each spreading the next twice (2^24 fields expanded), valid token",
            lambda n, a: Hostile(gql(fragment_bomb(n)), token=a.token),
            "a limit code (fields/cost) without expanding",
        ),
        Kind(
            "fragment_cycle",
            "two fragments spreading each other, valid token",
            lambda n, a: Hostile(gql(fragment_cycle(n)), token=a.token),
            "a validation error, quickly",
        ),
        Kind(
            "cost_bomb",
            "nested members(first:100) twice (depth 10), valid token",
            lambda n, a: Hostile(gql(cost_bomb(n)), token=a.token),
            "QUERY_TOO_COMPLEX",
        ),
        Kind(
            "oversized_stream",
            f"Content-Length 300 MiB, body streamed in 64 KiB chunks (at most "
            f"{stream_cap // 2**20} MiB sent), valid token",
            lambda n, a: Hostile(
                b"", token=a.token, declared_length=DECLARED_HUGE, stream_cap=stream_cap
            ),
            "413 at once, connection closed (a reset while still sending is that close)",
            share=0.1,
        ),
        Kind(
            "oversized_body",
            "a 2 MiB body actually sent (a padding variable), valid token",
            lambda n, a: Hostile(gql(f"query P{n}{{viewer{{id}}}}", {"pad": pad}), token=a.token),
            "413 (a reset while still sending: the gateway closed early)",
            share=0.25,
        ),
        Kind(
            "unique_flood",
            "distinct valid documents (25 unique aliases each), valid token",
            lambda n, a: Hostile(gql(unique_document(n)), token=a.token),
            "200 until the attacker's bucket is empty, then 429",
        ),
        Kind(
            "rate_limit_exhaustion",
            "the most expensive admitted query, repeated with one attacker token",
            lambda n, a: Hostile(gql(expensive, {"slug": greedy.slug}), token=greedy.token),
            "429 RATE_LIMITED with Retry-After once the bucket is empty",
        ),
    ]


# --------------------------------------------------------------------------- client


@dataclass
class Outcome:
    status: int | None  # None: no answer (timeout, reset, refused)
    codes: tuple[str, ...] = ()
    error: str | None = None  # the client's view when there is no answer
    seconds: float = 0.0
    retry_after: str | None = None
    # Streams: body bytes the client wrote before the answer or the close (the kernel's
    # socket buffers included: an upper bound of what the gateway read).
    body_sent: int | None = None
    data: bool = False  # the answer has a non-null "data"
    cost: Any = None  # extensions.cost, when the answer is small enough to parse


@dataclass
class Tally:
    """What one kind of hostile input got back."""

    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    retry_after: set[str] = field(default_factory=set)
    body_sent_max: int | None = None

    def add(self, outcome: Outcome) -> None:
        self.sent += 1
        self.statuses[str(outcome.status) if outcome.status else "none"] += 1
        for code in outcome.codes or (("ok",) if outcome.status == 200 else ()):
            self.codes[code] += 1
        if outcome.error:
            self.errors[outcome.error] += 1
        self.seconds.append(outcome.seconds)
        if outcome.retry_after is not None and len(self.retry_after) < 5:
            self.retry_after.add(outcome.retry_after)
        if outcome.body_sent is not None:
            self.body_sent_max = max(self.body_sent_max or 0, outcome.body_sent)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.seconds)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

        out: dict[str, Any] = {
            "sent": self.sent,
            "statuses": dict(self.statuses.most_common()),
            "codes": dict(self.codes.most_common()),
            "client_errors": dict(self.errors.most_common()),
            "p50_ms": pct(0.5),
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
        }
        if self.retry_after:
            out["retry_after"] = sorted(self.retry_after)
        if self.body_sent_max is not None:
            out["body_bytes_sent_max"] = self.body_sent_max
        return out


class Connection:
    """One keep-alive connection to the gateway, reopened after a close, an error, or
    ``reuse`` requests (so that the load spreads over the gateway's workers, which accept
    connections, not requests)."""

    def __init__(self, port: int, reuse: int = 50) -> None:
        self.port = port
        self.reuse = reuse
        self.used = 0
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        stale = self.used >= self.reuse
        if stale or self.writer is None or self.writer.is_closing() or self.reader is None:
            await self.close()
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port, limit=2**20
            )
        self.used += 1
        return self.reader, self.writer

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        self.used = 0
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    def head(self, h: Hostile) -> bytes:
        length = h.declared_length if h.declared_length is not None else len(h.body)
        lines = [
            "POST /graphql HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {length}",
        ]
        if h.token is not None:
            lines.append(f"Authorization: Bearer {h.token}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def send(self, h: Hostile, seconds: float) -> Outcome:
        """One exchange, within ``seconds`` (no answer: an Outcome with ``error``)."""
        started = time.monotonic()
        try:
            if h.declared_length is not None:
                outcome = await asyncio.wait_for(self._stream(h, seconds), seconds)
            else:
                outcome = await asyncio.wait_for(self._exchange(h), seconds)
        except TimeoutError:
            outcome = Outcome(None, error="timeout")
            await self.close()
        except asyncio.IncompleteReadError:
            outcome = Outcome(None, error="closed without an answer")
            await self.close()
        except (ConnectionError, OSError) as exc:
            outcome = Outcome(None, error=type(exc).__name__)
            await self.close()
        except ValueError as exc:  # a malformed answer
            outcome = Outcome(None, error=f"bad answer: {exc}"[:80])
            await self.close()
        outcome.seconds = time.monotonic() - started
        return outcome

    async def _exchange(self, h: Hostile) -> Outcome:
        reader, writer = await self.open()
        writer.write(self.head(h) + h.body)
        await writer.drain()
        outcome, close = await read_answer(reader)
        if close:
            await self.close()
        return outcome

    async def _stream(self, h: Hostile, seconds: float) -> Outcome:
        """Announce ``declared_length``, stream zeros until the gateway answers, closes,
        stops reading, or ``stream_cap`` is reached; always on a fresh connection."""
        await self.close()
        reader, writer = await self.open()
        sent = 0
        try:
            writer.write(self.head(h))
            await writer.drain()
            answer = asyncio.ensure_future(read_answer(reader))
            chunk = b"0" * CHUNK
            try:
                while sent < h.stream_cap and not answer.done():
                    writer.write(chunk)
                    # A gateway that stops reading makes drain() wait: give up after 2 s.
                    await asyncio.wait_for(writer.drain(), 2.0)
                    sent += len(chunk)
            except (ConnectionError, OSError, TimeoutError):
                pass
            try:
                outcome, _ = await asyncio.wait_for(answer, min(5.0, seconds))
            except TimeoutError:
                answer.cancel()
                outcome = Outcome(None, error="no answer after the streamed body")
            except asyncio.IncompleteReadError:
                outcome = Outcome(None, error="closed without an answer")
            except (ConnectionError, OSError) as exc:
                outcome = Outcome(None, error=type(exc).__name__)
            outcome.body_sent = sent
            return outcome
        finally:
            await self.close()


async def read_answer(reader: asyncio.StreamReader) -> tuple[Outcome, bool]:
    """Status, error codes and Retry-After of one HTTP/1.1 answer; whether to close."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError(lines[0][:60])
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    kept = bytearray()
    close = headers.get("connection", "").lower() == "close"
    if "content-length" in headers:
        remaining = int(headers["content-length"])
        while remaining > 0:
            piece = await reader.read(min(remaining, CHUNK))
            if not piece:
                raise asyncio.IncompleteReadError(bytes(kept), remaining)
            remaining -= len(piece)
            if len(kept) < KEEP:
                kept += piece
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            piece = await reader.readexactly(size + 2)
            if len(kept) < KEEP:
                kept += piece[:-2]
    else:
        close = True
        while piece := await reader.read(CHUNK):
            if len(kept) < KEEP:
                kept += piece
    codes = tuple(dict.fromkeys(c.decode() for c in _CODE.findall(bytes(kept[:KEEP]))))[:5]
    data, cost = False, None
    if len(kept) < KEEP:
        try:
            parsed = orjson.loads(bytes(kept))
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            data = parsed.get("data") is not None
            extensions = parsed.get("extensions")
            if isinstance(extensions, dict):
                cost = extensions.get("cost")
    outcome = Outcome(status, codes, retry_after=headers.get("retry-after"), data=data, cost=cost)
    return outcome, close

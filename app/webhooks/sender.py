"""One signed delivery attempt (Standard Webhooks): POST the body with ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``, signed by the ``standardwebhooks`` package. Redirects are not
followed; only a 2xx answer within the timeout is a success. The response body is
never read. The connection goes to the address the URL check accepted (``Host`` and,
over TLS, the server name and certificate check stay the URL's host)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from math import floor
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks import Webhook

from app.domain.webhooks.urls import IPAddress, UnsafeURLError, destination

USER_AGENT = "Harmony-Webhooks/1"
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def headers(secret: str, event_id: str, body: str, at: datetime) -> dict[str, str]:
    at = at.astimezone(UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
    }


async def send(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    event_id: str,
    body: str,
    *,
    production: bool,
) -> Outcome:
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        address = await destination(url, production=production)  # DNS may have changed
    except UnsafeURLError as exc:
        return Outcome(None, elapsed(), f"refused: {exc}"[:MAX_ERROR])
    assert address is not None
    target, host = pinned(url, address)
    request = client.build_request(
        "POST",
        target,
        content=body.encode(),
        headers={**headers(secret, event_id, body, datetime.now(UTC)), "host": host},
        extensions={"sni_hostname": urlsplit(url).hostname} if target.startswith("https") else {},
    )
    try:
        response = await client.send(request, stream=True, follow_redirects=False)
        await response.aclose()
    except httpx.TimeoutException:
        return Outcome(None, elapsed(), "timeout")
    except httpx.HTTPError as exc:
        return Outcome(None, elapsed(), f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Outcome(response.status_code, elapsed(), error)


def pinned(url: str, address: IPAddress) -> tuple[str, str]:
    """``url`` with its host replaced by ``address``, and the ``Host`` header that names
    the original host (and port, when the URL gives one)."""
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=literal + port)), f"{parts.hostname}{port}"

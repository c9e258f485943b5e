"""Where webhooks may be sent (server-side request forgery).

In production an endpoint is an ``https`` URL whose host resolves only to public
addresses: loopback, private, link-local, multicast, reserved and unspecified ranges
are refused, IPv6 included, and an IPv4-mapped IPv6 address is judged as the IPv4
address it maps. The check runs when an endpoint is created or changed, and again
before every delivery (DNS may have changed since). In development (``APP_ENV``) any
``http`` or ``https`` URL is accepted, so that a receiver on 127.0.0.1 works.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(ValueError):
    """Why a URL may not receive webhooks (said to the user as is)."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


def check_form(url: str, *, production: bool) -> str:
    """The URL's host, if its form is acceptable (scheme, host, no credentials)."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError(f"The URL is limited to {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError as exc:
        raise UnsafeURLError("This is not a valid URL.") from exc
    schemes = ("https",) if production else ("https", "http")
    if parts.scheme not in schemes:
        raise UnsafeURLError(
            "The URL must start with https://."
            if production
            else "The URL must start with https:// or http://."
        )
    if not parts.hostname:
        raise UnsafeURLError("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURLError("The URL may not hold credentials (user:password@).")
    if any(c.isspace() for c in url):
        raise UnsafeURLError("The URL may not hold spaces.")
    return parts.hostname


async def resolve(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURLError(f"The host {host} does not resolve.") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


async def check_url(url: str, *, production: bool) -> None:
    """Raise UnsafeURLError unless webhooks may be sent to ``url`` now."""
    await destination(url, production=production, resolve_always=False)


async def destination(
    url: str, *, production: bool, resolve_always: bool = True
) -> IPAddress | None:
    """The address a delivery to ``url`` connects to: one of those its host resolves to
    now, all of them public in production (else UnsafeURLError). The sender connects to
    that very address, so that a name that resolves again differently between the
    check and the connection (DNS rebinding) cannot lead it elsewhere. None when not
    resolved (``resolve_always`` false outside production: the create-time check)."""
    host = check_form(url, production=production)
    if not production and not resolve_always:
        return None
    addresses = await resolve(host)
    if not addresses:
        raise UnsafeURLError(f"The host {host} does not resolve.")
    if production and not all(is_public(a) for a in addresses):
        raise UnsafeURLError(
            f"The host {host} resolves to a private, loopback or reserved address: "
            "webhooks go to public addresses only."
        )
    return addresses[0]

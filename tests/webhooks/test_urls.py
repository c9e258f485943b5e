"""Where webhooks may go (SSRF): in production only https URLs whose host resolves to
public addresses, checked at creation and again before each attempt; in development
loopback over http too."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from app.domain.webhooks.urls import UnsafeURLError, check_url
from app.webhooks.sender import pinned, send
from tests.webhooks.receiver import receiver

SECRET = "whsec_" + "A" * 32

REFUSED_IN_PRODUCTION = [
    "http://93.184.215.14/hook",  # not https
    "https://127.0.0.1/hook",
    "https://localhost/hook",  # resolves to loopback
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
    "https://100.64.0.1/hook",  # shared address space (carrier-grade NAT)
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",  # multicast
    "https://240.0.0.1/hook",  # reserved
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://[ff02::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "https://[::ffff:10.0.0.1]/hook",
    "https://user:pw@93.184.215.14/hook",
    "ftp://93.184.215.14/hook",
    "https:///hook",
    "not a url",
    "https://no-such-host.invalid/hook",
]


@pytest.mark.parametrize("url", REFUSED_IN_PRODUCTION)
async def test_production_refuses_urls_that_are_not_https_to_public_addresses(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        await check_url(url, production=True)


@pytest.mark.parametrize(
    "url", ["https://93.184.215.14/hook", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/x"]
)
async def test_production_accepts_https_to_public_addresses(url: str) -> None:
    await check_url(url, production=True)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hooks", "http://localhost/x", "https://10.0.0.1/x"]
)
async def test_development_accepts_loopback_and_http(url: str) -> None:
    await check_url(url, production=False)


async def test_development_still_refuses_other_schemes_and_credentials() -> None:
    for url in ("ftp://127.0.0.1/x", "http://a:b@127.0.0.1/x", "x" * 3000):
        with pytest.raises(UnsafeURLError):
            await check_url(url, production=False)


async def test_a_delivery_to_a_private_address_is_refused_before_any_connection() -> None:
    """At delivery time too (DNS may have changed since the endpoint was created)."""
    async with httpx.AsyncClient() as client:
        outcome = await send(
            client, "https://127.0.0.1:9/x", "whsec_" + "A" * 32, "msg_1", "{}", production=True
        )
    assert outcome.status_code is None and not outcome.succeeded
    assert outcome.error is not None and outcome.error.startswith("refused: ")


async def test_the_service_refuses_a_private_endpoint_in_production_as_a_user_error() -> None:
    from app.domain.errors import Refusal
    from app.domain.webhooks.service import _url

    with pytest.raises(Refusal) as refused:
        await _url("https://192.168.0.10/hook", production=True)
    assert (refused.value.code, refused.value.field) == ("INVALID_URL", ["input", "url"])


def test_a_delivery_connects_to_the_checked_address_and_names_the_host() -> None:
    v4 = ipaddress.ip_address("93.184.216.34")
    v6 = ipaddress.ip_address("2606:2800:220:1::1")
    assert pinned("https://hooks.example.com/in?a=1", v4) == (
        "https://93.184.216.34/in?a=1",
        "hooks.example.com",
    )
    assert pinned("https://Hooks.Example.com:8443/in", v6) == (
        "https://[2606:2800:220:1::1]:8443/in",
        "hooks.example.com:8443",
    )


async def test_a_delivery_by_name_reaches_the_resolved_address_with_the_names_host() -> None:
    async with receiver() as r, httpx.AsyncClient() as client:
        url = f"http://localhost:{r.port}/hooks"
        outcome = await send(client, url, SECRET, "msg_1", "{}", production=False)
    assert outcome.succeeded
    assert [(x.path, x.headers["host"]) for x in r.received] == [("/hooks", f"localhost:{r.port}")]

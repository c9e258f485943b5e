"""Deliveries over TLS to the address the SSRF check accepted (app.webhooks.sender): the
worker connects to that very address, while the certificate is verified against the
URL's host name (the TLS server name) and ``Host`` names it too. A real HTTPS receiver on
loopback with a certificate from a test CA, which the worker trusts the documented way
(``SSL_CERT_FILE``, docs/partners.md); the certificates carry DNS names only, no IP
address, so a check against the connected address could not pass."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.domain.webhooks.urls import resolve
from app.webhooks.worker import DeliveryWorker
from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import workspace_id
from tests.webhooks.receiver import receiver

ADA = "ada@acme.test"
CREATE = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret userErrors { code field message } }
}"""
CREATE_TEAM = """
mutation($ws: ID!) { createTeam(input: {workspaceId: $ws, name: "Over TLS"}) { team { id } } }"""
DELIVERIES = """
query {
  workspace(slug: "acme") {
    webhookEndpoints(first: 1) {
      nodes { deliveries(first: 5) { nodes { status success attempt statusCode error } } }
    }
  }
}"""


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    dns_names: tuple[str, ...] = (),
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(path: Path, *items: bytes) -> Path:
    path.write_bytes(b"".join(items))
    return path


@pytest.fixture
def test_ca(tmp_path: Path) -> tuple[Path, Callable[[str], ssl.SSLContext]]:
    """The CA file to trust, and a maker of server TLS contexts whose certificate (from
    that CA) names the given DNS name."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Harmony test CA", ca_key, "Harmony test CA", ca_key, ca=True)
    ca_file = _pem(tmp_path / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))

    def server(dns_name: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(
            dns_name, key, "Harmony test CA", ca_key, ca=False, dns_names=(dns_name,)
        )
        chain = _pem(
            tmp_path / f"{dns_name}.pem",
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(chain)
        return context

    return ca_file, server


@pytest.fixture
async def trusting_worker(
    engine: AsyncEngine,
    settings: Settings,
    test_ca: tuple[Path, Callable[[str], ssl.SSLContext]],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[DeliveryWorker]:
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca[0]))
    worker = DeliveryWorker(engine, settings)  # its client reads the trust at creation
    yield worker
    await worker.close()


async def _subscribe_and_change(client: GraphQLClient, url: str) -> None:
    ws = await workspace_id(client.engine, "acme")
    body = await client.query(
        CREATE, {"input": {"workspaceId": ws, "url": url, "events": ["team.created"]}}, as_=ADA
    )
    assert body["data"]["createWebhookEndpoint"]["userErrors"] == []
    await client.query(CREATE_TEAM, {"ws": ws}, as_=ADA)


async def _deliveries(client: GraphQLClient) -> list[dict[str, object]]:
    body = await client.query(DELIVERIES, as_=ADA)
    [endpoint] = body["data"]["workspace"]["webhookEndpoints"]["nodes"]
    nodes: list[dict[str, object]] = endpoint["deliveries"]["nodes"]
    return nodes


async def test_a_tls_delivery_goes_to_the_checked_address_and_verifies_the_host_name(
    client: GraphQLClient,
    trusting_worker: DeliveryWorker,
    test_ca: tuple[Path, Callable[[str], ssl.SSLContext]],
) -> None:
    # The address the sender's check picks for "localhost" is the one it connects to.
    [address, *_] = await resolve("localhost")
    tls = test_ca[1]("localhost")
    async with receiver(tls=tls, host="localhost", bind=str(address)) as r:
        await _subscribe_and_change(client, r.url)
        assert await trusting_worker.run_once() == 1
    [got] = r.received
    assert r.server_names == ["localhost"]  # the TLS server name is the URL's host
    assert got.headers["host"] == f"localhost:{r.port}"
    assert got.path == "/hooks"
    assert await _deliveries(client) == [
        {"status": "SUCCEEDED", "success": True, "attempt": 1, "statusCode": 200, "error": None}
    ]


async def test_a_certificate_for_another_name_is_refused_and_nothing_is_sent(
    client: GraphQLClient,
    trusting_worker: DeliveryWorker,
    test_ca: tuple[Path, Callable[[str], ssl.SSLContext]],
) -> None:
    [address, *_] = await resolve("localhost")
    tls = test_ca[1]("elsewhere.test")  # a valid certificate, for another host
    async with receiver(tls=tls, host="localhost", bind=str(address)) as r:
        await _subscribe_and_change(client, r.url)
        assert await trusting_worker.run_once() == 1
    assert r.received == []
    [delivery] = await _deliveries(client)
    assert delivery["success"] is False
    assert delivery["statusCode"] is None
    assert "CERTIFICATE_VERIFY_FAILED" in str(delivery["error"])
    assert "localhost" in str(delivery["error"])  # checked against the name, not the address

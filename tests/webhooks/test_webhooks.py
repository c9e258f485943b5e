"""Webhooks end to end, on both engines: endpoints registered through GraphQL, events
written to the outbox with their change, delivered by the worker to a real receiver on
127.0.0.1, signed per Standard Webhooks (verified with the ``standardwebhooks``
package), retried, redelivered; permissions and isolation."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from app.config import Settings
from app.db.types import utcnow
from app.graphql.ids import encode_id
from app.main import create_app
from app.webhooks.worker import DeliveryWorker
from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import one, workspace_id
from tests.webhooks.receiver import receiver

ADA, CY, DEE = "ada@acme.test", "cy@acme.test", "dee@globex.test"

CREATE = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    webhookEndpoint { id url events description enabled }
    secret
    userErrors { code field message }
  }
}"""
CREATE_TEAM = """
mutation($ws: ID!, $name: String!) {
  createTeam(input: {workspaceId: $ws, name: $name}) { team { id } userErrors { code } }
}"""
DELIVERIES = """
query($slug: String!) {
  workspace(slug: $slug) {
    webhookEndpoints(first: 10) {
      totalCount
      nodes {
        id url
        deliveries(first: 10) {
          totalCount
          nodes { id eventId eventType status success attempt statusCode error }
        }
      }
    }
  }
}"""


@pytest.fixture
async def worker(engine: AsyncEngine, settings: Settings) -> AsyncIterator[DeliveryWorker]:
    w = DeliveryWorker(engine, settings)
    yield w
    await w.close()


async def _create(
    client: GraphQLClient, url: str, *, slug: str = "acme", as_: str = ADA, **more: Any
) -> dict[str, Any]:
    ws = await workspace_id(client.engine, slug)
    body = await client.query(CREATE, {"input": {"workspaceId": ws, "url": url, **more}}, as_=as_)
    return body


async def _team(client: GraphQLClient, name: str, *, slug: str = "acme", as_: str = ADA) -> Any:
    ws = await workspace_id(client.engine, slug)
    return await client.query(CREATE_TEAM, {"ws": ws, "name": name}, as_=as_)


async def _deliveries(client: GraphQLClient, slug: str = "acme", as_: str = ADA) -> list[Any]:
    body = await client.query(DELIVERIES, {"slug": slug}, as_=as_)
    return [e["deliveries"] for e in body["data"]["workspace"]["webhookEndpoints"]["nodes"]]


async def test_a_change_is_delivered_signed_to_the_endpoint(
    client: GraphQLClient, worker: DeliveryWorker
) -> None:
    async with receiver() as r:
        created = (await _create(client, r.url, events=["team.created"], description="CRM"))[
            "data"
        ]["createWebhookEndpoint"]
        assert created["userErrors"] == []
        secret = created["secret"]
        assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 32
        endpoint = created["webhookEndpoint"]
        assert endpoint | {"id": None} == {
            "id": None,
            "url": r.url,
            "events": ["team.created"],
            "description": "CRM",
            "enabled": True,
        }
        team = (await _team(client, "Webhooks"))["data"]["createTeam"]["team"]["id"]
        assert await worker.run_once() == 1
        assert len(r.received) == 1
        got = r.received[0]
        payload = Webhook(secret).verify(got.body, got.headers)
        assert got.headers["webhook-id"].startswith("msg_")
        assert got.headers["content-type"] == "application/json"
        ws = await workspace_id(client.engine, "acme")
        ada = encode_id(
            "User", await one(client.engine, "SELECT id FROM users WHERE email = :e", e=ADA)
        )
        assert payload["type"] == "team.created"
        assert payload["data"] == {
            "workspaceId": ws,
            "object": {"type": "Team", "id": team},
            "actorId": ada,
            "apiKeyId": None,
            "action": "team.created",
            "changes": {"name": "Webhooks", "memberIds": []},
        }
        # A wrong secret does not verify it.
        with pytest.raises(Exception, match="signature"):
            Webhook("whsec_" + "A" * 32).verify(got.body, got.headers)
    [deliveries] = await _deliveries(client)
    assert deliveries["totalCount"] == 1
    [d] = deliveries["nodes"]
    assert d | {"id": None} == {
        "id": None,
        "eventId": got.headers["webhook-id"],
        "eventType": "team.created",
        "status": "SUCCEEDED",
        "success": True,
        "attempt": 1,
        "statusCode": 200,
        "error": None,
    }
    assert await worker.run_once() == 0  # nothing left to send


async def test_the_secret_is_shown_once_and_never_stored_in_clear(
    client: GraphQLClient,
) -> None:
    created = (await _create(client, "http://127.0.0.1:9/x"))["data"]["createWebhookEndpoint"]
    secret = created["secret"]
    stored = await one(client.engine, "SELECT secret_sealed FROM webhook_endpoints")
    assert secret not in stored and secret.removeprefix("whsec_") not in stored
    # No field reads it back: the schema has none.
    body = await client.query(
        '{ workspace(slug: "acme") { webhookEndpoints { nodes { secret } } } }', as_=ADA
    )
    assert "Cannot query field 'secret'" in body["errors"][0]["message"]


async def test_events_filter_and_unsubscribed_types_send_nothing(
    client: GraphQLClient, worker: DeliveryWorker
) -> None:
    async with receiver() as r:
        await _create(client, r.url, events=["member.removed"])
        await _team(client, "Not sent")
        assert await worker.run_once() == 0
        assert r.received == []


async def test_a_refused_mutation_sends_nothing(
    client: GraphQLClient, worker: DeliveryWorker
) -> None:
    async with receiver() as r:
        await _create(client, r.url)
        refused = await _team(client, "Sales")  # the demo has a team named Sales
        assert refused["data"]["createTeam"]["userErrors"] == [{"code": "NAME_TAKEN"}]
        assert await one(client.engine, "SELECT count(*) FROM webhook_deliveries") == 0
        assert await worker.run_once() == 0
        assert r.received == []


async def test_a_failed_attempt_is_retried_with_backoff(
    client: GraphQLClient, worker: DeliveryWorker
) -> None:
    async with receiver(500) as r:
        secret = (await _create(client, r.url))["data"]["createWebhookEndpoint"]["secret"]
        await _team(client, "Retried")
        now = utcnow()
        assert await worker.run_once(now) == 1
        [d] = (await _deliveries(client))[0]["nodes"]
        assert (d["status"], d["attempt"], d["statusCode"], d["error"]) == (
            "PENDING",
            1,
            500,
            "HTTP 500",
        )
        assert await worker.run_once(now + timedelta(seconds=3)) == 0  # not yet (5 s ± 20%)
        assert await worker.run_once(now + timedelta(seconds=7)) == 1
        [d] = (await _deliveries(client))[0]["nodes"]
        assert (d["status"], d["attempt"], d["statusCode"]) == ("SUCCEEDED", 2, 200)
        assert len(r.received) == 2
        assert r.received[0].headers["webhook-id"] == r.received[1].headers["webhook-id"]
        assert r.received[0].body == r.received[1].body
        Webhook(secret).verify(r.received[1].body, r.received[1].headers)


async def test_an_unreachable_endpoint_fails_after_the_last_attempt_and_can_be_redelivered(
    client: GraphQLClient, engine: AsyncEngine, settings: Settings
) -> None:
    w = DeliveryWorker(engine, settings.model_copy(update={"webhooks_max_attempts": 2}))
    try:
        async with receiver(503, 503) as r:
            await _create(client, r.url)
            await _team(client, "Doomed")
            now = utcnow()
            assert await w.run_once(now) == 1
            assert await w.run_once(now + timedelta(minutes=1)) == 1
            [d] = (await _deliveries(client))[0]["nodes"]
            assert (d["status"], d["success"], d["attempt"]) == ("FAILED", False, 2)
            assert await w.run_once(now + timedelta(days=1)) == 0
            redeliver = await client.query(
                "mutation($id: ID!) { redeliverWebhook(input: {deliveryId: $id}) "
                "{ delivery { eventId status attempt } userErrors { code } } }",
                {"id": d["id"]},
                as_=ADA,
            )
            assert redeliver["data"]["redeliverWebhook"] == {
                "delivery": {"eventId": d["eventId"], "status": "PENDING", "attempt": 0},
                "userErrors": [],
            }
            assert await w.run_once() == 1
            assert [x.headers["webhook-id"] for x in r.received] == [d["eventId"]] * 3
            nodes = (await _deliveries(client))[0]["nodes"]
            assert [(n["status"], n["attempt"]) for n in nodes] == [
                ("SUCCEEDED", 1),
                ("FAILED", 2),
            ]
    finally:
        await w.close()


async def test_a_deleted_endpoint_receives_nothing_more(
    client: GraphQLClient, worker: DeliveryWorker
) -> None:
    async with receiver() as r:
        endpoint = (await _create(client, r.url))["data"]["createWebhookEndpoint"][
            "webhookEndpoint"
        ]["id"]
        await _team(client, "Pending")
        deleted = await client.query(
            "mutation($id: ID!) { deleteWebhookEndpoint(input: {webhookEndpointId: $id}) "
            "{ deletedWebhookEndpointId userErrors { code } } }",
            {"id": endpoint},
            as_=ADA,
        )
        assert deleted["data"]["deleteWebhookEndpoint"] == {
            "deletedWebhookEndpointId": endpoint,
            "userErrors": [],
        }
        assert await worker.run_once() == 0
        assert r.received == []


async def test_a_paused_endpoint_gets_no_new_events_and_a_rotated_secret_signs_at_once(
    client: GraphQLClient, worker: DeliveryWorker
) -> None:
    async with receiver() as r:
        created = (await _create(client, r.url))["data"]["createWebhookEndpoint"]
        endpoint, old = created["webhookEndpoint"]["id"], created["secret"]
        update = (
            "mutation($id: ID!, $on: Boolean!) { updateWebhookEndpoint(input: "
            "{webhookEndpointId: $id, enabled: $on}) { webhookEndpoint { enabled } userErrors { code } } }"
        )
        await client.query(update, {"id": endpoint, "on": False}, as_=ADA)
        await _team(client, "While paused")
        await client.query(update, {"id": endpoint, "on": True}, as_=ADA)
        assert await worker.run_once() == 0
        rotated = await client.query(
            "mutation($id: ID!) { rotateWebhookSecret(input: {webhookEndpointId: $id}) "
            "{ secret userErrors { code } } }",
            {"id": endpoint},
            as_=ADA,
        )
        new = rotated["data"]["rotateWebhookSecret"]["secret"]
        assert new.startswith("whsec_") and new != old
        await _team(client, "After rotation")
        assert await worker.run_once() == 1
        got = r.received[0]
        assert Webhook(new).verify(got.body, got.headers)["type"] == "team.created"
        with pytest.raises(Exception, match="signature"):
            Webhook(old).verify(got.body, got.headers)


# --- permissions and isolation ---------------------------------------------------------


async def test_permission_matrix_of_creating_an_endpoint(client: GraphQLClient) -> None:
    ws = await workspace_id(client.engine, "acme")
    variables = {"input": {"workspaceId": ws, "url": "http://127.0.0.1:9/x"}}
    anonymous = await client.post(CREATE, variables)
    assert anonymous.status_code == 401
    # Another workspace's member: answered like a workspace that does not exist.
    other = await client.query(CREATE, variables, as_=DEE)
    assert other["data"]["createWebhookEndpoint"]["userErrors"][0]["code"] == "NOT_FOUND"
    # A member without webhooks:create:all.
    member = await client.query(CREATE, variables, as_=CY)
    assert member["data"] is None
    assert member["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await one(client.engine, "SELECT count(*) FROM webhook_endpoints") == 0
    admin = await client.query(CREATE, variables, as_=ADA)
    assert admin["data"]["createWebhookEndpoint"]["userErrors"] == []
    # Reading them needs webhooks:read:all.
    read = await client.query(
        '{ workspace(slug: "acme") { webhookEndpoints { totalCount } } }', as_=CY
    )
    assert read["data"]["workspace"]["webhookEndpoints"] is None
    assert read["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_workspaces_never_see_or_receive_each_others_webhooks(
    client: GraphQLClient, worker: DeliveryWorker
) -> None:
    async with receiver() as acme, receiver() as globex:
        endpoint = (await _create(client, acme.url))["data"]["createWebhookEndpoint"][
            "webhookEndpoint"
        ]["id"]
        await _create(client, globex.url, slug="globex", as_=CY)
        await _team(client, "Globex only", slug="globex", as_=CY)
        assert await worker.run_once() == 1
        assert acme.received == []
        [got] = globex.received
        assert json.loads(got.body)["data"]["workspaceId"] == await workspace_id(
            client.engine, "globex"
        )
    # cy is Admin of globex: acme's endpoint is not in globex's list, nor found by ID.
    seen = await client.query(
        '{ workspace(slug: "globex") { webhookEndpoints { nodes { url } } } }', as_=CY
    )
    assert seen["data"]["workspace"]["webhookEndpoints"]["nodes"] == [{"url": globex.url}]
    by_id = await client.query(
        "query($id: ID!) { node(id: $id) { id } }", {"id": endpoint}, as_=DEE
    )
    assert by_id == {"data": {"node": None}}
    update = await client.query(
        "mutation($id: ID!) { deleteWebhookEndpoint(input: {webhookEndpointId: $id}) "
        "{ userErrors { code } } }",
        {"id": endpoint},
        as_=CY,
    )
    assert update["data"]["deleteWebhookEndpoint"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_bad_input_is_refused_with_typed_errors(client: GraphQLClient) -> None:
    for url, events, field in (
        ("ftp://example.com/x", [], ["input", "url"]),
        ("http://user:pw@127.0.0.1/x", [], ["input", "url"]),
        ("http://127.0.0.1:9/x", ["team.created", "no.such"], ["input", "events", "1"]),
    ):
        body = await _create(client, url, events=events)
        [error] = body["data"]["createWebhookEndpoint"]["userErrors"]
        assert error["field"] == field, error
        assert error["code"] == ("INVALID_URL" if field[1] == "url" else "INVALID_VALUE")
    assert await one(client.engine, "SELECT count(*) FROM webhook_endpoints") == 0


async def test_the_gateway_delivers_in_process_by_default(
    settings: Settings, engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    live = settings.model_copy(update={"webhooks_in_process": True, "webhooks_poll_seconds": 0.05})
    app = create_app(live, engine)
    async with receiver() as r, app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            client = GraphQLClient(http, live, owner_engine)
            secret = (await _create(client, r.url))["data"]["createWebhookEndpoint"]["secret"]
            await _team(client, "In process")
            for _ in range(200):
                if r.received:
                    break
                await asyncio.sleep(0.05)
        [got] = r.received
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "team.created"


ATTEMPTS = """
query($slug: String!) {
  workspace(slug: $slug) {
    webhookEndpoints(first: 10) {
      nodes {
        deliveries(first: 10) {
          nodes { id attempt attempts { attempt startedAt statusCode durationMs error success } }
        }
      }
    }
  }
}"""


async def test_every_attempt_of_a_delivery_is_listed_oldest_first(
    client: GraphQLClient, worker: DeliveryWorker
) -> None:
    async with receiver(500, 503) as r:
        await _create(client, r.url)
        await _team(client, "Persistent")
        now = utcnow()
        assert await worker.run_once(now) == 1
        assert await worker.run_once(now + timedelta(seconds=7)) == 1  # 5 s ± 20%
        assert await worker.run_once(now + timedelta(minutes=1)) == 1  # 30 s ± 20%
        assert len(r.received) == 3
    body = await client.query(ATTEMPTS, {"slug": "acme"}, as_=ADA)
    [d] = body["data"]["workspace"]["webhookEndpoints"]["nodes"][0]["deliveries"]["nodes"]
    assert d["attempt"] == 3
    attempts = d["attempts"]
    assert [(a["attempt"], a["statusCode"], a["error"], a["success"]) for a in attempts] == [
        (1, 500, "HTTP 500", False),
        (2, 503, "HTTP 503", False),
        (3, 200, None, True),
    ]
    started = [a["startedAt"] for a in attempts]
    assert started == sorted(started) and len(set(started)) == 3
    assert all(isinstance(a["durationMs"], int) and a["durationMs"] >= 0 for a in attempts)
    # The rows themselves: one per attempt, in the delivery's workspace.
    acme = await one(client.engine, "SELECT id FROM workspaces WHERE slug = 'acme'")
    assert (
        await one(
            client.engine,
            "SELECT count(*) FROM webhook_delivery_attempts WHERE workspace_id = :ws",
            ws=acme,
        )
        == 3
    )

    # Another workspace's member never sees them: the delivery is not found by ID.
    by_id = await client.query(
        "query($id: ID!) { node(id: $id) { ... on WebhookDelivery { attempts { attempt } } } }",
        {"id": d["id"]},
        as_=DEE,
    )
    assert by_id == {"data": {"node": None}}
    # A member of acme without webhooks:read:all does not either.
    member = await client.query(
        "query($id: ID!) { node(id: $id) { ... on WebhookDelivery { attempts { attempt } } } }",
        {"id": d["id"]},
        as_=CY,
    )
    assert member["data"] == {"node": None}


async def test_a_redelivery_lists_its_own_attempts(
    client: GraphQLClient, engine: AsyncEngine, settings: Settings
) -> None:
    w = DeliveryWorker(engine, settings.model_copy(update={"webhooks_max_attempts": 1}))
    try:
        async with receiver(503) as r:
            await _create(client, r.url)
            await _team(client, "Again")
            assert await w.run_once() == 1
            [failed] = (await _deliveries(client))[0]["nodes"]
            redeliver = await client.query(
                "mutation($id: ID!) { redeliverWebhook(input: {deliveryId: $id}) "
                "{ delivery { attempts { attempt } } userErrors { code } } }",
                {"id": failed["id"]},
                as_=ADA,
            )
            assert redeliver["data"]["redeliverWebhook"] == {
                "delivery": {"attempts": []},
                "userErrors": [],
            }
            assert await w.run_once() == 1
    finally:
        await w.close()
    body = await client.query(ATTEMPTS, {"slug": "acme"}, as_=ADA)
    nodes = body["data"]["workspace"]["webhookEndpoints"]["nodes"][0]["deliveries"]["nodes"]
    assert [[(a["attempt"], a["statusCode"]) for a in n["attempts"]] for n in nodes] == [
        [(1, 200)],  # the redelivery, newest first
        [(1, 503)],
    ]


async def test_every_documented_event_type_is_discoverable(client: GraphQLClient) -> None:
    body = await client.query("{ webhookEventTypes { name description } }", as_=CY)
    listed = body["data"]["webhookEventTypes"]
    names = [t["name"] for t in listed]
    assert names == sorted(set(names)) and all(t["description"] for t in listed)
    # The table of docs/partners.md#events, first column: every type it names, no other.
    guide = (Path(__file__).parents[2] / "docs" / "partners.md").read_text()
    table = guide.split("### Events", 1)[1].split("###", 1)[0]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([a-z_.]+)`", row)}
    assert set(names) == documented
    assert (await client.post("{ webhookEventTypes { name } }")).status_code == 401

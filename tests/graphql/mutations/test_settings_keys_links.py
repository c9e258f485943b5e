"""Settings, integrations, billing, API keys, share links, the audit log, GET refusal."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.client import GraphQLClient, without_cost
from tests.graphql.mutations.helpers import audit_actions, snapshot, workspace_id

GENERAL = """
mutation($input: UpdateGeneralSettingsInput!) {
  updateGeneralSettings(input: $input) {
    workspace { settings { general { name logoUrl handbook branding { primaryColor accentColor } } } }
    userErrors { code message field }
  }
}"""


async def test_admin_updates_general_settings(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    body = await client.query(
        GENERAL,
        {
            "input": {
                "workspaceId": ws,
                "name": "Acme Inc",
                "logoUrl": None,
                "handbook": "# New",
                "branding": {"primaryColor": "#00aa00"},
            }
        },
        as_="ada@acme.test",
    )
    assert body["data"]["updateGeneralSettings"] == {
        "workspace": {
            "settings": {
                "general": {
                    "name": "Acme Inc",
                    "logoUrl": None,
                    "handbook": "# New",
                    "branding": {"primaryColor": "#00AA00", "accentColor": "#F2CC60"},
                }
            }
        },
        "userErrors": [],
    }
    assert await audit_actions(owner_engine) == ["settings.general_updated"]


async def test_bad_settings_are_refused_with_codes_and_change_nothing(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    before = await snapshot(owner_engine)
    cases = [
        ({"logoUrl": "http://insecure.test/logo.png"}, "INVALID_URL", ["input", "logoUrl"]),
        ({"logoUrl": "javascript:alert(1)"}, "INVALID_URL", ["input", "logoUrl"]),
        ({"handbook": "x" * 100_001}, "TOO_LONG", ["input", "handbook"]),
        ({"name": "  "}, "INVALID_VALUE", ["input", "name"]),
        ({"name": "n" * 101}, "TOO_LONG", ["input", "name"]),
        (
            {"branding": {"accentColor": "red"}},
            "INVALID_VALUE",
            ["input", "branding", "accentColor"],
        ),
    ]
    for extra, code, field in cases:
        body = await client.query(
            GENERAL, {"input": {"workspaceId": ws, **extra}}, as_="ada@acme.test"
        )
        errors = body["data"]["updateGeneralSettings"]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, field)], extra
    assert await snapshot(owner_engine) == before


async def test_member_cannot_update_settings(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    body = await client.query(
        GENERAL, {"input": {"workspaceId": ws, "name": "Hacked"}}, as_="cy@acme.test"
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["path"] == ["updateGeneralSettings"]


async def test_cancel_subscription_keeps_workspace_and_data(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    query = """mutation($input: CancelSubscriptionInput!) {
      cancelSubscription(input: $input) { subscription { plan status } userErrors { code } } }"""
    first = await client.query(query, {"input": {"workspaceId": ws}}, as_="eve@acme.test")
    assert first["data"]["cancelSubscription"] == {
        "subscription": {"plan": "BUSINESS", "status": "CANCELED"},
        "userErrors": [],
    }
    again = await client.query(query, {"input": {"workspaceId": ws}}, as_="eve@acme.test")
    assert again["data"]["cancelSubscription"]["userErrors"] == [{"code": "ALREADY_CANCELED"}]
    still = await client.query(
        '{ workspace(slug: "acme") { name conversations { totalCount } } }', as_="ada@acme.test"
    )
    assert still["data"]["workspace"] == {"name": "Acme Corp", "conversations": {"totalCount": 5}}


async def test_integrations_connect_and_disconnect(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    connect = """mutation($input: ConnectIntegrationInput!) {
      connectIntegration(input: $input) { integration { provider status connectedBy { email } } userErrors { code } } }"""
    disconnect = """mutation($input: DisconnectIntegrationInput!) {
      disconnectIntegration(input: $input) { integration { status } userErrors { code } } }"""
    body = await client.query(
        connect, {"input": {"workspaceId": ws, "provider": "hubspot"}}, as_="ben@acme.test"
    )
    assert body["data"]["connectIntegration"] == {
        "integration": {
            "provider": "hubspot",
            "status": "CONNECTED",
            "connectedBy": {"email": "ben@acme.test"},
        },
        "userErrors": [],
    }
    unknown = await client.query(
        connect, {"input": {"workspaceId": ws, "provider": "myspace"}}, as_="ben@acme.test"
    )
    assert unknown["data"]["connectIntegration"]["userErrors"] == [{"code": "INVALID_VALUE"}]
    off = await client.query(
        disconnect, {"input": {"workspaceId": ws, "provider": "hubspot"}}, as_="ben@acme.test"
    )
    assert off["data"]["disconnectIntegration"] == {
        "integration": {"status": "DISCONNECTED"},
        "userErrors": [],
    }


CREATE_KEY = """
mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { id name prefix permissions revokedAt } userErrors { code field } }
}"""


async def test_api_key_lifecycle(client: GraphQLClient, owner_engine: AsyncEngine) -> None:
    ws = await workspace_id(owner_engine, "acme")
    body = await client.query(
        CREATE_KEY,
        {"input": {"workspaceId": ws, "name": "CRM sync", "permissions": ["members:read:all"]}},
        as_="ada@acme.test",
    )
    payload = body["data"]["createApiKey"]
    secret, key = payload["secret"], payload["apiKey"]
    assert secret.startswith(f"hmy_{key['prefix']}_")
    assert key["permissions"] == ["members:read:all"] and key["revokedAt"] is None
    # The secret is never stored, nor shown again.
    listed = await client.query(
        '{ workspace(slug: "acme") { apiKeys { name prefix } } }', as_="ada@acme.test"
    )
    assert listed["data"]["workspace"]["apiKeys"] == [{"name": "CRM sync", "prefix": key["prefix"]}]
    assert secret not in str(await snapshot(owner_engine))
    # It reads what it may, and nothing else.
    read = await client.query(
        '{ workspace(slug: "acme") { members(first: 1) { totalCount } subscription { plan } } }',
        token=secret,
    )
    assert read["data"] == {"workspace": {"members": {"totalCount": 4}, "subscription": None}}
    assert [e["extensions"]["code"] for e in read["errors"]] == ["FORBIDDEN"]
    revoked = await client.query(
        """mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { revokedAt } userErrors { code } } }""",
        {"input": {"apiKeyId": key["id"]}},
        as_="ada@acme.test",
    )
    assert revoked["data"]["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    refused = await client.query("{ viewer { id } }", token=secret)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await audit_actions(owner_engine) == ["api_key.created", "api_key.revoked"]


async def test_api_key_cannot_exceed_its_creator(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    before = await snapshot(owner_engine)
    # Eve may not create keys at all (no api_keys:create:all).
    body = await client.query(
        CREATE_KEY,
        {"input": {"workspaceId": ws, "name": "x", "permissions": ["billing:read:all"]}},
        as_="eve@acme.test",
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await snapshot(owner_engine) == before


async def test_share_link_is_only_a_pointer(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    # cy (Member, team Sales) shares the Sales call he hosted.
    listing = await client.query(
        '{ workspace(slug: "acme") { conversations(filter: {}) { nodes { id title host { email } } } } }',
        as_="cy@acme.test",
    )
    mine = next(
        c
        for c in listing["data"]["workspace"]["conversations"]["nodes"]
        if c["host"]["email"] == "cy@acme.test"
    )
    created = await client.query(
        """mutation($input: CreateConversationShareLinkInput!) {
          createConversationShareLink(input: $input) { shareLink { token conversation { title } } userErrors { code } } }""",
        {"input": {"conversationId": mine["id"]}},
        as_="cy@acme.test",
    )
    link = created["data"]["createConversationShareLink"]["shareLink"]
    assert link["conversation"] == {"title": mine["title"]}
    open_link = '{ shareLink(token: "' + link["token"] + '") { conversation { title } } }'
    # ada (Admin) can read it; eve (Support) cannot read Sales conversations; dee is not in acme.
    assert (await client.query(open_link, as_="ada@acme.test"))["data"] == {
        "shareLink": {"conversation": {"title": mine["title"]}}
    }
    assert (await client.query(open_link, as_="eve@acme.test"))["data"] == {
        "shareLink": {"conversation": None}
    }
    assert (await client.query(open_link, as_="dee@globex.test"))["data"] == {"shareLink": None}


async def test_audit_log_lists_changes_for_admins_only(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    await client.query(
        GENERAL, {"input": {"workspaceId": ws, "name": "Acme Two"}}, as_="ada@acme.test"
    )
    await client.query(
        GENERAL, {"input": {"workspaceId": ws, "logoUrl": "ftp://x"}}, as_="ada@acme.test"
    )  # refused
    query = """{ workspace(slug: "acme") { adminCount advisories { code }
      auditEvents(first: 10) { totalCount nodes { action actor { email } targetType summary } } } }"""
    body = await client.query(query, as_="ada@acme.test")
    assert body["data"]["workspace"] == {
        "adminCount": 2,
        "advisories": [],
        "auditEvents": {
            "totalCount": 1,
            "nodes": [
                {
                    "action": "settings.general_updated",
                    "actor": {"email": "ada@acme.test"},
                    "targetType": "Workspace",
                    "summary": {"name": {"before": "Acme Corp", "after": "Acme Two"}},
                }
            ],
        },
    }
    member = await client.query(
        '{ workspace(slug: "acme") { auditEvents { totalCount } } }', as_="cy@acme.test"
    )
    assert member["data"] == {"workspace": {"auditEvents": None}}
    assert member["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    globex = await client.query(
        '{ workspace(slug: "globex") { adminCount advisories { code } } }', as_="cy@acme.test"
    )
    assert globex["data"] == {
        "workspace": {"adminCount": 1, "advisories": [{"code": "SINGLE_ADMIN"}]}
    }


async def test_mutations_are_refused_over_get(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    token = await client.token("ada@acme.test")
    response = await client.http.get(
        "/graphql",
        params={"query": 'mutation { deleteAccount(input: {confirmation: "DELETE"}) { deleted } }'},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 405
    assert without_cost(response.json()) == {
        "errors": [
            {
                "message": "Mutations are only accepted over POST.",
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ]
    }

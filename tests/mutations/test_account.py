"""deleteAccount, exactly as the contract says."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.client import GraphQLClient
from tests.mutations.helpers import audit_actions, one, snapshot

DELETE = """
mutation($input: DeleteAccountInput!) {
  deleteAccount(input: $input) {
    deleted dryRun account { email status }
    removedFrom { slug } blockingWorkspaces { slug }
    userErrors { code message field }
  }
}"""

CONVERSATIONS = '{ workspace(slug: "acme") { conversations { totalCount } } }'


async def test_sole_admin_of_globex_is_refused_and_nothing_changes(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    before = await snapshot(owner_engine)
    body = await client.query(DELETE, {"input": {"confirmation": "DELETE"}}, as_="cy@acme.test")
    assert body == {
        "data": {
            "deleteAccount": {
                "deleted": False,
                "dryRun": False,
                "account": {"email": "cy@acme.test", "status": "ACTIVE"},
                "removedFrom": [],
                "blockingWorkspaces": [{"slug": "globex"}],
                "userErrors": [
                    {
                        "code": "SOLE_ADMIN",
                        "message": "You are the only active Admin of: globex. Assign another Admin there first.",
                        "field": ["input"],
                    }
                ],
            }
        }
    }
    assert await snapshot(owner_engine) == before


async def test_confirmation_must_be_exactly_delete(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    before = await snapshot(owner_engine)
    body = await client.query(DELETE, {"input": {"confirmation": "delete"}}, as_="eve@acme.test")
    assert body["data"]["deleteAccount"]["userErrors"] == [
        {
            "code": "CONFIRMATION_MISMATCH",
            "message": "Type DELETE (in capitals) to confirm.",
            "field": ["input", "confirmation"],
        }
    ]
    assert body["data"]["deleteAccount"]["deleted"] is False
    assert await snapshot(owner_engine) == before


async def test_dry_run_reports_without_changing_anything(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    before = await snapshot(owner_engine)
    body = await client.query(
        DELETE, {"input": {"confirmation": "", "dryRun": True}}, as_="cy@acme.test"
    )
    assert body["data"]["deleteAccount"] == {
        "deleted": False,
        "dryRun": True,
        "account": {"email": "cy@acme.test", "status": "ACTIVE"},
        "removedFrom": [{"slug": "acme"}, {"slug": "globex"}],
        "blockingWorkspaces": [{"slug": "globex"}],
        "userErrors": [],
    }
    assert await snapshot(owner_engine) == before


async def test_eve_deletes_her_account_token_refused_content_kept(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    eve = await client.token("eve@acme.test")
    ada = await client.token("ada@acme.test")
    conversations_before = await client.query(CONVERSATIONS, token=ada)
    body = await client.query(DELETE, {"input": {"confirmation": "DELETE"}}, token=eve)
    assert body["data"]["deleteAccount"] == {
        "deleted": True,
        "dryRun": False,
        "account": {"email": "eve@acme.test", "status": "DEACTIVATED"},
        "removedFrom": [{"slug": "acme"}],
        "blockingWorkspaces": [],
        "userErrors": [],
    }
    refused = await client.query("{ viewer { email } }", token=eve)
    assert refused == {
        "errors": [
            {
                "message": "Invalid token: the account is deactivated or does not exist.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    assert await client.query(CONVERSATIONS, token=ada) == conversations_before
    assert (
        await one(
            owner_engine,
            "SELECT count(*) FROM members m JOIN users u ON u.id = m.user_id WHERE u.email = 'eve@acme.test'",
        )
        == 0
    )
    assert await audit_actions(owner_engine) == ["account.deleted"]


async def test_deleting_an_account_revokes_the_api_keys_it_created(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ada = await client.token("ada@acme.test")
    acme = (await client.query('{ workspace(slug: "acme") { id } }', token=ada))["data"][
        "workspace"
    ]["id"]
    created = await client.query(
        """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret userErrors { code } } }""",
        {"input": {"workspaceId": acme, "name": "sync", "permissions": ["members:read:all"]}},
        token=ada,
    )
    secret = created["data"]["createApiKey"]["secret"]
    assert (await client.query("{ viewer { email } }", token=secret))["data"] == {
        "viewer": {"email": "ada@acme.test"}
    }
    deleted = await client.query(DELETE, {"input": {"confirmation": "DELETE"}}, token=ada)
    assert deleted["data"]["deleteAccount"]["deleted"] is True
    after = await client.query("{ viewer { email } }", token=secret)
    assert after["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_api_keys_cannot_delete_accounts(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ada = await client.token("ada@acme.test")
    acme = (await client.query('{ workspace(slug: "acme") { id } }', token=ada))["data"][
        "workspace"
    ]["id"]
    created = await client.query(
        """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }""",
        {"input": {"workspaceId": acme, "name": "sync", "permissions": ["members:read:all"]}},
        token=ada,
    )
    secret = created["data"]["createApiKey"]["secret"]
    await client.query("{ viewer { id } }", token=secret)  # lastUsedAt set now, stable for a minute
    before = await snapshot(owner_engine)
    body = await client.query(DELETE, {"input": {"confirmation": "DELETE"}}, token=secret)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await snapshot(owner_engine) == before

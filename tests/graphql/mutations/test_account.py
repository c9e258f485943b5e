"""deleteAccount, exactly as the contract says: every membership goes (deactivated ones
too), with the API keys the account created."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.domain.workspaces.service import create_workspace
from app.models import BuiltinRole, MemberStatus, pk
from tests import factories as f
from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import audit_actions, one, snapshot

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


async def test_deleting_an_account_removes_every_membership_deactivated_ones_too(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    """eve is an ACTIVE member of acme and a DEACTIVATED member of globex (whose Admin
    could otherwise reactivate the membership of a deleted account), with an API key
    in each."""
    globex = await f.workspace_id(session, "globex")
    eve = await f.user_id(session, "eve@acme.test")
    await f.add_member(
        session,
        globex,
        eve,
        await f.role_id(session, globex, "Member"),
        team_ids=[await f.team_id(session, globex, "Ops")],
        status=MemberStatus.DEACTIVATED,
    )
    await f.create_api_key(session, globex, eve, ["members:read:all"], name="globex key")
    acme_key = await f.create_api_key(
        session, await f.workspace_id(session, "acme"), eve, ["members:read:all"]
    )
    await session.commit()
    body = await client.query(DELETE, {"input": {"confirmation": "DELETE"}}, as_="eve@acme.test")
    assert body["data"]["deleteAccount"] == {
        "deleted": True,
        "dryRun": False,
        "account": {"email": "eve@acme.test", "status": "DEACTIVATED"},
        "removedFrom": [{"slug": "acme"}],  # the workspaces eve could still see
        "blockingWorkspaces": [],
        "userErrors": [],
    }
    assert await one(owner_engine, "SELECT count(*) FROM members WHERE user_id = :u", u=eve) == 0
    assert (
        await one(
            owner_engine,
            "SELECT count(*) FROM api_keys WHERE created_by_user_id = :u AND revoked_at IS NULL",
            u=eve,
        )
        == 0
    )
    assert (await client.query("{ viewer { email } }", token=acme_key))["errors"][0]["extensions"][
        "code"
    ] == "UNAUTHENTICATED"
    # Both workspaces record it; globex's Admin has nothing left to reactivate.
    events = "SELECT w.slug FROM audit_events a JOIN workspaces w ON w.id = a.workspace_id WHERE a.action = 'account.deleted' ORDER BY w.slug"
    async with owner_engine.connect() as conn:
        slugs = list((await conn.execute(sa.text(events))).scalars())
    assert slugs == ["acme", "globex"]
    members = await client.query(
        '{ workspace(slug: "globex") { members { nodes { user { email } } } } }', as_="cy@acme.test"
    )
    assert [m["user"]["email"] for m in members["data"]["workspace"]["members"]["nodes"]] == [
        "cy@acme.test",
        "dee@globex.test",
    ]


async def test_a_refused_deletion_keeps_every_membership(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    """cy, sole Admin of globex, also has a deactivated membership of a third workspace:
    refused, nothing changes, and that workspace stays out of cy's reach."""
    owner = await f.create_user(session, email="owner@initech.test", name="Initech Owner")
    initech, roles, _ = await create_workspace(
        session, slug="initech", name="Initech", admin_email=owner.email
    )
    await f.add_member(
        session,
        pk(initech),
        await f.user_id(session, "cy@acme.test"),
        pk(roles[BuiltinRole.MEMBER]),
        status=MemberStatus.DEACTIVATED,
    )
    await session.commit()
    before = await snapshot(owner_engine)
    body = await client.query(DELETE, {"input": {"confirmation": "DELETE"}}, as_="cy@acme.test")
    assert body["data"]["deleteAccount"]["userErrors"][0]["code"] == "SOLE_ADMIN"
    assert body["data"]["deleteAccount"]["blockingWorkspaces"] == [{"slug": "globex"}]
    assert await snapshot(owner_engine) == before
    dry = await client.query(
        DELETE, {"input": {"confirmation": "", "dryRun": True}}, as_="cy@acme.test"
    )
    assert dry["data"]["deleteAccount"]["removedFrom"] == [{"slug": "acme"}, {"slug": "globex"}]
    assert await snapshot(owner_engine) == before

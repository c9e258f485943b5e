"""Settings → Users: addMember (an invitation), updateMember, deactivateMember,
reactivateMember, removeMember; API keys do not outlive their creator's membership."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.graphql import mutation as base
from app.graphql.ids import encode_id
from app.models import pk
from tests import factories as f
from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import (
    audit_actions,
    member_id,
    one,
    role_id,
    snapshot,
    team_id,
    workspace_id,
)
from tests.graphql.mutations.test_last_admin_concurrency import ACTIVE_ADMINS, hold, outcomes

ADD = """
mutation($input: AddMemberInput!) {
  addMember(input: $input) {
    invitation { email role }
    member { id }
    userErrors { code message field }
  }
}"""

UPDATE = """
mutation($input: UpdateMemberInput!) {
  updateMember(input: $input) {
    member { role { name } teams { name } }
    userErrors { code message field }
  }
}"""

MEMBERSHIPS = """
SELECT count(*) FROM members m JOIN users u ON u.id = m.user_id JOIN workspaces w ON w.id = m.workspace_id
WHERE u.email = :email AND w.slug = :slug"""

DEACTIVATE = """
mutation($input: DeactivateMemberInput!) {
  deactivateMember(input: $input) { member { status } userErrors { code field } }
}"""


async def test_adding_invites_and_the_invitee_joins_on_acceptance(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws, sales = (
        await workspace_id(owner_engine, "acme"),
        await team_id(owner_engine, "acme", "Sales"),
    )
    body = await client.query(
        ADD,
        {"input": {"workspaceId": ws, "email": "Dee@Globex.test", "teamIds": [sales]}},
        as_="ada@acme.test",
    )
    assert body == {
        "data": {
            "addMember": {
                "invitation": {"email": "Dee@Globex.test", "role": "Member"},
                "member": None,
                "userErrors": [],
            }
        }
    }
    # Not a member until dee accepts.
    assert await one(owner_engine, MEMBERSHIPS, email="dee@globex.test", slug="acme") == 0
    invitations = await client.query("{ viewer { invitations { id } } }", as_="dee@globex.test")
    (invitation,) = invitations["data"]["viewer"]["invitations"]
    accepted = await client.query(
        """mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) {
          workspace { viewerMembership { role { name } teams { name } status } } userErrors { code } } }""",
        {"input": {"invitationId": invitation["id"]}},
        as_="dee@globex.test",
    )
    assert accepted["data"]["acceptInvitation"] == {
        "workspace": {
            "viewerMembership": {
                "role": {"name": "Member"},
                "teams": [{"name": "Sales"}],
                "status": "ACTIVE",
            }
        },
        "userErrors": [],
    }
    assert await one(owner_engine, MEMBERSHIPS, email="dee@globex.test", slug="acme") == 1
    assert await audit_actions(owner_engine) == ["member.invited", "invitation.accepted"]


async def test_adding_an_existing_member_is_refused_and_changes_nothing(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    before = await snapshot(owner_engine)
    body = await client.query(
        ADD, {"input": {"workspaceId": ws, "email": "CY@acme.test"}}, as_="ada@acme.test"
    )
    assert body["data"]["addMember"] == {
        "invitation": None,
        "member": None,
        "userErrors": [
            {
                "code": "ALREADY_MEMBER",
                "message": "CY@acme.test is already a member of this workspace.",
                "field": ["input", "email"],
            }
        ],
    }
    assert await snapshot(owner_engine) == before


async def test_member_without_permission_cannot_add_members(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    before = await snapshot(owner_engine)
    body = await client.query(
        ADD, {"input": {"workspaceId": ws, "email": "x@acme.test"}}, as_="cy@acme.test"
    )
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert await snapshot(owner_engine) == before


async def test_other_workspace_target_is_not_found_not_forbidden(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    acme = await workspace_id(owner_engine, "acme")
    before = await snapshot(owner_engine)
    body = await client.query(
        ADD, {"input": {"workspaceId": acme, "email": "x@globex.test"}}, as_="dee@globex.test"
    )
    assert body == {
        "data": {
            "addMember": {
                "invitation": None,
                "member": None,
                "userErrors": [{"code": "NOT_FOUND", "message": "Not found.", "field": ["input"]}],
            }
        }
    }
    assert await snapshot(owner_engine) == before


async def test_admin_changes_role_and_teams(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    cy = await member_id(owner_engine, "cy@acme.test", "acme")
    billing, support = (
        await role_id(owner_engine, "acme", "Billing Manager"),
        await team_id(owner_engine, "acme", "Support"),
    )
    body = await client.query(
        UPDATE,
        {"input": {"memberId": cy, "roleId": billing, "teamIds": [support]}},
        as_="ada@acme.test",
    )
    assert body == {
        "data": {
            "updateMember": {
                "member": {"role": {"name": "Billing Manager"}, "teams": [{"name": "Support"}]},
                "userErrors": [],
            }
        }
    }
    assert await audit_actions(owner_engine) == ["member.role_changed"]


async def test_demoting_the_sole_admin_is_refused(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    cy = await member_id(owner_engine, "cy@acme.test", "globex")
    member = await role_id(owner_engine, "globex", "Member")
    before = await snapshot(owner_engine)
    body = await client.query(
        UPDATE, {"input": {"memberId": cy, "roleId": member}}, as_="cy@acme.test"
    )
    assert body["data"]["updateMember"]["userErrors"][0]["code"] == "SOLE_ADMIN"
    assert await snapshot(owner_engine) == before


async def test_deactivating_one_of_two_admins_then_the_other_is_refused(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ben = await member_id(owner_engine, "ben@acme.test", "acme")
    ada = await member_id(owner_engine, "ada@acme.test", "acme")
    first = await client.query(DEACTIVATE, {"input": {"memberId": ben}}, as_="ada@acme.test")
    assert first == {
        "data": {"deactivateMember": {"member": {"status": "DEACTIVATED"}, "userErrors": []}}
    }
    second = await client.query(DEACTIVATE, {"input": {"memberId": ada}}, as_="ada@acme.test")
    assert second == {
        "data": {
            "deactivateMember": {
                "member": None,
                "userErrors": [{"code": "SOLE_ADMIN", "field": ["input", "memberId"]}],
            }
        }
    }
    assert (
        await one(
            owner_engine, "SELECT count(*) FROM audit_events WHERE action = 'member.deactivated'"
        )
        == 1
    )


async def test_billing_manager_cannot_promote_to_admin(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    # Eve holds members:read only; give her role members:update to reach the escalation rule.
    eve_role = await role_id(owner_engine, "acme", "Billing Manager")
    await client.query(
        """mutation($input: UpdateRoleInput!) { updateRole(input: $input) { userErrors { code } } }""",
        {
            "input": {
                "roleId": eve_role,
                "permissions": ["billing:*:all", "members:read:all", "members:update:all"],
            }
        },
        as_="ada@acme.test",
    )
    cy = await member_id(owner_engine, "cy@acme.test", "acme")
    admin = await role_id(owner_engine, "acme", "Admin")
    before = await snapshot(owner_engine)
    body = await client.query(
        UPDATE, {"input": {"memberId": cy, "roleId": admin}}, as_="eve@acme.test"
    )
    assert body["data"]["updateMember"]["userErrors"][0]["code"] == "ESCALATION"
    assert await snapshot(owner_engine) == before


REMOVE = """
mutation($input: RemoveMemberInput!) {
  removeMember(input: $input) { removedMemberId userErrors { code message field } }
}"""

REACTIVATE = """
mutation($input: ReactivateMemberInput!) {
  reactivateMember(input: $input) { member { status } userErrors { code } }
}"""

WHO = "{ viewer { email } }"


async def test_admin_removes_a_member_content_stays(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    acme = await f.workspace_id(session, "acme")
    cy = await f.member(session, acme, "cy@acme.test")
    cy_user = await f.user_id(session, "cy@acme.test")
    secret = await f.create_api_key(session, acme, cy_user, ["members:read:all"])
    await session.commit()
    conversations = "SELECT count(*) FROM conversations WHERE host_user_id = :u"
    hosted = await one(owner_engine, conversations, u=cy_user)
    cy_id = encode_id("Member", pk(cy))
    body = await client.query(REMOVE, {"input": {"memberId": cy_id}}, as_="ada@acme.test")
    assert body == {"data": {"removeMember": {"removedMemberId": cy_id, "userErrors": []}}}
    assert await one(owner_engine, MEMBERSHIPS, email="cy@acme.test", slug="acme") == 0
    assert (
        await one(owner_engine, "SELECT count(*) FROM team_members WHERE member_id = :m", m=pk(cy))
        == 0
    )
    assert await one(owner_engine, MEMBERSHIPS, email="cy@acme.test", slug="globex") == 1
    assert await one(owner_engine, conversations, u=cy_user) == hosted
    assert await audit_actions(owner_engine) == ["api_key.revoked", "member.removed"]
    refused = await client.query(WHO, token=secret)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # cy keeps globex, and acme is gone for her.
    assert await client.query("{ workspaces { slug } }", as_="cy@acme.test") == {
        "data": {"workspaces": [{"slug": "globex"}]}
    }


async def test_removing_the_sole_admin_is_refused_yourself_otherwise_allowed(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    cy_globex = await member_id(owner_engine, "cy@acme.test", "globex")
    before = await snapshot(owner_engine)
    sole = await client.query(REMOVE, {"input": {"memberId": cy_globex}}, as_="cy@acme.test")
    assert sole == {
        "data": {
            "removeMember": {
                "removedMemberId": None,
                "userErrors": [
                    {
                        "code": "SOLE_ADMIN",
                        "message": "This member is the workspace's only active Admin: assign another Admin first.",
                        "field": ["input", "memberId"],
                    }
                ],
            }
        }
    }
    assert await snapshot(owner_engine) == before
    ben = await member_id(owner_engine, "ben@acme.test", "acme")
    itself = await client.query(REMOVE, {"input": {"memberId": ben}}, as_="ben@acme.test")
    assert itself == {"data": {"removeMember": {"removedMemberId": ben, "userErrors": []}}}
    # Now ada is acme's only Admin: she cannot leave.
    ada = await member_id(owner_engine, "ada@acme.test", "acme")
    last = await client.query(REMOVE, {"input": {"memberId": ada}}, as_="ada@acme.test")
    assert last["data"]["removeMember"]["userErrors"][0]["code"] == "SOLE_ADMIN"


async def test_remove_member_needs_members_delete(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    eve = await member_id(owner_engine, "eve@acme.test", "acme")
    dee = await member_id(owner_engine, "dee@globex.test", "globex")
    before = await snapshot(owner_engine)
    # cy is a Member of acme; in globex she is Admin (members:delete:all there only).
    out_of_reach = await client.query(REMOVE, {"input": {"memberId": eve}}, as_="cy@acme.test")
    assert out_of_reach["data"]["removeMember"]["userErrors"] == [
        {"code": "NOT_FOUND", "message": "Not found.", "field": ["input"]}
    ]
    # eve holds it nowhere.
    forbidden = await client.query(REMOVE, {"input": {"memberId": eve}}, as_="eve@acme.test")
    assert forbidden["data"] is None
    assert [e["extensions"]["code"] for e in forbidden["errors"]] == ["FORBIDDEN"]
    # ada, acme's Admin, cannot reach globex's members.
    elsewhere = await client.query(REMOVE, {"input": {"memberId": dee}}, as_="ada@acme.test")
    assert elsewhere["data"]["removeMember"]["userErrors"] == [
        {"code": "NOT_FOUND", "message": "Not found.", "field": ["input"]}
    ]
    assert await snapshot(owner_engine) == before
    # The Member role does not hold it; Admin's expanded permissions list it.
    roles = await client.query(
        '{ workspace(slug: "acme") { roles { nodes { name permissions } } } }', as_="ada@acme.test"
    )
    held = {r["name"]: r["permissions"] for r in roles["data"]["workspace"]["roles"]["nodes"]}
    assert "members:delete:all" in held["Admin"]
    assert "members:delete:all" not in held["Member"]


@pytest.mark.parametrize("round_", range(6))
async def test_two_admins_removing_each_other_at_once_one_succeeds(
    client: GraphQLClient, owner_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, round_: int
) -> None:
    ada_m, ben_m = (
        await member_id(owner_engine, "ada@acme.test", "acme"),
        await member_id(owner_engine, "ben@acme.test", "acme"),
    )
    hold(monkeypatch, base, "lock_workspaces")
    ada, ben = await client.token("ada@acme.test"), await client.token("ben@acme.test")
    bodies = await asyncio.gather(
        client.query(REMOVE, {"input": {"memberId": ben_m}}, token=ada),
        client.query(REMOVE, {"input": {"memberId": ada_m}}, token=ben),
    )
    results = outcomes(list(bodies), "removeMember")
    # The loser was removed first (no longer a member: FORBIDDEN) or would have removed
    # the last Admin.
    assert results[1] == "ok" and results[0] in {"FORBIDDEN", "SOLE_ADMIN"}, results
    assert await one(owner_engine, ACTIVE_ADMINS) == 1


async def test_a_deactivated_members_key_stays_dead_after_reactivation(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    acme = await f.workspace_id(session, "acme")
    secret = await f.create_api_key(
        session, acme, await f.user_id(session, "cy@acme.test"), ["members:read:all"]
    )
    await session.commit()
    assert await client.query(WHO, token=secret) == {"data": {"viewer": {"email": "cy@acme.test"}}}
    cy = await member_id(owner_engine, "cy@acme.test", "acme")
    ada = await client.token("ada@acme.test")
    off = await client.query(DEACTIVATE, {"input": {"memberId": cy}}, token=ada)
    assert off["data"]["deactivateMember"]["userErrors"] == []
    assert (await client.query(WHO, token=secret))["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )
    on = await client.query(REACTIVATE, {"input": {"memberId": cy}}, token=ada)
    assert on["data"]["reactivateMember"] == {"member": {"status": "ACTIVE"}, "userErrors": []}
    assert (await client.query(WHO, token=secret))["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )
    assert await one(owner_engine, "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL") == 0
    assert await audit_actions(owner_engine) == [
        "member.deactivated",
        "api_key.revoked",
        "member.reactivated",
    ]


async def test_a_removed_members_key_stays_dead_after_rejoining(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    acme = await f.workspace_id(session, "acme")
    secret = await f.create_api_key(
        session, acme, await f.user_id(session, "eve@acme.test"), ["members:read:all"]
    )
    await session.commit()
    eve = await member_id(owner_engine, "eve@acme.test", "acme")
    ada = await client.token("ada@acme.test")
    removed = await client.query(REMOVE, {"input": {"memberId": eve}}, token=ada)
    assert removed["data"]["removeMember"]["userErrors"] == []
    invited = await client.query(
        ADD,
        {
            "input": {
                "workspaceId": await workspace_id(owner_engine, "acme"),
                "email": "eve@acme.test",
            }
        },
        token=ada,
    )
    assert invited["data"]["addMember"]["userErrors"] == []
    eve_token = await client.token("eve@acme.test")
    (invitation,) = (await client.query("{ viewer { invitations { id } } }", token=eve_token))[
        "data"
    ]["viewer"]["invitations"]
    accepted = await client.query(
        """mutation($input: AcceptInvitationInput!) {
          acceptInvitation(input: $input) { workspace { slug } userErrors { code } } }""",
        {"input": {"invitationId": invitation["id"]}},
        token=eve_token,
    )
    assert accepted["data"]["acceptInvitation"] == {
        "workspace": {"slug": "acme"},
        "userErrors": [],
    }
    assert (await client.query(WHO, token=secret))["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )


async def test_a_key_whose_creator_has_no_membership_is_refused_even_unrevoked(
    client: GraphQLClient, owner_engine: AsyncEngine, session: AsyncSession
) -> None:
    """Authentication's own check, independent of revocation (a key from before removal
    revoked keys): the creator must hold an ACTIVE membership of the key's workspace."""
    acme = await f.workspace_id(session, "acme")
    cy = await f.member(session, acme, "cy@acme.test")
    secret = await f.create_api_key(
        session, acme, await f.user_id(session, "cy@acme.test"), ["members:read:all"]
    )
    await session.commit()
    assert await client.query(WHO, token=secret) == {"data": {"viewer": {"email": "cy@acme.test"}}}
    async with owner_engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM team_members WHERE member_id = :m"), {"m": pk(cy)})
        await conn.execute(sa.text("DELETE FROM members WHERE id = :m"), {"m": pk(cy)})
    assert await one(owner_engine, "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL") == 1
    refused = await client.query(WHO, token=secret)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

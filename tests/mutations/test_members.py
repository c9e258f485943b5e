"""Settings → Users: addMember, updateMember, deactivateMember, reactivateMember."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.client import GraphQLClient
from tests.mutations.helpers import (
    audit_actions,
    member_id,
    one,
    role_id,
    snapshot,
    team_id,
    workspace_id,
)

ADD = """
mutation($input: AddMemberInput!) {
  addMember(input: $input) {
    member { user { email name } role { name } teams { name } status }
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

DEACTIVATE = """
mutation($input: DeactivateMemberInput!) {
  deactivateMember(input: $input) { member { status } userErrors { code field } }
}"""


async def test_admin_adds_a_new_person_with_a_new_account(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws, sales = (
        await workspace_id(owner_engine, "acme"),
        await team_id(owner_engine, "acme", "Sales"),
    )
    body = await client.query(
        ADD,
        {
            "input": {
                "workspaceId": ws,
                "email": "Fay@Acme.test",
                "name": "Fay New",
                "teamIds": [sales],
            }
        },
        as_="ada@acme.test",
    )
    assert body == {
        "data": {
            "addMember": {
                "member": {
                    "user": {"email": "Fay@Acme.test", "name": "Fay New"},
                    "role": {"name": "Member"},
                    "teams": [{"name": "Sales"}],
                    "status": "ACTIVE",
                },
                "userErrors": [],
            }
        }
    }
    assert await audit_actions(owner_engine) == ["member.added"]


async def test_adding_an_existing_member_is_refused_and_changes_nothing(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    before = await snapshot(owner_engine)
    body = await client.query(
        ADD, {"input": {"workspaceId": ws, "email": "CY@acme.test"}}, as_="ada@acme.test"
    )
    assert body["data"]["addMember"] == {
        "member": None,
        "userErrors": [
            {
                "code": "ALREADY_MEMBER",
                "message": "cy@acme.test is already a member.",
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

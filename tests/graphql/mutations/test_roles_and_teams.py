"""createRole, updateRole, deleteRole, createTeam, updateTeam, deleteTeam."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import (
    audit_actions,
    one,
    role_id,
    snapshot,
    team_id,
    workspace_id,
)

CREATE_ROLE = """
mutation($input: CreateRoleInput!) {
  createRole(input: $input) { role { name permissions memberCount builtin } userErrors { code message field } }
}"""
UPDATE_ROLE = """
mutation($input: UpdateRoleInput!) { updateRole(input: $input) { role { name permissions } userErrors { code field } } }"""
DELETE_ROLE = """
mutation($input: DeleteRoleInput!) { deleteRole(input: $input) { deletedRoleId userErrors { code field } } }"""


async def test_admin_creates_a_custom_role_with_wildcards_expanded(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    body = await client.query(
        CREATE_ROLE,
        {
            "input": {
                "workspaceId": ws,
                "name": "Analyst",
                "permissions": ["insights:*:team", "members:read:all"],
            }
        },
        as_="ada@acme.test",
    )
    assert body == {
        "data": {
            "createRole": {
                "role": {
                    "name": "Analyst",
                    "permissions": [
                        "members:read:all",
                        "insights:read:team",
                        "insights:create:team",
                        "insights:update:team",
                        "insights:delete:team",
                    ],
                    "memberCount": 0,
                    "builtin": False,
                },
                "userErrors": [],
            }
        }
    }
    assert await audit_actions(owner_engine) == ["role.created"]


async def test_uncatalogued_permission_is_refused(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    before = await snapshot(owner_engine)
    body = await client.query(
        CREATE_ROLE,
        {
            "input": {
                "workspaceId": ws,
                "name": "Odd",
                "permissions": ["members:read:all", "members:fly:all"],
            }
        },
        as_="ada@acme.test",
    )
    assert body["data"]["createRole"] == {
        "role": None,
        "userErrors": [
            {
                "code": "INVALID_PERMISSION",
                "message": "'members:fly:all': 'members' has no action 'fly'",
                "field": ["input", "permissions", "1"],
            }
        ],
    }
    assert await snapshot(owner_engine) == before


async def test_nobody_grants_a_permission_they_do_not_hold(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    # Eve (Billing Manager) gets roles:create so she can try; she does not hold audit:read:all.
    billing = await role_id(owner_engine, "acme", "Billing Manager")
    granted = await client.query(
        UPDATE_ROLE,
        {
            "input": {
                "roleId": billing,
                "permissions": ["billing:*:all", "roles:create:all", "members:read:all"],
            }
        },
        as_="ada@acme.test",
    )
    assert granted["data"]["updateRole"]["userErrors"] == []
    ws = await workspace_id(owner_engine, "acme")
    before = await snapshot(owner_engine)
    body = await client.query(
        CREATE_ROLE,
        {
            "input": {
                "workspaceId": ws,
                "name": "Auditor",
                "permissions": ["billing:read:all", "audit:read:all"],
            }
        },
        as_="eve@acme.test",
    )
    assert body["data"]["createRole"]["userErrors"] == [
        {
            "code": "ESCALATION",
            "message": "You cannot grant audit:read:all: you do not hold it.",
            "field": ["input", "permissions", "1"],
        }
    ]
    assert await snapshot(owner_engine) == before


async def test_builtin_admin_is_immutable_and_undeletable(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    admin = await role_id(owner_engine, "acme", "Admin")
    before = await snapshot(owner_engine)
    updated = await client.query(
        UPDATE_ROLE, {"input": {"roleId": admin, "description": "x"}}, as_="ada@acme.test"
    )
    deleted = await client.query(DELETE_ROLE, {"input": {"roleId": admin}}, as_="ada@acme.test")
    assert updated["data"]["updateRole"]["userErrors"] == [
        {"code": "BUILTIN_ROLE_IMMUTABLE", "field": ["input", "roleId"]}
    ]
    assert deleted["data"]["deleteRole"]["userErrors"] == [
        {"code": "BUILTIN_ROLE_IMMUTABLE", "field": ["input", "roleId"]}
    ]
    assert await snapshot(owner_engine) == before


async def test_member_role_permissions_are_editable_by_admins(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    member = await role_id(owner_engine, "acme", "Member")
    body = await client.query(
        UPDATE_ROLE,
        {"input": {"roleId": member, "permissions": ["members:read:all"]}},
        as_="ada@acme.test",
    )
    assert body["data"]["updateRole"] == {
        "role": {"name": "Member", "permissions": ["members:read:all"]},
        "userErrors": [],
    }


async def test_a_role_still_assigned_cannot_be_deleted_then_can(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    billing = await role_id(owner_engine, "acme", "Billing Manager")
    before = await snapshot(owner_engine)
    body = await client.query(DELETE_ROLE, {"input": {"roleId": billing}}, as_="ada@acme.test")
    assert body["data"]["deleteRole"]["userErrors"] == [
        {"code": "ROLE_IN_USE", "field": ["input", "roleId"]}
    ]
    assert await snapshot(owner_engine) == before
    member = await role_id(owner_engine, "acme", "Member")
    eve = await one(
        owner_engine,
        "SELECT m.id FROM members m JOIN users u ON u.id = m.user_id WHERE u.email = 'eve@acme.test'",
    )
    from app.graphql.ids import encode_id

    moved = await client.query(
        """mutation($input: UpdateMemberInput!) { updateMember(input: $input) { userErrors { code } } }""",
        {"input": {"memberId": encode_id("Member", eve), "roleId": member}},
        as_="ada@acme.test",
    )
    assert moved["data"]["updateMember"]["userErrors"] == []
    body = await client.query(DELETE_ROLE, {"input": {"roleId": billing}}, as_="ada@acme.test")
    assert body["data"]["deleteRole"] == {"deletedRoleId": billing, "userErrors": []}


async def test_team_lifecycle_keeps_conversations_when_deleted(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    created = await client.query(
        """mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id name } userErrors { code } } }""",
        {"input": {"workspaceId": ws, "name": "Marketing"}},
        as_="ada@acme.test",
    )
    assert created["data"]["createTeam"]["team"]["name"] == "Marketing"
    duplicate = await client.query(
        """mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } userErrors { code field } } }""",
        {"input": {"workspaceId": ws, "name": "sales"}},
        as_="ada@acme.test",
    )
    assert duplicate["data"]["createTeam"] == {
        "team": None,
        "userErrors": [{"code": "NAME_TAKEN", "field": ["input", "name"]}],
    }
    sales = await team_id(owner_engine, "acme", "Sales")
    conversations = await one(owner_engine, "SELECT count(*) FROM conversations")
    deleted = await client.query(
        """mutation($input: DeleteTeamInput!) { deleteTeam(input: $input) { deletedTeamId userErrors { code } } }""",
        {"input": {"teamId": sales}},
        as_="ada@acme.test",
    )
    assert deleted["data"]["deleteTeam"] == {"deletedTeamId": sales, "userErrors": []}
    assert await one(owner_engine, "SELECT count(*) FROM conversations") == conversations
    assert await audit_actions(owner_engine) == ["team.created", "team.deleted"]

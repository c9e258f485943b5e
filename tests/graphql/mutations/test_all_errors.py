"""Every mutation with two or more fields to check reports every problem at once: sent
with every field wrong, it answers the whole list (one error per input path, a problem
with the whole input first, then in the order of the input's fields, a list's items by
index), and changes nothing — the rules that need the database (a name taken, an
address already a member, escalation, the last Admin) included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import member_id, role_id, snapshot, team_id, workspace_id

ERRORS = "userErrors { code message field }"


async def refused_entirely(
    client: GraphQLClient,
    engine: AsyncEngine,
    mutation: str,
    input: dict[str, Any],
    as_: str,
    selection: str = ERRORS,
) -> dict[str, Any]:
    """The payload of ``mutation`` refused with ``input``, having proved that nothing in
    the database changed (no row, no audit event)."""
    before = await snapshot(engine)
    name = mutation[0].upper() + mutation[1:]
    body = await client.query(
        f"mutation($input: {name}Input!) {{ {mutation}(input: $input) {{ {selection} }} }}",
        {"input": input},
        as_=as_,
    )
    assert "errors" not in body, body
    assert await snapshot(engine) == before
    payload: dict[str, Any] = body["data"][mutation]
    return payload


def error(code: str, message: str, *field: str) -> dict[str, Any]:
    return {"code": code, "message": message, "field": ["input", *field]}


async def grant_billing_manager(engine: AsyncEngine, permission: str) -> None:
    """Eve's custom role (Billing Manager) gains ``permission``."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO role_permissions (workspace_id, role_id, permission) "
                "SELECT workspace_id, id, :p FROM roles WHERE name = 'Billing Manager'"
            ),
            {"p": permission},
        )


def control_characters(field: str) -> dict[str, Any]:
    """The error of multi-line text holding a control character it may not."""
    message = f"`{field}` cannot hold control characters other than tabs and line breaks."
    return error("INVALID_VALUE", message, field)


BLANK_NAME = error("INVALID_VALUE", "`name` cannot be blank.", "name")
NO_MEMBER = "No such member in this workspace."
NO_TEAM = "No such team in this workspace."
NO_ROLE = "No such role in this workspace."


async def test_add_member_reports_the_address_the_role_and_each_team(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    globex_role = await role_id(owner_engine, "globex", "Admin")
    teams = [
        await team_id(owner_engine, "globex", "Ops"),
        await team_id(owner_engine, "acme", "Sales"),
        await member_id(owner_engine, "ben@acme.test", "acme"),  # another type's ID
    ]
    payload = await refused_entirely(
        client,
        owner_engine,
        "addMember",
        {
            "teamIds": teams,
            "roleId": globex_role,
            "email": "BEN@acme.test",
            "workspaceId": await workspace_id(owner_engine, "acme"),
        },
        "ada@acme.test",
    )
    assert payload["userErrors"] == [
        error("ALREADY_MEMBER", "BEN@acme.test is already a member of this workspace.", "email"),
        error("NOT_FOUND", NO_ROLE, "roleId"),
        error("NOT_FOUND", NO_TEAM, "teamIds", "0"),
        error("NOT_FOUND", NO_TEAM, "teamIds", "2"),
    ]


async def test_add_member_reports_a_malformed_address_and_an_escalation(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    # Eve may invite (a role given that) but not hand out the Admin role.
    await grant_billing_manager(owner_engine, "members:create:all")
    payload = await refused_entirely(
        client,
        owner_engine,
        "addMember",
        {
            "workspaceId": await workspace_id(owner_engine, "acme"),
            "email": "not an address",
            "roleId": await role_id(owner_engine, "acme", "Admin"),
            "teamIds": [await team_id(owner_engine, "globex", "Ops")],
        },
        "eve@acme.test",
    )
    codes = [(e["code"], e["field"]) for e in payload["userErrors"]]
    assert codes == [
        ("INVALID_VALUE", ["input", "email"]),
        ("ESCALATION", ["input", "roleId"]),
        ("NOT_FOUND", ["input", "teamIds", "0"]),
    ]


async def test_update_member_reports_the_role_and_each_team(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    payload = await refused_entirely(
        client,
        owner_engine,
        "updateMember",
        {
            "memberId": await member_id(owner_engine, "cy@acme.test", "acme"),
            "roleId": await team_id(owner_engine, "acme", "Sales"),  # another type's ID
            "teamIds": [
                await team_id(owner_engine, "acme", "Support"),
                await team_id(owner_engine, "globex", "Ops"),
            ],
        },
        "ada@acme.test",
    )
    assert payload["userErrors"] == [
        error("NOT_FOUND", NO_ROLE, "roleId"),
        error("NOT_FOUND", NO_TEAM, "teamIds", "1"),
    ]


async def test_update_member_reports_the_last_admin_with_the_teams(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    payload = await refused_entirely(
        client,
        owner_engine,
        "updateMember",
        {
            "memberId": await member_id(owner_engine, "cy@acme.test", "globex"),
            "roleId": await role_id(owner_engine, "globex", "Member"),
            "teamIds": [await team_id(owner_engine, "acme", "Sales")],
        },
        "cy@acme.test",
    )
    assert payload["userErrors"] == [
        error(
            "SOLE_ADMIN",
            "This member is the workspace's only active Admin: assign another Admin first.",
            "roleId",
        ),
        error("NOT_FOUND", NO_TEAM, "teamIds", "0"),
    ]


async def test_create_team_reports_name_description_and_each_member(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    payload = await refused_entirely(
        client,
        owner_engine,
        "createTeam",
        {
            "workspaceId": await workspace_id(owner_engine, "acme"),
            "memberIds": [
                await member_id(owner_engine, "dee@globex.test", "globex"),
                await member_id(owner_engine, "ben@acme.test", "acme"),
                await team_id(owner_engine, "acme", "Sales"),
            ],
            "description": "bell\x07",
            "name": "   ",
        },
        "ada@acme.test",
    )
    assert payload["userErrors"] == [
        BLANK_NAME,
        control_characters("description"),
        error("NOT_FOUND", NO_MEMBER, "memberIds", "0"),
        error("NOT_FOUND", NO_MEMBER, "memberIds", "2"),
    ]


async def test_update_team_reports_a_taken_name_with_the_rest(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    payload = await refused_entirely(
        client,
        owner_engine,
        "updateTeam",
        {
            "teamId": await team_id(owner_engine, "acme", "Sales"),
            "name": "support",
            "description": "x" * 501,
            "memberIds": [await member_id(owner_engine, "dee@globex.test", "globex")],
        },
        "ada@acme.test",
    )
    assert payload["userErrors"] == [
        error("NAME_TAKEN", "A team named support already exists.", "name"),
        error("TOO_LONG", "`description` is limited to 500 characters.", "description"),
        error("NOT_FOUND", NO_MEMBER, "memberIds", "0"),
    ]


async def test_create_role_reports_name_description_and_each_permission(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    payload = await refused_entirely(
        client,
        owner_engine,
        "createRole",
        {
            "workspaceId": await workspace_id(owner_engine, "acme"),
            "name": "x" * 65,
            "description": "esc\x1b",
            "permissions": ["members:read:all", "members:fly:all", "billing", "teams:read:all"],
        },
        "ada@acme.test",
    )
    errors = payload["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("TOO_LONG", ["input", "name"]),
        ("INVALID_VALUE", ["input", "description"]),
        ("INVALID_PERMISSION", ["input", "permissions", "1"]),
        ("INVALID_PERMISSION", ["input", "permissions", "2"]),
    ]
    assert errors[2]["message"] == "'members:fly:all': 'members' has no action 'fly'"


async def test_update_role_reports_escalation_per_permission_and_a_taken_name(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    # Eve may edit roles but holds neither audit:read:all nor whatever is uncatalogued.
    await grant_billing_manager(owner_engine, "roles:update:all")
    payload = await refused_entirely(
        client,
        owner_engine,
        "updateRole",
        {
            "roleId": await role_id(owner_engine, "acme", "Billing Manager"),
            "permissions": ["audit:read:all", "billing:*:all", "nope:read:all"],
            "name": "member",
        },
        "eve@acme.test",
    )
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("NAME_TAKEN", ["input", "name"]),
        ("ESCALATION", ["input", "permissions", "0"]),
        ("INVALID_PERMISSION", ["input", "permissions", "2"]),
    ]


async def test_update_general_settings_reports_every_field(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    payload = await refused_entirely(
        client,
        owner_engine,
        "updateGeneralSettings",
        {
            "workspaceId": await workspace_id(owner_engine, "acme"),
            "branding": {"accentColor": "#12345", "primaryColor": "red"},
            "handbook": "tab\tok, vertical tab \x0b not",
            "logoUrl": "http://acme.test/logo.png",
            "name": "",
        },
        "ada@acme.test",
    )
    colours = "Colours are #RRGGBB hex values."
    assert payload["userErrors"] == [
        BLANK_NAME,
        error("INVALID_URL", "`logoUrl` must be an https:// URL.", "logoUrl"),
        control_characters("handbook"),
        error("INVALID_VALUE", colours, "branding", "primaryColor"),
        error("INVALID_VALUE", colours, "branding", "accentColor"),
    ]


async def test_update_intelligence_settings_reports_each_provider_and_the_default_model(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    payload = await refused_entirely(
        client,
        owner_engine,
        "updateIntelligenceSettings",
        {
            "workspaceId": await workspace_id(owner_engine, "acme"),
            "providers": [
                {"provider": "skynet", "enabled": True, "models": [""]},
                {"provider": "openai", "enabled": True, "models": ["gpt-x"]},
                {"provider": "openai", "enabled": False, "models": []},
            ],
            "defaultModel": "no-such-model",
        },
        "ada@acme.test",
    )
    assert payload["userErrors"] == [
        error(
            "INVALID_VALUE",
            "The default model must be offered by an enabled provider.",
            "defaultModel",
        ),
        error("INVALID_VALUE", "Unknown AI provider skynet.", "providers", "0", "provider"),
        error(
            "INVALID_VALUE",
            "Model names are 1-100 characters, at most 50.",
            "providers",
            "0",
            "models",
        ),
        error("INVALID_VALUE", "openai is listed twice.", "providers", "2", "provider"),
    ]


async def test_create_api_key_reports_name_permissions_and_expiry(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    payload = await refused_entirely(
        client,
        owner_engine,
        "createApiKey",
        {
            "workspaceId": await workspace_id(owner_engine, "acme"),
            "expiresAt": "2020-01-01T00:00:00Z",
            "permissions": ["members:read:all", "members:fly:all"],
            "name": "line\nbreak",
        },
        "ada@acme.test",
    )
    assert payload["userErrors"] == [
        error("INVALID_VALUE", "`name` cannot hold control characters.", "name"),
        error(
            "INVALID_PERMISSION",
            "'members:fly:all': 'members' has no action 'fly'",
            "permissions",
            "1",
        ),
        error("INVALID_VALUE", "`expiresAt` must be a future instant.", "expiresAt"),
    ]


async def test_delete_account_reports_the_last_admin_and_the_confirmation(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    payload = await refused_entirely(
        client,
        owner_engine,
        "deleteAccount",
        {"confirmation": "delete"},
        "cy@acme.test",
        f"deleted blockingWorkspaces {{ slug }} {ERRORS}",
    )
    assert payload == {
        "deleted": False,
        "blockingWorkspaces": [{"slug": "globex"}],
        "userErrors": [
            {
                "code": "SOLE_ADMIN",
                "message": "You are the only active Admin of: globex. Assign another Admin there first.",
                "field": ["input"],
            },
            error("CONFIRMATION_MISMATCH", "Type DELETE (in capitals) to confirm.", "confirmation"),
        ],
    }


async def test_create_webhook_endpoint_reports_the_url_each_event_and_the_description(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    payload = await refused_entirely(
        client,
        owner_engine,
        "createWebhookEndpoint",
        {
            "workspaceId": await workspace_id(owner_engine, "acme"),
            "url": "ftp://127.0.0.1/hooks",
            "events": ["team.exploded", "team.created", "nope"],
            "description": "bell \x07",
        },
        as_="ada@acme.test",
    )
    unknown = "Unknown event type {!r}: see docs/partners.md#events."
    assert payload == {
        "userErrors": [
            error("INVALID_URL", "The URL must start with https:// or http://.", "url"),
            error("INVALID_VALUE", unknown.format("team.exploded"), "events", "0"),
            error("INVALID_VALUE", unknown.format("nope"), "events", "2"),
            error("INVALID_VALUE", "`description` cannot hold control characters.", "description"),
        ]
    }

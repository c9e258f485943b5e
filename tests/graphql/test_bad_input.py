"""Bad input is BAD_USER_INPUT (or a mutation's userErrors), a bad token UNAUTHENTICATED:
never INTERNAL_SERVER_ERROR, never a 5xx, and nothing changes. Each shape here once gave
INTERNAL_SERVER_ERROR on one engine or both (issue 11); tests/test_fuzz.py looks for
more. The rules: docs/mutations.md#input-rules."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.graphql.ids import encode_id
from tests.client import GraphQLClient, without_cost
from tests.graphql.mutations.helpers import snapshot, workspace_id

NUL_IN_VARIABLES = {
    "errors": [
        {
            "message": "The variables have a string holding U+0000 (NUL), "
            "which no argument accepts.",
            "extensions": {"code": "BAD_USER_INPUT"},
        }
    ]
}
NUL_IN_DOCUMENT = {
    "errors": [
        {
            "message": "The document has a string holding U+0000 (NUL), which no argument accepts.",
            "extensions": {"code": "BAD_USER_INPUT"},
        }
    ]
}

CREATE_TEAM = """mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { name description } userErrors { code message field } } }"""
GENERAL = """mutation($input: UpdateGeneralSettingsInput!) {
  updateGeneralSettings(input: $input) {
    workspace { settings { general { name handbook } } } userErrors { code message field } } }"""
INTELLIGENCE = """mutation($input: UpdateIntelligenceSettingsInput!) {
  updateIntelligenceSettings(input: $input) { userErrors { code message field } } }"""
ADD_MEMBER = """mutation($input: AddMemberInput!) {
  addMember(input: $input) { invitation { email } userErrors { code message field } } }"""
SHARE_LINK = "query($token: String!) { shareLink(token: $token) { token } }"
AUDIT = """query($filter: AuditEventFilterInput) {
  workspace(slug: "acme") { auditEvents(filter: $filter) { nodes { action } } } }"""
CONVERSATIONS = """query($filter: ConversationFilterInput) {
  workspace(slug: "acme") { conversations(filter: $filter) { nodes { title } } } }"""
WORKSPACE = "query($slug: String!) { workspace(slug: $slug) { name } }"
VIEWER = "{ viewer { email } }"
MEMBERS = """query($filter: MemberFilterInput) {
  workspace(slug: "acme") { members(filter: $filter) { nodes { id } } } }"""


async def answer(
    client: GraphQLClient, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    """The body of a response that is not a server failure."""
    response = await client.post(query, variables, **kw)
    assert response.status_code < 500, response.text
    body = without_cost(response.json())
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", ())]
    assert "INTERNAL_SERVER_ERROR" not in codes, body
    return body


async def test_a_nul_byte_in_any_string_is_refused_before_anything_runs(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    token = await client.token("ada@acme.test")
    before = await snapshot(owner_engine)
    cases: list[tuple[str, dict[str, Any]]] = [
        (CREATE_TEAM, {"input": {"workspaceId": ws, "name": "Ops\x00"}}),
        (GENERAL, {"input": {"workspaceId": ws, "name": "Acme\x00"}}),
        (GENERAL, {"input": {"workspaceId": ws, "handbook": "# Hand\x00book"}}),
        (SHARE_LINK, {"token": "\x00"}),
        (AUDIT, {"filter": {"action": "team.created\x00"}}),
        (WORKSPACE, {"slug": "acme\x00"}),
        (MEMBERS, {"filter": {"search": "a\x00b"}}),
        (ADD_MEMBER, {"input": {"workspaceId": ws, "email": "a\x00@b.test"}}),
    ]
    for query, variables in cases:
        assert await answer(client, query, variables, token=token) == NUL_IN_VARIABLES, variables
    literals = [
        f'mutation {{ createTeam(input: {{workspaceId: "{ws}", name: "Ops\\u0000"}}) {{ team {{ id }} }} }}',
        'query { shareLink(token: "\\u0000") { token } }',
        'query { workspace(slug: "acme") { auditEvents(filter: {action: "x\\u0000"}) { nodes { id } } } }',
        'query { viewer @include(if: true) { email } workspace(slug: "\\u0000") { name } }',
    ]
    for query in literals:
        assert await answer(client, query, token=token) == NUL_IN_DOCUMENT, query
    assert await snapshot(owner_engine) == before


async def test_single_line_names_refuse_control_characters(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    token = await client.token("ada@acme.test")
    before = await snapshot(owner_engine)
    for name in ("Ops\x01", "Ops\nTeam", "Ops\tTeam", "Ops\x7f", "Ops\x85Team"):
        body = await answer(
            client, CREATE_TEAM, {"input": {"workspaceId": ws, "name": name}}, token=token
        )
        assert body == {
            "data": {
                "createTeam": {
                    "team": None,
                    "userErrors": [
                        {
                            "code": "INVALID_VALUE",
                            "message": "`name` cannot hold control characters.",
                            "field": ["input", "name"],
                        }
                    ],
                }
            }
        }, repr(name)
    body = await answer(
        client, GENERAL, {"input": {"workspaceId": ws, "name": "Acme\x1b[31m"}}, token=token
    )
    assert body["data"]["updateGeneralSettings"]["userErrors"] == [
        {
            "code": "INVALID_VALUE",
            "message": "`name` cannot hold control characters.",
            "field": ["input", "name"],
        }
    ]
    body = await answer(
        client, ADD_MEMBER, {"input": {"workspaceId": ws, "email": "a\x01@b.test"}}, token=token
    )
    assert body["data"]["addMember"]["userErrors"][0]["code"] == "INVALID_VALUE"
    providers = [{"provider": "openai", "enabled": True, "models": ["gpt-4o\x07"]}]
    body = await answer(
        client, INTELLIGENCE, {"input": {"workspaceId": ws, "providers": providers}}, token=token
    )
    assert body["data"]["updateIntelligenceSettings"]["userErrors"] == [
        {
            "code": "INVALID_VALUE",
            "message": "`models` cannot hold control characters.",
            "field": ["input", "providers", "0", "models"],
        }
    ]
    assert await snapshot(owner_engine) == before


async def test_multi_line_text_takes_tabs_and_line_breaks_but_no_other_control(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_id(owner_engine, "acme")
    token = await client.token("ada@acme.test")
    before = await snapshot(owner_engine)
    body = await answer(
        client, GENERAL, {"input": {"workspaceId": ws, "handbook": "# A\x0cB"}}, token=token
    )
    assert body["data"]["updateGeneralSettings"] == {
        "workspace": None,
        "userErrors": [
            {
                "code": "INVALID_VALUE",
                "message": "`handbook` cannot hold control characters other than tabs and "
                "line breaks.",
                "field": ["input", "handbook"],
            }
        ],
    }
    assert await snapshot(owner_engine) == before

    handbook = "# Handbook\r\n\n\tIndented: caf\u00e9 \u2603 \U0001f600\n"
    body = await answer(
        client, GENERAL, {"input": {"workspaceId": ws, "handbook": handbook}}, token=token
    )
    assert body["data"]["updateGeneralSettings"] == {
        "workspace": {"settings": {"general": {"name": "Acme Corp", "handbook": handbook}}},
        "userErrors": [],
    }
    team = {"workspaceId": ws, "name": "Ops \u00e9", "description": "Line one\nLine\ttwo"}
    body = await answer(client, CREATE_TEAM, {"input": team}, token=token)
    assert body["data"]["createTeam"] == {
        "team": {"name": "Ops \u00e9", "description": "Line one\nLine\ttwo"},
        "userErrors": [],
    }


def _refused_instant(
    variable: str, path: str, value: str, reason: str, column: int = 7
) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": f"Variable '${variable}' has invalid value at .{path}: "
                f'DateTime "{value}" {reason}',
                "locations": [{"line": 1, "column": column}],
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ]
    }


NO_OFFSET = 'has no time zone offset: add one, as in "2026-11-02T15:00:00Z".'


async def test_a_datetime_without_a_time_zone_is_refused_everywhere(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    token = await client.token("ada@acme.test")
    naive = "2026-11-04T00:00:00"
    body = await answer(client, AUDIT, {"filter": {"since": naive}}, token=token)
    assert body == _refused_instant("filter", "since", naive, NO_OFFSET)
    body = await answer(client, CONVERSATIONS, {"filter": {"from": naive}}, token=token)
    assert body == _refused_instant("filter", "from", naive, NO_OFFSET)
    edge = "0001-01-01T00:00:00+01:00"
    body = await answer(client, CONVERSATIONS, {"filter": {"to": edge}}, token=token)
    assert body == _refused_instant("filter", "to", edge, "is out of range.")
    body = await answer(
        client, AUDIT, {"filter": {"since": "9999-12-31T23:59:59-01:00"}}, token=token
    )
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}

    literal = f'{{ workspace(slug: "acme") {{ auditEvents(filter: {{since: "{naive}"}}) {{ nodes {{ action }} }} }} }}'
    body = await answer(client, literal, token=token)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert NO_OFFSET in body["errors"][0]["message"]
    assert "data" not in body

    ws = await workspace_id(owner_engine, "acme")
    before = await snapshot(owner_engine)
    key = {"workspaceId": ws, "name": "CI", "permissions": ["members:read:all"], "expiresAt": naive}
    body = await answer(
        client,
        "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
        {"input": key},
        token=token,
    )
    assert body == _refused_instant("input", "expiresAt", naive, NO_OFFSET, column=10)
    assert await snapshot(owner_engine) == before

    with_offset = {"since": "2026-11-04T00:00:00+01:00"}
    body = await answer(client, AUDIT, {"filter": with_offset}, token=token)
    assert body == {"data": {"workspace": {"auditEvents": {"nodes": []}}}}


async def test_out_of_range_numbers_and_odd_digits_are_bad_user_input(
    client: GraphQLClient,
) -> None:
    token = await client.token("ada@acme.test")
    members = (
        'query($first: Int) { workspace(slug: "acme") { members(first: $first) { nodes { id } } } }'
    )
    for first in (2**31, -(2**31) - 1, 2**70, 1.5, "\u0661", "7"):
        body = await answer(client, members, {"first": first}, token=token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], first
    for first in (0, -1, 2**31 - 1):
        body = await answer(client, members, {"first": first}, token=token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], first
    literal = '{ workspace(slug: "acme") { members(first: 99999999999) { nodes { id } } } }'
    body = await answer(client, literal, token=token)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    node = "query($id: ID!) { node(id: $id) { id } }"
    for bogus in ("\u0661" * 22, "\uff11" * 22, encode_id("User", 1)[:-1] + "\u00b2", 2**70):
        body = await answer(client, node, {"id": bogus}, token=token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], bogus


def _signed(client: GraphQLClient, **claims: Any) -> str:
    s = client.settings
    now = time.time()
    base = {"sub": "1", "iss": s.jwt_issuer, "aud": s.jwt_audience, "iat": now, "exp": now + 60}
    return jwt.encode({**base, **claims}, s.secret, algorithm="HS256")


ODD_CLAIMS: list[dict[str, Any]] = [
    *({"sub": sub} for sub in ("\u00b2", "\u0661", str(2**70), "9" * 5000, 1, None, [1], {})),
    *({"sub": sub} for sub in ("1\x00", " 1", "1 ", "0", "-1", "2147483648")),
    *({"iat": iat} for iat in ("1", None, True, -(10**400), 10**400, -1, [1], float("nan"))),
    *({"exp": exp} for exp in ("9999999999", None, True, 10**400, 2**70, float("inf"), {})),
    {"sub": "1", "extra": "x" * 20_000},
]


@pytest.mark.parametrize("claims", ODD_CLAIMS, ids=lambda c: repr(c)[:40])
async def test_a_validly_signed_token_with_odd_claims_is_unauthenticated(
    client: GraphQLClient, claims: dict[str, Any]
) -> None:
    response = await client.post(VIEWER, token=_signed(client, **claims))
    assert response.status_code == 401, response.text
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "header",
    [
        b"Bearer \xc3\xa9.a.b",
        b"Bearer \xff\xfe",
        b"Bearer a.b.c",
        b"Bearer eyJ.eyJ.eyJ",
        b"Bearer " + b"A" * 60_000,
        b"Bearer !!!.???.***",
        b"Bearer hmy_\xc3\xa9_secret",
        b"Bearer hmy_abc\x01_secret",
        b"Bearer hmy_" + b"a" * 5000 + b"_secret",
    ],
    ids=lambda h: repr(h)[:30],
)
async def test_a_malformed_authorization_header_is_unauthenticated(
    client: GraphQLClient, header: bytes
) -> None:
    response = await client.http.post(
        "/graphql",
        json={"query": VIEWER},
        headers=httpx.Headers([(b"Authorization", header)]),
    )
    assert response.status_code == 401, response.text
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]

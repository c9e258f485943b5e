"""Relay connections: keyset pages, opaque cursors bound to their list, `first` 1-100
(backward pages: tests/graphql/test_backward_pagination.py)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.keys import CURSOR_KEY, derived_key
from app.graphql.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.models import pk
from tests import factories as f
from tests.client import GraphQLClient, without_cost
from tests.edge.asgi_edge import recorded

ADA = "ada@acme.test"

MEMBERS = """query($first: Int, $after: String) { workspace(slug: "acme") {
  members(first: $first, after: $after) {
    totalCount
    edges { cursor node { id user { email } } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""

CONVERSATIONS = """query($first: Int, $after: String) { workspace(slug: "acme") {
  conversations(first: $first, after: $after) {
    totalCount
    edges { cursor node { id title } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""


async def walk(client: GraphQLClient, query: str, field: str, first: int) -> list[dict[str, Any]]:
    """Every page of a connection, following endCursor; checks each page's invariants."""
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        body = await client.query(query, {"first": first, "after": after}, as_=ADA)
        assert "errors" not in body, body
        page = body["data"]["workspace"][field]
        edges, info = page["edges"], page["pageInfo"]
        assert [e["node"]["id"] for e in edges] == [n["id"] for n in page["nodes"]]
        assert info["hasPreviousPage"] is (after is not None)
        assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
        assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)
        assert len(edges) <= first
        pages.append(page)
        if not info["hasNextPage"]:
            return pages
        assert len(edges) == first
        after = info["endCursor"]


async def test_members_in_pages_of_two_cover_everyone_exactly_once(
    client: GraphQLClient, session: AsyncSession
) -> None:
    ws = await f.workspace_id(session, "acme")
    newcomer = await f.create_user(session, email="zed@acme.test", name="Zed New")
    await f.add_member(session, ws, pk(newcomer), await f.role_id(session, ws, "Member"))
    await session.commit()

    pages = await walk(client, MEMBERS, "members", 2)

    emails = [[e["node"]["user"]["email"] for e in p["edges"]] for p in pages]
    assert emails == [
        ["ada@acme.test", "ben@acme.test"],
        ["cy@acme.test", "eve@acme.test"],
        ["zed@acme.test"],
    ]
    assert [p["totalCount"] for p in pages] == [5, 5, 5]
    ids = [e["node"]["id"] for p in pages for e in p["edges"]]
    assert len(ids) == len(set(ids)) == 5


async def test_conversations_in_pages_of_two_cover_each_exactly_once(
    client: GraphQLClient, session: AsyncSession
) -> None:
    # Three more at the very same instant: the id breaks the tie, nothing is skipped.
    ws = await f.workspace_id(session, "acme")
    ada = await f.user_id(session, ADA)
    same_time = datetime(2026, 11, 4, 17, 0, tzinfo=UTC)  # also "Pricing objection handling"'s
    for title in ("Tie A", "Tie B", "Tie C"):
        await f.create_conversation(session, ws, host=ada, title=title, start=same_time)
    await session.commit()

    pages = await walk(client, CONVERSATIONS, "conversations", 2)

    titles = [[e["node"]["title"] for e in p["edges"]] for p in pages]
    assert titles == [
        ["Support weekly sync", "Escalation: outage follow-up"],
        ["Tie C", "Tie B"],
        ["Tie A", "Pricing objection handling"],
        ["Q4 pipeline review", "Acme x Initech discovery call"],
    ]
    assert {p["totalCount"] for p in pages} == {8}


async def test_teams_roles_and_team_members_page_too(
    client: GraphQLClient, session: AsyncSession
) -> None:
    sales = await f.gid(session, "Team", "acme", "Sales")
    query = """query($after: String, $sales: ID!) { workspace(slug: "acme") {
      teams(first: 1, after: $after) { totalCount nodes { name } pageInfo { hasNextPage endCursor } }
      roles(first: 2) { totalCount nodes { name } pageInfo { hasNextPage } }
      team(id: $sales) { members(first: 1) { totalCount nodes { user { email } } pageInfo { hasNextPage } } } } }"""
    first = (await client.query(query, {"sales": sales}, as_=ADA))["data"]["workspace"]
    assert first["teams"]["nodes"] == [{"name": "Sales"}]
    assert first["teams"]["totalCount"] == 2
    assert first["roles"] == {
        "totalCount": 3,
        "nodes": [{"name": "Admin"}, {"name": "Member"}],
        "pageInfo": {"hasNextPage": True},
    }
    assert first["team"]["members"] == {
        "totalCount": 2,
        "nodes": [{"user": {"email": "ada@acme.test"}}],
        "pageInfo": {"hasNextPage": True},
    }
    after = first["teams"]["pageInfo"]["endCursor"]
    variables = {"after": after, "sales": sales}
    second = (await client.query(query, variables, as_=ADA))["data"]["workspace"]
    assert second["teams"] == {
        "totalCount": 2,
        "nodes": [{"name": "Support"}],
        "pageInfo": {"hasNextPage": False, "endCursor": second["teams"]["pageInfo"]["endCursor"]},
    }


async def test_default_page_size_and_maximum(client: GraphQLClient, session: AsyncSession) -> None:
    ws = await f.workspace_id(session, "acme")
    users = await f.create_users(session, 110)
    await f.add_members(session, ws, [pk(u) for u in users], await f.role_id(session, ws, "Member"))
    await session.commit()
    query = """query($first: Int) { workspace(slug: "acme") {
      members(first: $first) { totalCount nodes { id } pageInfo { hasNextPage } } } }"""

    default = (await client.query(query, as_=ADA))["data"]["workspace"]["members"]
    assert (len(default["nodes"]), default["totalCount"]) == (DEFAULT_PAGE_SIZE, 114)
    assert DEFAULT_PAGE_SIZE == 20
    most = (await client.query(query, {"first": 100}, as_=ADA))["data"]["workspace"]["members"]
    assert (len(most["nodes"]), most["pageInfo"]["hasNextPage"]) == (MAX_PAGE_SIZE, True)


async def test_cursor_after_the_last_item_gives_an_empty_page(client: GraphQLClient) -> None:
    last = await walk(client, MEMBERS, "members", 4)
    after = last[-1]["pageInfo"]["endCursor"]
    body = await client.query(MEMBERS, {"first": 4, "after": after}, as_=ADA)
    assert body["data"]["workspace"]["members"] == {
        "totalCount": 4,
        "edges": [],
        "nodes": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": True,  # the four before the cursor
            "startCursor": None,
            "endCursor": None,
        },
    }


async def test_first_out_of_range_is_bad_user_input_before_any_sql(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token = await client.token(ADA)
    await client.post("{ viewer { id } }", token=token)  # the engine is warm
    with recorded(engine) as baseline:
        await client.post('{ workspace(slug: "acme") { name } }', token=token)
    query = 'query($n: Int) { workspace(slug: "acme") { name FIELD(first: $n) { totalCount } } }'
    for field in ("members", "teams", "roles", "conversations"):
        for first in (0, 101, -1):
            with recorded(engine) as seen:
                response = await client.post(
                    query.replace("FIELD", field), {"n": first}, token=token
                )
            body = without_cost(response.json())
            assert body == {
                "data": {"workspace": {"name": "Acme Corp", field: None}},
                "errors": [
                    {
                        "message": f"`first` must be between 1 and 100, got {first}.",
                        "locations": [{"line": 1, "column": 49}],
                        "path": ["workspace", field],
                        "extensions": {"code": "BAD_USER_INPUT", "argument": "first"},
                    }
                ],
            }, (field, first)
            assert len(seen) == len(baseline), (field, first)  # nothing ran for the field


def cursor_of(parts: Any) -> str:
    """A cursor sealed with the server's key, as if the server had issued it: what the
    server checks after opening a cursor (tests/graphql/test_opaque_ids.py checks the seal)."""
    sealed = AESSIV(derived_key(CURSOR_KEY)).encrypt(orjson.dumps(parts), None)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def unsealed_cursor_of(parts: Any) -> str:
    """The old, unsealed encoding (base64url of the JSON): refused."""
    return base64.urlsafe_b64encode(orjson.dumps(parts)).decode().rstrip("=")


MALFORMED_CURSORS = [
    "garbage!",
    "",
    "Zm9v",  # base64 of "foo", not JSON
    unsealed_cursor_of(["Member", 1]),
    cursor_of("Member"),  # not a list
    cursor_of({"Member": 1}),
    cursor_of(["Member"]),
    cursor_of(["Member", 1, 2]),
    cursor_of(["Member", "1"]),
    cursor_of(["Member", True]),
    cursor_of(["Member", 1.5]),
    cursor_of(["Member", 2**31]),  # beyond the key column: refused, not a database error
    cursor_of([1]),  # no list tag
    cursor_of(["Member", 1, *range(100)]),  # too long to be one of ours
]


async def test_malformed_member_cursor_is_bad_user_input(client: GraphQLClient) -> None:
    token = await client.token(ADA)
    for after in MALFORMED_CURSORS:
        response = await client.post(MEMBERS, {"first": 2, "after": after}, token=token)
        body = without_cost(response.json())
        assert body["data"] == {"workspace": {"members": None}}, after
        assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
            (
                "`after` is not a cursor of this list.",
                {"code": "BAD_USER_INPUT", "argument": "after"},
            )
        ], after


MALFORMED_CONVERSATION_CURSORS = [
    cursor_of(["Conversation", {"t": "2026-11-04T00:00:00"}, 3]),  # naive datetime
    cursor_of(["Conversation", {"t": "0001-01-01T00:00:00+01:00"}, 3]),  # out of range
    cursor_of(["Conversation", {"t": "yesterday"}, 3]),
    cursor_of(["Conversation", "2026-11-04T00:00:00+00:00", 3]),
    cursor_of(["Conversation", {"t": "2026-11-04T00:00:00+00:00"}, -(2**31) - 1]),
    cursor_of(["Conversation", {"t": "2026-11-04T00:00:00+00:00"}]),
]


async def test_malformed_conversation_cursor_is_bad_user_input(client: GraphQLClient) -> None:
    token = await client.token(ADA)
    for after in MALFORMED_CONVERSATION_CURSORS:
        response = await client.post(CONVERSATIONS, {"first": 2, "after": after}, token=token)
        body = without_cost(response.json())
        assert body["data"] == {"workspace": {"conversations": None}}, after
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], after


async def test_cursor_of_another_list_is_bad_user_input(client: GraphQLClient) -> None:
    teams = await client.query(
        '{ workspace(slug: "acme") { teams(first: 1) { pageInfo { endCursor } } '
        "roles(first: 1) { pageInfo { endCursor } } "
        "conversations(first: 1) { pageInfo { endCursor } } "
        "members(first: 1) { pageInfo { endCursor } } } }",
        as_=ADA,
    )
    cursors = {k: v["pageInfo"]["endCursor"] for k, v in teams["data"]["workspace"].items()}
    # Members, teams and roles are all ordered by an integer id: only the list tag
    # tells their cursors apart.
    mismatched = [
        ("members", cursors["teams"]),
        ("members", cursors["roles"]),
        ("members", cursors["conversations"]),
        ("teams", cursors["members"]),
        ("roles", cursors["teams"]),
        ("conversations", cursors["members"]),
    ]
    for field, after in mismatched:
        body = await client.query(
            'query($a: String) { workspace(slug: "acme") { FIELD(first: 1, after: $a) { totalCount } } }'.replace(
                "FIELD", field
            ),
            {"a": after},
            as_=ADA,
        )
        assert body["data"] == {"workspace": {field: None}}, field
        assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
            ("`after` is not a cursor of this list.", "BAD_USER_INPUT")
        ], field


async def test_a_member_cursor_works_between_member_lists(client: GraphQLClient) -> None:
    """Workspace.members and Team.members share one order, so one cursor type."""
    body = await client.query(
        '{ workspace(slug: "acme") { members(first: 1) { pageInfo { endCursor } } } }', as_=ADA
    )
    after = body["data"]["workspace"]["members"]["pageInfo"]["endCursor"]
    body = await client.query(
        """query($a: String) { workspace(slug: "acme") { teams { nodes {
             members(after: $a) { nodes { user { email } } } } } } }""",
        {"a": after},
        as_=ADA,
    )
    assert body["data"]["workspace"]["teams"]["nodes"] == [
        {"members": {"nodes": [{"user": {"email": "cy@acme.test"}}]}},
        {
            "members": {
                "nodes": [
                    {"user": {"email": "ben@acme.test"}},
                    {"user": {"email": "eve@acme.test"}},
                ]
            }
        },
    ]


async def test_total_count_follows_the_filter(client: GraphQLClient) -> None:
    body = await client.query(
        """{ workspace(slug: "acme") {
             all: members(first: 1) { totalCount }
             admins: members(first: 1, filter: {search: "admin"}) { totalCount nodes { user { name } } }
             none: members(filter: {status: DEACTIVATED}) { totalCount nodes { id } } } }""",
        as_=ADA,
    )
    assert body == {
        "data": {
            "workspace": {
                "all": {"totalCount": 4},
                "admins": {"totalCount": 2, "nodes": [{"user": {"name": "Ada Admin"}}]},
                "none": {"totalCount": 0, "nodes": []},
            }
        }
    }

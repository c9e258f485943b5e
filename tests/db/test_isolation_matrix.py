"""Tenant isolation and field authorization as a matrix: every workspace-scoped read path
(typed, and by `node`) against every kind of principal, over the demo data.

Outcomes:
- OK: the field has data and the response has no error;
- FORBIDDEN: the field is null, with exactly one FORBIDDEN error at its path naming the
  permission (a member lacking it);
- HIDDEN: the response is byte-for-byte the one for a workspace (or ID) that does not
  exist: no existence oracle;
- NULL: (a lookup by ID in the viewer's workspace) null without an error, byte-for-byte
  like an ID that does not exist: the object is outside the viewer's scope;
- UNAUTHENTICATED: one UNAUTHENTICATED error and no `data` at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.graphql.ids import NODE_TYPES, encode_id
from app.graphql.schema import schema
from app.models import ApiKey, ConversationParticipant, MemberStatus, User, UserStatus, pk
from tests import factories as f
from tests.client import GraphQLClient, without_cost

OK, FORBIDDEN, HIDDEN, NULL = "OK", "FORBIDDEN", "HIDDEN", "NULL"
UNAUTHENTICATED = "UNAUTHENTICATED"


@dataclass(frozen=True)
class TypedPath:
    """A field under `workspace(slug: "acme")`."""

    path: tuple[str, ...]  # below `workspace`
    selection: str  # may use $id, the ID of `id_of`
    permission: str | None  # None: any member
    id_of: tuple[str, tuple[str, ...]] | None = None  # (type, natural key) of an acme object


@dataclass(frozen=True)
class NodePath:
    """`node(id:)` with the ID of a demo object of acme."""

    type_name: str
    key: tuple[str, ...]
    permission: str | None  # None: any member


TYPED_PATHS: dict[str, TypedPath] = {
    "members": TypedPath(
        ("members",), "members { totalCount nodes { user { email } } }", "members:read:all"
    ),
    "teams": TypedPath(("teams",), "teams { totalCount nodes { name } }", "teams:read:all"),
    "roles": TypedPath(
        ("roles",), "roles { totalCount nodes { name permissions } }", "roles:read:all"
    ),
    "settings.general": TypedPath(
        ("settings", "general"),
        "settings { general { name handbook } }",
        "organization:read:all",
    ),
    "settings.intelligence": TypedPath(
        ("settings", "intelligence"),
        "settings { intelligence { defaultModel } }",
        "intelligence:read:all",
    ),
    "subscription": TypedPath(("subscription",), "subscription { plan seats }", "billing:read:all"),
    "integrations": TypedPath(
        ("integrations",), "integrations { provider }", "integrations:read:all"
    ),
    "conversations": TypedPath(
        ("conversations",),
        "conversations { totalCount nodes { title } }",
        "conversations:read:own",
    ),
    "member(id)": TypedPath(
        ("member",),
        "member(id: $id) { user { email } }",
        "members:read:all",
        ("Member", ("acme", "ben@acme.test")),
    ),
    "team(id)": TypedPath(
        ("team",), "team(id: $id) { name }", "teams:read:all", ("Team", ("acme", "Sales"))
    ),
    "role(id)": TypedPath(
        ("role",), "role(id: $id) { name }", "roles:read:all", ("Role", ("acme", "Member"))
    ),
    # Hosted by ada, joined by cy, team Sales: outside eve's (Support) team scope.
    "conversation(id)": TypedPath(
        ("conversation",),
        "conversation(id: $id) { title }",
        "conversations:read:own",
        ("Conversation", ("acme", "Acme x Initech discovery call")),
    ),
    "name": TypedPath(("name",), "name", None),
    "viewerMembership": TypedPath(("viewerMembership",), "viewerMembership { id }", None),
    "viewerPermissions": TypedPath(("viewerPermissions",), "viewerPermissions", None),
}
# Written with the write API; in the matrix whenever the schema has them.
OPTIONAL_PATHS: dict[str, TypedPath] = {
    "auditEvents": TypedPath(("auditEvents",), "auditEvents { totalCount }", "audit:read:all"),
    "apiKeys": TypedPath(("apiKeys",), "apiKeys { name }", "api_keys:read:all"),
}
_workspace_fields = schema._schema.type_map["Workspace"].fields  # type: ignore[attr-defined]
TYPED_PATHS.update({k: v for k, v in OPTIONAL_PATHS.items() if k in _workspace_fields})

NODE_PATHS: dict[str, NodePath] = {
    "node:Workspace": NodePath("Workspace", ("acme",), None),
    "node:Member": NodePath("Member", ("acme", "ben@acme.test"), "members:read:all"),
    "node:Team": NodePath("Team", ("acme", "Sales"), "teams:read:all"),
    "node:Role": NodePath("Role", ("acme", "Billing Manager"), "roles:read:all"),
    # Hosted by ada, joined by cy, team Sales: outside eve's (Support) team scope.
    "node:Conversation": NodePath(
        "Conversation", ("acme", "Acme x Initech discovery call"), "conversations:read:own"
    ),
}
if "ApiKey" in NODE_TYPES:  # with the write API
    NODE_PATHS["node:ApiKey"] = NodePath("ApiKey", ("acme", "Matrix key"), "api_keys:read:all")
PATHS = [*TYPED_PATHS, *NODE_PATHS]

# --- principals ---------------------------------------------------------------------------

Arrange = Callable[[GraphQLClient, AsyncSession], Awaitable[str | None]]


def user(email: str) -> Arrange:
    async def arrange(client: GraphQLClient, session: AsyncSession) -> str | None:
        return await client.token(email)

    return arrange


def api_key(slug: str, creator: str, permissions: list[str], **kw: Any) -> Arrange:
    async def arrange(client: GraphQLClient, session: AsyncSession) -> str | None:
        ws = await f.workspace_id(session, slug)
        secret = await f.create_api_key(
            session, ws, await f.user_id(session, creator), permissions, **kw
        )
        await session.commit()
        return secret

    return arrange


def _costs(body: dict[str, Any]) -> tuple[int, int]:
    cost = body["extensions"]["cost"]
    return cost["requestedQueryCost"], cost["actualQueryCost"]


async def anonymous(client: GraphQLClient, session: AsyncSession) -> str | None:
    return None


async def deactivated_member(client: GraphQLClient, session: AsyncSession) -> str | None:
    row = await f.member(session, await f.workspace_id(session, "acme"), "cy@acme.test")
    row.status = MemberStatus.DEACTIVATED
    await session.commit()
    return await client.token("cy@acme.test")


async def deactivated_user(client: GraphQLClient, session: AsyncSession) -> str | None:
    token = await client.token("cy@acme.test")  # minted while the account was active
    account = await session.get(User, await f.user_id(session, "cy@acme.test"))
    assert account is not None
    account.status = UserStatus.DEACTIVATED
    await session.commit()
    return token


def everything(outcome: str) -> dict[str, str]:
    return dict.fromkeys(PATHS, outcome)


def but(outcome: str, exceptions: dict[str, str]) -> dict[str, str]:
    expected = everything(outcome)
    expected.update((path, other) for path, other in exceptions.items() if path in expected)
    # node(id:) never answers FORBIDDEN: a row the principal may not read is null, like a
    # row that does not exist (app/graphql/lookup.py).
    for path, outcome in expected.items():
        if path.startswith("node:") and outcome == FORBIDDEN:
            expected[path] = HIDDEN
    return expected  # (optional paths absent from the schema are skipped)


# What neither Members nor Billing Managers hold.
ADMIN_ONLY = {
    "settings.intelligence": FORBIDDEN,
    "auditEvents": FORBIDDEN,
    "apiKeys": FORBIDDEN,
    "node:ApiKey": FORBIDDEN,  # (HIDDEN: see `but`)
}


@dataclass(frozen=True)
class Principal:
    arrange: Arrange
    expected: dict[str, str]
    conversations: int | None = None  # how many acme conversations the principal reads


PRINCIPALS: dict[str, Principal] = {
    "anonymous": Principal(anonymous, everything(UNAUTHENTICATED)),
    "member of the other workspace (dee)": Principal(user("dee@globex.test"), everything(HIDDEN)),
    "member without the permission (cy, Member)": Principal(
        user("cy@acme.test"), but(OK, {"subscription": FORBIDDEN, **ADMIN_ONLY}), conversations=3
    ),
    "member with the permission (eve, Billing Manager)": Principal(
        user("eve@acme.test"),
        but(OK, {"node:Conversation": HIDDEN, "conversation(id)": NULL, **ADMIN_ONLY}),
        conversations=2,
    ),
    "admin (ada)": Principal(user("ada@acme.test"), everything(OK), conversations=5),
    "api key with a subset of permissions": Principal(
        api_key(
            "acme", "ada@acme.test", ["members:read:all", "billing:*:all", "conversations:read:own"]
        ),
        but(
            FORBIDDEN,
            {
                "members": OK,
                "member(id)": OK,
                "subscription": OK,
                "conversations": OK,
                "conversation(id)": OK,
                "name": OK,
                "viewerMembership": OK,
                "viewerPermissions": OK,
                "node:Workspace": OK,
                "node:Member": OK,
                "node:Conversation": OK,
            },
        ),
        conversations=2,  # own scope: what ada hosted or joined
    ),
    "api key beyond its creator's permissions": Principal(
        api_key("acme", "eve@acme.test", ["billing:read:all", "intelligence:read:all"]),
        but(
            FORBIDDEN,
            {
                "subscription": OK,
                "name": OK,
                "viewerMembership": OK,
                "viewerPermissions": OK,
                "node:Workspace": OK,
            },
        ),
    ),
    "api key of the other workspace (cy's, for globex)": Principal(
        api_key("globex", "cy@acme.test", ["members:read:all", "billing:read:all"]),
        everything(HIDDEN),
    ),
    "revoked api key": Principal(
        api_key(
            "acme",
            "ada@acme.test",
            ["members:read:all"],
            revoked_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        everything(UNAUTHENTICATED),
    ),
    "expired api key": Principal(
        api_key(
            "acme",
            "ada@acme.test",
            ["members:read:all"],
            expires_at=datetime.now(UTC) - timedelta(minutes=1),
        ),
        everything(UNAUTHENTICATED),
    ),
    "deactivated member (cy in acme)": Principal(deactivated_member, everything(HIDDEN)),
    "deactivated user (cy)": Principal(deactivated_user, everything(UNAUTHENTICATED)),
}

# --- requests -------------------------------------------------------------------------------


def typed_query(p: TypedPath) -> str:
    declared = "$slug: String!, $id: ID!" if p.id_of else "$slug: String!"
    return f"query({declared}) {{ workspace(slug: $slug) {{ {p.selection} }} }}"


NODE_QUERY = "query($id: ID!) { node(id: $id) { __typename id } }"


def nested(path: tuple[str, ...], leaf: Any) -> Any:
    for name in reversed(path):
        leaf = {name: leaf}
    return leaf


def value_at(data: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        data = data[name]
    return data


async def check(
    client: GraphQLClient,
    token: str | None,
    query: str,
    variables: dict[str, Any],
    absent: dict[str, Any],
    path: tuple[str, ...],
    permission: str | None,
    outcome: str,
) -> None:
    """One request and its outcome; ``absent`` are the variables naming nothing."""
    response = await client.post(query, variables, token=token)
    if outcome == UNAUTHENTICATED:
        assert response.status_code == 401
        body = response.json()
        assert set(body) == {"errors"}  # no data, not even null
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
        return
    assert response.status_code == 200
    full = response.json()
    body = without_cost(full)
    if outcome in (HIDDEN, NULL):
        missing = await client.post(query, absent, token=token)
        # Byte for byte but the bucket's level (which only time and charges move).
        assert without_cost(missing.json()) == body
        assert _costs(missing.json()) == _costs(full)
        assert body == {"data": nested(path[: 1 if outcome == HIDDEN else None], None)}
    elif outcome == FORBIDDEN:
        assert permission is not None  # membership-level fields are never FORBIDDEN here
        assert body == {
            "data": nested(path, None),
            "errors": [
                {
                    "message": f"You need the permission {permission} in this workspace.",
                    "locations": body["errors"][0]["locations"],
                    "path": list(path),
                    "extensions": {"code": "FORBIDDEN"},
                }
            ],
        }
    else:
        assert outcome == OK
        assert "errors" not in body
        assert value_at(body["data"], path) is not None


@pytest.mark.parametrize("principal", list(PRINCIPALS))
async def test_isolation_matrix(
    client: GraphQLClient, session: AsyncSession, principal: str
) -> None:
    who = PRINCIPALS[principal]
    if "node:ApiKey" in NODE_PATHS:
        acme, ada = await f.workspace_id(session, "acme"), await f.user_id(session, "ada@acme.test")
        await f.create_api_key(session, acme, ada, ["teams:read:all"], name="Matrix key")
        await session.commit()
    token = await who.arrange(client, session)
    assert set(who.expected) == set(PATHS)
    failures = []
    for name, p in TYPED_PATHS.items():
        outcome = who.expected[name]
        variables: dict[str, Any] = {"slug": "acme"}
        absent: dict[str, Any] = {"slug": "no-such-workspace"}
        if p.id_of:
            type_name, key = p.id_of
            variables["id"] = absent["id"] = await f.gid(session, type_name, *key)
            if outcome == NULL:
                absent = {"slug": "acme", "id": encode_id(type_name, 999_999)}
        try:
            await check(
                client,
                token,
                typed_query(p),
                variables,
                absent,
                ("workspace", *p.path),
                p.permission,
                outcome,
            )
        except AssertionError as exc:
            failures.append(f"{name}: expected {outcome}: {exc}")
    for name, n in NODE_PATHS.items():
        outcome = who.expected[name]
        global_id = await f.gid(session, n.type_name, *n.key)
        try:
            await check(
                client,
                token,
                NODE_QUERY,
                {"id": global_id},
                {"id": encode_id(n.type_name, 999_999)},
                ("node",),
                n.permission,
                outcome,
            )
        except AssertionError as exc:
            failures.append(f"{name}: expected {outcome}: {exc}")
    assert failures == []

    if who.conversations is not None:
        body = await client.post(
            '{ workspace(slug: "acme") { conversations { totalCount nodes { id } } } }',
            token=token,
        )
        page = without_cost(body.json())["data"]["workspace"]["conversations"]
        assert (page["totalCount"], len(page["nodes"])) == (who.conversations,) * 2


def test_matrix_size() -> None:
    """Reported in the issue note: principals x paths (each run on both databases)."""
    assert len(PRINCIPALS) == 12
    assert len(PATHS) >= 20


# --- the same promises, spelled out -------------------------------------------------------


async def test_member_cannot_read_billing(client: GraphQLClient) -> None:
    body = await client.query(
        '{ workspace(slug: "acme") { name subscription { plan seats } } }', as_="cy@acme.test"
    )
    assert body == {
        "data": {"workspace": {"name": "Acme Corp", "subscription": None}},
        "errors": [
            {
                "message": "You need the permission billing:read:all in this workspace.",
                "locations": [{"line": 1, "column": 34}],
                "path": ["workspace", "subscription"],
                "extensions": {"code": "FORBIDDEN"},
            }
        ],
    }


async def test_other_workspace_answers_exactly_like_a_missing_one(client: GraphQLClient) -> None:
    token = await client.token("dee@globex.test")
    query = "query($s: String!) { workspace(slug: $s) { id name members { totalCount } } }"
    acme = await client.post(query, {"s": "acme"}, token=token)
    nowhere = await client.post(query, {"s": "no-such-workspace"}, token=token)
    assert acme.status_code == nowhere.status_code == 200
    assert (
        without_cost(acme.json()) == without_cost(nowhere.json()) == {"data": {"workspace": None}}
    )
    assert _costs(acme.json()) == _costs(nowhere.json()) == (2, 0)


async def test_a_deactivated_member_keeps_their_other_workspace(
    client: GraphQLClient, session: AsyncSession
) -> None:
    token = await deactivated_member(client, session)
    body = without_cost((await client.post("{ workspaces { slug } }", token=token)).json())
    assert body == {"data": {"workspaces": [{"slug": "globex"}]}}


async def test_api_key_sees_only_its_workspace(
    client: GraphQLClient, session: AsyncSession
) -> None:
    token = await api_key("globex", "cy@acme.test", ["members:read:all"])(client, session)
    body = without_cost(
        (
            await client.post(
                "{ viewer { email workspaces { slug } } workspaces { slug "
                "members { nodes { user { email } } } } }",
                token=token,
            )
        ).json()
    )
    assert body == {
        "data": {
            "viewer": {"email": "cy@acme.test", "workspaces": [{"slug": "globex"}]},
            "workspaces": [
                {
                    "slug": "globex",
                    "members": {
                        "nodes": [
                            {"user": {"email": "cy@acme.test"}},
                            {"user": {"email": "dee@globex.test"}},
                        ]
                    },
                }
            ],
        }
    }


async def test_api_key_permissions_are_what_it_may_do(
    client: GraphQLClient, session: AsyncSession
) -> None:
    token = await api_key("acme", "eve@acme.test", ["billing:*:all", "intelligence:read:all"])(
        client, session
    )
    body = without_cost(
        (await client.post('{ workspace(slug: "acme") { viewerPermissions } }', token=token)).json()
    )
    # intelligence:read:all is not eve's to give: the key does not have it.
    assert body == {
        "data": {"workspace": {"viewerPermissions": ["billing:read:all", "billing:update:all"]}}
    }
    stored = (await session.execute(select(ApiKey))).scalars().one()
    assert stored.last_used_at is not None


async def test_nodes_answers_unreadable_and_foreign_items_like_missing_ones(
    client: GraphQLClient, session: AsyncSession
) -> None:
    token = await api_key("acme", "ada@acme.test", ["members:read:all"])(client, session)
    member = await f.gid(session, "Member", "acme", "ben@acme.test")
    team = await f.gid(session, "Team", "acme", "Sales")
    foreign = await f.gid(session, "Member", "globex", "dee@globex.test")
    body = without_cost(
        (
            await client.post(
                "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
                {"ids": [member, team, foreign]},
                token=token,
            )
        ).json()
    )
    # The team the key may not read is null like the foreign member: no error that would
    # tell it exists.
    assert body == {"data": {"nodes": [{"__typename": "Member", "id": member}, None, None]}}


# --- conversation scopes ----------------------------------------------------------------


async def custom_role_member(session: AsyncSession, permissions: list[str]) -> str:
    """A new account in acme's team Support, holding a custom role with ``permissions``,
    who also joined one Sales meeting ("Pricing objection handling")."""
    ws = await f.workspace_id(session, "acme")
    role = await f.create_role(session, ws, permissions)
    account = await f.create_user(session)
    support = await f.team_id(session, ws, "Support")
    await f.add_member(session, ws, pk(account), pk(role), team_ids=[support])
    joined = await f.conversation_id(session, ws, "Pricing objection handling")
    session.add(
        ConversationParticipant(
            workspace_id=ws, conversation_id=joined, user_id=pk(account), name=account.name
        )
    )
    await session.commit()
    return account.email


CONVERSATIONS_WITH_INSIGHTS = """{ workspace(slug: "acme") { conversations {
  nodes { title insights { kind } } } } }"""


async def test_conversations_are_filtered_by_scope(
    client: GraphQLClient, session: AsyncSession
) -> None:
    query = '{ workspace(slug: "acme") { conversations { totalCount nodes { title } } } }'
    own = await custom_role_member(session, ["conversations:read:own"])
    assert await client.query(query, as_=own) == {
        "data": {
            "workspace": {
                "conversations": {
                    "totalCount": 1,
                    "nodes": [{"title": "Pricing objection handling"}],
                }
            }
        }
    }
    # team = the Support team's two, and the one joined.
    team = await custom_role_member(session, ["conversations:read:team"])
    body = await client.query(query, as_=team)
    assert body["data"]["workspace"]["conversations"]["nodes"] == [
        {"title": "Support weekly sync"},
        {"title": "Escalation: outage follow-up"},
        {"title": "Pricing objection handling"},
    ]
    assert body["data"]["workspace"]["conversations"]["totalCount"] == 3


async def test_insights_follow_their_own_narrower_scope(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """conversations:read:all with insights:read:own: every conversation, but insights
    only of the one the viewer joined."""
    email = await custom_role_member(session, ["conversations:read:all", "insights:read:own"])
    body = await client.query(CONVERSATIONS_WITH_INSIGHTS, as_=email)
    both = [{"kind": "SUMMARY"}, {"kind": "TOPIC"}]
    assert body == {
        "data": {
            "workspace": {
                "conversations": {
                    "nodes": [
                        {"title": "Support weekly sync", "insights": []},
                        {"title": "Escalation: outage follow-up", "insights": []},
                        {"title": "Pricing objection handling", "insights": both},
                        {"title": "Q4 pipeline review", "insights": []},
                        {"title": "Acme x Initech discovery call", "insights": []},
                    ]
                }
            }
        }
    }
    # The same through node.
    ws = await f.workspace_id(session, "acme")
    joined = encode_id(
        "Conversation", await f.conversation_id(session, ws, "Pricing objection handling")
    )
    other = encode_id("Conversation", await f.conversation_id(session, ws, "Q4 pipeline review"))
    body = await client.query(
        """query($a: ID!, $b: ID!) {
             a: node(id: $a) { ... on Conversation { insights { kind } } }
             b: node(id: $b) { ... on Conversation { insights { kind } } } }""",
        {"a": joined, "b": other},
        as_=email,
    )
    assert body == {"data": {"a": {"insights": both}, "b": {"insights": []}}}


async def test_insights_at_team_scope_with_every_conversation(
    client: GraphQLClient, session: AsyncSession
) -> None:
    email = await custom_role_member(session, ["conversations:read:all", "insights:read:team"])
    body = await client.query(CONVERSATIONS_WITH_INSIGHTS, as_=email)
    has_insights = [
        (n["title"], bool(n["insights"]))
        for n in body["data"]["workspace"]["conversations"]["nodes"]
    ]
    assert has_insights == [
        ("Support weekly sync", True),
        ("Escalation: outage follow-up", True),
        ("Pricing objection handling", True),  # joined
        ("Q4 pipeline review", False),
        ("Acme x Initech discovery call", False),
    ]


async def test_insights_need_an_insights_permission(
    client: GraphQLClient, session: AsyncSession
) -> None:
    email = await custom_role_member(session, ["conversations:read:all"])
    body = await client.query(
        """{ workspace(slug: "acme") { conversations(first: 1) {
             nodes { title insights { kind } } } } }""",
        as_=email,
    )
    assert body == {
        "data": {
            "workspace": {
                "conversations": {"nodes": [{"title": "Support weekly sync", "insights": None}]}
            }
        },
        "errors": [
            {
                "message": "You need the permission insights:read:own in this workspace.",
                "locations": body["errors"][0]["locations"],
                "path": ["workspace", "conversations", "nodes", 0, "insights"],
                "extensions": {"code": "FORBIDDEN"},
            }
        ],
    }


async def test_admin_reads_every_insight(client: GraphQLClient) -> None:
    body = await client.query(
        '{ workspace(slug: "acme") { conversations(first: 1) { nodes { insights { kind } } } } }',
        as_="ada@acme.test",
    )
    assert body["data"]["workspace"]["conversations"]["nodes"] == [
        {"insights": [{"kind": "SUMMARY"}, {"kind": "TOPIC"}]}
    ]

"""SQL is bounded by the query's shape, not by its data: the same query issues exactly the
same statements for a page of 2 and a page of 50.

Statements are recorded with SQLAlchemy's ``before_cursor_execute`` on the test engine
(the app runs on that engine) and labelled by the first table they read, so a failure
shows which statement appeared or disappeared; a statement that signs in is labelled
``sign-in`` (and, when it also reads a page, by that page's table too). Each request is
compared with a baseline request, ``workspace(slug: "acme") { name }``, which pays the
fixed cost every request pays: authentication (the token's account with its workspace
ids and its memberships with their roles, teams and workspaces, which
``workspace(slug:)`` then reads without a statement). The baseline is 1 statement on
PostgreSQL (``harmony_sign_in`` enters the tenant context and the same statement reads
the memberships under it) and 2 on SQLite. The lists below are what a page adds to it,
for any N. On PostgreSQL a query of an account signed in before (every request
measured here: each document runs once before) sends its sign-in with its first read,
in one statement (app.edge.authenticate, remembered sign-ins): the members page and the
conversation list are 1 statement in all there, 3 on SQLite. A backward page
(``last: N``) is the same statements as a forward one (``first: N``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.models import ActionItem, WebhookDelivery, WebhookDeliveryAttempt, pk
from tests import factories as f
from tests.client import GraphQLClient

ADA = "ada@acme.test"
EXTRA = 48  # acme has 4 members and 5 conversations: 52 and 53 with these

_FROM = re.compile(r"[()]|\bFROM\s+\"?(\w+)", re.IGNORECASE)
# A read outside a transaction wraps its statement to set the tenant context or to sign in
# first (app.db.prepared._IN_CONTEXT, _SIGNING_IN): labelled by the statement inside.
_INNER = re.compile(r"harmony_inner\.\* FROM \((.*)\) AS harmony_inner", re.DOTALL)
SIGN_IN = "sign-in"


BASELINE = {"postgresql": 1, "sqlite": 2}


def labels(statement: str) -> list[str]:
    """``sign-in`` for a statement that signs in, and the label of what else it reads."""
    signs_in = [SIGN_IN] if "harmony_sign_in(" in statement else []
    wrapped = _INNER.search(statement)
    if wrapped:
        return [*signs_in, label(wrapped.group(1))]
    return signs_in or [label(statement)]


def label(statement: str) -> str:
    """The first table the statement's own FROM names (not a subquery's, unless it reads
    from subqueries only)."""
    depth = 0
    for found in _FROM.finditer(statement):
        if found.group(0) in "()":
            depth += 1 if found.group(0) == "(" else -1
        elif depth == 0:
            return found.group(1)
    # FROM a subquery only: the first table of any FROM
    tables = [f.group(1) for f in _FROM.finditer(statement) if f.group(1)]
    return tables[0] if tables else statement.split()[0].upper()


@contextmanager
def recorded(engine: AsyncEngine) -> Iterator[list[list[str]]]:
    """The labels of each statement sent meanwhile."""
    seen: list[list[str]] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(labels(statement))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def page_total(client: GraphQLClient, engine: AsyncEngine, page: list[str]) -> int:
    """Statements in all for a page that adds ``page`` to the baseline: on PostgreSQL
    the sign-in rides with the page's first read (but with ``FAST_PATHS=false``)."""
    if engine.dialect.name == "postgresql" and client.settings.fast_paths:
        return len(page)
    return BASELINE[engine.dialect.name] + len(page)


async def run(
    client: GraphQLClient, engine: AsyncEngine, query: str, n: int, as_: str = ADA
) -> tuple[dict[str, Any], list[str], int]:
    """The response, the statements it took beyond the baseline's (sorted labels: loader
    batches may be dispatched in either order), and how many it took in all."""
    token = await client.token(as_)
    baseline_query = '{ workspace(slug: "acme") { name } }'
    await client.post(baseline_query, token=token)  # each document runs once before
    await client.post(query, {"n": 1}, token=token)
    with recorded(engine) as baseline:
        await client.post(baseline_query, token=token)
    with recorded(engine) as seen:
        response = await client.post(query, {"n": n}, token=token)
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    # A fixed cost, whatever the query (BASELINE per engine, see the module docstring).
    assert len(baseline) == BASELINE[engine.dialect.name], baseline
    extra = [name for statement in seen for name in statement]
    for statement in baseline:
        for name in statement:
            extra.remove(name)  # ValueError if the page skipped a baseline statement
    return body, sorted(extra), len(seen)


MEMBERS_PAGE = """query($n: Int) { workspace(slug: "acme") { members(first: $n) {
  nodes { user { name } role { name } teams { name } } } } }"""

# What the members page adds to the baseline, whatever N: 1 statement.
MEMBERS_PAGE_STATEMENTS = [
    "members",  # the page (keyset, first + 1 rows) with Member.user, Member.role and Member.teams
]


async def add_members_of_every_role(session: AsyncSession) -> int:
    """EXTRA members in acme: a mix of roles (Admin, Member, a custom one) and of zero,
    one or two teams per member; acme's id."""
    ws = await f.workspace_id(session, "acme")
    users = await f.create_users(session, EXTRA)
    roles = [await f.role_id(session, ws, r) for r in ("Admin", "Member", "Billing Manager")]
    teams = [await f.team_id(session, ws, t) for t in ("Sales", "Support")]
    ids = [pk(u) for u in users]
    third = EXTRA // 3
    await f.add_members(session, ws, ids[:third], roles[0], team_ids=teams)
    await f.add_members(session, ws, ids[third : 2 * third], roles[1], team_ids=teams[:1])
    await f.add_members(session, ws, ids[2 * third :], roles[2])
    await session.commit()
    return ws


@pytest.mark.parametrize("size", ["first", "last"])
async def test_members_page_statement_count_does_not_grow_with_the_page(
    client: GraphQLClient, engine: AsyncEngine, session: AsyncSession, size: str
) -> None:
    await add_members_of_every_role(session)
    await client.query("{ viewer { id } }", as_=ADA)  # connections and dialect warmed up

    query = MEMBERS_PAGE.replace("first:", f"{size}:")
    small, at_2, total_at_2 = await run(client, engine, query, 2)
    large, at_50, total_at_50 = await run(client, engine, query, 50)

    assert len(small["data"]["workspace"]["members"]["nodes"]) == 2
    nodes = large["data"]["workspace"]["members"]["nodes"]
    assert len(nodes) == 50
    assert {len(n["teams"]) for n in nodes} == {0, 1, 2}
    assert {n["role"]["name"] for n in nodes} == {"Admin", "Member", "Billing Manager"}
    assert at_2 == at_50 == sorted(MEMBERS_PAGE_STATEMENTS)
    assert total_at_50 == page_total(client, engine, MEMBERS_PAGE_STATEMENTS)
    assert total_at_2 == total_at_50


async def test_a_members_teams_as_a_connection_cost_no_statement_more(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    """A member's teams are read whole with the page (Member.teams, deprecated) and
    Member.teamsConnection pages them from there."""
    query = """query($n: Int) { workspace(slug: "acme") { members(first: $n) { nodes {
      user { name } teamsConnection(last: 1) { totalCount nodes { name } } } } } }"""
    await client.query("{ viewer { id } }", as_=ADA)

    body, extra, _ = await run(client, engine, query, 4)

    nodes = body["data"]["workspace"]["members"]["nodes"]
    assert [(n["user"]["name"], n["teamsConnection"]) for n in nodes] == [
        (name, {"totalCount": 1, "nodes": [{"name": team}]})
        for name, team in (
            ("Ada Admin", "Sales"),
            ("Ben Admin", "Support"),
            ("Cy Member", "Sales"),
            ("Eve Billing", "Support"),
        )
    ]
    assert extra == sorted(MEMBERS_PAGE_STATEMENTS)


CONVERSATION_LIST = """query($n: Int) { workspace(slug: "acme") { conversations(first: $n) {
  nodes { title host { name } team { name } participants { name user { name } } } } } }"""

# What the conversation list adds to the baseline, whatever N: 1 statement. The page's
# relations are read up front (app.graphql.conversations.types.conversations_of).
CONVERSATION_LIST_STATEMENTS = [
    # the page, filtered to the viewer's conversations:read scope, joined with
    # Conversation.host and Conversation.team, Conversation.participants (with their
    # accounts) nested in it
    "conversations",
]


@pytest.mark.parametrize("size", ["first", "last"])
async def test_conversation_list_statement_count_does_not_grow_with_the_page(
    client: GraphQLClient, engine: AsyncEngine, session: AsyncSession, size: str
) -> None:
    ws = await f.workspace_id(session, "acme")
    ada, ben, cy, eve = [
        await f.user_id(session, e)
        for e in ("ada@acme.test", "ben@acme.test", "cy@acme.test", "eve@acme.test")
    ]
    sales = await f.team_id(session, ws, "Sales")
    half = EXTRA // 2
    # Newer than the demo's, so a page (newest first) is made of these; in every page
    # some participants (cy, eve) host nothing, so their accounts take the second users
    # batch at N=2 as at N=50. Half have no team.
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    await f.create_conversations(
        session, ws, half, host=ada, team=sales, participant_ids=[cy, eve], start=start
    )
    await f.create_conversations(
        session, ws, EXTRA - half, host=ben, participant_ids=[eve, cy], start=start
    )
    await session.commit()
    await client.query("{ viewer { id } }", as_=ADA)

    query = CONVERSATION_LIST.replace("first:", f"{size}:")
    small, at_2, total_at_2 = await run(client, engine, query, 2)
    large, at_50, total_at_50 = await run(client, engine, query, 50)

    hosts = [n["host"]["name"] for n in small["data"]["workspace"]["conversations"]["nodes"]]
    # newest first: the factory's, or at the end the demo's two oldest (ada's)
    assert hosts == (["Ben Admin", "Ada Admin"] if size == "first" else ["Ada Admin", "Ada Admin"])
    nodes = large["data"]["workspace"]["conversations"]["nodes"]
    assert len(nodes) == 50
    hosts_at_50 = {n["host"]["name"] for n in nodes}
    assert hosts_at_50 - {"Cy Member"} == {"Ada Admin", "Ben Admin"}  # cy's: the demo's
    assert {(n["team"] or {}).get("name") for n in nodes} >= {"Sales", None}
    assert {p["name"] for n in nodes for p in n["participants"]} >= {"Guest"}
    assert at_2 == at_50 == sorted(CONVERSATION_LIST_STATEMENTS)
    assert total_at_50 == page_total(client, engine, CONVERSATION_LIST_STATEMENTS)
    assert total_at_2 == total_at_50


TEAMS_WITH_MEMBERS = """query($n: Int) { workspace(slug: "acme") { teams(first: $n) {
  nodes { name members(first: 3) { totalCount nodes { user { name } } } } } } }"""

# What the teams page with each team's first members adds, whatever N: 4 statements.
TEAMS_WITH_MEMBERS_STATEMENTS = [
    "teams",  # the page
    "members",  # Team.members: every team's first page at once (a window function)
    "team_members",  # Team.members.totalCount: one grouped count
    "users",  # Member.user: one batch
]


@pytest.mark.parametrize("size", ["first", "last"])
async def test_teams_with_their_members_statement_count_does_not_grow_with_the_page(
    client: GraphQLClient, engine: AsyncEngine, session: AsyncSession, size: str
) -> None:
    ws = await f.workspace_id(session, "acme")
    users = await f.create_users(session, 12)
    extra = await f.add_members(
        session, ws, [pk(u) for u in users], await f.role_id(session, ws, "Member")
    )
    teams = [await f.create_team(session, ws, name=f"Squad {i:02d}") for i in range(20)]
    for i, team in enumerate(teams):  # 1 to 4 members each: some more than first: 3
        chosen = extra[i % 8 : i % 8 + 1 + i % 4]
        await f.add_to_team(session, ws, pk(team), [pk(m) for m in chosen])
    await session.commit()
    await client.query("{ viewer { id } }", as_=ADA)

    query = TEAMS_WITH_MEMBERS.replace("first:", f"{size}:")
    small, at_2, total_at_2 = await run(client, engine, query, 2)
    large, at_20, total_at_20 = await run(client, engine, query, 20)

    names = [t["name"] for t in small["data"]["workspace"]["teams"]["nodes"]]
    assert names == (["Sales", "Support"] if size == "first" else ["Squad 18", "Squad 19"])
    nodes = large["data"]["workspace"]["teams"]["nodes"]
    assert len(nodes) == 20
    squads = {t["name"]: t["members"] for t in nodes}
    first_squads = [squads[f"Squad {i:02d}"] for i in range(4)]
    assert [m["totalCount"] for m in first_squads] == [1, 2, 3, 4]
    assert [len(m["nodes"]) for m in first_squads] == [1, 2, 3, 3]
    assert at_2 == at_20 == sorted(TEAMS_WITH_MEMBERS_STATEMENTS)
    assert total_at_2 == total_at_20


CONVERSATIONS_WITH_THEIR_LISTS = """query($n: Int) { workspace(slug: "acme") {
  conversations(first: $n) { nodes { title
    participantsConnection(first: 2) { totalCount nodes { name user { name } } }
    actionItemsConnection(last: 2) { nodes { text } pageInfo { hasPreviousPage } }
    shareLinks(first: 2) { totalCount nodes { token } } } } } }"""

# What a page of conversations with a page of each of their lists adds, whatever N.
CONVERSATIONS_WITH_THEIR_LISTS_STATEMENTS = [
    "action_items",  # every conversation's last two action items at once (a window function)
    "conversation_participants",  # every conversation's first two participants, with accounts
    "conversation_participants",  # their totalCount: one grouped count
    "conversations",  # the page
    "share_links",  # every conversation's first two links
    "share_links",  # their totalCount
]


async def test_the_lists_under_each_conversation_take_a_statement_each_whatever_the_page(
    client: GraphQLClient, engine: AsyncEngine, session: AsyncSession
) -> None:
    ws = await f.workspace_id(session, "acme")
    ada = await f.user_id(session, ADA)
    cy = await f.user_id(session, "cy@acme.test")
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    calls = await f.create_conversations(
        session, ws, EXTRA, host=ada, participant_ids=[cy], start=start
    )
    for i, call in enumerate(calls):
        session.add_all(
            ActionItem(workspace_id=ws, conversation_id=pk(call), text=f"Do {j}")
            for j in range(i % 4)
        )
        for _ in range(i % 3):
            await f.create_share_link(session, ws, pk(call), created_by=ada)
    await session.commit()
    await client.query("{ viewer { id } }", as_=ADA)

    small, at_2, total_at_2 = await run(client, engine, CONVERSATIONS_WITH_THEIR_LISTS, 2)
    large, at_40, total_at_40 = await run(client, engine, CONVERSATIONS_WITH_THEIR_LISTS, 40)

    nodes = large["data"]["workspace"]["conversations"]["nodes"]
    assert len(nodes) == 40
    assert {n["participantsConnection"]["totalCount"] for n in nodes} == {3}  # ada, cy, a guest
    assert {len(n["actionItemsConnection"]["nodes"]) for n in nodes} == {0, 1, 2}
    assert {n["actionItemsConnection"]["pageInfo"]["hasPreviousPage"] for n in nodes} == {
        False,
        True,
    }
    assert {n["shareLinks"]["totalCount"] for n in nodes} == {0, 1, 2}
    assert at_2 == at_40 == sorted(CONVERSATIONS_WITH_THEIR_LISTS_STATEMENTS)
    assert total_at_2 == total_at_40
    assert len(small["data"]["workspace"]["conversations"]["nodes"]) == 2


async def test_admin_count_and_advisories_share_one_statement(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    query = '{ workspace(slug: "acme") { adminCount advisories { code } } }'
    body, extra, _ = await run(client, engine, query, 0)
    assert body["data"] == {"workspace": {"adminCount": 2, "advisories": []}}
    assert extra == ["members"]  # acme's active Admins, read once for both fields


MEMBER_FLAGS = """query($n: Int) { workspace(slug: "acme") { members(first: $n) { nodes {
  viewerCanUpdate viewerCanChangeRole viewerCanDeactivate viewerCanReactivate viewerCanRemove
} } } }"""

# What the members page with every per-object flag adds, whatever N: the page, the
# members' roles, the custom roles' permissions, the active Admins: one batch each.
MEMBER_FLAGS_STATEMENTS = ["members", "members", "role_permissions", "roles"]

CONVERSATION_FLAGS = """query($n: Int) { workspace(slug: "acme") { conversations(first: $n) {
  nodes { viewerCanShare } } } }"""


async def test_per_object_flags_cost_a_batch_per_page_not_a_statement_per_object(
    client: GraphQLClient, engine: AsyncEngine, session: AsyncSession
) -> None:
    ws = await add_members_of_every_role(session)
    sales = await f.team_id(session, ws, "Sales")
    cy = await f.user_id(session, "cy@acme.test")
    ada = await f.user_id(session, ADA)
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    # cy (Member: reads the team's, shares their own) hosts half of Sales' conversations.
    await f.create_conversations(session, ws, EXTRA // 2, host=cy, team=sales, start=start)
    await f.create_conversations(session, ws, EXTRA // 2, host=ada, team=sales, start=start)
    await session.commit()
    await client.query("{ viewer { id } }", as_=ADA)

    # 4: acme's first members, Admins (no stored permissions) and custom roles alike.
    _, at_4, total_at_4 = await run(client, engine, MEMBER_FLAGS, 4)
    large, at_50, total_at_50 = await run(client, engine, MEMBER_FLAGS, 50)
    assert len(large["data"]["workspace"]["members"]["nodes"]) == 50
    assert at_4 == at_50 == sorted(MEMBER_FLAGS_STATEMENTS)
    assert total_at_4 == total_at_50

    # An Admin shares whatever they read: the flag costs no statement.
    _, admin_extra, _ = await run(client, engine, CONVERSATION_FLAGS, 50)
    assert admin_extra == ["conversations"]
    # cy shares a narrower set than they read: one batch for the page, whatever N.
    await run(client, engine, CONVERSATION_FLAGS, 1, as_="cy@acme.test")  # warmed up
    _, cy_at_2, _ = await run(client, engine, CONVERSATION_FLAGS, 2, as_="cy@acme.test")
    page, cy_at_50, _ = await run(client, engine, CONVERSATION_FLAGS, 50, as_="cy@acme.test")
    shares = [n["viewerCanShare"] for n in page["data"]["workspace"]["conversations"]["nodes"]]
    assert len(shares) == 50 and True in shares and False in shares
    assert cy_at_2 == cy_at_50 == ["conversations", "conversations"], (cy_at_2, cy_at_50)


DELIVERY_ATTEMPTS = """query($n: Int) { workspace(slug: "acme") { webhookEndpoints(first: 1) {
  nodes { deliveries(first: $n) { nodes { eventId attempts { attempt statusCode } } } } } } }"""


async def test_the_attempts_of_a_page_of_deliveries_take_one_statement_whatever_the_page(
    client: GraphQLClient, engine: AsyncEngine, session: AsyncSession
) -> None:
    ws = await f.workspace_id(session, "acme")
    ada = await f.user_id(session, ADA)
    endpoint, _ = await f.create_webhook_endpoint(session, ws, ada)
    for i in range(EXTRA):  # more deliveries, each with two attempts
        delivery = WebhookDelivery(
            workspace_id=ws,
            endpoint_id=endpoint,
            event_id=f"msg_{i}",
            event_type="team.created",
            payload="{}",
            attempts=2,
        )
        session.add(delivery)
        await session.flush()
        for n, code in ((1, 500), (2, 200)):
            session.add(
                WebhookDeliveryAttempt(
                    workspace_id=ws,
                    delivery_id=pk(delivery),
                    attempt=n,
                    started_at=datetime(2026, 12, 1, 9, n, tzinfo=UTC),
                    status_code=code,
                    duration_ms=n,
                )
            )
    await session.commit()
    await client.query("{ viewer { id } }", as_=ADA)

    _, at_2, total_at_2 = await run(client, engine, DELIVERY_ATTEMPTS, 2)
    page, at_40, total_at_40 = await run(client, engine, DELIVERY_ATTEMPTS, 40)
    [listed] = page["data"]["workspace"]["webhookEndpoints"]["nodes"]
    nodes = listed["deliveries"]["nodes"]
    assert len(nodes) == 40
    assert nodes[0]["attempts"] == [
        {"attempt": 1, "statusCode": 500},
        {"attempt": 2, "statusCode": 200},
    ]
    # The endpoints page, the deliveries page, and one batch of the page's attempts.
    assert (
        at_2
        == at_40
        == sorted(["webhook_endpoints", "webhook_deliveries", "webhook_delivery_attempts"])
    ), at_40
    assert total_at_2 == total_at_40

"""Paging both ways: `last`/`before` on every connection. Walked forwards and backwards,
each list gives its whole order exactly once, in the list's order; pageInfo says what
lies on either side; `first` with `last` and cursors of other lists are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.domain.workspaces.service import create_workspace
from app.models import ActionItem, AuditEvent, ConversationInsight, InsightKind, pk
from tests import factories as f
from tests.client import GraphQLClient, without_cost
from tests.edge.asgi_edge import recorded

ADA = "ada@acme.test"
ARGS = "first: $first, after: $after, last: $last, before: $before"
PAGE = """totalCount edges { cursor } nodes { __typename }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"""
VARIABLES = "$first: Int, $after: String, $last: Int, $before: String"

# Each connection: (the query, where its connection sits in `data`).
LISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    name: (
        f'query({VARIABLES}) {{ workspace(slug: "acme") {{ {name}({ARGS}) {{ {PAGE} }} }} }}',
        ("workspace", name),
    )
    for name in (
        "members",
        "teams",
        "roles",
        "conversations",
        "auditEvents",
        "invitations",
        "apiKeysConnection",
    )
}
# The lists under an object: (its field in workspace, the ID variable's name, the list).
NESTED = {
    "Team.members": ("team", "team", "members"),
    "Member.teamsConnection": ("member", "member", "teamsConnection"),
    "Conversation.participantsConnection": ("conversation", "call", "participantsConnection"),
    "Conversation.insightsConnection": ("conversation", "call", "insightsConnection"),
    "Conversation.actionItemsConnection": ("conversation", "call", "actionItemsConnection"),
    "Conversation.shareLinks": ("conversation", "call", "shareLinks"),
}
for name, (parent, variable, field) in NESTED.items():
    LISTS[name] = (
        f'query({VARIABLES}, ${variable}: ID!) {{ workspace(slug: "acme") {{ '
        f"{parent}(id: ${variable}) {{ {field}({ARGS}) {{ {PAGE} }} }} }} }}",
        ("workspace", parent, field),
    )
LISTS["User.invitationsConnection"] = (
    f"query({VARIABLES}) {{ viewer {{ invitationsConnection({ARGS}) {{ {PAGE} }} }} }}",
    ("viewer", "invitationsConnection"),
)


async def grown(session: AsyncSession) -> dict[str, Any]:
    """Acme with every list longer than a few pages of two (an odd length each: the
    last page is short): 7 members, 5 teams, 5 roles, 11 conversations (five at the
    same instant as another), 5 audit events, 5 invitations, 5 members of Sales, 5 API
    keys; ada in 5 teams; a call with 5 participants, insights, action items and share
    links; 5 invitations addressed to ada in other workspaces."""
    ws = await f.workspace_id(session, "acme")
    ada = await f.user_id(session, ADA)
    member_role = await f.role_id(session, ws, "Member")
    sales = await f.team_id(session, ws, "Sales")
    users = await f.create_users(session, 3)
    added = await f.add_members(session, ws, [pk(u) for u in users], member_role)
    await f.add_to_team(session, ws, sales, [pk(m) for m in added])
    ada_member = await f.member(session, ws, ADA)
    for i in range(3):
        squad = await f.create_team(session, ws, name=f"Squad {i}")
        await f.add_to_team(session, ws, pk(squad), [pk(ada_member)])
    await f.add_to_team(session, ws, await f.team_id(session, ws, "Support"), [pk(ada_member)])
    for i in range(2):
        await f.create_role(session, ws, ["teams:read:all"], name=f"Reader {i}")
    same_time = datetime(2026, 11, 4, 17, 0, tzinfo=UTC)  # "Pricing objection handling"'s
    for title in ("Tie A", "Tie B", "Tie C", "Tie D", "Tie E"):
        await f.create_conversation(session, ws, host=ada, title=title, start=same_time)
    session.add_all(
        AuditEvent(workspace_id=ws, action="test.event", actor_user_id=ada, summary={"n": i})
        for i in range(5)
    )
    for i in range(4):  # and the demo's
        await f.create_invitation(
            session, ws, f"guest{i}@example.test", role=member_role, invited_by=ada
        )
    for i in range(5):
        await f.create_api_key(session, ws, ada, ["members:read:all"], name=f"Key {i}")
    # One call with five of each list under it (the factory adds the host and a guest).
    people = [await f.user_id(session, e) for e in ("ben@acme.test", "cy@acme.test")]
    call = await f.create_conversation(
        session, ws, host=ada, title="Crowded call", participant_ids=[*people, pk(users[0])]
    )
    for i in range(5):
        session.add(
            ConversationInsight(
                workspace_id=ws, conversation_id=pk(call), kind=InsightKind.TOPIC, content=f"T{i}"
            )
        )
        session.add(ActionItem(workspace_id=ws, conversation_id=pk(call), text=f"Do {i}"))
        await f.create_share_link(session, ws, pk(call), created_by=ada)
    # Invitations to ada's address from five other workspaces.
    for i in range(5):
        other, _, _ = await create_workspace(
            session, slug=f"other{i}", name=f"Other {i}", admin_email=f"admin{i}@other.test"
        )
        await f.create_invitation(
            session,
            pk(other),
            ADA,
            role=await f.role_id(session, pk(other), "Member"),
            invited_by=await f.user_id(session, f"admin{i}@other.test"),
        )
    await session.commit()
    return {
        "team": await f.gid(session, "Team", "acme", "Sales"),
        "member": await f.gid(session, "Member", "acme", ADA),
        "call": await f.gid(session, "Conversation", "acme", "Crowded call"),
    }


def at(body: dict[str, Any], path: tuple[str, ...]) -> Any:
    assert "errors" not in body, body
    found = body["data"]
    for name in path:
        found = found[name]
    return found


async def page(
    client: GraphQLClient, name: str, extra: dict[str, Any], **arguments: Any
) -> dict[str, Any]:
    query, path = LISTS[name]
    variables = {"first": None, "after": None, "last": None, "before": None, **arguments}
    needed = {k: v for k, v in extra.items() if f"${k}" in query}
    return at(await client.query(query, {**variables, **needed}, as_=ADA), path)  # type: ignore[no-any-return]


def checked(found: dict[str, Any]) -> list[str]:
    """The page's cursors, after checking that its edges, nodes and pageInfo agree."""
    cursors = [e["cursor"] for e in found["edges"]]
    assert len(found["nodes"]) == len(cursors)
    info = found["pageInfo"]
    assert info["startCursor"] == (cursors[0] if cursors else None)
    assert info["endCursor"] == (cursors[-1] if cursors else None)
    return cursors


async def walk_forwards(
    client: GraphQLClient, name: str, extra: dict[str, Any], size: int
) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        found = await page(client, name, extra, first=size, after=after)
        pages.append(checked(found))
        info = found["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None), (name, len(pages))
        if not info["hasNextPage"]:
            return pages
        assert len(pages[-1]) == size
        after = info["endCursor"]


async def walk_backwards(
    client: GraphQLClient, name: str, extra: dict[str, Any], size: int
) -> list[list[str]]:
    pages: list[list[str]] = []
    before = None
    while True:
        found = await page(client, name, extra, last=size, before=before)
        pages.append(checked(found))
        info = found["pageInfo"]
        assert info["hasNextPage"] is (before is not None), (name, len(pages))
        if not info["hasPreviousPage"]:
            return pages
        assert len(pages[-1]) == size
        before = info["startCursor"]


@pytest.mark.arranged.with_args(grown)
@pytest.mark.parametrize("name", list(LISTS))
async def test_walking_forwards_and_backwards_gives_the_whole_list_in_its_order(
    client: GraphQLClient, arranged: dict[str, Any], name: str
) -> None:
    extra = arranged
    whole = await page(client, name, extra, first=100)
    everything = checked(whole)
    assert len(everything) == whole["totalCount"] >= 5
    assert len(everything) % 2 == 1  # the walks end on a short page
    assert whole["pageInfo"]["hasNextPage"] is whole["pageInfo"]["hasPreviousPage"] is False

    forwards = await walk_forwards(client, name, extra, 2)
    backwards = await walk_backwards(client, name, extra, 2)

    assert [c for p in forwards for c in p] == everything
    assert [c for p in reversed(backwards) for c in p] == everything
    assert len(backwards[-1]) == 1  # the short page is the list's first one
    # `last` alone: the final items, in the list's order.
    assert checked(await page(client, name, extra, last=3)) == everything[-3:]


@pytest.mark.arranged.with_args(grown)
async def test_before_gives_the_items_just_before_the_cursor_in_the_list_order(
    client: GraphQLClient,
) -> None:
    query = f"""query({VARIABLES}) {{ workspace(slug: "acme") {{ conversations({ARGS}) {{
      nodes {{ title }} edges {{ cursor }} pageInfo {{ hasNextPage hasPreviousPage }} }} }} }}"""
    args = {"first": None, "after": None, "last": None, "before": None}
    whole = at(
        await client.query(query, {**args, "first": 100}, as_=ADA), ("workspace", "conversations")
    )
    titles = [n["title"] for n in whole["nodes"]]
    assert titles[2:8] == [
        "Tie E",
        "Tie D",
        "Tie C",
        "Tie B",
        "Tie A",
        "Pricing objection handling",
    ]
    cursor = whole["edges"][7]["cursor"]  # "Pricing objection handling"

    back = at(
        await client.query(query, {**args, "last": 2, "before": cursor}, as_=ADA), ("workspace",)
    )
    ahead = at(
        await client.query(query, {**args, "first": 2, "before": cursor}, as_=ADA), ("workspace",)
    )
    assert back["conversations"]["nodes"] == [{"title": "Tie B"}, {"title": "Tie A"}]
    assert back["conversations"]["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": True}
    # `first` with `before`: the first items of those before the cursor.
    assert ahead["conversations"]["nodes"] == [{"title": t} for t in titles[:2]]
    assert ahead["conversations"]["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False}
    # Both cursors: the items strictly between them, here the five ties.
    both = await client.query(
        query,
        {**args, "last": 5, "after": whole["edges"][1]["cursor"], "before": cursor},
        as_=ADA,
    )
    assert at(both, ("workspace", "conversations"))["nodes"] == [{"title": t} for t in titles[2:7]]
    assert at(both, ("workspace", "conversations"))["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": True,
    }


@pytest.mark.arranged.with_args(grown)
async def test_an_empty_list_pages_backwards_to_an_empty_page(client: GraphQLClient) -> None:
    query = """query($before: String) { workspace(slug: "acme") {
      none: members(last: 2, before: $before, filter: {status: DEACTIVATED}) {
        totalCount nodes { id } edges { cursor }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""
    empty = {
        "totalCount": 0,
        "nodes": [],
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }
    assert at(await client.query(query, as_=ADA), ("workspace", "none")) == empty
    # A cursor of the same list (all members) before which nothing is deactivated.
    cursor = at(
        await client.query(
            '{ workspace(slug: "acme") { members(last: 1) { pageInfo { endCursor } } } }', as_=ADA
        ),
        ("workspace", "members"),
    )["pageInfo"]["endCursor"]
    assert (
        at(await client.query(query, {"before": cursor}, as_=ADA), ("workspace", "none")) == empty
    )


@pytest.mark.arranged.with_args(grown)
async def test_before_the_first_item_gives_an_empty_page_with_the_rest_after_it(
    client: GraphQLClient,
) -> None:
    first = await page(client, "roles", {}, first=1)
    found = await page(client, "roles", {}, last=2, before=first["pageInfo"]["endCursor"])
    assert found["edges"] == []
    assert found["pageInfo"]["hasPreviousPage"] is False
    assert found["pageInfo"]["hasNextPage"] is True  # the cursor's own item, and more


@pytest.mark.arranged.with_args(grown)
async def test_each_team_pages_its_members_backwards_in_one_list(client: GraphQLClient) -> None:
    body = await client.query(
        """{ workspace(slug: "acme") { teams(last: 5) { nodes { name
             members(last: 2) { nodes { user { email } } pageInfo { hasNextPage hasPreviousPage } } } } } }""",
        as_=ADA,
    )
    teams = at(body, ("workspace", "teams", "nodes"))
    assert [t["name"] for t in teams] == ["Sales", "Support", "Squad 0", "Squad 1", "Squad 2"]
    sales, support = teams[0]["members"], teams[1]["members"]
    assert len(sales["nodes"]) == 2  # the last two of five
    assert sales["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}
    assert [m["user"]["email"] for m in support["nodes"]] == ["ben@acme.test", "eve@acme.test"]
    assert support["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}  # ada
    assert teams[2]["members"] == {
        "nodes": [{"user": {"email": ADA}}],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False},
    }


async def test_first_with_last_and_bad_last_are_refused_before_any_sql(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token = await client.token(ADA)
    await client.post("{ viewer { id } }", token=token)
    with recorded(engine) as baseline:
        await client.post('{ workspace(slug: "acme") { name } }', token=token)
    query = """query($first: Int, $last: Int) { workspace(slug: "acme") { name
      FIELD(first: $first, last: $last) { totalCount } } }"""
    cases = [
        (
            {"first": 2, "last": 2},
            "Pass `first` (with `after`, paging forwards) or `last` (with `before`, paging "
            "backwards), not both.",
        ),
        ({"last": 0}, "`last` must be between 1 and 100, got 0."),
        ({"last": 101}, "`last` must be between 1 and 100, got 101."),
    ]
    for field in ("members", "teams", "roles", "conversations", "auditEvents", "invitations"):
        for variables, message in cases:
            with recorded(engine) as seen:
                response = await client.post(query.replace("FIELD", field), variables, token=token)
            body = without_cost(response.json())
            assert body["data"] == {"workspace": {"name": "Acme Corp", field: None}}
            assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
                (message, {"code": "BAD_USER_INPUT", "argument": "last"})
            ], (field, variables)
            assert len(seen) == len(baseline), (field, variables)


async def test_a_before_cursor_of_another_list_is_refused(client: GraphQLClient) -> None:
    body = await client.query(
        '{ workspace(slug: "acme") { teams(first: 1) { pageInfo { endCursor } } '
        "conversations(first: 1) { pageInfo { endCursor } } } }",
        as_=ADA,
    )
    team_cursor = at(body, ("workspace", "teams", "pageInfo", "endCursor"))
    conversation_cursor = at(body, ("workspace", "conversations", "pageInfo", "endCursor"))
    for field, before in (
        ("members", team_cursor),  # the same key shape (an id): only the tag differs
        ("roles", team_cursor),
        ("auditEvents", team_cursor),
        ("invitations", team_cursor),
        ("teams", conversation_cursor),
        ("conversations", team_cursor),
    ):
        response = await client.query(
            'query($b: String) { workspace(slug: "acme") { FIELD(last: 1, before: $b) { totalCount } } }'.replace(
                "FIELD", field
            ),
            {"b": before},
            as_=ADA,
        )
        assert response["data"] == {"workspace": {field: None}}, field
        assert [(e["message"], e["extensions"]) for e in response["errors"]] == [
            (
                "`before` is not a cursor of this list.",
                {"code": "BAD_USER_INPUT", "argument": "before"},
            )
        ], field


@pytest.mark.arranged.with_args(grown)
async def test_a_cursor_of_one_list_under_a_conversation_is_refused_by_another(
    client: GraphQLClient, arranged: dict[str, Any]
) -> None:
    extra = arranged
    participant = await page(client, "Conversation.participantsConnection", extra, first=1)
    cursor = participant["pageInfo"]["endCursor"]
    for name in ("Conversation.insightsConnection", "Conversation.actionItemsConnection"):
        query, path = LISTS[name]
        variables = {"first": None, "after": None, "last": 1, "before": cursor}
        body = await client.query(query, {**variables, "call": extra["call"]}, as_=ADA)
        assert body["data"]["workspace"]["conversation"] == {path[-1]: None}, name
        assert [e["extensions"] for e in body["errors"]] == [
            {"code": "BAD_USER_INPUT", "argument": "before"}
        ], name


@pytest.mark.slow
@pytest.mark.arranged.with_args(grown)
async def test_a_list_paged_in_memory_answers_every_window_as_the_sql_does(
    client: GraphQLClient, arranged: dict[str, Any]
) -> None:
    """Member.teamsConnection pages a member's teams read whole; Workspace.teams pages in
    SQL. Ada is in every team of acme, so for every window the two must agree."""
    extra = arranged
    query = """query($first: Int, $after: String, $last: Int, $before: String, $member: ID!) {
      workspace(slug: "acme") {
        sql: teams(first: $first, after: $after, last: $last, before: $before) { PAGE }
        member(id: $member) {
          memory: teamsConnection(first: $first, after: $after, last: $last, before: $before) {
            PAGE } } } }""".replace("PAGE", PAGE)
    cursors = checked(await page(client, "teams", extra, first=100))
    assert len(cursors) == 5
    windows = [
        {"after": after, "before": before, size: n}
        for after in (None, *cursors)
        for before in (None, *cursors)
        for size in ("first", "last")
        for n in (1, 2)
    ]
    for window in windows:
        variables = {"first": None, "last": None, **window, "member": extra["member"]}
        body = await client.query(query, variables, as_=ADA)
        found = at(body, ("workspace",))
        assert found["member"]["memory"] == found["sql"], window

"""Lists read their nested relations in the page's own statement (app.db.prepared.Nested):
a member's teams, a conversation's participants with their accounts. One object read
alone gets the same relations through the loaders; both paths must answer the same
values, with the same types (enums, timestamps, guests without an account), on both
engines, and with several rows per item as well as none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.ids import encode_id
from app.models import pk
from tests import factories as f
from tests.client import GraphQLClient

ADA = "ada@acme.test"

TEAMS = "teams { id name description members(first: 5) { nodes { id } } }"
PARTICIPANTS = "participants { name email user { id email name avatarUrl status createdAt } }"


async def _alone(client: GraphQLClient, token: str, field: str, ids: list[str], fields: str) -> Any:
    """Each item read by its own ID (the loaders' path), in one request."""
    selections = " ".join(
        f'i{i}: {field}(id: "{id_}") {{ id {fields} }}' for i, id_ in enumerate(ids)
    )
    body = await client.query(f'{{ workspace(slug: "acme") {{ {selections} }} }}', token=token)
    return [body["data"]["workspace"][f"i{i}"] for i in range(len(ids))]


async def test_a_members_page_reads_the_same_teams_as_each_member_alone(
    client: GraphQLClient, session: AsyncSession
) -> None:
    ws = await f.workspace_id(session, "acme")
    ben = pk(await f.member(session, ws, "ben@acme.test"))
    for name in ("Alpha", "Beta"):  # ben: Support and two more
        team = await f.create_team(session, ws, name=name)
        await f.add_to_team(session, ws, pk(team), [ben])
    loner = await f.create_user(session)  # in no team at all
    await f.add_members(session, ws, [pk(loner)], await f.role_id(session, ws, "Member"))
    await session.commit()
    token = await client.token(ADA)
    query = f'{{ workspace(slug: "acme") {{ members(first: 50) {{ nodes {{ id {TEAMS} }} }} }} }}'
    for _ in range(2):  # the second run is the cached document's (reads outside a transaction)
        body = await client.query(query, token=token)
        page = body["data"]["workspace"]["members"]["nodes"]
        assert page == await _alone(client, token, "member", [m["id"] for m in page], TEAMS)
    counts = sorted(len(m["teams"]) for m in page)
    assert counts[0] == 0 and counts[-1] == 3


async def test_a_conversation_list_reads_the_same_participants_as_each_conversation_alone(
    client: GraphQLClient, session: AsyncSession
) -> None:
    token = await client.token(ADA)
    query = f'{{ workspace(slug: "acme") {{ conversations(first: 50) {{ nodes {{ id {PARTICIPANTS} }} }} }} }}'
    for _ in range(2):
        body = await client.query(query, token=token)
        page = body["data"]["workspace"]["conversations"]["nodes"]
        assert page == await _alone(
            client, token, "conversation", [c["id"] for c in page], PARTICIPANTS
        )
    people = [p for c in page for p in c["participants"]]
    assert any(p["user"] is None for p in people)  # a guest
    assert all(p["user"]["status"] == "ACTIVE" for p in people if p["user"])
    assert all(p["user"]["createdAt"].endswith("+00:00") for p in people if p["user"])


async def test_a_participants_account_read_for_its_id_alone_is_the_one_the_join_finds(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """``participants { user { id } }`` reads the participant's foreign key instead of its
    account (app.db.prepared.ToOne): the same accounts the join finds, a guest's none,
    and one that was never a member of the workspace as well (on PostgreSQL the
    workspace knows every account its rows refer to: migration 0009)."""
    ws = await f.workspace_id(session, "acme")
    outsider = await f.create_user(session)  # never a member of acme
    ada = await f.user_id(session, ADA)
    start = datetime(2031, 1, 1, tzinfo=UTC)  # the newest: on the first page
    await f.create_conversation(session, ws, host=ada, participant_ids=[pk(outsider)], start=start)
    await session.commit()
    token = await client.token(ADA)
    page = '{{ workspace(slug: "acme") {{ conversations(first: 50) {{ nodes {{ id {} }} }} }} }}'
    for _ in range(2):  # the second run is the cached document's (reads outside a transaction)
        by_id = await client.query(page.format("participants { name user { id } }"), token=token)
        joined = await client.query(
            page.format("participants { name user { id name } }"), token=token
        )
        expected = [
            {
                "id": c["id"],
                "participants": [
                    {"name": p["name"], "user": p["user"] and {"id": p["user"]["id"]}}
                    for p in c["participants"]
                ],
            }
            for c in joined["data"]["workspace"]["conversations"]["nodes"]
        ]
        assert by_id["data"]["workspace"]["conversations"]["nodes"] == expected
    newest = expected[0]["participants"]
    assert {"name": "Guest", "user": None} in newest
    assert {"id": encode_id("User", pk(outsider))} in [p["user"] for p in newest]


async def test_nested_rows_come_in_id_order_whatever_order_they_were_written_in(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """The aggregate is not ordered in SQL (app.db.prepared.Nested sorts the few items of
    each row): a member added to a newer team before an older one lists them by id."""
    ws = await f.workspace_id(session, "acme")
    dee = await f.create_user(session)
    await f.add_members(session, ws, [pk(dee)], await f.role_id(session, ws, "Member"))
    dee_member = pk(await f.member(session, ws, dee.email))
    older = await f.create_team(session, ws, name="Older")
    newer = await f.create_team(session, ws, name="Newer")
    for team in (newer, older, await f.create_team(session, ws, name="Newest")):
        await f.add_to_team(session, ws, pk(team), [dee_member])
    await session.commit()
    token = await client.token(ADA)
    query = '{ workspace(slug: "acme") { members(first: 50) { nodes { id teams { name } } } } }'
    member_id = encode_id("Member", dee_member)
    for _ in range(2):
        body = await client.query(query, token=token)
        (dee_page,) = [
            m for m in body["data"]["workspace"]["members"]["nodes"] if m["id"] == member_id
        ]
        assert dee_page["teams"] == [{"name": "Older"}, {"name": "Newer"}, {"name": "Newest"}]

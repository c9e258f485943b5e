"""Share links listed per conversation (`Conversation.shareLinks`, for whoever may share
it) and revoked (`revokeConversationShareLink`); a revoked or expired link opens like one
that never existed. (Out-of-reach IDs answer like unknown ones:
tests/graphql/test_existence_oracles.py walks the mutation.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.graphql.ids import decode_id, encode_id
from app.models import pk
from tests import factories as f
from tests.client import GraphQLClient, without_cost
from tests.graphql.mutations.helpers import audit_actions, snapshot

ADA, CY = "ada@acme.test", "cy@acme.test"

CREATE = """mutation($input: CreateConversationShareLinkInput!) {
  createConversationShareLink(input: $input) { shareLink { id token } userErrors { code } } }"""
REVOKE = """mutation($input: RevokeConversationShareLinkInput!) {
  revokeConversationShareLink(input: $input) { revokedShareLinkId userErrors { code message field } } }"""
LINKS = """query($id: ID!) { workspace(slug: "acme") { conversation(id: $id) { title
  shareLinks(first: 10) { totalCount nodes { id token url createdAt expiresAt } } } } }"""
OPEN = """query($token: String!) { shareLink(token: $token) { id token conversation { title } } }"""


async def create(client: GraphQLClient, conversation: str, as_: str) -> dict[str, Any]:
    body = await client.query(CREATE, {"input": {"conversationId": conversation}}, as_=as_)
    created = body["data"]["createConversationShareLink"]
    assert created["userErrors"] == [], body
    return created["shareLink"]  # type: ignore[no-any-return]


async def links(client: GraphQLClient, conversation: str, as_: str) -> Any:
    body = await client.query(LINKS, {"id": conversation}, as_=as_)
    assert "errors" not in body, body
    return body["data"]["workspace"]["conversation"]["shareLinks"]


async def opened(client: GraphQLClient, token: str, as_: str = ADA) -> tuple[int, Any]:
    response = await client.post(OPEN, {"token": token}, token=await client.token(as_))
    return response.status_code, without_cost(response.json())


async def test_a_conversations_links_are_listed_to_whoever_may_share_it(
    client: GraphQLClient, session: AsyncSession
) -> None:
    ws = await f.workspace_id(session, "acme")
    ada, sales = await f.user_id(session, ADA), await f.team_id(session, ws, "Sales")
    await f.create_conversation(session, ws, host=ada, team=sales, title="Sales call without cy")
    await session.commit()
    # cy (Member: conversations:read:team, conversations:share:own) hosted this one.
    mine = await f.gid(session, "Conversation", "acme", "Pricing objection handling")
    theirs = await f.gid(session, "Conversation", "acme", "Sales call without cy")
    by_cy = await create(client, mine, CY)
    by_ada = await create(client, mine, ADA)
    await create(client, theirs, ADA)

    listed = await links(client, mine, CY)
    assert listed["totalCount"] == 2
    assert [n["token"] for n in listed["nodes"]] == [by_cy["token"], by_ada["token"]]
    assert [n["id"] for n in listed["nodes"]] == [by_cy["id"], by_ada["id"]]
    assert listed["nodes"][0]["url"] == f"/share/{by_cy['token']}"
    assert listed["nodes"][0]["expiresAt"] is None
    assert await links(client, mine, ADA) == listed
    # cy reads the Sales call he did not attend (team scope) but may not share it: null.
    body = await client.query(LINKS, {"id": theirs}, as_=CY)
    assert body == {
        "data": {
            "workspace": {"conversation": {"title": "Sales call without cy", "shareLinks": None}}
        }
    }
    assert (await links(client, theirs, ADA))["totalCount"] == 1
    # node(id:) answers as the list does.
    node = '{ node(id: "ID") { __typename ... on ShareLink { token } } }'
    found = await client.query(node.replace("ID", by_ada["id"]), as_=CY)
    assert found == {"data": {"node": {"__typename": "ShareLink", "token": by_ada["token"]}}}
    their_link = (await links(client, theirs, ADA))["nodes"][0]["id"]
    assert await client.query(node.replace("ID", their_link), as_=CY) == {"data": {"node": None}}


async def test_an_api_key_without_the_share_permission_may_not_list_links(
    client: GraphQLClient, session: AsyncSession
) -> None:
    ws, ada = await f.workspace_id(session, "acme"), await f.user_id(session, ADA)
    secret = await f.create_api_key(session, ws, ada, ["conversations:read:all"])
    await session.commit()
    call = await f.gid(session, "Conversation", "acme", "Pricing objection handling")
    response = await client.post(LINKS, {"id": call}, token=secret)
    body = without_cost(response.json())
    assert body["data"] == {
        "workspace": {"conversation": {"title": "Pricing objection handling", "shareLinks": None}}
    }
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["workspace", "conversation", "shareLinks"], "FORBIDDEN")
    ]


async def test_a_revoked_link_opens_like_one_that_never_existed(
    client: GraphQLClient, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    call = await f.gid(session, "Conversation", "acme", "Pricing objection handling")
    link = await create(client, call, CY)
    assert (await opened(client, link["token"]))[1]["data"]["shareLink"]["token"] == link["token"]

    body = await client.query(REVOKE, {"input": {"shareLinkId": link["id"]}}, as_=CY)

    assert body == {
        "data": {
            "revokeConversationShareLink": {"revokedShareLinkId": link["id"], "userErrors": []}
        }
    }
    assert await opened(client, link["token"]) == await opened(client, "no-such-token")
    assert await opened(client, link["token"]) == (200, {"data": {"shareLink": None}})
    assert (await links(client, call, CY))["totalCount"] == 0
    # Recorded like every change, by whom and about which conversation.
    events = await client.query(
        """{ workspace(slug: "acme") { auditEvents(first: 1) { nodes {
             action actor { email } targetType target summary } } } }""",
        as_=ADA,
    )
    assert events["data"]["workspace"]["auditEvents"]["nodes"] == [
        {
            "action": "conversation.share_link_revoked",
            "actor": {"email": CY},
            "targetType": "Conversation",
            "target": call,
            "summary": {"shareLinkId": decode_id(link["id"])[1]},
        }
    ]
    # Revoking it again: NOT_FOUND, like any unknown link, and nothing changes.
    before, actions = await snapshot(owner_engine), await audit_actions(owner_engine)
    again = await client.query(REVOKE, {"input": {"shareLinkId": link["id"]}}, as_=CY)
    unknown = await client.query(
        REVOKE, {"input": {"shareLinkId": encode_id("ShareLink", 2_000_000_000)}}, as_=CY
    )
    assert (
        again
        == unknown
        == {
            "data": {
                "revokeConversationShareLink": {
                    "revokedShareLinkId": None,
                    "userErrors": [
                        {
                            "code": "NOT_FOUND",
                            "message": "No such share link that you may revoke.",
                            "field": ["input", "shareLinkId"],
                        }
                    ],
                }
            }
        }
    )
    assert await snapshot(owner_engine) == before
    assert await audit_actions(owner_engine) == actions


async def test_an_expired_link_opens_like_one_that_never_existed(
    client: GraphQLClient, session: AsyncSession
) -> None:
    ws, ada = await f.workspace_id(session, "acme"), await f.user_id(session, ADA)
    call = await f.conversation_id(session, ws, "Q4 pipeline review")
    now = datetime.now(UTC)
    expired = await f.create_share_link(
        session, ws, call, created_by=ada, token="expired-link", expires_at=now - timedelta(1)
    )
    await f.create_share_link(
        session, ws, call, created_by=ada, token="current-link", expires_at=now + timedelta(1)
    )
    await session.commit()

    assert await opened(client, "expired-link") == await opened(client, "no-such-token")
    current = (await opened(client, "current-link"))[1]["data"]["shareLink"]
    assert current["conversation"] == {"title": "Q4 pipeline review"}
    # Still listed (with when it expired), so that it can be revoked.
    listed = await links(client, encode_id("Conversation", call), ADA)
    assert [(n["token"], n["expiresAt"] is not None) for n in listed["nodes"]] == [
        ("expired-link", True),
        ("current-link", True),
    ]
    gone = await client.query(
        REVOKE, {"input": {"shareLinkId": encode_id("ShareLink", pk(expired))}}, as_=ADA
    )
    assert gone["data"]["revokeConversationShareLink"]["userErrors"] == []

"""Query.node / Query.nodes: opaque global IDs, one type per ID, the viewer's
workspaces only, malformed IDs refused as BAD_USER_INPUT (never a 500)."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.graphql.ids import NODE_TYPES, decode_id, encode_id
from app.models import Member, Role, Team, WebhookDelivery, Workspace, pk
from tests import factories as f
from tests.client import GraphQLClient, without_cost

ADA = "ada@acme.test"

NODE = """query($id: ID!) { node(id: $id) {
  __typename id
  ... on User { email }
  ... on Workspace { slug }
  ... on Member { user { email } }
  ... on Team { name }
  ... on Role { name }
  ... on Conversation { title }
  ... on ApiKey { name }
  ... on Invitation { email }
  ... on ShareLink { token }
  ... on WebhookEndpoint { url }
  ... on WebhookDelivery { eventType }
} }"""

NODES = """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"""


def raw_id(text: str) -> str:
    """The old, unkeyed encoding (base64url of "Type:pk"): refused since IDs are keyed."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HOOK = "https://hooks.example.test/harmony"
EVERY_NODE_TYPE: list[tuple[str, tuple[str, ...], dict[str, object]]] = [
    ("User", (ADA,), {"email": ADA}),
    ("User", ("eve@acme.test",), {"email": "eve@acme.test"}),
    ("Workspace", ("acme",), {"slug": "acme"}),
    ("Member", ("acme", "cy@acme.test"), {"user": {"email": "cy@acme.test"}}),
    ("Team", ("acme", "Support"), {"name": "Support"}),
    ("Role", ("acme", "Billing Manager"), {"name": "Billing Manager"}),
    ("Conversation", ("acme", "Q4 pipeline review"), {"title": "Q4 pipeline review"}),
    ("ApiKey", ("acme", "CRM sync"), {"name": "CRM sync"}),
    ("Invitation", ("acme", "fay@initech.test"), {"email": "fay@initech.test"}),  # the demo's
    ("ShareLink", ("acme", "a-shared-call"), {"token": "a-shared-call"}),
    ("WebhookEndpoint", ("acme", HOOK), {"url": HOOK}),
    ("WebhookDelivery", ("acme", "msg_node"), {"eventType": "team.created"}),
]


async def test_node_fetches_every_node_type(client: GraphQLClient, session: AsyncSession) -> None:
    assert {t for t, _, _ in EVERY_NODE_TYPE} == NODE_TYPES
    acme, ada = await f.workspace_id(session, "acme"), await f.user_id(session, ADA)
    await f.create_api_key(session, acme, ada, ["members:read:all"], name="CRM sync")
    call = await f.conversation_id(session, acme, "Q4 pipeline review")
    await f.create_share_link(session, acme, call, created_by=ada, token="a-shared-call")
    _, delivery = await f.create_webhook_endpoint(session, acme, ada, HOOK)
    await session.execute(
        sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery).values(event_id="msg_node")
    )
    await session.commit()
    token = await client.token(ADA)
    for type_name, key, fields in EVERY_NODE_TYPE:
        global_id = await f.gid(session, type_name, *key)
        body = without_cost((await client.post(NODE, {"id": global_id}, token=token)).json())
        assert body == {"data": {"node": {"__typename": type_name, "id": global_id, **fields}}}


async def test_nodes_keeps_the_order_given_with_nulls_for_the_invisible(
    client: GraphQLClient, session: AsyncSession
) -> None:
    team = await f.gid(session, "Team", "acme", "Sales")
    member = await f.gid(session, "Member", "acme", ADA)
    foreign = await f.gid(session, "Member", "globex", "dee@globex.test")
    missing = encode_id("Conversation", 999_999)
    ws = await f.gid(session, "Workspace", "acme")
    body = await client.query(NODES, {"ids": [team, foreign, member, missing, ws, team]}, as_=ADA)
    assert body == {
        "data": {
            "nodes": [
                {"__typename": "Team", "id": team},
                None,
                {"__typename": "Member", "id": member},
                None,
                {"__typename": "Workspace", "id": ws},
                {"__typename": "Team", "id": team},
            ]
        }
    }


async def test_nodes_accepts_100_ids_and_refuses_101(
    client: GraphQLClient, session: AsyncSession
) -> None:
    team = await f.gid(session, "Team", "acme", "Sales")
    body = await client.query(NODES, {"ids": [team] * 100}, as_=ADA)
    assert body == {"data": {"nodes": [{"__typename": "Team", "id": team}] * 100}}

    # Refused at the edge (every list input obeys MAX_LIST_LENGTH), before execution.
    body = await client.query(NODES, {"ids": [team] * 101}, as_=ADA)
    assert body == {
        "errors": [
            {
                "message": "A list in the variables is too long: the limit is 100, it has 101.",
                "extensions": {"code": "LIST_TOO_LONG"},
            }
        ],
    }


async def pks(session: AsyncSession) -> dict[str, int]:
    acme = await f.workspace_id(session, "acme")
    globex = await f.workspace_id(session, "globex")
    return {
        "dee_member": pk(await f.member(session, globex, "dee@globex.test")),
        "billing_role": await f.role_id(session, acme, "Billing Manager"),
        "vendor_review": await f.conversation_id(session, globex, "Vendor onboarding review"),
    }


async def test_an_id_relabelled_as_another_type_resolves_to_null(
    client: GraphQLClient, session: AsyncSession
) -> None:
    ids = await pks(session)
    relabelled = [
        (Team, encode_id("Team", ids["dee_member"])),
        (Workspace, encode_id("Workspace", ids["billing_role"])),
        (Member, encode_id("Member", ids["vendor_review"])),
        (Role, encode_id("Role", ids["vendor_review"])),
    ]
    for model, global_id in relabelled:
        # The premise: no row of the named type has that key, though another type does.
        key = decode_id(global_id)[1]
        assert await session.get(model, key) is None
        body = await client.query(NODE, {"id": global_id}, as_="cy@acme.test")
        assert body == {"data": {"node": None}}, global_id


async def test_a_relabelled_id_resolves_as_the_type_it_names(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """Team 1 and Role 1 both exist: each label answers with its own type, never the other."""
    acme = await f.workspace_id(session, "acme")
    team = await f.team_id(session, acme, "Sales")
    as_role = encode_id("Role", team)
    body = await client.query(NODE, {"id": as_role}, as_=ADA)
    role = await session.get(Role, team)
    assert role is not None and role.workspace_id == acme
    assert body == {"data": {"node": {"__typename": "Role", "id": as_role, "name": role.name}}}


MALFORMED = [
    "",
    "garbage",
    "Zm9v",  # "foo"
    "ü",
    "a" * 65,
    raw_id("Member"),
    raw_id("Member:"),
    raw_id(":1"),
    raw_id("Member:abc"),
    raw_id("Member:-1"),
    raw_id("Member:0"),
    raw_id("Member:01"),
    raw_id("Member: 1"),
    raw_id("Member:1.0"),
    raw_id("Member:²"),  # a digit to str.isdigit, not to int()
    raw_id("Member:\u0661"),  # an Arabic-Indic one: int() reads it as 1
    raw_id("Member:99999999999"),  # beyond the 32-bit key column
    raw_id("member:1"),
    raw_id("Nope:1"),
    raw_id("Member:1") + "==",  # padded: not the ID the server issued
    raw_id("Member:1") + "!",
]


async def test_malformed_ids_are_bad_user_input(client: GraphQLClient) -> None:
    token = await client.token(ADA)
    for bad_id in MALFORMED:
        response = await client.post(NODE, {"id": bad_id}, token=token)
        assert response.status_code == 200, bad_id
        assert without_cost(response.json()) == {
            "data": {"node": None},
            "errors": [
                {
                    "message": f"'{bad_id[:100]}' is not a valid ID.",
                    "locations": [{"line": 1, "column": 19}],
                    "path": ["node"],
                    "extensions": {"code": "BAD_USER_INPUT"},
                }
            ],
        }, bad_id


async def test_one_malformed_id_fails_nodes_before_any_lookup(
    client: GraphQLClient, session: AsyncSession
) -> None:
    team = await f.gid(session, "Team", "acme", "Sales")
    body = await client.query(NODES, {"ids": [team, "garbage"]}, as_=ADA)
    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        ("'garbage' is not a valid ID.", {"code": "BAD_USER_INPUT"})
    ]


GLOBEX_OBJECTS: list[tuple[str, tuple[str, ...]]] = [
    ("Workspace", ("globex",)),
    ("Member", ("globex", "dee@globex.test")),
    ("Team", ("globex", "Ops")),
    ("Role", ("globex", "Admin")),
    ("Conversation", ("globex", "Globex ops standup")),
    ("User", ("dee@globex.test",)),  # shares no workspace with ada
]


async def test_id_of_another_workspace_answers_like_a_missing_one(
    client: GraphQLClient, session: AsyncSession
) -> None:
    ada, cy = await client.token(ADA), await client.token("cy@acme.test")
    for type_name, key in GLOBEX_OBJECTS:
        foreign = await f.gid(session, type_name, *key)
        missing = encode_id(type_name, 999_999)
        for query in (NODE, NODES):
            variables = {"id": foreign} if query is NODE else {"ids": [foreign]}
            seen = await client.post(query, variables, token=ada)
            variables = {"id": missing} if query is NODE else {"ids": [missing]}
            expected = await client.post(query, variables, token=ada)
            assert seen.content == expected.content, type_name
            assert without_cost(seen.json()) in (
                {"data": {"node": None}},
                {"data": {"nodes": [None]}},
            )
        # ... while for cy, a member of both, the same ID is readable.
        body = without_cost((await client.post(NODES, {"ids": [foreign]}, token=cy)).json())
        assert body == {"data": {"nodes": [{"__typename": type_name, "id": foreign}]}}


async def test_a_conversation_outside_the_viewers_scope_is_null(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """cy (Member: conversations:read:team, team Sales) does not see a Support meeting."""
    support = await f.gid(session, "Conversation", "acme", "Support weekly sync")
    sales = await f.gid(session, "Conversation", "acme", "Pricing objection handling")
    body = await client.query(NODES, {"ids": [support, sales]}, as_="cy@acme.test")
    assert body == {"data": {"nodes": [None, {"__typename": "Conversation", "id": sales}]}}

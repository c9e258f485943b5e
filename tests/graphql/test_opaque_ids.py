"""Global IDs and cursors are keyed: they reveal nothing about other workspaces (no
shared counter, no creation order across tenants), cannot be edited or made up, and the
old unkeyed formats are refused."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import CURSOR_KEY, GLOBAL_ID_KEY, derived_key, identifier_secret
from app.config import Settings, get_settings
from app.graphql.errors import BadUserInput
from app.graphql.ids import MAX_PK, NODE_TYPES, decode_id, decode_id_of, encode_id
from app.graphql.pagination import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor
from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import workspace_id

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sealed_id(block: bytes, key: bytes | None = None) -> str:
    """One block encrypted as the server does, with its key unless another is given."""
    cipher = Cipher(algorithms.AES(key or derived_key(GLOBAL_ID_KEY)), modes.ECB())  # noqa: S305
    return b64(cipher.encryptor().update(block))


def refused_id(global_id: str) -> bool:
    try:
        decode_id(global_id)
    except BadUserInput as exc:
        assert exc.message == f"'{global_id[:100]}' is not a valid ID."
        return True
    return False


def refused_cursor(cursor: str, shape: tuple[type, ...], kind: str) -> bool:
    try:
        decode_cursor(cursor, shape, kind=kind)
    except BadUserInput as exc:
        assert exc.message == "`after` is not a cursor of this list."
        return True
    return False


def tampered(text: str) -> list[str]:
    """Every string that differs from ``text`` in exactly one character (same alphabet)."""
    return [
        text[:i] + c + text[i + 1 :] for i in range(len(text)) for c in ALPHABET if c != text[i]
    ]


def plain_forms(pk: int) -> list[str]:
    """The ways a key could show in an unkeyed ID (each at least 6 characters long, so
    that a random ID contains one by chance once in billions)."""
    return [b64(f"Team:{pk}".encode()), b64(pk.to_bytes(8, "big")), b64(pk.to_bytes(4, "big"))]


def common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


# --- global IDs ---------------------------------------------------------------------------


def test_every_node_type_round_trips() -> None:
    for type_name in NODE_TYPES:
        for pk in (1, 2, 3, 1000, 123_456, MAX_PK):
            global_id = encode_id(type_name, pk)
            assert len(global_id) == 22 and set(global_id) <= set(ALPHABET), global_id
            assert decode_id(global_id) == (type_name, pk)
            assert decode_id_of(global_id, type_name) == pk


def test_the_same_key_of_two_types_gives_unrelated_ids() -> None:
    ids = {encode_id(type_name, 7) for type_name in NODE_TYPES}
    assert len(ids) == len(NODE_TYPES)


def test_consecutive_keys_give_unrelated_unordered_ids() -> None:
    ids = [encode_id("Team", pk) for pk in range(1, 65)]
    assert len(set(ids)) == len(ids)
    # Random 22-character strings share a 4-character prefix once in 16.7 million pairs.
    assert max(common_prefix(a, b) for a, b in pairwise(ids)) < 4
    # Neither the strings nor the blocks they carry follow the keys' order.
    assert ids not in (sorted(ids), sorted(ids, reverse=True))
    blocks = [unb64(i) for i in ids]
    assert blocks not in (sorted(blocks), sorted(blocks, reverse=True))
    # Half the bits differ between neighbours, on average (a pseudorandom permutation):
    # the mean over 63 pairs is 64 with a standard deviation under 1.
    flips = [
        bin(int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).count("1")
        for a, b in pairwise(blocks)
    ]
    assert 56 < sum(flips) / len(flips) < 72
    # And the key shows nowhere in the ID, neither as the old text nor as bytes.
    for pk, global_id in enumerate(ids, start=1):
        for shown in plain_forms(pk):
            assert shown not in global_id, (pk, global_id)


def test_an_id_of_one_type_never_reads_as_another() -> None:
    team = encode_id("Team", 5)
    for other in NODE_TYPES - {"Team"}:
        assert decode_id_of(team, other) is None
    assert decode_id(team) == ("Team", 5)


def test_an_id_of_a_non_node_type_is_refused() -> None:
    assert refused_id(encode_id("Integration", 1))  # audit events name integrations


def test_every_one_character_edit_of_an_id_is_refused() -> None:
    for global_id in (encode_id("Member", 1), encode_id("Workspace", MAX_PK)):
        edits = tampered(global_id)
        assert len(edits) == 22 * 63
        assert all(refused_id(edit) for edit in edits)
        for edit in (global_id[:-1], global_id + "A", global_id + "==", " " + global_id):
            assert refused_id(edit), edit


def test_old_format_ids_are_refused() -> None:
    for old in ("Team:1", "Member:2", "Workspace:1", "User:12345678901234"):
        assert refused_id(b64(old.encode())), old


def test_ids_are_checked_after_decryption() -> None:
    """Blocks sealed with the right key but not laid out as the server lays them out."""
    ok = struct.pack(">BQ", 4, 1) + bytes(7)
    assert decode_id(sealed_id(ok)) == ("Team", 1)  # the layout these tests rely on
    for block in (
        struct.pack(">BQ", 4, 1) + bytes(6) + b"\x01",  # check bytes
        struct.pack(">BQ", 0, 1) + bytes(7),  # no such tag
        struct.pack(">BQ", 200, 1) + bytes(7),
        struct.pack(">BQ", 4, 0) + bytes(7),  # no row has key 0
        struct.pack(">BQ", 4, MAX_PK + 1) + bytes(7),  # beyond the key column
        struct.pack(">BQ", 4, 2**64 - 1) + bytes(7),
    ):
        assert refused_id(sealed_id(block)), block


def test_an_id_sealed_under_another_secret_is_refused() -> None:
    other = hmac.new(b"another secret", GLOBAL_ID_KEY.encode(), hashlib.sha256).digest()
    assert other != derived_key(GLOBAL_ID_KEY)
    block = struct.pack(">BQ", 4, 1) + bytes(7)
    assert refused_id(sealed_id(block, other))


# --- cursors ------------------------------------------------------------------------------

WHEN = datetime(2026, 11, 4, 9, 30, 15, 123456, tzinfo=UTC)


def test_cursors_round_trip_and_are_sealed() -> None:
    member = encode_cursor("Member", (42,))
    assert decode_cursor(member, (int,), kind="Member") == (42,)
    conversation = encode_cursor("Conversation", (WHEN, 42))
    assert decode_cursor(conversation, (datetime, int), kind="Conversation") == (WHEN, 42)
    for cursor in (member, conversation):
        with pytest.raises((binascii.Error, ValueError)):
            orjson.loads(unb64(cursor))  # no readable JSON inside
        assert b64(b'["Member"') not in cursor and b64(b'["Conversation"') not in cursor
    # Consecutive keys give unrelated cursors.
    cursors = [encode_cursor("Team", (pk,)) for pk in range(1, 33)]
    assert max(common_prefix(a, b) for a, b in pairwise(cursors)) < 4


def test_every_one_character_edit_of_a_cursor_is_refused() -> None:
    for cursor, shape, kind in (
        (encode_cursor("Member", (3,)), (int,), "Member"),
        (encode_cursor("Conversation", (WHEN, 3)), (datetime, int), "Conversation"),
    ):
        assert all(refused_cursor(edit, shape, kind) for edit in tampered(cursor))
        for edit in (cursor[:-1], cursor + "A", cursor + "=", cursor[1:]):
            assert refused_cursor(edit, shape, kind), edit


def test_a_cursor_of_one_list_is_refused_by_another() -> None:
    assert refused_cursor(encode_cursor("Member", (3,)), (int,), "Team")
    assert refused_cursor(encode_cursor("AuditEvent", (3,)), (int,), "Member")


def test_old_format_and_foreign_cursors_are_refused() -> None:
    old = b64(orjson.dumps(["Member", 3]))
    assert refused_cursor(old, (int,), "Member")
    other = hmac.new(b"another secret", CURSOR_KEY.encode(), hashlib.sha256).digest()
    forged = b64(AESSIV(other).encrypt(orjson.dumps(["Member", 3]), None))
    assert refused_cursor(forged, (int,), "Member")


def test_max_cursor_length_admits_every_cursor_the_server_issues() -> None:
    longest_key = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), -(2**31))
    cursor = encode_cursor("Conversation", longest_key)
    assert len(cursor) < MAX_CURSOR_LENGTH
    assert decode_cursor(cursor, (datetime, int), kind="Conversation") == longest_key
    with pytest.raises(ValueError, match="too long"):
        encode_cursor("Member", tuple(range(100)))  # the server never issues what it refuses


# --- the key ------------------------------------------------------------------------------


def test_keys_derive_from_id_secret_else_the_jwt_secret() -> None:
    jwt = "j" * 40
    assert identifier_secret(Settings(jwt_secret=jwt)) == jwt
    assert identifier_secret(Settings(jwt_secret=jwt, id_secret="")) == jwt  # blank = unset
    assert identifier_secret(Settings(jwt_secret=jwt, id_secret="i" * 40)) == "i" * 40
    secret = identifier_secret(get_settings()).encode()
    for label in (GLOBAL_ID_KEY, CURSOR_KEY):
        assert derived_key(label) == hmac.new(secret, label.encode(), hashlib.sha256).digest()
    assert derived_key(GLOBAL_ID_KEY) != derived_key(CURSOR_KEY)


def test_production_refuses_a_weak_id_secret() -> None:
    production: dict[str, Any] = {"app_env": "production", "jwt_secret": "j" * 40}
    assert Settings(**production, id_secret="i" * 32).id_secret == "i" * 32
    assert Settings(**production).id_secret is None
    for weak in ("short", "harmony-development-secret-do-not-use-in-production"):
        with pytest.raises(ValidationError, match="ID_SECRET must be at least 32 characters"):
            Settings(**production, id_secret=weak)


# --- through the API ----------------------------------------------------------------------

NODE = "query($id: ID!) { node(id: $id) { __typename id ... on Team { name } } }"
CREATE_TEAM = """mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { id name } userErrors { code } } }"""


async def test_an_old_format_id_is_bad_user_input(client: GraphQLClient) -> None:
    old = b64(b"Team:1")
    assert old == "VGVhbTox"
    body = await client.query(NODE, {"id": old}, as_="ada@acme.test")
    assert body == {
        "data": {"node": None},
        "errors": [
            {
                "message": "'VGVhbTox' is not a valid ID.",
                "locations": [{"line": 1, "column": 19}],
                "path": ["node"],
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ],
    }


async def test_a_members_cursor_is_refused_by_teams(client: GraphQLClient) -> None:
    members = await client.query(
        '{ workspace(slug: "acme") { members(first: 1) { pageInfo { endCursor } } } }',
        as_="ada@acme.test",
    )
    after = members["data"]["workspace"]["members"]["pageInfo"]["endCursor"]
    for field, refused in (("teams", True), ("members", False)):
        body = await client.query(
            'query($a: String) { workspace(slug: "acme") { FIELD(first: 1, after: $a) { totalCount } } }'.replace(
                "FIELD", field
            ),
            {"a": after},
            as_="ada@acme.test",
        )
        if refused:
            assert body["data"] == {"workspace": {"teams": None}}
            assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
                (
                    "`after` is not a cursor of this list.",
                    {"code": "BAD_USER_INPUT", "argument": "after"},
                )
            ]
        else:
            assert body == {"data": {"workspace": {"members": {"totalCount": 4}}}}


async def test_new_team_ids_reveal_nothing_about_other_workspaces(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    """Ada creates a team, Globex creates one, Ada creates another: her two IDs say
    neither that a row was created in between nor in which order hers came."""
    acme, globex = (
        await workspace_id(owner_engine, "acme"),
        await workspace_id(owner_engine, "globex"),
    )
    created: list[str] = []
    for name, ws, as_ in (
        ("Marketing", acme, "ada@acme.test"),
        ("Finance", globex, "cy@acme.test"),
        ("Legal", acme, "ada@acme.test"),
    ):
        body = await client.query(
            CREATE_TEAM, {"input": {"workspaceId": ws, "name": name}}, as_=as_
        )
        assert body["data"]["createTeam"]["userErrors"] == [], body
        created.append(body["data"]["createTeam"]["team"]["id"])
    first, _, second = created
    first_pk, second_pk = decode_id(first)[1], decode_id(second)[1]
    assert second_pk == first_pk + 2  # the premise: Globex's team took the key between

    assert common_prefix(first, second) < 4
    for global_id, pk in ((first, first_pk), (second, second_pk)):
        assert len(global_id) == 22
        for shown in plain_forms(pk):
            assert shown not in global_id, (global_id, pk)
        body = await client.query(NODE, {"id": global_id}, as_="ada@acme.test")
        assert body["data"]["node"]["__typename"] == "Team"
    # The audit list's cursors are sealed the same way.
    body = await client.query(
        '{ workspace(slug: "acme") { auditEvents(first: 1) { pageInfo { endCursor } } } }',
        as_="ada@acme.test",
    )
    cursor = body["data"]["workspace"]["auditEvents"]["pageInfo"]["endCursor"]
    assert refused_cursor(cursor, (int,), "Member")
    with pytest.raises((binascii.Error, ValueError)):
        orjson.loads(unb64(cursor))


async def test_audit_events_have_stable_unique_ids_that_name_no_node(
    client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    """A poller of the audit log tells events apart by their ``id``: the same event has
    the same ID in every read, two events never share one, and it names no Node (an
    argument expecting one refuses it)."""
    acme = await workspace_id(owner_engine, "acme")
    create = (
        "mutation($input: CreateTeamInput!) { createTeam(input: $input) { userErrors { code } } }"
    )
    for name in ("Alpha", "Beta"):
        created = await client.query(
            create, {"input": {"workspaceId": acme, "name": name}}, as_="ada@acme.test"
        )
        assert created == {"data": {"createTeam": {"userErrors": []}}}
    query = '{ workspace(slug: "acme") { auditEvents(first: 10) { nodes { id action } } } }'
    first, again = [
        (await client.query(query, as_="ada@acme.test"))["data"]["workspace"]["auditEvents"][
            "nodes"
        ]
        for _ in range(2)
    ]
    assert first == again and [e["action"] for e in first][:2] == ["team.created"] * 2
    ids = [e["id"] for e in first]
    assert len(set(ids)) == len(ids) and all(refused_id(i) for i in ids)
    node = await client.query(f'{{ node(id: "{ids[0]}") {{ id }} }}', as_="ada@acme.test")
    assert [e["extensions"]["code"] for e in node["errors"]] == ["BAD_USER_INPUT"]

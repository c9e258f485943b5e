"""``scripts/bench --peers`` without the load: the peers' SQL (schema ``peer``) answers
what the gateway answers, with the same access checks; the equality check that guards
every run; the statement counter at the wire; the ratios and the table.

PostGraphile itself is not installed here (the benchmark installs it on demand): the
SQL it serves is checked directly against the gateway, on the demo data, for viewers
of every conversations:read scope (the benchmark's own viewers are all Admins).
"""

from __future__ import annotations

import base64
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.graphql.ids import decode_id, encode_id
from tests.client import GraphQLClient

# The benchmark's modules import each other as ``benchmark.*`` (scripts/bench puts
# scripts/ on the path); so do these tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from benchmark import queries
from benchmark.compare import data_difference, plain_id
from benchmark.peer_schema import schema_sql
from benchmark.peers import against, available
from benchmark.report import peers_table
from benchmark.run import rotated
from benchmark.wirecount import CountingProxy


def plain(type_name: str, pk: int) -> str:
    """A floor's or a peer's ID: base64url("Type:pk") without padding."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


# --------------------------------------------------------------------------- equality


def test_peer_data_equal_to_the_gateways_whatever_the_id_encoding() -> None:
    gateway = {"viewer": {"id": encode_id("User", 7), "name": "Ada"}}
    peer = {"viewer": {"id": plain("User", 7), "name": "Ada"}}
    assert data_difference(gateway, peer, decode_id) is None


def test_another_object_under_the_same_field_is_a_difference() -> None:
    gateway = {"viewer": {"id": encode_id("User", 7), "name": "Ada"}}
    peer = {"viewer": {"id": plain("User", 8), "name": "Ada"}}
    assert data_difference(gateway, peer, decode_id) == (
        "data.viewer.id: ('User', 8), expected ('User', 7)"
    )


def test_the_same_items_in_another_order_are_a_difference() -> None:
    def page(*pks: int, encode: Any) -> dict[str, Any]:
        return {"workspace": {"members": {"nodes": [{"id": encode("Member", p)} for p in pks]}}}

    gateway = page(1, 2, 3, encode=encode_id)
    assert data_difference(gateway, page(1, 3, 2, encode=plain), decode_id) == (
        "data.workspace.members.nodes[1].id: ('Member', 3), expected ('Member', 2)"
    )
    assert data_difference(gateway, page(1, 2, encode=plain), decode_id) == (
        "data.workspace.members.nodes: 2 items, expected 3"
    )


def test_missing_extra_and_retyped_fields_are_differences() -> None:
    assert (
        data_difference({"a": {"b": 1}}, {"a": {}}, decode_id) == "data.a.b: missing (expected 1)"
    )
    assert data_difference({"a": {}}, {"a": {"c": 2}}, decode_id) == (
        "data.a.c: not expected (got 2)"
    )
    assert data_difference({"a": 1}, {"a": 1.0}, decode_id) == "data.a: 1.0, expected 1"
    assert data_difference({"workspace": None}, {"workspace": {}}, decode_id) == (
        "data.workspace: {}, expected None"
    )


def test_an_id_that_is_not_a_plain_global_id_is_reported() -> None:
    found = data_difference({"v": {"id": encode_id("User", 1)}}, {"v": {"id": "@@"}}, decode_id)
    assert found is not None and found.startswith("an ID that is not base64url")
    assert plain_id(plain("Team", 12)) == ("Team", 12)


# --------------------------------------------------------------------------- ratios, table


def _figures(rps: float, cpu: float) -> dict[str, Any]:
    return {
        "rps": rps,
        "p50_ms": 10.0,
        "p95_ms": 20.0,
        "p99_ms": 30.0,
        "errors": 0,
        "cpu_ms_per_request": cpu,
        "db_cpu_ms_per_request": 1.0,
        "cores": {"server": 1.0, "db": 0.5, "redis": 0.0, "wrk": 0.1, "other": 0.0},
        "wrk": {"raw": "not kept"},
    }


def test_ratio_to_peer_is_the_gateways_rps_over_the_peers() -> None:
    got = against(
        _figures(600.0, 2.0),
        {"postgraphile4": _figures(500.0, 1.5), "postgraphile5": _figures(0.0, 0.0)},
    )
    assert got["ratio_to_peer"] == {"postgraphile4": 1.2, "postgraphile5": None}
    assert got["peers"]["postgraphile4"]["cpu_ms_per_request"] == 1.5
    assert "wrk" not in got["peers"]["postgraphile4"]


def test_the_table_has_a_row_per_target_with_gateway_over_target() -> None:
    gateway = _figures(600.0, 2.0)
    row = {
        "query": "members",
        "concurrency": 16,
        **gateway,
        "floor": _figures(1200.0, 0.3),
        **against(gateway, {"postgraphile4": _figures(500.0, 1.5)}),
        "wire_statements_per_request": {"gateway": 5.0, "floor": 2.0, "postgraphile4": 4.0},
    }
    run = {
        "meta": {
            "peers": {
                "targets": {
                    "postgraphile4": {
                        "label": "PostGraphile 4",
                        "packages": {"postgraphile": "4.14.1"},
                        "processes": 2,
                        "node": "v20.20.2",
                    }
                },
                "skipped": {"members_after_90": "no cursors"},
            }
        },
        "results": [row],
    }
    lines = peers_table(run)
    assert (
        "| members | 16 | gateway | 600.0 | - | 0.500 | 10.0 | 30.0 | 3.0 | 2.00 | 1.00 | 5.00 | 0 |"
        in lines
    )
    assert (
        "| members | 16 | postgraphile4 | 500.0 | 1.200 | 0.417 | 10.0 | 30.0 | 3.0 | 1.50 "
        "| 1.00 | 4.00 | 0 |"
    ) in lines
    assert any("PostGraphile 4 4.14.1, 2 Node v20.20.2 processes" in line for line in lines)
    assert lines[-1] == "Not measured against the peers: members_after_90 (no cursors)"
    assert peers_table({"meta": {}, "results": [{**row, "peers": None}]}) == []


def test_targets_take_turns_at_going_first() -> None:
    targets = ["floor", "gateway", "postgraphile4", "postgraphile5"]
    firsts = {rotated(targets, shift)[0] for shift in range(4)}
    assert firsts == set(targets)
    assert rotated(targets, 5) == ["gateway", "postgraphile4", "postgraphile5", "floor"]
    assert rotated([], 3) == []


def test_without_node_the_peers_are_skipped_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no node and no npm
    monkeypatch.setenv("HARMONY_PEERS_CACHE", str(tmp_path / "cache"))
    said: list[str] = []
    assert available(said.append) == {}
    assert said == ["peers skipped: node not found"]
    assert not (tmp_path / "cache").exists()


# --------------------------------------------------------------------------- PostgreSQL


def _asyncpg_dsn(engine: AsyncEngine) -> str:
    url = make_url(engine.url.render_as_string(hide_password=False))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.postgres_only
async def test_statements_are_counted_at_the_wire(owner_engine: AsyncEngine) -> None:
    url = make_url(_asyncpg_dsn(owner_engine))
    proxy = CountingProxy(url.host or "127.0.0.1", url.port or 5432)
    port = proxy.start()
    try:
        conn = await asyncpg.connect(url.set(host="127.0.0.1", port=port).render_as_string(False))
        try:
            before, mark = proxy.counter.snapshot()
            async with conn.transaction():  # BEGIN and COMMIT: two simple queries
                assert await conn.fetchval("SELECT $1::int + 1", 41) == 42  # one execute
            after, _ = proxy.counter.snapshot()
            statements = proxy.counter.texts_since(mark)
        finally:
            await conn.close()
    finally:
        proxy.stop()
    assert after["Q"] - before["Q"] == 2
    assert after["E"] - before["E"] == 1
    assert statements[0].upper().startswith("BEGIN")
    assert statements[1] == "SELECT $1::int + 1"
    assert statements[2].upper().startswith("COMMIT")


@pytest.fixture
async def peer_sql(owner_engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A connection on the test database where schema ``peer`` exists, in a transaction
    rolled back afterwards (nothing of it outlives the test)."""
    conn = await asyncpg.connect(_asyncpg_dsn(owner_engine))
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(schema_sql())
        yield conn
    finally:
        await transaction.rollback()
        await conn.close()


async def _user_id(conn: asyncpg.Connection, email: str) -> int:
    found: int = await conn.fetchval("SELECT id FROM users WHERE email = $1", email)
    return found


async def _as_viewer(conn: asyncpg.Connection, email: str) -> None:
    user = await _user_id(conn, email)
    await conn.execute("SELECT set_config('app.user_id', $1, true)", str(user))


def _pks(nodes: list[dict[str, Any]]) -> list[int]:
    return [decode_id(n["id"])[1] for n in nodes]


def _camel(value: Any) -> Any:
    """A composite's JSON (snake_case keys) as PostGraphile names its fields."""
    if isinstance(value, dict):
        return {
            k.split("_")[0] + "".join(p.title() for p in k.split("_")[1:]): _camel(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


CONVERSATION_PKS = """
SELECT c.pk FROM peer.workspace_by_slug($1) w,
  peer.workspaces_conversations(w) WITH ORDINALITY AS c ORDER BY c.ordinality
"""


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    ("email", "scope"),
    [("ada@acme.test", "all"), ("cy@acme.test", "team"), ("eve@acme.test", "own")],
)
async def test_peer_conversations_are_the_gateways_in_every_scope(
    client: GraphQLClient,
    owner_engine: AsyncEngine,
    peer_sql: asyncpg.Connection,
    email: str,
    scope: str,
) -> None:
    if scope == "own":  # Eve's custom role, narrowed to her own conversations
        async with owner_engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE role_permissions SET permission = 'conversations:read:own' "
                    "WHERE permission = 'conversations:read:team' AND role_id = "
                    "(SELECT role_id FROM members m JOIN users u ON u.id = m.user_id "
                    "JOIN workspaces w ON w.id = m.workspace_id "
                    "WHERE u.email = :email AND w.slug = 'acme')"
                ),
                {"email": email},
            )
    body = await client.query(queries.CONVERSATIONS, {"slug": "acme"}, as_=email)
    expected = _pks(body["data"]["workspace"]["conversations"]["nodes"])
    await _as_viewer(peer_sql, email)
    got = [r["pk"] for r in await peer_sql.fetch(CONVERSATION_PKS, "acme")]
    assert got == expected
    everyone = await peer_sql.fetchval(
        "SELECT count(*) FROM conversations c JOIN workspaces w ON w.id = c.workspace_id "
        "WHERE w.slug = 'acme'"
    )
    assert (len(got) == everyone) == (scope == "all")  # the scopes do narrow the list
    assert got


@pytest.mark.postgres_only
async def test_peer_members_viewer_and_settings_are_the_gateways(
    client: GraphQLClient, peer_sql: asyncpg.Connection
) -> None:
    ada = "ada@acme.test"
    await _as_viewer(peer_sql, ada)
    viewer = (await client.query(queries.VIEWER, as_=ada))["data"]["viewer"]
    row = await peer_sql.fetchrow("SELECT gid, name FROM peer.viewer()")
    assert row is not None
    assert (plain_id(row["gid"]), row["name"]) == (decode_id(viewer["id"]), viewer["name"])

    page = (await client.query(queries.MEMBERS, {"slug": "acme"}, as_=ada))["data"]
    nodes = page["workspace"]["members"]["nodes"]
    members = await peer_sql.fetch(
        "SELECT m.pk, m.user_pk, m.role_pk, ARRAY(SELECT t.pk FROM "
        "peer.members_teams(ROW(m.pk, m.gid, m.workspace_pk, m.user_pk, m.role_pk)::peer.members)"
        " WITH ORDINALITY AS t ORDER BY t.ordinality) AS teams "
        "FROM peer.workspace_by_slug('acme') w, peer.workspaces_members(w) "
        "WITH ORDINALITY AS m(pk, gid, workspace_pk, user_pk, role_pk, n) ORDER BY m.n"
    )
    assert [(r["pk"], r["user_pk"], r["role_pk"], list(r["teams"])) for r in members] == [
        (
            decode_id(n["id"])[1],
            decode_id(n["user"]["id"])[1],
            decode_id(n["role"]["id"])[1],
            _pks(n["teams"]),
        )
        for n in nodes
    ]

    settings = (await client.query(queries.SETTINGS, {"slug": "acme"}, as_=ada))["data"]
    composite = await peer_sql.fetchval(
        "SELECT to_json(peer.workspaces_settings(w))::text FROM peer.workspace_by_slug('acme') w"
    )
    assert _camel(orjson.loads(composite)) == settings["workspace"]["settings"]


@pytest.mark.postgres_only
async def test_peer_workspace_is_null_for_non_members_and_deactivated_members(
    owner_engine: AsyncEngine, peer_sql: asyncpg.Connection
) -> None:
    readable = "SELECT count(*) FROM peer.workspace_by_slug($1) w WHERE w.pk IS NOT NULL"
    await _as_viewer(peer_sql, "ada@acme.test")
    assert await peer_sql.fetchval(readable, "acme") == 1
    assert await peer_sql.fetchval(readable, "globex") == 0  # not a member
    await peer_sql.execute(
        "UPDATE members SET status = 'DEACTIVATED' WHERE user_id = $1",
        await _user_id(peer_sql, "ada@acme.test"),
    )
    assert await peer_sql.fetchval(readable, "acme") == 0
    await peer_sql.execute("SELECT set_config('app.user_id', '', true)")  # no valid token
    assert await peer_sql.fetchval(readable, "acme") == 0
    assert (
        await peer_sql.fetchval("SELECT count(*) FROM peer.viewer() v WHERE v.pk IS NOT NULL") == 0
    )

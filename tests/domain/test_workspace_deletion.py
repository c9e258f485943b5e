"""Operator workspace deletion: ``python -m app workspace delete --slug S``
(app/cli.py, app/domain/workspaces/deletion.py, docs/operations.md).

On both engines, on a real database holding the demo: the dry run changes nothing; a
deletion nobody confirmed changes nothing; a confirmed one leaves no row of the
workspace in any table that has a ``workspace_id`` (found in the database's catalogue,
not taken from the models) and every other workspace's rows exactly as they were; the
operator record survives it. On PostgreSQL: the application role cannot touch that
record, and a mutation racing the deletion leaves nothing behind, whichever takes the
workspace lock first.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.api_keys import generate_api_key
from app.cli import cmd_workspace_delete
from app.config import Settings
from app.db.engine import create_sessionmaker
from app.domain.workspaces import deletion
from tests import factories as f
from tests.client import GraphQLClient
from tests.conftest import TEST_SECRET
from tests.graphql.mutations.helpers import one
from tests.graphql.mutations.helpers import workspace_id as workspace_gid

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_TABLE = "operator_audit"  # about workspaces, not of one: it must survive them

CREATE_TEAM = """mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { name } userErrors { code } } }"""
SHARE = """mutation($input: CreateConversationShareLinkInput!) {
  createConversationShareLink(input: $input) { shareLink { token } userErrors { code } } }"""
CANCEL = """mutation($input: CancelSubscriptionInput!) {
  cancelSubscription(input: $input) { userErrors { code } } }"""


async def _tables_with_workspace_id(conn: Any) -> list[str]:
    """Every table of the database with a ``workspace_id`` column, from its catalogue."""
    if conn.dialect.name == "sqlite":
        names = (
            await conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'table'"))
        ).scalars()
        found = []
        for name in names:
            columns = await conn.execute(sa.text(f'PRAGMA table_info("{name}")'))
            if any(c[1] == "workspace_id" for c in columns):
                found.append(name)
        return sorted(found)
    rows = await conn.execute(
        sa.text(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'workspace_id'"
            " AND table_schema = current_schema() ORDER BY 1"
        )
    )
    return list(rows.scalars())


async def _rows_by_workspace(engine: AsyncEngine) -> dict[str, dict[int, list[str]]]:
    """table → workspace id → its rows (as sorted reprs), every table that holds
    workspace rows (``workspaces`` by its id), the operator log left out."""
    out: dict[str, dict[int, list[str]]] = {}
    async with engine.connect() as conn:
        tables = [t for t in await _tables_with_workspace_id(conn) if t != OPERATOR_TABLE]
        for table in ["workspaces", *tables]:
            key = "id" if table == "workspaces" else "workspace_id"
            result = await conn.execute(sa.text(f'SELECT * FROM "{table}"'))  # noqa: S608 - catalogue names
            per: dict[int, list[str]] = {}
            for row in result.mappings():
                per.setdefault(int(row[key]), []).append(repr(sorted(row.items())))
            out[table] = {ws: sorted(rows) for ws, rows in per.items()}
    return out


async def _users(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT * FROM users ORDER BY id"))
        return [repr(tuple(r)) for r in rows]


async def _operator_records(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT operator, action, workspace_id, workspace_slug, workspace_name, reason,"
                " details FROM operator_audit ORDER BY id"
            )
        )
        records = [dict(r) for r in rows.mappings()]
    for record in records:  # JSON comes back as text from SQLite
        if isinstance(record["details"], str):
            record["details"] = json.loads(record["details"])
    return records


async def _delete(settings: Settings, slug: str = "acme", **kw: Any) -> int:
    """The CLI command, in a thread (it runs its own event loop)."""
    args: dict[str, Any] = {"operator": "ops-alice", "reason": "SUP-1234", "yes": True, **kw}
    operator, reason = args.pop("operator"), args.pop("reason")
    return await asyncio.to_thread(cmd_workspace_delete, settings, slug, operator, reason, **args)


async def _fill_every_table(client: GraphQLClient, session: AsyncSession) -> str:
    """Give acme rows in the tables the demo leaves empty for it (a key, a share link,
    a webhook endpoint and delivery, audit events); returns the key's secret."""
    acme = await f.workspace_id(session, "acme")
    ada = await f.user_id(session, "ada@acme.test")
    secret = await f.create_api_key(session, acme, ada, ["members:read:all"])
    await f.create_webhook_endpoint(session, acme, ada)  # and one delivery
    await session.commit()
    ws = await workspace_gid(client.engine, "acme")
    created = await client.query(
        CREATE_TEAM, {"input": {"workspaceId": ws, "name": "Legal"}}, as_="ada@acme.test"
    )
    assert created["data"]["createTeam"]["userErrors"] == []
    listing = await client.query(
        '{ workspace(slug: "acme") { conversations(first: 1) { nodes { id } } } }',
        as_="ada@acme.test",
    )
    conversation = listing["data"]["workspace"]["conversations"]["nodes"][0]["id"]
    shared = await client.query(
        SHARE, {"input": {"conversationId": conversation}}, as_="ada@acme.test"
    )
    assert shared["data"]["createConversationShareLink"]["userErrors"] == []
    return secret


async def test_a_dry_run_prints_what_would_go_and_changes_nothing(
    settings: Settings, owner_engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    before, users = await _rows_by_workspace(owner_engine), await _users(owner_engine)
    assert await _delete(settings, dry_run=True, operator=None, reason=None, yes=False) == 0
    out = capsys.readouterr().out
    assert out.startswith("workspace acme (Acme Corp, id ")
    assert "subscription: BUSINESS, ACTIVE, 25 seats (canceled first)\n" in out
    assert "members (4):\n  ada@acme.test  ACTIVE       Admin\n" in out
    assert "eve@acme.test  ACTIVE       Billing Manager\n" in out
    assert "API keys (0):\n" in out and "  conversations                      5\n" in out
    assert out.endswith("dry run: nothing was changed\n")
    assert await _rows_by_workspace(owner_engine) == before
    assert await _users(owner_engine) == users
    assert await _operator_records(owner_engine) == []


async def test_without_a_terminal_or_yes_nothing_is_deleted(
    settings: Settings, owner_engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    before = await _rows_by_workspace(owner_engine)
    # A pipe carrying the slug is no confirmation: nobody saw what would go.
    assert await _delete(settings, yes=False, stdin=io.StringIO("acme\n")) == 1
    assert capsys.readouterr().err == (
        "error: stdin is not a terminal, so nobody can confirm: nothing was deleted "
        "(pass --yes to delete without the prompt, or --dry-run)\n"
    )
    assert await _rows_by_workspace(owner_engine) == before
    assert await _operator_records(owner_engine) == []


async def test_an_unknown_slug_or_a_missing_reason_is_an_error(
    settings: Settings, owner_engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    before = await _rows_by_workspace(owner_engine)
    assert await _delete(settings, "initech") == 1
    assert capsys.readouterr().err == "error: no workspace with slug 'initech'\n"
    assert await _delete(settings, "initech", dry_run=True) == 1
    assert capsys.readouterr().err == "error: no workspace with slug 'initech'\n"
    assert await _delete(settings, reason="  ") == 1
    assert capsys.readouterr().err == ("error: give a reason (--reason), e.g. the support ticket\n")
    assert await _delete(settings, operator="") == 1
    assert "give the operator's name" in capsys.readouterr().err
    assert await _rows_by_workspace(owner_engine) == before
    assert await _operator_records(owner_engine) == []


async def test_deleting_a_workspace_leaves_no_row_of_it_and_every_other_row_as_it_was(
    settings: Settings,
    client: GraphQLClient,
    session: AsyncSession,
    owner_engine: AsyncEngine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _fill_every_table(client, session)
    acme = await f.workspace_id(session, "acme")
    before, users = await _rows_by_workspace(owner_engine), await _users(owner_engine)
    # acme has rows in every table that can hold them, so each is shown to be emptied.
    assert [t for t, per in before.items() if acme not in per] == []
    planned = {t: len(per[acme]) for t, per in before.items() if t != "workspace_accounts"}

    assert await _delete(settings) == 0

    out = capsys.readouterr().out
    assert "subscription canceled (BUSINESS, 25 seats)\n" in out
    assert (
        f"deleted workspace acme (id {acme}): {sum(planned.values())} rows; operator record" in out
    )
    after = await _rows_by_workspace(owner_engine)
    assert {t: per.get(acme, []) for t, per in after.items()} == {t: [] for t in after}
    others = {t: {ws: rows for ws, rows in per.items() if ws != acme} for t, per in before.items()}
    assert after == others  # every other workspace's rows, unchanged
    assert await _users(owner_engine) == users  # accounts are not the workspace's

    canceled, deleted = await _operator_records(owner_engine)
    common = {
        "operator": "ops-alice",
        "workspace_id": acme,
        "workspace_slug": "acme",
        "workspace_name": "Acme Corp",
        "reason": "SUP-1234",
    }
    assert {k: canceled[k] for k in common} == common == {k: deleted[k] for k in common}
    assert canceled["action"] == "workspace.subscription_canceled"
    subscription = canceled["details"]["subscription"]
    assert subscription.pop("canceled_at") is not None
    assert subscription == {
        "plan": "BUSINESS",
        "status": "CANCELED",
        "seats": 25,
        "status_before": "ACTIVE",
    }
    assert deleted["action"] == "workspace.deleted"
    assert deleted["details"]["rows"] == planned
    assert deleted["details"]["members"] == 4 and deleted["details"]["api_keys"] == 1
    assert deleted["details"]["subscription"]["status"] == "CANCELED"


async def test_after_deletion_its_members_keep_their_other_workspaces_and_its_keys_are_refused(
    settings: Settings, client: GraphQLClient, session: AsyncSession
) -> None:
    secret = await _fill_every_table(client, session)
    cy = await client.token("cy@acme.test")
    unknown = await client.post("{ viewer { id } }", token=generate_api_key().secret)
    assert await _delete(settings) == 0

    assert await client.query(
        '{ viewer { workspaces { slug } } workspace(slug: "acme") { id } }', token=cy
    ) == {"data": {"viewer": {"workspaces": [{"slug": "globex"}]}, "workspace": None}}
    globex = await client.query(
        '{ workspace(slug: "globex") { members(first: 5) { totalCount } } }', token=cy
    )
    assert globex == {"data": {"workspace": {"members": {"totalCount": 2}}}}
    refused = await client.post("{ viewer { id } }", token=secret)
    assert (refused.status_code, refused.json()) == (unknown.status_code, unknown.json())
    assert refused.status_code == 401
    # ada was only in acme: her account stays (signing in reaches no workspace).
    assert await client.query("{ viewer { email workspaces { slug } } }", as_="ada@acme.test") == {
        "data": {"viewer": {"email": "ada@acme.test", "workspaces": []}}
    }


async def test_a_subscription_canceled_before_is_left_as_it_was(
    settings: Settings, client: GraphQLClient, owner_engine: AsyncEngine
) -> None:
    ws = await workspace_gid(owner_engine, "acme")
    body = await client.query(CANCEL, {"input": {"workspaceId": ws}}, as_="eve@acme.test")
    assert body["data"]["cancelSubscription"]["userErrors"] == []
    canceled_at = await one(
        owner_engine,
        "SELECT canceled_at FROM subscriptions s "
        "JOIN workspaces w ON w.id = s.workspace_id WHERE w.slug = 'acme'",
    )
    assert await _delete(settings) == 0
    (deleted,) = await _operator_records(owner_engine)
    assert deleted["action"] == "workspace.deleted"
    recorded = deleted["details"]["subscription"]
    assert recorded["status"] == "CANCELED" and recorded["canceled_at"] is not None
    assert canceled_at is not None


def _run_in_terminal(settings: Settings, typed: str) -> tuple[int, str]:
    """The real command with a terminal as stdin, typing ``typed`` at its prompt."""
    env = {
        **os.environ,
        "APP_ENV": "development",
        "JWT_SECRET": TEST_SECRET,
        "DATABASE_URL": settings.database_url,
        "MIGRATION_DATABASE_URL": settings.owner_database_url,
        "LOG_LEVEL": "WARNING",
        "LOGNAME": "ops-bob",  # the operator by default (getpass: $LOGNAME, then $USER)
        "USER": "ops-bob",
    }
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "workspace",
                "delete",
                "--slug",
                "acme",
                "--reason",
                "SUP-77",
            ],
            cwd=ROOT,
            env=env,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        os.write(controller, typed.encode() + b"\n")
        out, _ = process.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    return process.returncode, out


@pytest.mark.slow
async def test_at_a_terminal_typing_another_slug_deletes_nothing_and_the_slug_deletes(
    settings: Settings, owner_engine: AsyncEngine
) -> None:
    before = await _rows_by_workspace(owner_engine)
    code, out = await asyncio.to_thread(_run_in_terminal, settings, "Acme")
    assert code == 1, out
    assert "Type the slug (acme) to delete this workspace for good: " in out
    assert out.endswith("error: the confirmation did not match the slug: nothing was deleted\n")
    assert await _rows_by_workspace(owner_engine) == before
    assert await _operator_records(owner_engine) == []

    code, out = await asyncio.to_thread(_run_in_terminal, settings, "acme")
    assert code == 0, out
    assert "deleted workspace acme" in out
    records = await _operator_records(owner_engine)
    assert [(r["action"], r["operator"], r["reason"]) for r in records] == [
        ("workspace.subscription_canceled", "ops-bob", "SUP-77"),
        ("workspace.deleted", "ops-bob", "SUP-77"),
    ]
    assert await one(owner_engine, "SELECT count(*) FROM workspaces WHERE slug = 'acme'") == 0


@pytest.mark.postgres_only
async def test_the_application_role_can_neither_read_nor_write_the_operator_log(
    settings: Settings, engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    assert await _delete(settings, "globex") == 0
    async with engine.connect() as conn:
        for sql in (
            "SELECT count(*) FROM operator_audit",
            "UPDATE operator_audit SET reason = 'x'",
            "DELETE FROM operator_audit",
            "INSERT INTO operator_audit (at, operator, action, workspace_id, workspace_slug,"
            " workspace_name, reason, details) VALUES (now(), 'x', 'x', 1, 'x', 'x', 'x', '{}')",
        ):
            with pytest.raises(DBAPIError, match="permission denied for table operator_audit"):
                await conn.execute(sa.text(sql))
            await conn.rollback()
    async with owner_engine.connect() as conn:
        posture = (
            await conn.execute(
                sa.text(
                    "SELECT c.relrowsecurity, c.relforcerowsecurity,"
                    " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),"
                    " has_table_privilege(:role, c.oid, 'SELECT, INSERT, UPDATE, DELETE,"
                    "  TRUNCATE, REFERENCES, TRIGGER'),"
                    " has_sequence_privilege(:role, 'operator_audit_id_seq', 'USAGE, SELECT, UPDATE')"
                    " FROM pg_class c WHERE c.oid = 'operator_audit'::regclass"
                ),
                {"role": settings.db_app_role},
            )
        ).one()
    # Row-level security on with no policy: a role granted access by mistake still reads nothing.
    assert tuple(posture) == (True, True, 0, False, False)
    assert [r["workspace_slug"] for r in await _operator_records(owner_engine)] == [
        "globex",
        "globex",
    ]


WAITING_ON_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def _until_waiting(engine: AsyncEngine, count: int) -> None:
    for _ in range(400):
        if await one(engine, WAITING_ON_A_LOCK) >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{count} sessions never queued for the workspace lock")


@pytest.mark.postgres_only
@pytest.mark.parametrize("first", ["mutation", "deletion"])
async def test_a_mutation_racing_the_deletion_leaves_no_row_of_the_workspace(
    client: GraphQLClient, owner_engine: AsyncEngine, first: str
) -> None:
    """A third session holds acme's lock while the mutation and the deletion queue for
    it in the order given; then it lets go. The mutation that gets there first commits
    and its team is deleted with the rest; one that comes second is refused."""
    ws = await workspace_gid(owner_engine, "acme")
    acme = int(await one(owner_engine, "SELECT id FROM workspaces WHERE slug = 'acme'"))
    token = await client.token("ada@acme.test")
    operator = deletion.Operator.of("ops-carol", "SUP-9")

    async def mutate() -> Any:
        return await client.query(
            CREATE_TEAM, {"input": {"workspaceId": ws, "name": "Late"}}, token=token
        )

    async def delete() -> Any:
        async with create_sessionmaker(owner_engine)() as s, s.begin():
            return await deletion.delete_workspace(s, "acme", operator)

    steps = [mutate, delete] if first == "mutation" else [delete, mutate]
    async with owner_engine.connect() as blocker:
        held = await blocker.begin()
        await blocker.execute(sa.text(f"SELECT id FROM workspaces WHERE id = {acme} FOR UPDATE"))  # noqa: S608 - an int
        tasks = []
        for step in steps:
            tasks.append(asyncio.create_task(step()))
            await _until_waiting(owner_engine, len(tasks))
        await held.commit()
        results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    body, record = results if first == "mutation" else results[::-1]

    if first == "mutation":
        assert body["data"]["createTeam"]["userErrors"] == [], body
        assert record.rows["teams"] == 3  # Sales, Support and the one just created
    else:
        assert body == {
            "data": None,
            "errors": [
                {
                    "message": "You are no longer an active member of this workspace.",
                    "locations": [{"line": 2, "column": 3}],
                    "path": ["createTeam"],
                    "extensions": {"code": "FORBIDDEN"},
                }
            ],
        }
        assert record.rows["teams"] == 2
    after = await _rows_by_workspace(owner_engine)
    assert {t: per.get(acme, []) for t, per in after.items()} == {t: [] for t in after}

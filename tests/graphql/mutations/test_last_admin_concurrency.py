"""The last-admin invariant under concurrency.

acme has exactly two active Admins, ada and ben. Two requests that would each be
fine alone — both deleting their accounts, or each demoting the other — are sent at
the same moment. A barrier holds both requests just before the workspace lock, so
they reach it together every round. Exactly one must succeed, and acme must keep one
active Admin. Each round runs on a fresh database (pytest parametrisation).

The control test removes the lock and shows that the same race then breaks the
invariant: the barrier test is able to fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.domain.members import writes as member_writes
from app.graphql import mutation as base
from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import member_id, one, role_id

ROUNDS = 12

DELETE = """mutation { deleteAccount(input: {confirmation: "DELETE"}) { deleted userErrors { code } } }"""
DEMOTE = """
mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { id } userErrors { code } } }"""

ACTIVE_ADMINS = """
SELECT count(*) FROM members m
JOIN roles r ON r.id = m.role_id AND r.workspace_id = m.workspace_id
JOIN users u ON u.id = m.user_id
JOIN workspaces w ON w.id = m.workspace_id
WHERE w.slug = 'acme' AND r.builtin = 'ADMIN' AND m.status = 'ACTIVE' AND u.status = 'ACTIVE'"""


def hold(
    monkeypatch: pytest.MonkeyPatch,
    target: Any,
    name: str,
    parties: int = 2,
    *,
    after: bool = False,
) -> None:
    """Make ``target.name`` wait until ``parties`` callers have arrived; ``after``: until
    they all have its answer (each has read before any goes on to write)."""
    barrier = asyncio.Barrier(parties)
    original: Callable[..., Awaitable[Any]] = getattr(target, name)

    async def held(*args: Any, **kwargs: Any) -> Any:
        if not after:
            await asyncio.wait_for(barrier.wait(), timeout=10)
        found = await original(*args, **kwargs)
        if after:
            await asyncio.wait_for(barrier.wait(), timeout=10)
        return found

    monkeypatch.setattr(target, name, held)


def outcomes(bodies: list[dict[str, Any]], field: str) -> list[str]:
    """'ok', a userErrors code, or a request error code, per response."""
    out = []
    for body in bodies:
        if body.get("errors"):
            out.append(body["errors"][0]["extensions"]["code"])
        elif body["data"][field]["userErrors"]:
            out.append(body["data"][field]["userErrors"][0]["code"])
        else:
            out.append("ok")
    return sorted(out)


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_two_admins_deleting_their_accounts_at_once_one_succeeds(
    client: GraphQLClient, owner_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, round_: int
) -> None:
    hold(monkeypatch, base, "lock_workspaces")
    ada, ben = await client.token("ada@acme.test"), await client.token("ben@acme.test")
    bodies = await asyncio.gather(client.query(DELETE, token=ada), client.query(DELETE, token=ben))
    assert outcomes(list(bodies), "deleteAccount") == ["SOLE_ADMIN", "ok"]
    assert await one(owner_engine, ACTIVE_ADMINS) == 1


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_two_admins_demoting_each_other_at_once_one_succeeds(
    client: GraphQLClient, owner_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, round_: int
) -> None:
    ada_m, ben_m = (
        await member_id(owner_engine, "ada@acme.test", "acme"),
        await member_id(owner_engine, "ben@acme.test", "acme"),
    )
    member = await role_id(owner_engine, "acme", "Member")
    hold(monkeypatch, base, "lock_workspaces")
    ada, ben = await client.token("ada@acme.test"), await client.token("ben@acme.test")
    bodies = await asyncio.gather(
        client.query(DEMOTE, {"input": {"memberId": ben_m, "roleId": member}}, token=ada),
        client.query(DEMOTE, {"input": {"memberId": ada_m, "roleId": member}}, token=ben),
    )
    results = outcomes(list(bodies), "updateMember")
    # The loser either lost the permission to act (it was demoted first) or would
    # have demoted the last Admin.
    assert results[1] == "ok" and results[0] in {"FORBIDDEN", "SOLE_ADMIN"}, results
    assert await one(owner_engine, ACTIVE_ADMINS) == 1


async def test_control_without_the_lock_the_same_race_loses_every_admin(
    client: GraphQLClient, owner_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip(
            "SQLite has a single writer: without the lock the race surfaces as a busy error instead"
        )

    async def no_lock(session: AsyncSession, workspace_ids: Any) -> None:
        return None

    monkeypatch.setattr(base, "lock_workspaces", no_lock)
    monkeypatch.setattr(base, "current_permissions", _admin_permissions)
    # Both check "is there another admin?", and both have the answer before either writes
    # (a barrier before the read alone let a slow read see the other's commit).
    hold(monkeypatch, member_writes, "active_admin_member_ids", after=True)
    ada_m, ben_m = (
        await member_id(owner_engine, "ada@acme.test", "acme"),
        await member_id(owner_engine, "ben@acme.test", "acme"),
    )
    member = await role_id(owner_engine, "acme", "Member")
    ada, ben = await client.token("ada@acme.test"), await client.token("ben@acme.test")
    bodies = await asyncio.gather(
        client.query(DEMOTE, {"input": {"memberId": ben_m, "roleId": member}}, token=ada),
        client.query(DEMOTE, {"input": {"memberId": ada_m, "roleId": member}}, token=ben),
    )
    assert outcomes(list(bodies), "updateMember") == ["ok", "ok"]
    assert await one(owner_engine, ACTIVE_ADMINS) == 0


async def _admin_permissions(session: AsyncSession, workspace_id: int, user_id: int) -> Any:
    from app.auth.permissions import PermissionSet, admin_permissions

    return PermissionSet(admin_permissions())

"""Deleting a workspace: an operator action (``python -m app workspace delete``).

Three steps, each its own transaction on the owner connection (docs/operations.md):

1. ``plan_deletion``: what would go (rows per table, members, API keys, the
   subscription's state). Reads only; the dry run stops here.
2. ``cancel_before_deletion``: billing stops first, as ``cancelSubscription`` stops it
   (``stop_billing``), and is committed on its own, so that a deletion that fails
   afterwards never leaves a workspace that is still billed. Recorded in the operator
   log (the operator is no member: the workspace's own log has no actor for them).
3. ``delete_workspace``: under the workspace lock, every row of every tenant table of
   the workspace (its audit log included) and the workspace itself, in one transaction
   together with the operator record that says so.

The lock (app/domain/locks.py) is the one every change of the workspace takes first:
a mutation already holding it finishes before the deletion counts and deletes (its
rows go too); one that comes after finds no membership under the lock and is refused.
Either way no row is left behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from app import models
from app.domain.locks import lock_workspaces
from app.domain.pagination import count
from app.domain.settings.service import stop_billing
from app.domain.tenant import scoped, scoped_delete
from app.domain.workspaces.repository import (
    subscription,
    workspace_by_slug,
    workspaces_by_ids,
)
from app.models import (
    TENANT_TABLES,
    ApiKey,
    Member,
    MemberStatus,
    OperatorAuditRecord,
    Role,
    Subscription,
    User,
    Workspace,
    pk,
)
from app.models.enums import SubscriptionStatus

DELETED = "workspace.deleted"
SUBSCRIPTION_CANCELED = "workspace.subscription_canceled"
OPERATOR_MAX = 200
REASON_MAX = 1000


class WorkspaceNotFoundError(LookupError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"no workspace with slug '{slug}'")


class OperatorInputError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Operator:
    """Who acts and why (both required: the record is worthless without them)."""

    name: str
    reason: str

    @classmethod
    def of(cls, name: str | None, reason: str | None) -> Operator:
        name, reason = (name or "").strip(), (reason or "").strip()
        if not name:
            raise OperatorInputError("give the operator's name (--operator, or set $USER)")
        if len(name) > OPERATOR_MAX:
            raise OperatorInputError(f"--operator must be at most {OPERATOR_MAX} characters")
        if not reason:
            raise OperatorInputError("give a reason (--reason), e.g. the support ticket")
        if len(reason) > REASON_MAX:
            raise OperatorInputError(f"--reason must be at most {REASON_MAX} characters")
        return cls(name, reason)


@dataclass(frozen=True, slots=True)
class MemberLine:
    email: str
    role: str
    status: MemberStatus


@dataclass(frozen=True, slots=True)
class KeyLine:
    name: str
    prefix: str
    revoked: bool
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class BillingState:
    plan: str
    status: str
    seats: int
    canceled_at: datetime | None

    def as_record(self) -> dict[str, Any]:
        at = self.canceled_at.isoformat() if self.canceled_at else None
        return {"plan": self.plan, "status": self.status, "seats": self.seats, "canceled_at": at}


@dataclass(frozen=True, slots=True)
class DeletionPlan:
    """What deleting the workspace removes, as of the read."""

    workspace_id: int
    slug: str
    name: str
    created_at: datetime
    rows: Mapping[str, int]  # per tenant table (``workspaces`` included), nothing omitted
    members: tuple[MemberLine, ...]
    api_keys: tuple[KeyLine, ...]
    subscription: BillingState | None

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


@dataclass(frozen=True, slots=True)
class DeletionRecord:
    record_id: int
    workspace_id: int
    slug: str
    rows: Mapping[str, int]  # rows deleted per table

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _tenant_models() -> list[type[SQLModel]]:
    """Every tenant table's model but ``workspaces``, children before their parents
    (foreign keys), so each delete below removes its own rows and no cascade does it
    for it: the counts are the rows each table lost."""
    by_table = {
        str(model.__tablename__): model
        for model in vars(models).values()
        if isinstance(model, type)
        and issubclass(model, SQLModel)
        and getattr(model, "__tablename__", None) in TENANT_TABLES
    }
    ordered = [t.name for t in reversed(SQLModel.metadata.sorted_tables) if t.name in by_table]
    assert set(ordered) == set(TENANT_TABLES), "every tenant table has a model"
    return [by_table[name] for name in ordered if name != "workspaces"]


async def _find(session: AsyncSession, slug: str) -> Workspace:
    workspace = await workspace_by_slug(session, slug)
    if workspace is None:
        raise WorkspaceNotFoundError(slug)
    return workspace


async def _find_locked(session: AsyncSession, slug: str) -> Workspace:
    """The workspace, locked; raises if it is gone (another deletion got there first:
    the lock waited for it)."""
    workspace = await _find(session, slug)
    await lock_workspaces(session, [pk(workspace)])
    if not await workspaces_by_ids(session, [pk(workspace)]):
        raise WorkspaceNotFoundError(slug)
    return workspace


def _billing(row: Subscription | None) -> BillingState | None:
    if row is None:
        return None
    return BillingState(row.plan.value, row.status.value, row.seats, row.canceled_at)


async def _members(session: AsyncSession, workspace_id: int) -> tuple[MemberLine, ...]:
    members = list((await session.execute(scoped(Member, workspace_id))).scalars())
    roles = {pk(r): r.name for r in (await session.execute(scoped(Role, workspace_id))).scalars()}
    user_ids = sorted({m.user_id for m in members})
    users = {
        pk(u): u.email
        for u in (await session.execute(select(User).where(col(User.id).in_(user_ids)))).scalars()
    }
    lines = (MemberLine(users[m.user_id], roles[m.role_id], m.status) for m in members)
    return tuple(sorted(lines, key=lambda line: line.email.lower()))


async def _api_keys(session: AsyncSession, workspace_id: int) -> tuple[KeyLine, ...]:
    keys = (await session.execute(scoped(ApiKey, workspace_id).order_by(col(ApiKey.id)))).scalars()
    return tuple(KeyLine(k.name, k.prefix, k.revoked_at is not None, k.last_used_at) for k in keys)


async def plan_deletion(session: AsyncSession, slug: str) -> DeletionPlan:
    """What ``delete_workspace`` would remove now (changes nothing)."""
    workspace = await _find(session, slug)
    ws = pk(workspace)
    rows = {"workspaces": 1}
    for model in _tenant_models():
        rows[str(model.__tablename__)] = await count(session, scoped(model, ws))
    return DeletionPlan(
        workspace_id=ws,
        slug=workspace.slug,
        name=workspace.name,
        created_at=workspace.created_at,
        rows=dict(sorted(rows.items())),
        members=await _members(session, ws),
        api_keys=await _api_keys(session, ws),
        subscription=_billing(await subscription(session, ws)),
    )


def _record(
    workspace: Workspace, operator: Operator, action: str, details: dict[str, Any]
) -> OperatorAuditRecord:
    return OperatorAuditRecord(
        operator=operator.name,
        action=action,
        workspace_id=pk(workspace),
        workspace_slug=workspace.slug,
        workspace_name=workspace.name,
        reason=operator.reason,
        details=details,
    )


async def cancel_before_deletion(
    session: AsyncSession, slug: str, operator: Operator
) -> BillingState | None:
    """Cancel the workspace's subscription unless it is already canceled (or there is
    none): then None, and nothing is written."""
    workspace = await _find_locked(session, slug)
    row = await subscription(session, pk(workspace))
    if row is None or row.status == SubscriptionStatus.CANCELED:
        return None
    before = stop_billing(row)
    session.add(row)
    state = _billing(row)
    assert state is not None
    session.add(
        _record(
            workspace,
            operator,
            SUBSCRIPTION_CANCELED,
            {"subscription": {**state.as_record(), "status_before": before.value}},
        )
    )
    await session.flush()
    return state


async def delete_workspace(session: AsyncSession, slug: str, operator: Operator) -> DeletionRecord:
    """Delete every row of the workspace and the workspace itself, and record it in the
    operator log; in the caller's transaction, which must commit it or nothing."""
    workspace = await _find_locked(session, slug)
    ws = pk(workspace)
    billing = _billing(await subscription(session, ws))
    rows: dict[str, int] = {}
    for model in _tenant_models():
        result: Any = await session.execute(
            scoped_delete(model, ws).execution_options(synchronize_session=False)
        )
        rows[str(model.__tablename__)] = int(result.rowcount)
    # scope: `workspaces` is keyed by its own id: the workspace being deleted, locked above
    gone: Any = await session.execute(
        sa.delete(Workspace)
        .where(col(Workspace.id) == ws)
        .execution_options(synchronize_session=False)
    )
    rows["workspaces"] = int(gone.rowcount)
    rows = dict(sorted(rows.items()))
    record = _record(
        workspace,
        operator,
        DELETED,
        {
            "rows": rows,
            "members": rows["members"],
            "api_keys": rows["api_keys"],
            "subscription": billing.as_record() if billing else None,
        },
    )
    session.add(record)
    await session.flush()
    return DeletionRecord(pk(record), ws, workspace.slug, rows)

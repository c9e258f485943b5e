"""The audit log, read newest first. Its events are written by
app.domain.changes.record_change: one per successful change, in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app.db.types import column_of
from app.domain.bound import WorkspaceReads
from app.domain.pagination import Page, Window, count, fetch_page
from app.domain.tenant import scoped
from app.models import AuditEvent


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    actor_user_id: int | None = None
    since: datetime | None = None


def _filtered(workspace_id: int, f: AuditFilter) -> SelectOfScalar[AuditEvent]:
    stmt = scoped(AuditEvent, workspace_id)
    if f.action is not None:
        stmt = stmt.where(AuditEvent.action == f.action)
    if f.actor_user_id is not None:
        stmt = stmt.where(AuditEvent.actor_user_id == f.actor_user_id)
    if f.since is not None:
        stmt = stmt.where(AuditEvent.at >= f.since)
    return stmt


async def events_page(
    session: AsyncSession,
    workspace_id: int,
    f: AuditFilter,
    window: Window,
) -> Page[AuditEvent]:
    """Newest first."""
    return await fetch_page(
        session, _filtered(workspace_id, f), (column_of(AuditEvent.id),), window, descending=True
    )


async def events_count(session: AsyncSession, workspace_id: int, f: AuditFilter) -> int:
    return await count(session, _filtered(workspace_id, f))


class AuditRepository(WorkspaceReads):
    """The audit log of the workspace it is bound to (``app.domain.bound``)."""

    __slots__ = ()

    async def page(self, f: AuditFilter, window: Window) -> Page[AuditEvent]:
        return await self._in(events_page, f, window)

    async def count(self, f: AuditFilter) -> int:
        return await self._in(events_count, f)

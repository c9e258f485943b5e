"""The audit log: one event per successful change, written in the same transaction,
and read newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.actor import Actor
from app.domain.pagination import Page, count, fetch_page
from app.domain.tenant import scoped
from app.models import AuditEvent


def record(
    session: AsyncSession,
    actor: Actor,
    workspace_id: int,
    action: str,
    *,
    target_type: str | None = None,
    target_id: int | None = None,
    summary: dict[str, Any] | None = None,
) -> None:
    """Add the event to the unit of work (flushed with the change, or not at all).

    ``summary`` is a before/after description; never put a secret in it.
    """
    session.add(
        AuditEvent(
            workspace_id=workspace_id,
            action=action,
            actor_user_id=actor.user_id,
            actor_api_key_id=actor.api_key_id,
            target_type=target_type,
            target_id=target_id,
            summary=summary or {},
            request_id=actor.request_id,
        )
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    actor_user_id: int | None = None
    since: datetime | None = None


def _filtered(workspace_id: int, f: AuditFilter) -> Any:
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
    *,
    first: int,
    after: tuple[int, ...] | None,
) -> Page[AuditEvent]:
    """Newest first."""
    return await fetch_page(
        session,
        _filtered(workspace_id, f),
        (AuditEvent.id,),
        first=first,
        after=after,
        descending=True,
    )


async def events_count(session: AsyncSession, workspace_id: int, f: AuditFilter) -> int:
    return await count(session, _filtered(workspace_id, f))

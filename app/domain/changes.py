"""Recording a change: the one way a service says "this happened in this workspace".

Every service that changes a workspace calls ``record_change`` once per change, inside
the caller's unit of work, after its writes. Today that adds the audit event (the
workspace's log, read by ``Workspace.auditEvents``): it is flushed with the change, or
rolled back with it, never one without the other.

It also adds the change's webhook deliveries (app/domain/webhooks/outbox.py): one outbox
row per subscribed endpoint, in the same transaction as the change and its audit event,
so that a webhook is delivered if and only if the change committed.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.domain.actor import Actor
from app.domain.webhooks import outbox
from app.models import AuditEvent, pk

# What a change is about: a row of the workspace (its type's name and id are recorded),
# or ``(type name, id)`` for one the change did not load (e.g. ``("Workspace", 7)``).
Target = SQLModel | tuple[str, int]


async def record_change(
    session: AsyncSession,
    actor: Actor,
    workspace_id: int,
    action: str,
    target: Target,
    summary: Mapping[str, object],
    *,
    anonymous: bool = False,
) -> None:
    """Record that ``actor`` did ``action`` (e.g. ``"team.created"``) to ``target`` in the
    workspace, described by ``summary`` (before/after values; never a secret).

    A target row not yet written is flushed first, for its id. With ``anonymous`` the
    record names no actor, only the request: for an invitee declining, who never joined
    the workspace."""
    if isinstance(target, tuple):
        target_type, target_id = target
    else:
        if getattr(target, "id", None) is None:
            await session.flush()
        target_type, target_id = type(target).__name__, pk(target)
    session.add(
        AuditEvent(
            workspace_id=workspace_id,
            action=action,
            actor_user_id=None if anonymous else actor.user_id,
            actor_api_key_id=None if anonymous else actor.api_key_id,
            target_type=target_type,
            target_id=target_id,
            summary=dict(summary),
            request_id=actor.request_id,
        )
    )
    await outbox.enqueue(
        session,
        workspace_id,
        action,
        (target_type, target_id),
        summary,
        actor_user_id=None if anonymous else actor.user_id,
        actor_api_key_id=None if anonymous else actor.api_key_id,
    )


def note_change(summary: dict[str, object], row: object, attribute: str, value: object) -> None:
    """Set ``row.attribute`` to ``value`` (None: not given, left as it is) and note the
    before and after in ``summary`` when it differs."""
    before = getattr(row, attribute)
    if value is not None and value != before:
        summary[attribute] = {"before": before, "after": value}
        setattr(row, attribute, value)

"""The write side of API keys shared by other changes: a member who leaves (deactivated,
removed) takes the keys they created with them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.types import utcnow
from app.domain.actor import Actor
from app.domain.changes import record_change
from app.domain.tenant import scoped
from app.models import ApiKey


async def revoke_keys_of_member(
    session: AsyncSession, workspace_id: int, actor: Actor, user_id: int, *, reason: str
) -> list[ApiKey]:
    """Revoke the keys ``user_id`` created in this workspace that still work, each with
    its ``api_key.revoked`` event (``reason``: the change that ends them, e.g.
    ``member.removed``). Revoked for good: a key never comes back with its creator's
    membership (a reactivation, a new invitation)."""
    stmt = (
        scoped(ApiKey, workspace_id)
        .where(ApiKey.created_by_user_id == user_id, col(ApiKey.revoked_at).is_(None))
        .order_by(col(ApiKey.id))
    )
    keys = list((await session.execute(stmt)).scalars())
    await revoke(session, workspace_id, actor, keys, reason=reason)
    return keys


async def revoke(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    keys: list[ApiKey],
    *,
    reason: str | None = None,
) -> None:
    """Revoke ``keys`` (working ones) now, each with its ``api_key.revoked`` event; the
    event names ``reason`` when another change ends them."""
    now = utcnow()
    for key in keys:
        key.revoked_at = now
        session.add(key)
    await session.flush()
    for key in keys:
        summary = {"name": key.name, "prefix": key.prefix}
        if reason is not None:
            summary["reason"] = reason
        await record_change(session, actor, workspace_id, "api_key.revoked", key, summary)

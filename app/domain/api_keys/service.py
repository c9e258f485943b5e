"""API keys: created with a subset of the creator's permissions, shown once, revocable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.api_keys import generate_api_key
from app.db.types import utcnow
from app.domain.actor import Actor
from app.domain.api_keys import writes
from app.domain.changes import record_change
from app.domain.errors import Checks, Refusal, UserErrorCode
from app.domain.nodes.repository import rows_among
from app.domain.roles.service import check_permissions
from app.domain.validation import check_text
from app.models import ApiKey, ApiKeySecret, pk


async def create_api_key(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    *,
    name: str,
    permissions: Sequence[str],
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    """The key and its secret (returned once; only its hash is stored)."""
    checks = Checks()
    name = checks.value(check_text, name, "name", 100, required=True)
    if not permissions:
        checks.add(
            Refusal(
                UserErrorCode.INVALID_PERMISSION,
                "Give the key at least one permission.",
                ["input", "permissions"],
            )
        )
    granted = check_permissions(actor, permissions, checks)
    if expires_at is not None and expires_at <= utcnow():  # (it has an offset: the scalar's rule)
        checks.add(
            Refusal(
                UserErrorCode.INVALID_VALUE,
                "`expiresAt` must be a future instant.",
                ["input", "expiresAt"],
            )
        )
    checks.done()
    new = generate_api_key()
    key = ApiKey(
        workspace_id=workspace_id,
        name=name,
        prefix=new.prefix,
        permissions=granted,
        created_by_user_id=actor.user_id,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    session.add(
        ApiKeySecret(api_key_id=pk(key), workspace_id=workspace_id, secret_hash=new.secret_hash)
    )
    await record_change(
        session,
        actor,
        workspace_id,
        "api_key.created",
        key,
        {"name": name, "prefix": new.prefix, "permissions": granted},
    )
    return key, new.secret


def key_not_found() -> Refusal:
    """The one answer for a key out of the actor's reach: in another workspace, in one
    where it may not revoke keys, or no such key."""
    return Refusal(
        UserErrorCode.NOT_FOUND, "No such API key in this workspace.", ["input", "apiKeyId"]
    )


async def revoke_api_key(
    session: AsyncSession, workspace_id: int, actor: Actor, key_id: int
) -> ApiKey:
    found = await rows_among(session, ApiKey, [key_id], [workspace_id])
    if not found:
        raise key_not_found()
    key = found[0]
    if key.revoked_at is None:
        await writes.revoke(session, workspace_id, actor, [key])
    return key

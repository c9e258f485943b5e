"""The write side of account deletion."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.types import utcnow
from app.models import ApiKey


# scope: account deletion revokes the user's keys everywhere
async def revoke_keys_created_by(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        sa.update(ApiKey)
        .where(col(ApiKey.created_by_user_id) == user_id, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )

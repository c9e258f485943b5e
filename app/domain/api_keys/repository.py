"""API keys."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.models import ApiKey


async def api_key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    """Authentication's lookup: by the public prefix, before any workspace is known."""
    return (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalars().first()

"""API keys."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.models import ApiKey


async def api_key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    """Authentication's lookup: by the public prefix, before any workspace is known.

    On PostgreSQL no tenant context exists yet, so row-level security would hide every
    key: the lookup goes through ``harmony_api_key_by_prefix``, a SECURITY DEFINER
    function of migration 0002 that reads exactly this one row. The key comes back as
    a persistent ``ApiKey`` of the session, so a change to it (``last_used_at``) is
    flushed like any other, under the key's workspace context by then.
    """
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(ApiKey).from_statement(
            sa.text("SELECT * FROM harmony_api_key_by_prefix(:prefix)")
        )
        return (await session.execute(stmt, {"prefix": prefix})).scalars().first()
    return (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalars().first()

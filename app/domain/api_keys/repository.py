"""API keys."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import ApiKey, ApiKeySecret


# scope: authentication by the key's public prefix, before the workspace is known
async def api_key_by_secret(session: AsyncSession, prefix: str, secret_hash: str) -> ApiKey | None:
    """Authentication's lookup: the key with this public prefix and this secret's hash,
    before any workspace is known (the caller still compares the hash in constant time).

    On PostgreSQL no tenant context exists yet, so row-level security would hide every
    key: the lookup goes through ``harmony_api_key_sign_in``, a SECURITY DEFINER function
    of migration 0003 that answers only a caller holding the secret. The key comes back
    as a persistent ``ApiKey`` of the session, so a change to it (``last_used_at``) is
    flushed like any other, under the key's workspace context by then.
    """
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(ApiKey).from_statement(
            sa.text("SELECT * FROM harmony_api_key_sign_in(:prefix, :secret_hash)")
        )
        params = {"prefix": prefix, "secret_hash": secret_hash}
        return (await session.execute(stmt, params)).scalars().first()
    stmt = (
        select(ApiKey)
        .join(
            ApiKeySecret,
            sa.and_(
                col(ApiKeySecret.workspace_id) == ApiKey.workspace_id,
                col(ApiKeySecret.api_key_id) == ApiKey.id,
            ),
        )
        .where(ApiKey.prefix == prefix, ApiKeySecret.secret_hash == secret_hash)
    )
    return (await session.execute(stmt)).scalars().first()

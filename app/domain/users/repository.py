"""Accounts. Users are global (not tenant rows): they are reached by id from a
membership, a conversation or the authenticated token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.domain.tenant import lean, one_of
from app.models import User


async def users_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[Any]:
    """Accounts as lean rows (attribute access only): the read path's loader."""
    return list(
        (await session.execute(lean(select(User).where(one_of(session, User.id, ids)), User))).all()
    )


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(sa.func.lower(User.email) == email.strip().lower())
    return (await session.execute(stmt)).scalars().first()

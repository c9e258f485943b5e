"""Accounts. Users are global (not tenant rows): they are reached by id from a
membership, a conversation or the authenticated token."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.db.prepared import Prepared, any_of
from app.db.types import id_column
from app.domain.rows import USER_ROW
from app.domain.tenant import lean
from app.models import User
from app.models.rows import UserRow

_USERS_BY_IDS = Prepared(
    "users_by_ids",
    lambda dialect: lean(select(User).where(any_of(dialect, id_column(User), "ids")), User),
    USER_ROW,
)


async def users_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[UserRow]:
    """Accounts as lean rows (attribute access only): the read path's loader."""
    return await _USERS_BY_IDS.all(session, ids=list(ids))


_USER_BY_ID = Prepared(
    "user_row_by_id",
    lambda _dialect: lean(select(User), User).where(
        col(User.id) == sa.bindparam("user_id", type_=sa.Integer)
    ),
    USER_ROW,
)


async def user_row_by_id(session: AsyncSession, user_id: int) -> UserRow | None:
    """The account as a lean row (authentication's read)."""
    return await _USER_BY_ID.first(session, user_id=user_id)


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(sa.func.lower(User.email) == email.strip().lower())
    return (await session.execute(stmt)).scalars().first()

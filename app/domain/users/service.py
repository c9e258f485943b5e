"""Account rules shared by the operator CLI, the seed and (later) mutations."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.users.repository import user_by_email
from app.models import User

# No white space, no control character (C0, DEL, C1).
EMAIL_RE = re.compile(
    r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$"
)


class InvalidEmailError(ValueError):
    pass


def normalize_email(email: str) -> str:
    email = email.strip()
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise InvalidEmailError(f"'{email}' is not an email address")
    return email


async def get_or_create_user(session: AsyncSession, email: str, name: str | None = None) -> User:
    email = normalize_email(email)
    user = await user_by_email(session, email)
    if user is None:
        user = User(email=email, name=name or email.split("@", 1)[0])
        session.add(user)
        await session.flush()
    return user


async def sign_out_everywhere(session: AsyncSession, user_id: int) -> datetime:
    """From now on, every user token of the account issued until now is refused
    (app.edge.authenticate compares a token's ``iat``). API keys are not sessions: they
    stay valid until revoked. On PostgreSQL only the account itself may do this (the
    ``users`` UPDATE policy admits the context's own row)."""
    now = datetime.now(UTC)
    await session.execute(
        sa.update(User).where(col(User.id) == user_id).values(sessions_valid_after=now)
    )
    return now

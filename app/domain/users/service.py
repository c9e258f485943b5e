"""Account rules shared by the operator CLI, the seed and (later) mutations."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.users.repository import user_by_email
from app.models import User

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


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

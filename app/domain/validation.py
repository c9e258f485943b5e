"""Input rules shared by the services: text lengths and unique names."""

from __future__ import annotations

from typing import Any

from app.domain.errors import Refusal, UserErrorCode
from app.models import pk


def check_text(value: str, field: str, limit: int, *, required: bool) -> str:
    """The value stripped; INVALID_VALUE when blank but required, TOO_LONG over ``limit``."""
    value = value.strip()
    if required and not value:
        raise Refusal(UserErrorCode.INVALID_VALUE, f"`{field}` cannot be blank.", ["input", field])
    if len(value) > limit:
        raise Refusal(
            UserErrorCode.TOO_LONG, f"`{field}` is limited to {limit} characters.", ["input", field]
        )
    return value


def require_free_name(other: Any | None, own_id: int | None, what: str, name: str) -> None:
    """NAME_TAKEN when ``other`` (the row already using the name) is not the one renamed."""
    if other is not None and pk(other) != own_id:
        raise Refusal(
            UserErrorCode.NAME_TAKEN, f"A {what} named {name} already exists.", ["input", "name"]
        )

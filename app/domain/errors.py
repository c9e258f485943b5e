"""Refusals: a rule said no. Services raise ``Refusal``; the GraphQL layer turns it
into ``userErrors`` and the unit of work rolls back, so nothing changes."""

from __future__ import annotations

import enum
from collections.abc import Sequence


class UserErrorCode(enum.StrEnum):
    NOT_FOUND = "NOT_FOUND"
    ALREADY_MEMBER = "ALREADY_MEMBER"
    ALREADY_INVITED = "ALREADY_INVITED"
    # No longer returned (addMember invites and never reveals an account); kept so that
    # clients matching on it still validate.
    ACCOUNT_DEACTIVATED = "ACCOUNT_DEACTIVATED"
    INVALID_PERMISSION = "INVALID_PERMISSION"
    ESCALATION = "ESCALATION"
    SOLE_ADMIN = "SOLE_ADMIN"
    CONFIRMATION_MISMATCH = "CONFIRMATION_MISMATCH"
    BUILTIN_ROLE_IMMUTABLE = "BUILTIN_ROLE_IMMUTABLE"
    ROLE_IN_USE = "ROLE_IN_USE"
    NAME_TAKEN = "NAME_TAKEN"
    INVALID_URL = "INVALID_URL"
    INVALID_VALUE = "INVALID_VALUE"
    TOO_LONG = "TOO_LONG"
    ALREADY_CANCELED = "ALREADY_CANCELED"


class Refusal(Exception):
    """A business rule refused the change; ``field`` is the path of the input at fault."""

    def __init__(
        self, code: UserErrorCode, message: str, field: Sequence[str | int] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field: list[str] | None = [str(p) for p in field] if field is not None else None

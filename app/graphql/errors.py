"""Request-level errors. Each carries ``extensions.code``; anything else that escapes a
resolver is masked to INTERNAL_SERVER_ERROR (see schema.py)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


class GatewayError(GraphQLError):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class Unauthenticated(GatewayError):
    code = "UNAUTHENTICATED"


class Forbidden(GatewayError):
    code = "FORBIDDEN"


class NotFound(GatewayError):
    code = "NOT_FOUND"


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"

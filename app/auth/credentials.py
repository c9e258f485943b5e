"""The credential of a request: what its Authorization header proves before any I/O.
The database's part (the account, the key, the memberships) is app.edge.authenticate's."""

from __future__ import annotations

from dataclasses import dataclass

from app.auth import api_keys
from app.auth.tokens import InvalidTokenError, verify_user_token
from app.config import Settings

INVALID_API_KEY = "Invalid API key: unknown, revoked or expired."


class AuthenticationError(Exception):
    """No valid credentials; the message is safe to show."""


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationError("Authentication required: send Authorization: Bearer <token>.")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("Use the Authorization header as: Bearer <token>.")
    return token


@dataclass(frozen=True, slots=True)
class Credential:
    """What the Authorization header proves before any I/O: a user token whose signature
    and expiry were verified (``user_id``), or something shaped like an API key
    (``api_key``: checked against the database by app.edge.authenticate)."""

    user_id: int | None = None
    api_key: str | None = None
    issued_at: float = 0.0  # a user token's `iat` (app.auth.tokens.TokenClaims)

    @property
    def key(self) -> str:
        """Identifies the credential within this process (app.edge.ratelimit.PenaltyBox)."""
        return f"user:{self.user_id}" if self.api_key is None else self.api_key


def read_credential(settings: Settings, authorization: str | None) -> Credential:
    """The header's credential, checked as far as it can be without I/O; raises
    AuthenticationError for anything else (so nothing of the request is read further)."""
    token = bearer_token(authorization)
    if api_keys.looks_like_api_key(token):
        if not api_keys.prefix_of(token):
            raise AuthenticationError(INVALID_API_KEY)
        return Credential(api_key=token)
    try:
        claims = verify_user_token(settings, token)
        return Credential(user_id=claims.user_id, issued_at=claims.issued_at)
    except InvalidTokenError as exc:
        raise AuthenticationError(f"Invalid token: {exc}.") from exc

"""User tokens: HS256 JWTs whose ``sub`` is the user id. Pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from app.config import Settings

# Never "none", never an asymmetric algorithm keyed with the shared secret.
ALGORITHMS = ("HS256",)


class InvalidTokenError(Exception):
    """The bearer token is not a valid, unexpired user token of this issuer."""


def issue_user_token(settings: Settings, user_id: int, *, ttl: timedelta | None = None) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + (ttl or timedelta(seconds=settings.jwt_ttl_seconds)),
    }
    return jwt.encode(claims, settings.secret, algorithm=ALGORITHMS[0])


def verify_user_token(settings: Settings, token: str) -> int:
    """The user id of a valid token; raises InvalidTokenError otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.secret,
            algorithms=list(ALGORITHMS),
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "iss"]},
        )
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub.isdigit():
            raise InvalidTokenError("the token's subject is not a user id")
        return int(sub)
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("the token is not valid") from exc

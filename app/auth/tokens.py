"""User tokens: HS256 JWTs whose ``sub`` is the user id. Pure functions."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

import jwt

from app.config import Settings

# Never "none", never an asymmetric algorithm keyed with the shared secret.
ALGORITHMS = ("HS256",)
VERIFIED_TOKENS = 4096  # valid tokens whose signature need not be checked again


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
    """The user id of a valid token; raises InvalidTokenError otherwise.

    A client sends the same token with every request until it expires: its signature is
    checked once and the outcome kept (``_verified``, bounded); expiry is checked on
    every use. Only valid tokens are kept, keyed by the whole token and the secret and
    issuer that verified it."""
    user_id, expires_at = _verified(token, settings.secret, settings.jwt_issuer)
    if expires_at <= _now():
        raise InvalidTokenError("the token has expired")
    return user_id


_now = time.time


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(token: str, secret: str, issuer: str) -> tuple[int, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=list(ALGORITHMS),
            issuer=issuer,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("the token is not valid") from exc
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.isdigit():
        raise InvalidTokenError("the token's subject is not a user id")
    return int(sub), float(claims["exp"])

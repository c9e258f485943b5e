"""User tokens: HS256 JWTs whose ``sub`` is the user id. Pure functions."""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from datetime import timedelta

import jwt

from app.config import Settings

# Never "none", never an asymmetric algorithm keyed with the shared secret.
ALGORITHMS = ("HS256",)
VERIFIED_TOKENS = 4096  # valid tokens whose signature need not be checked again
# Ours are about 200 characters: a longer token is refused unread (nor kept in memory).
MAX_TOKEN_LENGTH = 2048


class InvalidTokenError(Exception):
    """The bearer token is not a valid, unexpired user token of this issuer."""


# User ids are 32-bit INTEGER keys: a subject outside 1..MAX_USER_ID names nobody.
MAX_USER_ID = 2**31 - 1
# `iat` and `exp` are unix seconds within the calendar (up to 9999-12-31): a larger
# JSON number (10**400 is valid JSON) would not even convert to a float.
MAX_INSTANT = 253_402_300_799


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    issued_at: float  # unix seconds (fractional): signOutEverywhere compares it


def issue_user_token(settings: Settings, user_id: int, *, ttl: timedelta | None = None) -> str:
    now = time.time()
    claims = {
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        # Fractional (a JSON number may be): a token issued just after signOutEverywhere
        # is told apart from one issued just before it, within the same second. Rounded
        # down, never up: PyJWT refuses an `iat` whose whole second is still to come, and
        # a token issued before a sign-out must not pass for one issued after it.
        "iat": _milliseconds_down(now),
        "exp": int(now + (ttl or timedelta(seconds=settings.jwt_ttl_seconds)).total_seconds()),
    }
    return jwt.encode(claims, settings.secret, algorithm=ALGORITHMS[0])


def _milliseconds_down(now: float) -> float:
    second = int(now)
    return second + math.floor((now - second) * 1000) / 1000


def verify_user_token(settings: Settings, token: str) -> TokenClaims:
    """The claims of a valid token; raises InvalidTokenError otherwise.

    A client sends the same token with every request until it expires: its signature is
    checked once and the outcome kept (``_verified``, bounded); expiry is checked on
    every use. Only valid tokens are kept, keyed by the whole token and the secret,
    issuer and audience that verified it. Whether the account signed out everywhere
    since ``issued_at`` is the database's to say (app.edge.authenticate)."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError("the token is too long")
    claims, expires_at = _verified(
        token, settings.secret, settings.jwt_issuer, settings.jwt_audience
    )
    if expires_at <= _now():
        raise InvalidTokenError("the token has expired")
    return claims


_now = time.time


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(token: str, secret: str, issuer: str, audience: str) -> tuple[TokenClaims, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=list(ALGORITHMS),
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "sub", "iss", "aud", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("the token is not valid") from exc
    sub, issued_at = claims["sub"], claims["iat"]
    # ASCII digits only (superscripts and Arabic-Indic digits pass str.isdigit), in range.
    if not (isinstance(sub, str) and 0 < len(sub) <= 10 and sub.isascii() and sub.isdigit()):
        raise InvalidTokenError("the token's subject is not a user id")
    if not 1 <= int(sub) <= MAX_USER_ID:
        raise InvalidTokenError("the token's subject is not a user id")
    issued_at, expires_at = _instant(issued_at, "issue time"), _instant(claims["exp"], "expiry")
    return TokenClaims(user_id=int(sub), issued_at=issued_at), expires_at


def _instant(value: object, what: str) -> float:
    """Unix seconds as a float; InvalidTokenError for any other JSON value."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTokenError(f"the token's {what} is not a number")
    if not 0 <= value <= MAX_INSTANT:  # NaN fails this too
        raise InvalidTokenError(f"the token's {what} is out of range")
    return float(value)

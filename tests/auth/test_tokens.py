"""User tokens (app/auth/tokens.py): a verified token is remembered, but every use still
checks its expiry; nothing about one secret, issuer or audience carries over to another;
only a plain user id is a subject."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import jwt
import pytest

from app.auth import tokens
from app.auth.tokens import InvalidTokenError, issue_user_token, verify_user_token
from app.config import Settings

SECRET = "tokens-test-secret-" + "s" * 32


def settings(**overrides: str) -> Settings:
    return Settings(jwt_secret=SECRET, database_url="sqlite+aiosqlite://", **overrides)  # type: ignore[arg-type]


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings()
    token = issue_user_token(s, 7, ttl=timedelta(seconds=60))
    assert verify_user_token(s, token).user_id == 7
    assert verify_user_token(s, token).user_id == 7  # from memory
    later = tokens._now() + 61
    monkeypatch.setattr(tokens, "_now", lambda: later)
    with pytest.raises(InvalidTokenError, match="expired"):
        verify_user_token(s, token)


def test_an_expired_token_is_refused_on_first_sight() -> None:
    s = settings()
    token = issue_user_token(s, 7, ttl=timedelta(seconds=-1))
    with pytest.raises(InvalidTokenError, match="expired"):
        verify_user_token(s, token)


def test_a_token_is_valid_only_for_the_secret_and_issuer_that_signed_it() -> None:
    s = settings()
    token = issue_user_token(s, 7)
    assert verify_user_token(s, token).user_id == 7
    other_secret = Settings(
        jwt_secret="another-secret-" + "x" * 32, database_url="sqlite+aiosqlite://"
    )
    with pytest.raises(InvalidTokenError, match="not valid"):
        verify_user_token(other_secret, token)
    with pytest.raises(InvalidTokenError, match="not valid"):
        verify_user_token(settings(jwt_issuer="someone-else"), token)


def test_a_tampered_token_is_refused() -> None:
    s = settings()
    token = issue_user_token(s, 7)
    head, _, signature = token.split(".")
    forged = issue_user_token(s, 8).split(".")[1]
    with pytest.raises(InvalidTokenError, match="not valid"):
        verify_user_token(s, f"{head}.{forged}.{signature}")


def _signed(s: Settings, **claims: Any) -> str:
    now = time.time()
    base = {"sub": "7", "iss": s.jwt_issuer, "aud": s.jwt_audience, "iat": now, "exp": now + 60}
    payload = {k: v for k, v in {**base, **claims}.items() if v is not None}
    return jwt.encode(payload, s.secret, algorithm="HS256")


def test_a_token_names_its_audience_and_is_refused_by_any_other() -> None:
    s = settings()
    assert jwt.decode(issue_user_token(s, 7), options={"verify_signature": False})["aud"] == (
        "harmony-gateway"
    )
    for claims in ({"aud": "some-other-service"}, {"aud": None}):
        with pytest.raises(InvalidTokenError, match="not valid"):
            verify_user_token(s, _signed(s, **claims))
    with pytest.raises(InvalidTokenError, match="not valid"):
        verify_user_token(settings(jwt_audience="another-gateway"), issue_user_token(s, 7))


def test_a_token_without_an_issue_time_is_refused() -> None:
    s = settings()
    with pytest.raises(InvalidTokenError, match="not valid"):
        verify_user_token(s, _signed(s, iat=None))


@pytest.mark.parametrize(
    "sub",
    ["\u00b2", "\u0661", "\uff17", str(2**70), "9" * 5000, "0", "-1", "+7", " 7", "7.0", "", "0x7"],
)
def test_only_a_plain_user_id_is_a_subject(sub: str) -> None:
    s = settings()
    with pytest.raises(InvalidTokenError):
        verify_user_token(s, _signed(s, sub=sub))


def test_a_numeric_subject_is_refused() -> None:
    s = settings()
    with pytest.raises(InvalidTokenError):
        verify_user_token(s, _signed(s, sub=7))


def test_a_token_issued_just_before_a_second_ends_verifies_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PyJWT compares the whole seconds of `iat` with the clock: an `iat` rounded up to
    # the next second made a fresh token "not yet valid" for up to half a millisecond.
    s = settings()
    issued = int(time.time()) + 0.9996
    monkeypatch.setattr(time, "time", lambda: issued)
    token = issue_user_token(s, 7)
    monkeypatch.undo()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iat"] == int(issued) + 0.999
    assert verify_user_token(s, token).user_id == 7

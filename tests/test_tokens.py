"""User tokens (app/auth/tokens.py): a verified token is remembered, but every use still
checks its expiry, and nothing about one secret or issuer carries over to another."""

from __future__ import annotations

from datetime import timedelta

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
    assert verify_user_token(s, token) == 7
    assert verify_user_token(s, token) == 7  # from memory
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
    assert verify_user_token(s, token) == 7
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

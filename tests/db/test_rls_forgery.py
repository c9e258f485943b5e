"""The second wall cannot be forged (migration 0003; docs/authorization.md "Threat model").

These tests act as an SQL injection would: raw SQL as the application role, inside an
authenticated request's transaction, setting any setting to any value and reading every
table. Whatever they set, a session reads the request's own rows or nothing; never
another tenant's row, never an account outside its workspaces, never the signing key,
and the audit log only grows.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.credentials import read_credential
from app.auth.tokens import issue_user_token
from app.config import Settings
from app.db.engine import create_sessionmaker
from app.db.session import RequestDB
from app.db.tenant import context_key, key_pads, signed_credential
from app.edge.authenticate import authenticate
from app.models import TENANT_TABLES
from tests import factories
from tests.db.test_rls import WRITE_ONLY

pytestmark = pytest.mark.postgres_only

# Every table the application role may read, tenant tables and accounts alike.
READABLE = (*(t for t in TENANT_TABLES if t not in WRITE_ONLY), "workspace_accounts", "users")


@pytest.fixture
async def ids(session: AsyncSession) -> dict[str, int]:
    return {
        "acme": await factories.workspace_id(session, "acme"),
        "globex": await factories.workspace_id(session, "globex"),
        "ada": await factories.user_id(session, "ada@acme.test"),
        "dee": await factories.user_id(session, "dee@globex.test"),
        "cy": await factories.user_id(session, "cy@acme.test"),
    }


@pytest.fixture
async def dee_db(
    engine: AsyncEngine, settings: Settings, ids: dict[str, int]
) -> AsyncIterator[RequestDB]:
    """Dee's request (a Member of globex only), authenticated like any request."""
    db = RequestDB(create_sessionmaker(engine))
    token = issue_user_token(settings, ids["dee"])
    await authenticate(db, read_credential(settings, f"Bearer {token}"))
    yield db
    await db.finish(commit=False)


async def _visible(s: AsyncSession) -> dict[str, set[int]]:
    """Per readable table, the workspaces (for users: the account ids) of its rows."""
    seen: dict[str, set[int]] = {}
    for table in READABLE:
        column = {"workspaces": "id", "users": "id"}.get(table, "workspace_id")
        rows = await s.execute(sa.text(f"SELECT DISTINCT {column} FROM {table}"))  # noqa: S608  (fixed names)
        seen[table] = set(rows.scalars())
    return seen


async def _set(s: AsyncSession, **settings: str) -> None:
    for name, value in settings.items():
        await s.execute(
            sa.text("SELECT set_config(:name, :value, true)"),
            {"name": name.replace("__", "."), "value": value},
        )


def _sign(key: bytes, user: int, workspaces: str, expires: int) -> str:
    import hashlib
    import hmac

    body = f"v1:{user}:{workspaces}:{expires}"
    return f"{body}:{hmac.new(key, body.encode(), hashlib.sha256).hexdigest()}"


async def test_whatever_the_role_sets_it_reads_its_own_rows_or_nothing(
    dee_db: RequestDB, settings: Settings, ids: dict[str, int]
) -> None:
    everything = f"{ids['acme']},{ids['globex']}"
    later = int(time.time()) + 3600
    key = context_key(settings.secret)
    async with dee_db.session() as s:
        own = await _visible(s)
        context = await s.scalar(sa.text("SELECT current_setting('app.context')"))
        mac = context.rsplit(":", 1)[1]
        forgeries = {
            # 0002's settings are read by no policy any more.
            "the old settings": {"app__workspace_ids": everything, "app__user_id": str(ids["ada"])},
            "an unsigned context": {"app__context": f"v1:{ids['ada']}:{everything}:{later}:"},
            "a made-up signature": {
                "app__context": f"v1:{ids['ada']}:{everything}:{later}:{'0' * 64}"
            },
            "dee's signature on every workspace": {
                "app__context": f"v1:{ids['dee']}:{everything}:{later}:{mac}"
            },
            "dee's signature on another user": {
                "app__context": f"v1:{ids['ada']}:{ids['globex']}:{later}:{mac}"
            },
            "dee's signature with a later expiry": {
                "app__context": ":".join([*context.split(":")[:3], str(later), mac])
            },
            "another key's signature": {
                "app__context": _sign(b"k" * 32, ids["ada"], everything, later)
            },
            # Signed with the right key (which the role does not have), but expired.
            "an expired context": {
                "app__context": _sign(key, ids["ada"], everything, int(time.time()) - 1)
            },
            # A sign-in credential is not a context: it names no workspace.
            "a sign-in credential": {"app__context": signed_credential(key, ids["ada"])},
            "garbage": {"app__context": "v1:1:1,2:9999999999:zz:extra"},
            "empty": {"app__context": ""},
        }
        seen = {}
        for name, values in forgeries.items():
            async with s.begin_nested():
                await _set(s, **values)
                seen[name] = await _visible(s)
    nothing = {t: set() for t in READABLE}
    assert own["workspaces"] == {ids["globex"]}  # dee's own rows, to begin with
    assert own["users"] == {ids["dee"], ids["cy"]}  # herself and who shares globex with her
    assert seen == {name: own if name == "the old settings" else nothing for name in forgeries}


async def test_no_statement_of_the_role_reads_an_api_key_hash(
    dee_db: RequestDB, session: AsyncSession, ids: dict[str, int]
) -> None:
    await factories.create_api_key(session, ids["globex"], ids["dee"], ["members:read:all"])
    await session.commit()
    async with dee_db.session() as s:
        for statement in (
            "SELECT * FROM api_key_secrets",
            "SELECT secret_hash FROM api_key_secrets WHERE workspace_id = :ws",
            "UPDATE api_key_secrets SET secret_hash = secret_hash",
            "DELETE FROM api_key_secrets",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with s.begin_nested():
                    await s.execute(sa.text(statement), {"ws": ids["globex"]})
        columns = (
            await s.execute(
                sa.text(
                    "SELECT table_name, column_name FROM information_schema.column_privileges "
                    "WHERE grantee = current_user AND privilege_type = 'SELECT' "
                    "AND column_name LIKE '%hash%'"
                )
            )
        ).all()
    assert columns == []


async def test_the_signing_key_is_out_of_the_roles_reach(
    dee_db: RequestDB, settings: Settings
) -> None:
    inner, outer = key_pads(context_key(settings.secret))
    async with dee_db.session() as s:
        with pytest.raises(DBAPIError, match="permission denied"):
            async with s.begin_nested():
                await s.execute(sa.text("SELECT * FROM harmony_context_key"))
        with pytest.raises(DBAPIError, match="permission denied"):
            async with s.begin_nested():
                await s.execute(
                    sa.text("UPDATE harmony_context_key SET inner_pad = inner_pad || ''")
                )
        # Function sources and settings are public catalogues: no key material there.
        sources = " ".join(
            (
                await s.execute(
                    sa.text(
                        "SELECT coalesce(prosrc, '') || coalesce(array_to_string(proconfig, ' '),"
                        " '') FROM pg_proc WHERE proname LIKE 'harmony%'"
                    )
                )
            ).scalars()
        )
    assert sources  # the functions are there, and readable
    for secret in (inner.hex(), outer.hex(), context_key(settings.secret).hex()):
        assert secret not in sources


async def test_the_definer_lookups_need_the_credential(
    dee_db: RequestDB, session: AsyncSession, ids: dict[str, int]
) -> None:
    acme_key = await factories.create_api_key(session, ids["acme"], ids["ada"], ["audit:read:all"])
    await session.commit()
    prefix = acme_key.removeprefix("hmy_").split("_")[0]
    async with dee_db.session() as s:
        own = await s.scalar(sa.text("SELECT current_setting('app.context')"))
        for credential in (
            own,  # a context (even a valid one) is not a sign-in credential
            f"v1:{ids['ada']}:*:{int(time.time()) + 60}:{'0' * 64}",
        ):
            with pytest.raises(DBAPIError, match="credential not signed"):
                async with s.begin_nested():
                    await s.execute(sa.text("SELECT * FROM harmony_sign_in(:c)"), {"c": credential})
        keys = (
            await s.execute(
                sa.text("SELECT * FROM harmony_api_key_sign_in(:p, :h)"),
                {"p": prefix, "h": "0" * 64},
            )
        ).all()
        # Nor does any statement reach an API key of another workspace.
        listed = (await s.execute(sa.text("SELECT prefix FROM api_keys"))).scalars().all()
    assert keys == []
    assert prefix not in listed


async def test_the_audit_log_only_grows(
    dee_db: RequestDB, session: AsyncSession, ids: dict[str, int]
) -> None:
    before = await session.scalar(sa.text("SELECT count(*) FROM audit_events"))
    async with dee_db.session() as s:
        for statement in (
            "UPDATE audit_events SET action = 'nothing.happened'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with s.begin_nested():
                    await s.execute(sa.text(statement))
        await s.execute(
            sa.text(
                "INSERT INTO audit_events (workspace_id, action, summary, at)"
                " VALUES (:ws, 'test.appended', '{}', now())"
            ),
            {"ws": ids["globex"]},
        )
        await s.commit()
    assert await session.scalar(sa.text("SELECT count(*) FROM audit_events")) == before + 1


async def test_accounts_change_only_by_their_owner(
    dee_db: RequestDB, session: AsyncSession, ids: dict[str, int]
) -> None:
    async with dee_db.session() as s:
        others = await s.execute(
            sa.text("UPDATE users SET name = 'pwned' WHERE id <> :dee"), {"dee": ids["dee"]}
        )
        removed = await s.execute(sa.text("DELETE FROM users"))
        own = await s.execute(
            sa.text("UPDATE users SET name = 'Dee Renamed' WHERE id = :dee"), {"dee": ids["dee"]}
        )
        assert (others.rowcount, removed.rowcount, own.rowcount) == (0, 0, 1)  # type: ignore[attr-defined]
        with pytest.raises(DBAPIError, match="row-level security"):
            async with s.begin_nested():
                await s.execute(
                    sa.text(
                        "INSERT INTO users (email, name, status, created_at)"
                        " VALUES ('mallory@evil.test', 'Mallory', 'ACTIVE', now())"
                    )
                )
        await s.commit()
    names = {r.id: r.name for r in await session.execute(sa.text("SELECT id, name FROM users"))}
    assert "pwned" not in names.values() and names[ids["dee"]] == "Dee Renamed"


async def test_the_startup_check_tells_a_gateway_whose_secret_the_database_does_not_know(
    engine: AsyncEngine, settings: Settings
) -> None:
    from app.db.engine import create_engine
    from app.db.tenant import context_key_matches

    other = create_engine(settings.model_copy(update={"jwt_secret": "another-" + "s" * 40}))
    try:
        async with engine.connect() as conn:
            assert await context_key_matches(conn)
        async with other.connect() as conn:
            assert not await context_key_matches(conn)
    finally:
        await other.dispose()

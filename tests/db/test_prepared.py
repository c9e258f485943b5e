"""Prepared reads (app/db/prepared.py) on both engines: they run inside the request's
transaction, so they see its tenant context and its own uncommitted writes; values come
back with the same Python types as through the ORM, for every column type the models use;
a list parameter is one parameter."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import SQLModel, select

from app.config import Settings
from app.db.engine import create_engine, create_sessionmaker
from app.db.prepared import OUTSIDE_KEY, Prepared, SignInChanged, any_of
from app.db.rows import ANY_ROW
from app.db.session import RequestDB
from app.db.tenant import enter, key_of
from app.domain.rows import MEMBER_ROW, TEAM_ROW, USER_ROW
from app.domain.tenant import lean, scoped
from app.models import Member, MemberStatus, Team, User
from tests import factories
from tests.client import GraphQLClient

MEMBERS_OF = Prepared(
    "test_members_of",
    lambda dialect: lean(
        scoped(Member, sa.bindparam("workspace_id", type_=sa.Integer)).where(
            any_of(dialect, Member.id, "ids")
        ),
        Member,
    ).order_by(Member.id),
    MEMBER_ROW,
)
EVERY_TEAM = Prepared(
    "test_every_team", lambda _: lean(select(Team), Team).order_by(Team.id), TEAM_ROW
)
TRANSACTION_ID = Prepared(
    "test_txid", lambda _: sa.select(sa.func.txid_current().label("txid")), ANY_ROW
)


async def test_prepared_rows_have_the_orm_types(session: AsyncSession) -> None:
    acme = await factories.workspace_id(session, "acme")
    expected = (await session.execute(scoped(Member, acme).order_by(Member.id))).scalars().all()
    ids = [m.id for m in expected]
    rows = await MEMBERS_OF.all(session, workspace_id=acme, ids=ids)
    assert [(r.id, r.user_id, r.role_id, r.status, r.joined_at) for r in rows] == [
        (m.id, m.user_id, m.role_id, m.status, m.joined_at) for m in expected
    ]
    assert all(isinstance(r.status, MemberStatus) for r in rows)
    assert all(isinstance(r.joined_at, datetime) and r.joined_at.tzinfo for r in rows)


async def test_a_list_parameter_may_be_empty_or_long(session: AsyncSession) -> None:
    acme = await factories.workspace_id(session, "acme")
    assert await MEMBERS_OF.all(session, workspace_id=acme, ids=[]) == []
    every = await MEMBERS_OF.all(session, workspace_id=acme, ids=list(range(1, 2000)))
    assert len(every) == 4


async def test_prepared_read_sees_the_transactions_own_writes(session: AsyncSession) -> None:
    acme = await factories.workspace_id(session, "acme")
    session.add(Team(workspace_id=acme, name="Uncommitted", description=""))
    await session.flush()
    names = [t.name for t in await EVERY_TEAM.all(session)]
    assert "Uncommitted" in names
    await session.rollback()
    assert "Uncommitted" not in [t.name for t in await EVERY_TEAM.all(session)]


@pytest.mark.postgres_only
async def test_prepared_read_is_in_the_sessions_transaction(session: AsyncSession) -> None:
    # First statement of the transaction: the prepared read begins it.
    first = (await TRANSACTION_ID.first(session)).txid
    via_orm = (await session.execute(sa.select(sa.func.txid_current()))).scalar_one()
    again = (await TRANSACTION_ID.first(session)).txid
    assert first == via_orm == again


@pytest.mark.postgres_only
async def test_prepared_read_obeys_the_tenant_context(
    engine: AsyncEngine, settings: Settings, session: AsyncSession
) -> None:
    globex = await factories.workspace_id(session, "globex")
    dee = await factories.user_id(session, "dee@globex.test")
    every = (await session.execute(select(Team))).scalars().all()
    assert {t.workspace_id for t in every} != {globex}  # the owner sees both workspaces

    db = RequestDB(create_sessionmaker(engine))  # the app's role: row-level security on
    try:
        async with db.session() as s:
            # No context yet: no tenant row at all, even as the transaction's first read.
            assert await EVERY_TEAM.all(s) == []
            await enter(s, user_id=dee, workspace_ids=[globex])
            teams = await EVERY_TEAM.all(s)
        assert teams and {t.workspace_id for t in teams} == {globex}
    finally:
        await db.finish(commit=False)


@pytest.mark.postgres_only
async def test_a_read_only_requests_reads_run_outside_a_transaction_under_its_context(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    """A query's prepared reads send no BEGIN/COMMIT: each is its own implicit
    transaction and sets the request's tenant context itself, so it reads exactly the
    entered workspaces' rows, in the statement's order."""
    acme = await factories.workspace_id(session, "acme")
    ada = await factories.user_id(session, "ada@acme.test")
    expected = (
        (await session.execute(select(Team).where(Team.workspace_id == acme).order_by(Team.id)))
        .scalars()
        .all()
    )
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    db = RequestDB(create_sessionmaker(engine))
    db.read_only = True
    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.session() as s:
            assert await EVERY_TEAM.all(s) == []  # nothing entered: no tenant row
            await enter(s, user_id=ada, workspace_ids=[acme])
            teams = await EVERY_TEAM.all(s)
            first, second = await TRANSACTION_ID.all(s), await TRANSACTION_ID.all(s)
            assert not s.in_transaction()
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)
        await db.finish(commit=True)
    assert [t.id for t in teams] == [t.id for t in expected] and len(teams) >= 2
    assert first[0].txid != second[0].txid  # a transaction of its own each
    assert len(sent) == 4 and not any(
        s.lstrip().upper().startswith(("BEGIN", "COMMIT")) for s in sent
    )


@asynccontextmanager
async def _read_only_request(
    engine: AsyncEngine, session: AsyncSession, *, commit: bool = False
) -> AsyncIterator[tuple[RequestDB, AsyncSession]]:
    """A read-only request's database (reads outside a transaction), dee of globex entered."""
    globex = await factories.workspace_id(session, "globex")
    dee = await factories.user_id(session, "dee@globex.test")
    db = RequestDB(create_sessionmaker(engine))
    db.read_only = True
    try:
        async with db.session() as s:
            await enter(s, user_id=dee, workspace_ids=[globex])
            yield db, s
    finally:
        await db.finish(commit=commit)


@pytest.mark.postgres_only
async def test_a_read_outside_a_transaction_with_a_forged_context_reads_nothing(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    """The context a read sets for itself is verified like any other: altered, it
    admits no row (the statement fails closed, it does not fall back to anything)."""
    async with _read_only_request(engine, session) as (db, s):
        genuine = db.tenant.signed(key_of(engine))
        body, mac = genuine.rsplit(":", 1)
        user, workspaces, expires = body.split(":")[1:]
        forged = f"v1:{user}:{workspaces},{db.tenant.workspace_ids[0] + 1}:{expires}:{mac}"
        outside = s.info[OUTSIDE_KEY]
        outside.context = lambda: forged
        assert await EVERY_TEAM.all(s) == []
        outside.context = lambda: genuine
        assert await EVERY_TEAM.all(s) != []


@pytest.mark.postgres_only
async def test_a_read_outside_a_transaction_leaves_no_context_on_its_connection(
    settings: Settings, session: AsyncSession
) -> None:
    """The context a read sets lasts for its own statement: the one pooled connection
    goes back without it, so the next checkout reads no tenant row."""
    one = create_engine(settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0}))
    try:
        async with _read_only_request(one, session, commit=True) as (_db, s):
            assert await EVERY_TEAM.all(s) != []
        async with one.connect() as conn:
            left = await conn.scalar(sa.text("SELECT current_setting('app.context', true)"))
            teams = (await conn.execute(sa.text("SELECT count(*) FROM teams"))).scalar_one()
        assert (left or "", teams) == ("", 0)
        assert one.pool.checkedout() == 0
    finally:
        await one.dispose()


@pytest.mark.postgres_only
async def test_a_read_only_request_reads_inside_its_transaction_once_one_began(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    async with _read_only_request(engine, session) as (_db, s):
        via_orm = (await s.execute(sa.select(sa.func.txid_current()))).scalar_one()
        assert (await TRANSACTION_ID.first(s)).txid == via_orm
        assert await EVERY_TEAM.all(s) != []


async def test_prepared_account_row_has_attribute_access(session: AsyncSession) -> None:
    ada = await factories.user_id(session, "ada@acme.test")
    account = Prepared(
        "test_account",
        lambda _: lean(select(User), User).where(User.id == sa.bindparam("id", type_=sa.Integer)),
        USER_ROW,
    )
    row = await account.first(session, id=ada)
    assert row is not None and (row.id, row.email, row.name) == (ada, "ada@acme.test", "Ada Admin")
    assert await account.first(session, id=-1) is None


@pytest.mark.postgres_only
async def test_an_account_read_outside_a_transaction_survives_ended_connections(
    client: GraphQLClient, engine: AsyncEngine, owner_engine: AsyncEngine, settings: Settings
) -> None:
    """The server ends every pooled connection (a restart, a failover, an idle timeout):
    the next account-only request is read again on a new connection, not failed."""
    token = await client.token("ada@acme.test")
    query = "{ viewer { name } }"
    await client.query(query, token=token)  # the document cached: account-only from now
    assert (await client.query(query, token=token))["data"] == {"viewer": {"name": "Ada Admin"}}
    database = engine.url.database
    async with owner_engine.connect() as conn:
        ended = await conn.scalar(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND usename = :role"
            ),
            {"db": database, "role": engine.url.username},
        )
    assert ended >= 1
    for _ in range(3):
        body = await client.query(query, token=token)
        assert body == {"data": {"viewer": {"name": "Ada Admin"}}}


# A sample value per Python type a column may hold. A model that adds a column of a new
# kind fails the test below until its type has a sample here.
_SAMPLES: dict[type, Any] = {
    int: 7,
    str: "seven",
    bool: True,
    datetime: datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    dict: {"nested": [1, "two", None]},
    Decimal: Decimal("12.34"),
    float: 1.5,
}


def _column_types() -> dict[str, sa.types.TypeEngine[Any]]:
    """Every column type the models use (one of each), plus the numeric ones (a
    ``Numeric`` column once broke prepared reads on asyncpg at first use)."""
    found: dict[str, sa.types.TypeEngine[Any]] = {
        "numeric": sa.Numeric(10, 2),
        "numeric_as_float": sa.Numeric(10, 2, asdecimal=False),
        "float": sa.Float(),
        "double": sa.Double(),
    }
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            found.setdefault(repr(column.type), column.type)
    return found


def _sample(type_: sa.types.TypeEngine[Any]) -> Any:
    base = type_.impl_instance if isinstance(type_, sa.TypeDecorator) else type_
    python_type = dict if isinstance(base, sa.JSON) else base.python_type
    if issubclass(python_type, enum.Enum):
        return next(iter(python_type))
    assert python_type in _SAMPLES, f"no sample value for a {type_!r} column"
    return _SAMPLES[python_type]


async def test_prepared_reads_return_every_model_column_type_as_the_orm_does(
    session: AsyncSession,
) -> None:
    types = _column_types()
    table = sa.Table(
        "prepared_types",
        sa.MetaData(),
        *(sa.Column(f"c{i}", t) for i, t in enumerate(types.values())),
        prefixes=["TEMPORARY"],
    )
    values = {f"c{i}": _sample(t) for i, t in enumerate(types.values())}
    await session.run_sync(lambda s: table.create(s.connection()))
    await session.execute(table.insert(), [values, dict.fromkeys(values)])
    for i, name in enumerate(types):
        column = table.c[f"c{i}"]
        read = Prepared(
            f"test_type_{i}", lambda _, c=column: sa.select(c).order_by(c.is_(None)), ANY_ROW
        )
        via_core = (await session.execute(sa.select(column).order_by(column.is_(None)))).all()
        rows = await read.all(session)
        assert [tuple(r) for r in rows] == [tuple(r) for r in via_core], name
        assert rows[0][0] == values[column.key], name
        assert type(rows[0][0]) is type(via_core[0][0]), name
        assert rows[1][0] is None, name
    await session.rollback()


async def test_an_enum_column_holding_an_unknown_value_is_an_error(session: AsyncSession) -> None:
    """A stored value outside the enum is refused as the ORM refuses it (a LookupError),
    never handed on as a bare string."""
    status = User.__table__.c.status.type
    read = Prepared(
        "test_unknown_status",
        lambda _: sa.select(sa.type_coerce(sa.literal_column("'GONE'"), status).label("status")),
        ANY_ROW,
    )
    with pytest.raises(LookupError):
        (await session.execute(read._build(""))).all()
    with pytest.raises(LookupError):
        await read.all(session)


@pytest.mark.postgres_only
async def test_every_timestamp_column_the_migrations_make_has_a_time_zone(
    session: AsyncSession,
) -> None:
    """Prepared reads on asyncpg skip UTCDateTime's result processor: asyncpg returns a
    timestamptz as an aware datetime. A column without a time zone would come back naive."""
    naive = await session.execute(
        sa.text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() "
            "AND data_type = 'timestamp without time zone'"
        )
    )
    assert naive.all() == []


@pytest.mark.postgres_only
@pytest.mark.fast_paths_only
async def test_a_query_run_by_an_api_key_still_reads_outside_a_transaction_for_user_tokens(
    client: GraphQLClient, engine: AsyncEngine, session: AsyncSession
) -> None:
    """An API key's authentication reads and writes through the ORM (its transaction):
    that says nothing about the document's own reads, which a user token's request then
    still runs outside a transaction (the page's statement sets its context itself)."""
    acme = await factories.workspace_id(session, "acme")
    ada = await factories.user_id(session, "ada@acme.test")
    secret = await factories.create_api_key(session, acme, ada, ["members:read:all"])
    await session.commit()
    query = '{ workspace(slug: "acme") { members(first: 2) { nodes { user { name } } } } }'
    for _ in range(2):
        assert "errors" not in (await client.query(query, token=secret))
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    token = await client.token("ada@acme.test")
    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        assert "errors" not in (await client.query(query, token=token))
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert len(sent) == 2 and "harmony_read" in sent[1], sent


async def _deferred_request(
    engine: AsyncEngine, session: AsyncSession, email: str, *, expected: str | None = None
) -> tuple[RequestDB, str]:
    """A read-only request whose sign-in of ``email`` is deferred to its first read
    (app.db.session.RequestDB.defer_sign_in), as if an earlier sign-in had found globex
    (dee's one workspace), expecting ``expected`` (by default the digest a sign-in of
    ``email`` answers now); and that digest."""
    from app.domain.members.repository import sign_in, sign_in_check

    user = await factories.user_id(session, email)
    globex = await factories.workspace_id(session, "globex")
    first = RequestDB(create_sessionmaker(engine))
    try:
        async with first.session() as s:
            digest = (await sign_in(s, user)).digest
    finally:
        await first.finish(commit=False)
    assert digest is not None
    db = RequestDB(create_sessionmaker(engine))
    db.read_only = True
    check = sign_in_check(engine, user, digest if expected is None else expected)
    db.defer_sign_in(check, user_id=user, workspace_ids=[globex])
    return db, digest


@pytest.mark.postgres_only
async def test_a_deferred_sign_in_rides_with_the_first_read_and_bounds_it(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    """The first read of a request whose sign-in is deferred signs in within the same
    statement, and reads under the context that sign-in sets: the database's word on the
    account now, not the workspaces the request went ahead with (globex, here, which ada
    is no member of: her read finds acme's teams, and no later read sets globex either)."""
    acme = await factories.workspace_id(session, "acme")
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    db, _ = await _deferred_request(engine, session, "ada@acme.test")
    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.session() as s:
            teams = await EVERY_TEAM.all(s)
        await db.confirm_sign_in()  # sends nothing more: the read carried it
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)
        await db.finish(commit=False)
    assert teams and {t.workspace_id for t in teams} == {acme}
    assert len(sent) == 1 and "harmony_sign_in(" in sent[0]
    assert db.sign_in_check is not None and db.sign_in_check.confirmed is True


@pytest.mark.postgres_only
async def test_a_deferred_sign_in_answering_otherwise_drops_the_read(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    """A digest other than the one expected raises ``SignInChanged`` instead of the
    read's rows, and so does every read after it, until the request signs in again."""
    db, _ = await _deferred_request(engine, session, "dee@globex.test", expected="0" * 64)
    try:
        async with db.session() as s:
            with pytest.raises(SignInChanged):
                await EVERY_TEAM.all(s)
            with pytest.raises(SignInChanged):
                await EVERY_TEAM.all(s)
        with pytest.raises(SignInChanged):
            await db.confirm_sign_in()
        assert db.sign_in_check is None and db.tenant.user_id is None
    finally:
        await db.finish(commit=False)


@pytest.mark.postgres_only
async def test_a_deferred_sign_in_no_read_carried_is_sent_alone(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    db, digest = await _deferred_request(engine, session, "dee@globex.test")
    try:
        await db.confirm_sign_in()
        assert db.sign_in_check is not None and db.sign_in_check.confirmed is True
    finally:
        await db.finish(commit=False)
    dee = await factories.member(
        session, await factories.workspace_id(session, "globex"), "dee@globex.test"
    )
    dee.status = MemberStatus.DEACTIVATED  # the digest covers the memberships
    await session.commit()
    changed, _ = await _deferred_request(engine, session, "dee@globex.test", expected=digest)
    try:
        with pytest.raises(SignInChanged):
            await changed.confirm_sign_in()
    finally:
        await changed.finish(commit=False)


@pytest.mark.postgres_only
async def test_a_deferred_sign_in_is_confirmed_inside_a_transaction_begun_meanwhile(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    """A read through the ORM begins a transaction (with the context the request went
    ahead with); the sign-in is then sent in it before the request answers, and still
    tells a changed account from an unchanged one."""
    for expected, confirmed in ((None, True), ("0" * 64, False)):
        db, _ = await _deferred_request(engine, session, "dee@globex.test", expected=expected)
        try:
            async with db.session() as s:
                teams = (await s.execute(select(Team))).scalars().all()
                assert s.in_transaction() and teams
            if confirmed:
                await db.confirm_sign_in()
            else:
                with pytest.raises(SignInChanged):
                    await db.confirm_sign_in()
        finally:
            await db.finish(commit=False)

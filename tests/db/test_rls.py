"""PostgreSQL row-level security, the second wall (DESIGN.md "Databases";
app/db/tenant.py, migrations 0002 and 0003; forgery: tests/db/test_rls_forgery.py). The app runs as its own role here (tests/conftest.py);
the ``session`` fixture is the owner's and sees everything, for arranging and checking.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import select

from app.auth.credentials import read_credential
from app.auth.tokens import issue_user_token
from app.config import Settings
from app.db.engine import create_engine, create_sessionmaker
from app.db.session import RequestDB
from app.db.tenant import role_posture
from app.edge.authenticate import authenticate
from app.main import create_app
from app.models import TENANT_TABLES, ApiKey, Member, Team
from tests import factories
from tests.client import GraphQLClient, without_cost
from tests.conftest import APP_ROLE

pytestmark = pytest.mark.postgres_only


def _ws_column(table: str) -> str:
    return "id" if table == "workspaces" else "workspace_id"


@pytest.fixture
async def ids(session: AsyncSession) -> dict[str, int]:
    return {
        "acme": await factories.workspace_id(session, "acme"),
        "globex": await factories.workspace_id(session, "globex"),
        "dee": await factories.user_id(session, "dee@globex.test"),
        "cy": await factories.user_id(session, "cy@acme.test"),
    }


async def _as_user(engine: AsyncEngine, settings: Settings, user_id: int) -> RequestDB:
    """A request's unit of work on the app's engine, authenticated as the user."""
    db = RequestDB(create_sessionmaker(engine))
    token = issue_user_token(settings, user_id)
    await authenticate(db, read_credential(settings, f"Bearer {token}"))
    return db


@pytest.fixture
async def dee_db(
    engine: AsyncEngine, settings: Settings, ids: dict[str, int]
) -> AsyncIterator[RequestDB]:
    db = await _as_user(engine, settings, ids["dee"])
    yield db
    await db.finish(commit=False)


# Tenant tables the application role may write but never read (key hashes).
WRITE_ONLY = ("api_key_secrets",)
READABLE_TENANT_TABLES = tuple(t for t in TENANT_TABLES if t not in WRITE_ONLY)


async def _workspaces_seen(s: AsyncSession) -> dict[str, list[int]]:
    """Per tenant table, the distinct workspace ids of every row the session can read
    (deliberately unfiltered)."""
    seen = {}
    for table in READABLE_TENANT_TABLES:
        col = _ws_column(table)
        rows = await s.execute(sa.text(f"SELECT DISTINCT {col} FROM {table} ORDER BY 1"))  # noqa: S608  (fixed table names)
        seen[table] = list(rows.scalars())
    return seen


async def _counts(s: AsyncSession, workspace: int | None = None) -> dict[str, int]:
    counts = {}
    for table in READABLE_TENANT_TABLES:
        where = "" if workspace is None else f" WHERE {_ws_column(table)} = {int(workspace)}"
        counts[table] = int(await s.scalar(sa.text(f"SELECT count(*) FROM {table}{where}")) or 0)  # noqa: S608  (fixed table names, an int)
    return counts


async def test_unfiltered_select_as_dee_reads_only_globex(
    dee_db: RequestDB, session: AsyncSession, ids: dict[str, int]
) -> None:
    globex = ids["globex"]
    owner_globex = await _counts(session, globex)
    async with dee_db.session() as s:
        seen = await _workspaces_seen(s)
        counts = await _counts(s)
        members = (await s.execute(select(Member))).scalars().all()
    assert dee_db.tenant.workspace_ids == (globex,)
    assert {t: ws for t, ws in seen.items() if ws} == {
        t: [globex] for t, n in owner_globex.items() if n
    }
    assert counts == owner_globex  # every globex row, and nothing else
    assert sorted(m.workspace_id for m in members) == [globex, globex]
    assert counts["conversations"] == 2


async def test_context_is_set_again_after_a_mid_request_commit(
    dee_db: RequestDB, ids: dict[str, int]
) -> None:
    async with dee_db.session() as s:
        await s.commit()  # as a mutation does before continuing with the same session
        context = await s.scalar(sa.text("SELECT current_setting('app.context', true)"))
        seen = await _workspaces_seen(s)
    assert context.split(":")[:3] == ["v1", str(ids["dee"]), str(ids["globex"])]
    assert seen["members"] == [ids["globex"]]


async def test_a_viewer_in_two_workspaces_reads_both(
    engine: AsyncEngine, settings: Settings, ids: dict[str, int]
) -> None:
    db = await _as_user(engine, settings, ids["cy"])
    try:
        async with db.session() as s:
            seen = await _workspaces_seen(s)
    finally:
        await db.finish(commit=False)
    assert seen["workspaces"] == sorted([ids["acme"], ids["globex"]])
    assert seen["members"] == sorted([ids["acme"], ids["globex"]])


async def test_without_context_the_app_role_reads_no_tenant_row(engine: AsyncEngine) -> None:
    db = RequestDB(create_sessionmaker(engine))  # nobody authenticated
    try:
        async with db.session() as s:
            counts = await _counts(s)
            users = await s.scalar(sa.text("SELECT count(*) FROM users"))
    finally:
        await db.finish(commit=False)
    async with engine.connect() as conn:  # no session at all, no set_config either
        raw = await conn.scalar(sa.text("SELECT count(*) FROM members"))
    assert counts == dict.fromkeys(READABLE_TENANT_TABLES, 0)
    assert raw == 0
    assert users == 0  # accounts are behind row-level security too (migration 0003)


async def test_a_pooled_connection_carries_no_context_after_a_request(
    settings: Settings, ids: dict[str, int]
) -> None:
    one = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
    engine = create_engine(one)
    try:
        pid = "SELECT pg_backend_pid()"
        async with engine.connect() as conn:
            before = await conn.scalar(sa.text(pid))
        app = create_app(one, engine)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.post(
                    "/graphql",
                    json={"query": "{ viewer { workspaces { slug } } }"},
                    headers={"Authorization": f"Bearer {issue_user_token(one, ids['dee'])}"},
                )
        assert without_cost(response.json()) == {
            "data": {"viewer": {"workspaces": [{"slug": "globex"}]}}
        }
        async with engine.connect() as conn:
            after = await conn.scalar(sa.text(pid))
            context = await conn.scalar(sa.text("SELECT current_setting('app.context', true)"))
            members = await conn.scalar(sa.text("SELECT count(*) FROM members"))
    finally:
        await engine.dispose()
    assert after == before  # the very connection the request used
    assert context in {"", None}
    assert members == 0


async def test_every_tenant_table_forces_row_level_security(session: AsyncSession) -> None:
    rows = (
        await session.execute(
            sa.text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
                "  ARRAY(SELECT p.polname::text || ':' || p.polcmd::text"
                "        || ':' || (p.polqual IS NOT NULL)::text"
                "        || ':' || (p.polwithcheck IS NOT NULL)::text"
                "        FROM pg_policy p WHERE p.polrelid = c.oid ORDER BY 1)"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
                "   AND (c.relname = 'workspaces' OR EXISTS ("
                "     SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
                "       AND a.attname = 'workspace_id' AND NOT a.attisdropped))"
                " ORDER BY 1"
            )
        )
    ).all()
    # The model's list is complete (workspace_accounts exists on PostgreSQL only); the
    # operator log names workspaces but belongs to none (migration 0005).
    assert sorted(r[0] for r in rows) == sorted(
        [*TENANT_TABLES, "workspace_accounts", "operator_audit"]
    )
    assert [r[0] for r in rows if not (r[1] and r[2])] == []
    # One policy per table, for every command, with both USING and WITH CHECK; none on
    # the operator log, which no role bound by row-level security may read.
    assert {r[0]: r[3] for r in rows} == {
        **{t: ["tenant_isolation:*:true:true"] for t in [*TENANT_TABLES, "workspace_accounts"]},
        "operator_audit": [],
    }


async def test_the_app_role_is_neither_superuser_bypassrls_nor_owner(
    engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    async with engine.connect() as conn:
        posture = await role_posture(conn, TENANT_TABLES)
        truncate = await conn.scalar(
            sa.text("SELECT has_table_privilege(current_user, 'members', 'TRUNCATE')")
        )
        owner_role_member = await conn.scalar(
            sa.text(
                "SELECT bool_or(pg_has_role(current_user, c.relowner, 'MEMBER'))"
                " FROM pg_class c WHERE c.relname = ANY(:t)"
            ),
            {"t": list(TENANT_TABLES)},
        )
    async with owner_engine.connect() as conn:
        owner = await role_posture(conn, TENANT_TABLES)
    assert (posture.role, posture.problems) == (APP_ROLE, [])
    assert truncate is False  # TRUNCATE ignores row-level security
    assert owner_role_member is False  # cannot SET ROLE to the owner either
    assert owner.problems != []  # the check does see a role that bypasses RLS


async def test_the_definer_functions_are_locked_down(session: AsyncSession) -> None:
    """The SECURITY DEFINER functions of the wall run with a fixed search_path as a role
    that bypasses row-level security; only the application role may call them; the
    function that computes signatures is not among what it may call; 0002's lookups
    that answered any user id or key prefix are gone."""
    rows = (
        await session.execute(
            sa.text(
                "SELECT p.proname, p.prosecdef, p.proconfig,"
                "  has_function_privilege(:role, p.oid, 'EXECUTE'),"
                "  EXISTS (SELECT 1 FROM aclexplode(p.proacl) a"
                "          WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'),"
                "  r.rolsuper OR r.rolbypassrls"
                " FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner"
                " WHERE p.proname LIKE 'harmony%' AND p.prosecdef"
                " ORDER BY 1"
            ),
            {"role": APP_ROLE},
        )
    ).all()
    locked = (True, ["search_path=pg_catalog, pg_temp"], True, False, True)
    assert [tuple(r) for r in rows] == [
        (name, *locked)
        for name in (
            "harmony_account",
            "harmony_allowed_workspace_ids",
            "harmony_api_key_sign_in",
            "harmony_context_email",
            "harmony_context_user_id",
            "harmony_sign_in",
            "harmony_viewer_invitations",  # 0004
            "harmony_viewer_membership_workspace_ids",  # 0004
            "harmony_webhook_due_workspaces",  # 0006
        )
    ]


async def test_writes_outside_the_context_are_refused(
    dee_db: RequestDB, session: AsyncSession, ids: dict[str, int]
) -> None:
    acme, globex = ids["acme"], ids["globex"]
    before = await _counts(session, acme)
    async with dee_db.session() as s:
        updated = await s.execute(
            sa.update(Team).where(Team.workspace_id == acme).values(name="pwned")
        )
        deleted = await s.execute(sa.delete(Member).where(Member.workspace_id == acme))
        assert (updated.rowcount, deleted.rowcount) == (0, 0)  # type: ignore[attr-defined]
        with pytest.raises(DBAPIError, match="row-level security"):
            async with s.begin_nested():
                await s.execute(sa.insert(Team).values(workspace_id=acme, name="Intruders"))
        with pytest.raises(DBAPIError, match="row-level security"):
            async with s.begin_nested():  # moving a row out of the context (WITH CHECK)
                await s.execute(
                    sa.update(Team).where(Team.workspace_id == globex).values(workspace_id=acme)
                )
        await s.commit()
    session.expire_all()
    assert await _counts(session, acme) == before


async def test_the_policy_keeps_the_ordered_index_scan_of_a_page(dee_db: RequestDB) -> None:
    """A first page reads its rows in index order and stops at the limit: the policy
    is a per-row filter, not an index condition that would force reading and sorting
    the whole workspace."""
    async with dee_db.session() as s:
        globex = await s.scalar(sa.text("SELECT id FROM workspaces WHERE slug = 'globex'"))
        plan = "\n".join(
            (
                await s.execute(
                    sa.text(
                        "EXPLAIN SELECT * FROM conversations WHERE workspace_id = :ws "
                        "ORDER BY occurred_at DESC, id DESC LIMIT 51"
                    ),
                    {"ws": globex},
                )
            ).scalars()
        )
    assert "Index Scan Backward using ix_conversations_ws_occurred" in plan, plan
    assert "Sort" not in plan, plan
    assert "Filter: (array_position(" in plan, plan


async def test_accounts_joined_into_a_page_keep_its_ordered_index_scan(
    dee_db: RequestDB, session: AsyncSession, ids: dict[str, int]
) -> None:
    """The members page joins each member's account: the accounts' policy must not make
    the planner read and sort the whole workspace instead of stopping at the limit (as
    it did with an EXISTS policy, on a workspace of a few hundred members)."""
    await session.execute(
        sa.text(
            "INSERT INTO users (email, name, status, created_at)"
            " SELECT 'p' || n || '@globex.test', 'Person ' || n, 'ACTIVE', now()"
            " FROM generate_series(1, 400) AS n"
        )
    )
    await session.execute(
        sa.text(
            "INSERT INTO members (workspace_id, user_id, role_id, status, joined_at)"
            " SELECT :ws, u.id, r.id, 'ACTIVE', now() FROM users u"
            " JOIN roles r ON r.workspace_id = :ws AND r.builtin = 'MEMBER'"
            " WHERE u.email LIKE 'p%@globex.test'"
        ),
        {"ws": ids["globex"]},
    )
    await session.commit()
    for table in ("users", "members", "workspace_accounts", "roles"):
        await session.execute(sa.text(f"ANALYZE {table}"))
    await session.commit()
    async with dee_db.session() as s:
        globex = await s.scalar(sa.text("SELECT id FROM workspaces WHERE slug = 'globex'"))
        plan = "\n".join(
            (
                await s.execute(
                    sa.text(
                        "EXPLAIN SELECT m.id, u.name FROM members m"
                        " JOIN users u ON u.id = m.user_id"
                        " WHERE m.workspace_id = :ws ORDER BY m.id LIMIT 51"
                    ),
                    {"ws": globex},
                )
            ).scalars()
        )
    assert " on members m" in plan and "Index Scan" in plan, plan  # read in id order…
    assert "Sort" not in plan, plan  # …and stopped at the limit


async def test_the_app_serves_dee_her_globex_data_under_rls(
    client: GraphQLClient, ids: dict[str, int]
) -> None:
    body = await client.query(
        """{
          viewer { workspaces { slug } }
          globex: workspace(slug: "globex") {
            members { totalCount } conversations { totalCount } teams { nodes { name } }
          }
          acme: workspace(slug: "acme") { slug }
        }""",
        as_="dee@globex.test",
    )
    assert body == {
        "data": {
            "viewer": {"workspaces": [{"slug": "globex"}]},
            "globex": {
                "members": {"totalCount": 2},
                "conversations": {"totalCount": 2},
                "teams": {"nodes": [{"name": "Ops"}]},
            },
            "acme": None,
        }
    }


async def test_an_api_key_reads_its_own_workspace_under_rls(
    client: GraphQLClient, session: AsyncSession, ids: dict[str, int]
) -> None:
    # cy belongs to acme and globex; a key of acme's must not reach globex rows.
    secret = await factories.create_api_key(session, ids["acme"], ids["cy"], ["members:read:all"])
    await session.commit()
    body = await client.query(
        """{ workspaces { slug }
             acme: workspace(slug: "acme") { members { totalCount } }
             globex: workspace(slug: "globex") { slug } }""",
        token=secret,
    )
    assert body == {
        "data": {
            "workspaces": [{"slug": "acme"}],
            "acme": {"members": {"totalCount": 4}},
            "globex": None,
        }
    }
    used = await session.scalar(
        select(ApiKey.last_used_at).where(ApiKey.workspace_id == ids["acme"])
    )
    assert isinstance(used, datetime)  # written under the key's own workspace context


async def test_signing_in_a_deactivated_account_enters_no_workspace(
    engine: AsyncEngine, session: AsyncSession, ids: dict[str, int]
) -> None:
    from app.domain.members.repository import sign_in
    from app.models import User, UserStatus

    dee = await session.get(User, ids["dee"])
    assert dee is not None
    dee.status = UserStatus.DEACTIVATED
    await session.commit()
    db = RequestDB(create_sessionmaker(engine))
    try:
        async with db.session() as s:
            account, workspace_ids, _, _ = await sign_in(s, ids["dee"])
            context = await s.scalar(sa.text("SELECT current_setting('app.context', true)"))
            seen = await _workspaces_seen(s)
    finally:
        await db.finish(commit=False)
    assert account.status == UserStatus.DEACTIVATED and workspace_ids == []
    assert context.split(":")[1:3] == [str(ids["dee"]), ""]  # signed in to no workspace
    assert all(ws == [] for ws in seen.values())


async def test_signing_in_enters_the_accounts_workspaces_in_the_same_statement(
    engine: AsyncEngine, ids: dict[str, int]
) -> None:
    from app.domain.members.repository import sign_in

    db = RequestDB(create_sessionmaker(engine))
    try:
        async with db.session() as s:
            _, workspace_ids, _, _ = await sign_in(s, ids["cy"])
            context = await s.scalar(sa.text("SELECT current_setting('app.context', true)"))
    finally:
        await db.finish(commit=False)
    listed = [int(w) for w in context.split(":")[2].split(",")]  # v1:user:workspaces:…
    assert workspace_ids == listed == sorted([ids["acme"], ids["globex"]])


async def test_every_row_that_refers_to_an_account_makes_it_known_to_its_workspace(
    session: AsyncSession,
) -> None:
    """``users`` is visible for the accounts a workspace knows: each table that refers to
    an account (migration 0003's list) remembers the pair when a row is written
    (members since 0003, the others since 0009), so a new table of that list without the
    trigger fails here."""
    sealed_wall = importlib.import_module("app.migrations.versions.20261130_0003_sealed_wall")
    triggered = await session.execute(
        sa.text(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'remember_account' AND NOT t.tgisinternal"
        )
    )
    assert sorted(triggered.scalars()) == sorted(t for t, _ in sealed_wall.ACCOUNT_REFERENCES)

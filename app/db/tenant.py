"""The tenant context of a transaction: PostgreSQL row-level security's input.

On PostgreSQL the application connects as a role (``Settings.db_app_role``) that is
neither owner, superuser nor BYPASSRLS. Migration 0002 forces row-level security on
every tenant table with a policy that admits a row only when its workspace id is in
the transaction-local setting ``app.workspace_ids`` (``app.user_id`` travels along for
auditing and future policies).

Every transaction begun by a session of ours (``create_sessionmaker`` uses
``TenantSession``) starts by setting both from the session's ``Tenant`` with
``set_config(…, true)``: local to the transaction, discarded at COMMIT or ROLLBACK, so
a pooled connection never carries a viewer's context into the next request, and a
session that commits mid-request gets the context again in its next transaction. A
session nobody authorized sets the empty context and reads no tenant row at all.

Authentication fills the tenant once it knows the viewer's workspaces (``enter``).
On SQLite there is no row-level security and all of this is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from app.db.prepared import Prepared

USER_ID_SETTING = "app.user_id"
WORKSPACE_IDS_SETTING = "app.workspace_ids"

_INFO_KEY = "harmony.tenant"
# Always transaction-local (third argument true): never a session-level SET.
_SET_CONTEXT = text(
    f"SELECT set_config('{USER_ID_SETTING}', :user_id, true), "
    f"set_config('{WORKSPACE_IDS_SETTING}', :workspace_ids, true)"
)


_SET_CONTEXT_NOW = Prepared(
    "set_tenant_context",
    lambda _dialect: sa.select(
        sa.func.set_config(USER_ID_SETTING, sa.bindparam("user_id", type_=sa.String), True),
        sa.func.set_config(
            WORKSPACE_IDS_SETTING, sa.bindparam("workspace_ids", type_=sa.String), True
        ),
    ),
)


@dataclass(slots=True)
class Tenant:
    """Who the session acts for: filled by authentication, read at every BEGIN."""

    user_id: int | None = None
    workspace_ids: tuple[int, ...] = ()

    def params(self) -> dict[str, str]:
        return {
            "user_id": "" if self.user_id is None else str(self.user_id),
            "workspace_ids": ",".join(str(w) for w in self.workspace_ids),
        }


class TenantSession(Session):
    """The sync session class behind every ``AsyncSession`` of ours: on PostgreSQL,
    each transaction it begins sets the tenant context before its first statement."""


@event.listens_for(TenantSession, "after_begin")
def _set_context_on_begin(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    tenant = tenant_of(session)
    # An empty context and no context read the same (nothing): skip the round trip.
    if connection.dialect.name == "postgresql" and (
        tenant.user_id is not None or tenant.workspace_ids
    ):
        connection.execute(_SET_CONTEXT, tenant.params())


def tenant_of(session: Session | AsyncSession) -> Tenant:
    """The session's tenant (an empty one is attached on first use)."""
    tenant = session.info.get(_INFO_KEY)
    if not isinstance(tenant, Tenant):
        tenant = session.info[_INFO_KEY] = Tenant()
    return tenant


def attach(session: AsyncSession, tenant: Tenant) -> None:
    """Make ``tenant`` the one the session's transactions act for."""
    session.info[_INFO_KEY] = tenant


def entered(session: AsyncSession, *, user_id: int, workspace_ids: Iterable[int]) -> Tenant:
    """Record that the transaction in progress already holds this context (the
    statement that read the viewer's workspaces set it, see
    app.domain.members.repository.sign_in): every transaction the session begins
    afterwards starts with it."""
    tenant = tenant_of(session)
    tenant.user_id = user_id
    tenant.workspace_ids = tuple(sorted(set(workspace_ids)))
    return tenant


async def enter(session: AsyncSession, *, user_id: int, workspace_ids: Iterable[int]) -> Tenant:
    """Authorize the session for the rows of these workspaces: from the transaction in
    progress on (if any) and in every transaction the session begins afterwards."""
    tenant = entered(session, user_id=user_id, workspace_ids=workspace_ids)
    if session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        # The transaction began with the context it had then; bring it up to date.
        await _SET_CONTEXT_NOW.all(session, **tenant.params())
    return tenant


@dataclass(frozen=True, slots=True)
class RolePosture:
    """What PostgreSQL says about the role a connection runs as."""

    role: str
    superuser: bool
    bypass_rls: bool
    owned_tenant_tables: tuple[str, ...]

    @property
    def problems(self) -> list[str]:
        found = []
        if self.superuser:
            found.append(f"role {self.role} is a superuser")
        if self.bypass_rls:
            found.append(f"role {self.role} has BYPASSRLS")
        if self.owned_tenant_tables:
            found.append(f"role {self.role} owns {', '.join(self.owned_tenant_tables)}")
        return found


async def role_posture(conn: AsyncConnection, tenant_tables: Iterable[str]) -> RolePosture:
    """Whether row-level security binds the connection's role (PostgreSQL only): a
    superuser, a BYPASSRLS role or (without FORCE) a table owner would read every row."""
    row = (
        await conn.execute(
            text(
                "SELECT r.rolname, r.rolsuper, r.rolbypassrls, ARRAY("
                "  SELECT c.relname::text FROM pg_catalog.pg_class c"
                "  WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p')"
                "    AND c.relname = ANY(:tables)"
                "    AND c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n"
                "                          WHERE n.nspname = current_schema())"
                "  ORDER BY 1) "
                "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user"
            ),
            {"tables": list(tenant_tables)},
        )
    ).one()
    return RolePosture(
        role=row[0], superuser=row[1], bypass_rls=row[2], owned_tenant_tables=tuple(row[3])
    )

"""The tenant context of a transaction: PostgreSQL row-level security's input.

On PostgreSQL the application connects as a role (``Settings.db_app_role``) that is
neither owner, superuser nor BYPASSRLS. Every tenant table forces row-level security
with a policy that admits a row only when its workspace id is in the transaction's
**signed** context, the setting ``app.context``:

    v1:<user id>:<workspace ids, comma-separated>:<expires, unix seconds>:<mac>

``mac`` is HMAC-SHA256 of the rest under a key derived from the gateway's secret
(``context_key``). The database holds the same key in a table the application role
cannot read (migration 0003; ``app.db.migrations.upgrade`` installs it), and the
policies verify the context through SECURITY DEFINER functions once per statement. So
the role the gateway runs as cannot name workspaces of its choosing, even through an
SQL injection: an unsigned, altered or expired context allows nothing. The key travels
with the engine (``create_engine`` puts it in the execution option ``CONTEXT_KEY_OPTION``).

Every transaction begun by a session of ours (``create_sessionmaker`` uses
``TenantSession``) starts by setting the context, signed afresh, from the session's
``Tenant`` with ``set_config(…, true)``: local to the transaction, discarded at COMMIT
or ROLLBACK, so a pooled connection never carries a viewer's context into the next
request, and a session that commits mid-request gets the context again in its next
transaction. A session nobody authorized sets nothing and reads no tenant row at all.

Authentication fills the tenant once it knows the viewer's workspaces: for a user, the
sign-in statement lets the database derive them and set the context itself
(``signed_credential``, app.domain.members.repository.sign_in; recorded with
``entered``); for an API key, ``enter``. On SQLite there is no row-level security and
all of this is a no-op.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from app.db.prepared import CONTEXT_SETTING, Prepared
from app.db.rows import ANY_ROW

CONTEXT_KEY_OPTION = "harmony_context_key"
# A context outlives its transaction by little: a request ends within its deadline, and a
# leaked context string is useless after this.
CONTEXT_TTL_SECONDS = 300
_VERSION = "v1"
_ALL_MEMBERSHIPS = "*"  # sign-in: the database derives the workspaces itself

_INFO_KEY = "harmony.tenant"
# Always transaction-local (third argument true): never a session-level SET.
_SET_CONTEXT = text(f"SELECT set_config('{CONTEXT_SETTING}', :context, true)")

_SET_CONTEXT_NOW = Prepared(
    "set_tenant_context",
    lambda _dialect: sa.select(
        sa.func.set_config(CONTEXT_SETTING, sa.bindparam("context", type_=sa.String), True)
    ),
    ANY_ROW,
)


def context_key(secret: str) -> bytes:
    """The key that signs tenant contexts, derived from the gateway's secret."""
    return hmac.new(secret.encode(), b"harmony tenant context v1", hashlib.sha256).digest()


def key_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys, as the database stores them (it has
    SHA-256 but no HMAC): HMAC(k, m) = sha256(outer || sha256(inner || m))."""
    block = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def _sign(key: bytes, user_id: int, workspaces: str) -> str:
    return _signed(key, user_id, workspaces, int(time.time()) + CONTEXT_TTL_SECONDS)


@functools.lru_cache(maxsize=4096)
def _signed(key: bytes, user_id: int, workspaces: str, expires: int) -> str:
    """The same context asked again within the second is signed once (a busy user's
    requests each sign it: an HMAC per read outside a transaction)."""
    body = f"{_VERSION}:{user_id}:{workspaces}:{expires}"
    return f"{body}:{hmac.new(key, body.encode(), hashlib.sha256).hexdigest()}"


def signed_credential(key: bytes, user_id: int) -> str:
    """The gateway's word that it authenticated ``user_id``: what ``harmony_sign_in``
    turns into that user's context (their ACTIVE memberships)."""
    return _sign(key, user_id, _ALL_MEMBERSHIPS)


def key_of(bind: Connection | Engine | AsyncEngine) -> bytes:
    """The signing key of the engine ``bind`` belongs to."""
    options: Mapping[str, Any] = (
        bind.sync_engine if isinstance(bind, AsyncEngine) else bind
    ).get_execution_options()
    key = options.get(CONTEXT_KEY_OPTION)
    if not isinstance(key, bytes):
        raise RuntimeError("engine without a tenant context key: use app.db.engine.create_engine")
    return key


@dataclass(slots=True)
class Tenant:
    """Who the session acts for: filled by authentication, read at every BEGIN."""

    user_id: int | None = None
    workspace_ids: tuple[int, ...] = ()

    def signed(self, key: bytes) -> str:
        assert self.user_id is not None
        return _sign(key, self.user_id, ",".join(str(w) for w in self.workspace_ids))


class TenantSession(Session):
    """The sync session class behind every ``AsyncSession`` of ours: on PostgreSQL,
    each transaction it begins sets the tenant context before its first statement."""


@event.listens_for(TenantSession, "after_begin")
def _set_context_on_begin(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    tenant = tenant_of(session)
    # No context reads nothing, like an empty one: skip the round trip.
    if connection.dialect.name == "postgresql" and tenant.user_id is not None:
        connection.execute(_SET_CONTEXT, {"context": tenant.signed(key_of(connection))})


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
    """Record that the transaction in progress already holds this context (the sign-in
    statement set it, see app.domain.members.repository.sign_in): every transaction the
    session begins afterwards starts with it."""
    tenant = tenant_of(session)
    tenant.user_id = user_id
    tenant.workspace_ids = tuple(sorted(set(workspace_ids)))
    return tenant


async def enter(session: AsyncSession, *, user_id: int, workspace_ids: Iterable[int]) -> Tenant:
    """Authorize the session for the rows of these workspaces: from the transaction in
    progress on (if any) and in every transaction the session begins afterwards."""
    tenant = entered(session, user_id=user_id, workspace_ids=workspace_ids)
    bind = session.get_bind()
    if session.in_transaction() and bind.dialect.name == "postgresql":
        # The transaction began with the context it had then; bring it up to date.
        await _SET_CONTEXT_NOW.all(session, context=tenant.signed(key_of(bind)))
    return tenant


async def install_key(conn: AsyncConnection, key: bytes) -> None:
    """Store the signing key where the policies' functions read it (PostgreSQL, as the
    owner: the application role can neither read nor write it)."""
    inner, outer = key_pads(key)
    await conn.execute(
        text(
            "INSERT INTO harmony_context_key (id, inner_pad, outer_pad) "
            "VALUES (true, :inner, :outer) ON CONFLICT (id) DO UPDATE "
            "SET inner_pad = EXCLUDED.inner_pad, outer_pad = EXCLUDED.outer_pad"
        ),
        {"inner": inner, "outer": outer},
    )


async def context_key_matches(conn: AsyncConnection) -> bool:
    """Whether the database verifies contexts this engine signs (the startup check)."""
    context = Tenant(user_id=0).signed(key_of(conn.engine))
    await conn.execute(_SET_CONTEXT, {"context": context})
    verified = await conn.scalar(text("SELECT harmony_context_user_id()"))
    return bool(verified == 0)


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

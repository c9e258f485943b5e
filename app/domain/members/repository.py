"""Memberships: every statement is bounded to one workspace, except the viewer's own
memberships, which are read by user id to learn which workspaces they may see."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.db.prepared import CONTEXT_SETTING, Nested, Prepared, Related, SignInCheck
from app.db.rows import RowShape
from app.db.tenant import key_of, signed_credential
from app.db.types import column_of, table_of
from app.domain.bound import WorkspaceReads
from app.domain.members import writes
from app.domain.pagination import Page, Window, grouped_pages, prepared_count, prepared_page
from app.domain.rows import MEMBER_ROW, USER_ROW
from app.domain.tenant import lean, scoped
from app.models import (
    BuiltinRole,
    Member,
    MemberStatus,
    Role,
    RolePermission,
    Team,
    TeamMember,
    User,
    Workspace,
)
from app.models.rows import MemberRow, UserRow, WorkspaceRow

MEMBER_ORDER = (column_of(Member.id),)


@dataclass(frozen=True, slots=True)
class MemberFilter:
    status: MemberStatus | None = None
    role_id: int | None = None
    team_id: int | None = None
    search: str | None = None  # case-insensitive substring of the user's name or email


def _list_of(dialect: str, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """An aggregate of ``column`` as a list: an array on PostgreSQL (no JSON to
    decode), in order (a sign-in's digest is of its text), a JSON array on SQLite. NULL
    over no rows."""
    if dialect == "postgresql":
        ordered = postgresql.aggregate_order_by(column, column)
        return sa.func.array_agg(ordered, type_=postgresql.ARRAY(column.type))
    return sa.func.json_group_array(column, type_=sa.JSON)


# The workspace row a membership carries (without the handbook, which can be long).
# scope: the workspace's columns, selected per membership (joined on Member.workspace_id)
WORKSPACE_COLUMNS = tuple(c for c in table_of(Workspace).columns if c.key != "handbook")


class MembershipWorkspace(NamedTuple):
    """A workspace as a membership carries it: WORKSPACE_COLUMNS, in their order
    (a ``WorkspaceRow``)."""

    id: int
    slug: str
    name: str
    logo_url: str | None
    brand_primary_color: str | None
    brand_accent_color: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MembershipRow:
    workspace_id: int
    member_id: int
    role_id: int
    builtin: BuiltinRole | None
    team_ids: frozenset[int]
    permissions: list[str]  # the role's stored permission strings, sorted
    workspace: WorkspaceRow


# scope: the viewer's own memberships, by user id, before the workspace is known (authentication;
#   under RLS only the viewer's workspaces); joins match workspace_id
def _memberships_of_user(
    dialect: str, user_id: sa.ColumnElement[int] | None = None
) -> sa.Select[Any]:
    """The memberships of ``user_id`` (an expression; by default the bound ``:user_id``)."""
    if user_id is None:
        user_id = sa.bindparam("user_id", type_=sa.Integer)
    team_ids = (
        sa.select(_list_of(dialect, column_of(TeamMember.team_id)))
        .where(
            col(TeamMember.workspace_id) == Member.workspace_id,
            col(TeamMember.member_id) == Member.id,
        )
        .scalar_subquery()
    )
    permissions = (
        sa.select(_list_of(dialect, column_of(RolePermission.permission)))
        .where(
            col(RolePermission.workspace_id) == Role.workspace_id,
            col(RolePermission.role_id) == Role.id,
        )
        .scalar_subquery()
    )
    stmt: sa.Select[Any] = (
        sa.select(
            col(Member.workspace_id),
            col(Member.id).label("member_id"),
            col(Role.id).label("role_id"),
            col(Role.builtin),
            team_ids.label("team_ids"),
            permissions.label("permissions"),
            *(c.label(f"ws_{c.key}") for c in WORKSPACE_COLUMNS),
        )
        .join(
            Role,
            sa.and_(col(Role.workspace_id) == Member.workspace_id, col(Role.id) == Member.role_id),
        )
        .join(Workspace, col(Workspace.id) == Member.workspace_id)
        .where(
            col(Member.user_id) == user_id,
            col(Member.status) == MemberStatus.ACTIVE,
        )
        .order_by(col(Member.workspace_id))
    )
    return stmt


class MembershipColumns(Protocol):
    """A row of ``_memberships_of_user`` (and its ``ws_<column>`` of the workspace)."""

    @property
    def workspace_id(self) -> int: ...

    @property
    def member_id(self) -> int: ...

    @property
    def role_id(self) -> int: ...

    @property
    def builtin(self) -> BuiltinRole | None: ...

    @property
    def team_ids(self) -> list[int] | None: ...

    @property
    def permissions(self) -> list[str] | None: ...


class SignedIn(UserRow, Protocol):
    """The account signing in, with the workspaces of its ACTIVE memberships."""

    @property
    def workspace_ids(self) -> list[int] | None: ...


class SignedInWithMemberships(SignedIn, MembershipColumns, Protocol):
    """PostgreSQL's sign-in rows: the account on each row of its memberships (their
    columns None when it has none)."""


_MEMBERSHIPS_OF_USER = Prepared(
    "memberships_of_user",
    _memberships_of_user,
    RowShape[MembershipColumns](MembershipColumns),
)
_MEMBERSHIP_KEYS = [str(c.key) for c in _memberships_of_user("postgresql").selected_columns]


def _membership(r: MembershipColumns) -> MembershipRow:
    return MembershipRow(
        workspace_id=r.workspace_id,
        member_id=r.member_id,
        role_id=r.role_id,
        builtin=r.builtin,
        team_ids=frozenset(r.team_ids or ()),
        permissions=sorted(r.permissions or ()),
        workspace=MembershipWorkspace._make(getattr(r, f"ws_{c.key}") for c in WORKSPACE_COLUMNS),
    )


async def memberships_of_user(session: AsyncSession, user_id: int) -> list[MembershipRow]:
    """The user's ACTIVE memberships across workspaces, each with its role, its
    workspace, its team ids and the role's stored permission strings. One statement:
    teams and permissions are aggregated per membership."""
    return [_membership(r) for r in await _MEMBERSHIPS_OF_USER.all(session, user_id=user_id)]


# scope: sign-in: the account's own active memberships, before any workspace is known (SQLite;
#   PostgreSQL: harmony_sign_in)
def _sign_in(dialect: str) -> sa.Select[Any]:
    if dialect != "postgresql":
        user_id = sa.bindparam("user_id", type_=sa.Integer)
        ids = (
            sa.select(_list_of(dialect, column_of(Member.workspace_id)))
            .where(col(Member.user_id) == User.id, col(Member.status) == MemberStatus.ACTIVE)
            .scalar_subquery()
        )
        account = lean(select(User), User).where(col(User.id) == user_id)
        return account.add_columns(ids.label("workspace_ids"))
    # harmony_sign_in (migration 0003) verifies the gateway's signed credential, sets the
    # transaction's tenant context (the user's ACTIVE memberships, signed by the database)
    # and returns the account; the context is read back for its workspace ids.
    columns = list(table_of(User).columns)
    signed_in = sa.func.harmony_sign_in(sa.bindparam("credential", type_=sa.String)).table_valued(
        *(sa.column(c.name, c.type) for c in columns), name="account"
    )
    listed = sa.func.split_part(sa.func.current_setting(CONTEXT_SETTING, True), ":", 3)
    allowed = sa.cast(
        sa.func.string_to_array(sa.func.nullif(listed, ""), ","), postgresql.ARRAY(sa.Integer)
    )
    # The memberships in the same statement: the lateral subquery runs after the function
    # (it depends on the account's row), so row-level security reads it with the context
    # harmony_sign_in has just set (a policy's InitPlan is evaluated when first needed).
    memberships = _memberships_of_user(dialect, signed_in.c.id).lateral("membership")
    return (
        sa.select(
            *(signed_in.c[c.name].label(c.key) for c in columns),
            allowed.label("workspace_ids"),
            *(memberships.c[k] for k in _MEMBERSHIP_KEYS),
        )
        .select_from(signed_in.outerjoin(memberships, sa.true()))
        .order_by(memberships.c.workspace_id)
    )


def _digested(dialect: str) -> tuple[sa.Subquery, sa.ColumnElement[str]]:
    """PostgreSQL's sign-in (``_sign_in``) as a subquery, and a digest of its rows on each:
    SHA-256 of each whole row's text, in workspace order. The same account, memberships,
    roles, permissions, teams and workspaces give the same digest; any change of them
    another. (A window, so that the sign-in's rows and their digest are one statement
    without calling the sign-in twice.)"""
    signed_in = _sign_in(dialect).subquery("harmony_signed_in")
    whole_row = sa.cast(sa.literal_column(signed_in.name), sa.Text)
    every_row = sa.func.string_agg(whole_row, sa.literal_column("'|'")).over(
        order_by=signed_in.c.workspace_id, rows=(None, None)
    )
    digest = sa.func.sha256(sa.func.convert_to(every_row, sa.literal_column("'UTF8'")))
    return signed_in, sa.func.encode(digest, sa.literal_column("'hex'"))


def _signed_in_digested(dialect: str) -> sa.Select[Any]:
    """PostgreSQL's sign-in, each row with the digest of them all, which a later request
    of the same account compares with ``_SIGN_IN_DIGEST``'s (app.edge.authenticate,
    remembered sign-ins)."""
    signed_in, digest = _digested(dialect)
    return sa.select(*signed_in.c, digest.label("digest")).order_by(signed_in.c.workspace_id)


def _sign_in_digest(dialect: str) -> sa.Select[Any]:
    """The sign-in's digest alone (one row, column ``digest``): the same statement signs
    in (it sets the tenant context) and answers what ``_signed_in_digested`` does."""
    signed_in, digest = _digested(dialect)
    return sa.select(digest.label("digest")).select_from(signed_in).limit(1)


class Digested(SignedInWithMemberships, Protocol):
    @property
    def digest(self) -> str: ...


class SignInDigest(Protocol):
    @property
    def digest(self) -> str | None: ...


# One statement per dialect (``_sign_in``), whose rows differ.
_SIGN_IN = Prepared("sign_in", _sign_in, RowShape[SignedIn](SignedIn))
_SIGN_IN_WITH_MEMBERSHIPS = Prepared("sign_in", _signed_in_digested, RowShape[Digested](Digested))
_SIGN_IN_DIGEST = Prepared("sign_in_digest", _sign_in_digest, RowShape[SignInDigest](SignInDigest))


def _sign_in_params(bind: Any, user_id: int) -> dict[str, Any]:
    if bind.dialect.name == "postgresql":
        return {"credential": signed_credential(key_of(bind), user_id)}
    return {"user_id": user_id}


class SignedInAs(NamedTuple):
    account: SignedIn | None  # None: no such account
    workspace_ids: list[int]  # of its ACTIVE memberships, ascending
    memberships: list[MembershipRow] | None  # None on SQLite: memberships_of_user reads them
    digest: str | None  # PostgreSQL: what a deferred sign-in compares (sign_in_check)


async def sign_in(session: AsyncSession, user_id: int) -> SignedInAs:
    """The account (a lean row), the workspaces where it holds an ACTIVE membership
    (ascending) and, on PostgreSQL, those memberships and the digest of it all, in one
    statement; on PostgreSQL the same statement enters the transaction's tenant context
    for those workspaces (when the account is ACTIVE): the caller records it with
    ``app.db.tenant.entered``.

    This runs before any tenant context exists: row-level security hides every
    membership and every account, so on PostgreSQL the statement goes through
    ``harmony_sign_in``, a SECURITY DEFINER function of migration 0003 that acts only on
    a credential the gateway signed (app.db.tenant.signed_credential).
    """
    bind = session.get_bind()
    params = _sign_in_params(bind, user_id)
    if bind.dialect.name != "postgresql":  # SQLite: the memberships are the next statement
        account = await _SIGN_IN.first(session, **params)
        if account is None or account.id is None:
            return SignedInAs(None, [], None, None)
        return SignedInAs(account, sorted(account.workspace_ids or ()), None, None)
    rows = await _SIGN_IN_WITH_MEMBERSHIPS.all(session, **params)
    if not rows or rows[0].id is None:  # (harmony_sign_in answers NULLs for no account)
        return SignedInAs(None, [], None, None)
    memberships = [_membership(r) for r in rows if r.member_id is not None]
    first = rows[0]
    return SignedInAs(first, sorted(first.workspace_ids or ()), memberships, first.digest)


def sign_in_check(engine: AsyncEngine, user_id: int, expected: str) -> SignInCheck:
    """The sign-in of ``user_id`` deferred to the request's first read (PostgreSQL):
    its answer must be ``expected``, the digest an earlier ``sign_in`` answered."""
    params = _sign_in_params(engine.sync_engine, user_id)
    return SignInCheck(_SIGN_IN_DIGEST, params, expected)


def _account(dialect: str) -> sa.Select[Any]:
    if dialect != "postgresql":
        user_id = sa.bindparam("user_id", type_=sa.Integer)
        return lean(select(User), User).where(col(User.id) == user_id)
    columns = list(table_of(User).columns)
    account = sa.func.harmony_account(sa.bindparam("credential", type_=sa.String)).table_valued(
        *(sa.column(c.name, c.type) for c in columns), name="account"
    )
    return sa.select(*(account.c[c.name].label(c.key) for c in columns))


_ACCOUNT = Prepared("account", _account, USER_ROW)


async def account_outside_transaction(engine: AsyncEngine, user_id: int) -> UserRow | None:
    """The account alone, on a pooled connection of its own outside any transaction: for
    a request that reads nothing else. On PostgreSQL ``harmony_account`` (migration
    0003) reads it for a credential the gateway signed, and sets no context."""
    rows = await _ACCOUNT.outside_transaction(
        engine, **_sign_in_params(engine.sync_engine, user_id)
    )
    return rows[0] if rows and rows[0].id is not None else None


def _search_pattern(search: str) -> str:
    escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filter_params(workspace_id: int, f: MemberFilter) -> tuple[tuple[bool, ...], dict[str, Any]]:
    """The filter's shape (which conditions apply: the statement's text) and values."""
    values: dict[str, Any] = {"workspace_id": workspace_id}
    if f.status is not None:
        values["status"] = f.status
    if f.role_id is not None:
        values["role_id"] = f.role_id
    if f.team_id is not None:
        values["team_id"] = f.team_id
    if f.search:
        values["pattern"] = _search_pattern(f.search)
    shape = tuple(k in values for k in ("status", "role_id", "team_id", "pattern"))
    return shape, values


def _filtered(shape: tuple[bool, ...]) -> SelectOfScalar[Member]:
    """Members of ``:workspace_id`` meeting the conditions ``shape`` switches on, as
    bound parameters (``:status``, ``:role_id``, ``:team_id``, ``:pattern``)."""
    status, role_id, team_id, pattern = shape
    workspace_id = sa.bindparam("workspace_id", type_=sa.Integer)
    stmt = scoped(Member, workspace_id)
    if status:
        stmt = stmt.where(
            col(Member.status) == sa.bindparam("status", type_=column_of(Member.status).type)
        )
    if role_id:
        stmt = stmt.where(col(Member.role_id) == sa.bindparam("role_id", type_=sa.Integer))
    if team_id:
        # scope: correlated to the member row, within the team's workspace_id
        stmt = stmt.where(
            sa.exists().where(
                col(TeamMember.workspace_id) == workspace_id,
                col(TeamMember.team_id) == sa.bindparam("team_id", type_=sa.Integer),
                col(TeamMember.member_id) == Member.id,
            )
        )
    if pattern:
        like = sa.bindparam("pattern", type_=sa.String)
        stmt = stmt.join(User, col(User.id) == Member.user_id).where(
            sa.or_(
                sa.func.lower(User.name).like(like, escape="\\"),
                sa.func.lower(User.email).like(like, escape="\\"),
            )
        )
    return stmt


# Relations a members page can bring along in its own statement.
MEMBER_USER = Related("user", User, lambda user: user.id == Member.user_id)
# scope: the role joins on its workspace_id = the member's (a scoped statement's)
MEMBER_ROLE = Related(
    "role",
    Role,
    lambda role: sa.and_(role.workspace_id == Member.workspace_id, role.id == Member.role_id),
)
# scope: the teams of the member's own row, on its workspace_id (a scoped statement's)
MEMBER_TEAMS = Nested(
    "teams",
    [
        column_of(Team.id),
        column_of(Team.workspace_id),
        column_of(Team.name),
        column_of(Team.description),
    ],
    lambda stmt: (
        stmt.select_from(TeamMember)
        .join(
            Team,
            sa.and_(
                col(Team.workspace_id) == TeamMember.workspace_id,
                col(Team.id) == TeamMember.team_id,
            ),
        )
        .where(
            col(TeamMember.workspace_id) == Member.workspace_id,
            col(TeamMember.member_id) == Member.id,
        )
    ),
)


async def members_page(
    session: AsyncSession,
    workspace_id: int,
    f: MemberFilter,
    window: Window,
    *,
    include: frozenset[str] = frozenset(),
    reads: Mapping[str, frozenset[str]] | None = None,
) -> Page[MemberRow]:
    """A page of members as lean rows (the columns of Member); with ``include``
    ("user", "role", "teams") the same statement reads each member's account, role and
    teams (in id order), found in ``page.related["user"]`` / ``["role"]`` / ``["teams"]``;
    ``reads``: only these columns of a relation (``prepared_page``)."""
    shape, values = _filter_params(workspace_id, f)
    return await prepared_page(
        session,
        ("members_page", shape),
        lambda _dialect: lean(_filtered(shape), Member),
        MEMBER_ORDER,
        window,
        row=MEMBER_ROW,
        related=[r for r in (MEMBER_USER, MEMBER_ROLE) if r.name in include],
        nested=[MEMBER_TEAMS] if MEMBER_TEAMS.name in include else [],
        reads=reads,
        **values,
    )


async def members_count(session: AsyncSession, workspace_id: int, f: MemberFilter) -> int:
    shape, values = _filter_params(workspace_id, f)
    return await prepared_count(
        session, ("members", shape), lambda _dialect: _filtered(shape), **values
    )


async def members_by_ids(
    session: AsyncSession, workspace_id: int, ids: Sequence[int]
) -> list[Member]:
    stmt = scoped(Member, workspace_id).where(col(Member.id).in_(ids))
    return list((await session.execute(stmt)).scalars())


async def member_counts_by_role(
    session: AsyncSession, workspace_id: int, role_ids: Sequence[int]
) -> dict[int, int]:
    """Members holding each role (any status)."""
    stmt = (
        scoped(Member, workspace_id)
        .with_only_columns(col(Member.role_id), sa.func.count())
        .where(col(Member.role_id).in_(role_ids))
        .group_by(col(Member.role_id))
    )
    return {role_id: n for role_id, n in (await session.execute(stmt)).all()}


def _members_in_teams(workspace_id: int) -> sa.Select[Any]:
    """Lean members rows of the workspace joined with their team memberships (whose
    ``team_id`` groups them)."""
    return lean(
        scoped(Member, workspace_id).join(
            TeamMember,
            sa.and_(
                col(TeamMember.workspace_id) == Member.workspace_id,
                col(TeamMember.member_id) == Member.id,
            ),
        ),
        Member,
    )


async def members_pages_of_teams(
    session: AsyncSession, workspace_id: int, team_ids: Sequence[int], window: Window
) -> dict[int, Page[MemberRow]]:
    """One page of members (in MEMBER_ORDER, lean rows) for each team, all in one
    statement (``grouped_pages``)."""
    return await grouped_pages(
        session,
        _members_in_teams(workspace_id),
        column_of(TeamMember.team_id),
        MEMBER_ORDER,
        window,
        team_ids,
        MEMBER_ROW,
    )


async def member_counts_of_teams(
    session: AsyncSession, workspace_id: int, team_ids: Sequence[int]
) -> dict[int, int]:
    """How many members each team has (any status), in one statement."""
    stmt = (
        scoped(TeamMember, workspace_id)
        .with_only_columns(col(TeamMember.team_id), sa.func.count())
        .where(col(TeamMember.team_id).in_(team_ids))
        .group_by(col(TeamMember.team_id))
    )
    return {team_id: n for team_id, n in (await session.execute(stmt)).all()}


class MemberRepository(WorkspaceReads):
    """The members of the workspace it is bound to (``app.domain.bound``)."""

    __slots__ = ()

    async def page(
        self,
        f: MemberFilter,
        window: Window,
        *,
        include: frozenset[str] = frozenset(),
        reads: Mapping[str, frozenset[str]] | None = None,
    ) -> Page[MemberRow]:
        return await self._in(members_page, f, window, include=include, reads=reads)

    async def count(self, f: MemberFilter) -> int:
        return await self._in(members_count, f)

    async def by_ids(self, ids: Sequence[int]) -> list[Member]:
        return await self._in(members_by_ids, ids)

    async def counts_by_role(self, role_ids: Sequence[int]) -> dict[int, int]:
        return await self._in(member_counts_by_role, role_ids)

    async def pages_of_teams(
        self, team_ids: Sequence[int], window: Window
    ) -> dict[int, Page[MemberRow]]:
        return await self._in(members_pages_of_teams, team_ids, window)

    async def counts_of_teams(self, team_ids: Sequence[int]) -> dict[int, int]:
        return await self._in(member_counts_of_teams, team_ids)

    async def active_admin_ids(self) -> list[int]:
        """The ACTIVE Admins' member ids (the last-admin rule reads the same)."""
        return await self._in(writes.active_admin_member_ids)

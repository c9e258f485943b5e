"""Invitations, read from two sides.

- The workspace's: its pending invitations, every statement scoped to the workspace
  like any tenant read.
- The invitee's: the invitations addressed to their account's e-mail, across
  workspaces they do not belong to. Row-level security lets a session see those rows
  through the policy's e-mail clause (migration 0004) and nothing else of those
  workspaces, so on PostgreSQL the names the invitee is shown (workspace, role, who
  invited) come from ``harmony_viewer_invitations()``, a SECURITY DEFINER function that
  answers only for the account of the verified context.

Nothing here reads an account by e-mail: an invitation never learns whether one exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from app.db.types import UTCDateTime, column_of, id_column
from app.domain.bound import WorkspaceReads
from app.domain.pagination import Page, Window, count, fetch_page
from app.domain.tenant import lean, scoped
from app.models import BuiltinRole, Invitation, Member, Role, User, Workspace

INVITATION_ORDER = (column_of(Invitation.id),)


@dataclass(frozen=True, slots=True)
class InvitationView:
    """An invitation with the names both sides are shown."""

    id: int
    workspace_id: int
    email: str
    role_id: int
    team_ids: tuple[int, ...]
    invited_by_user_id: int
    created_at: datetime
    workspace_name: str
    # The role acceptance gives: the invitation's, or the built-in Member role when that
    # one was deleted since.
    role_name: str
    invited_by_name: str

    @classmethod
    def of(cls, row: sa.Row[Any]) -> InvitationView:
        return cls(
            id=row.id,
            workspace_id=row.workspace_id,
            email=row.email,
            role_id=row.role_id,
            team_ids=tuple(row.team_ids or ()),
            invited_by_user_id=row.invited_by_user_id,
            created_at=row.created_at,
            workspace_name=row.workspace_name,
            role_name=row.role_name or "",
            invited_by_name=row.invited_by_name or "",
        )


# scope: correlated subqueries, each matching the invitation row's own workspace_id
def _labels() -> list[sa.Label[Any]]:
    """The names shown with an invitation, as subqueries correlated to its row (all
    within the invitation's own workspace, but for the inviter's account)."""
    member_role = aliased(Role)
    return [
        sa.select(col(Workspace.name))
        .where(col(Workspace.id) == Invitation.workspace_id)
        .scalar_subquery()
        .label("workspace_name"),
        sa.func.coalesce(
            sa.select(col(Role.name))
            .where(
                col(Role.workspace_id) == Invitation.workspace_id,
                col(Role.id) == Invitation.role_id,
            )
            .scalar_subquery(),
            sa.select(col(member_role.name))
            .where(
                col(member_role.workspace_id) == Invitation.workspace_id,
                col(member_role.builtin) == BuiltinRole.MEMBER,
            )
            .scalar_subquery(),
        ).label("role_name"),
        sa.select(col(User.name))
        .where(col(User.id) == Invitation.invited_by_user_id)
        .scalar_subquery()
        .label("invited_by_name"),
    ]


def _views(workspace_id: int) -> sa.Select[Any]:
    return lean(scoped(Invitation, workspace_id), Invitation).add_columns(*_labels())


async def invitations_page(
    session: AsyncSession, workspace_id: int, window: Window
) -> Page[InvitationView]:
    """The workspace's pending invitations, oldest first."""
    page = await fetch_page(session, _views(workspace_id), INVITATION_ORDER, window)
    return page.replaced([InvitationView.of(r) for r in page.items])


async def invitations_count(session: AsyncSession, workspace_id: int) -> int:
    return await count(session, scoped(Invitation, workspace_id))


async def invitation_views_by_ids(
    session: AsyncSession, workspace_id: int, ids: Sequence[int]
) -> list[InvitationView]:
    stmt = (
        _views(workspace_id).where(col(Invitation.id).in_(list(ids))).order_by(col(Invitation.id))
    )
    return [InvitationView.of(r) for r in (await session.execute(stmt)).all()]


async def invitation_in(
    session: AsyncSession, workspace_id: int, invitation_id: int
) -> Invitation | None:
    stmt = scoped(Invitation, workspace_id).where(Invitation.id == invitation_id)
    return (await session.execute(stmt)).scalars().first()


async def pending_for_email(
    session: AsyncSession, workspace_id: int, email: str
) -> Invitation | None:
    stmt = scoped(Invitation, workspace_id).where(
        sa.func.lower(Invitation.email) == email.strip().lower()
    )
    return (await session.execute(stmt)).scalars().first()


async def member_with_email(session: AsyncSession, workspace_id: int, email: str) -> Member | None:
    """The member of this workspace (any status) whose account has this e-mail: a fact
    the workspace sees anyway (it lists its members), unlike any account outside it."""
    stmt = (
        scoped(Member, workspace_id)
        .join(User, col(User.id) == Member.user_id)
        .where(sa.func.lower(User.email) == email.strip().lower())
    )
    return (await session.execute(stmt)).scalars().first()


class InvitationRepository(WorkspaceReads):
    """The pending invitations of the workspace it is bound to (``app.domain.bound``);
    the invitee's side is ``app.domain.repositories.ViewerRepository``'s."""

    __slots__ = ()

    async def page(self, window: Window) -> Page[InvitationView]:
        return await self._in(invitations_page, window)

    async def count(self) -> int:
        return await self._in(invitations_count)

    async def views_by_ids(self, ids: Sequence[int]) -> list[InvitationView]:
        return await self._in(invitation_views_by_ids, ids)


# --- the invitee's side -------------------------------------------------------------


# scope: the invitee's own invitation, by id and their account's e-mail, before they belong to its
#   workspace (RLS: the invitations policy's e-mail clause)
async def invitation_addressed_to(
    session: AsyncSession, invitation_id: int, email: str, workspace_id: int | None = None
) -> Invitation | None:
    """The invitation with this id if it is addressed to ``email`` (the viewer's own
    account's); None otherwise, exactly as for an id that does not exist. Read before
    the invitee belongs to its workspace (row-level security: the e-mail clause)."""
    stmt = select(Invitation).where(
        Invitation.id == invitation_id, sa.func.lower(Invitation.email) == email.strip().lower()
    )
    if workspace_id is not None:
        stmt = stmt.where(Invitation.workspace_id == workspace_id)
    return (await session.execute(stmt)).scalars().first()


_VIEWER_INVITATIONS = sa.text("SELECT * FROM harmony_viewer_invitations()").columns(
    sa.column("id", sa.Integer),
    sa.column("workspace_id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("role_id", sa.Integer),
    sa.column("team_ids", sa.JSON),
    sa.column("invited_by_user_id", sa.Integer),
    sa.column("created_at", UTCDateTime),
    sa.column("workspace_name", sa.String),
    sa.column("role_name", sa.String),
    sa.column("invited_by_name", sa.String),
)


# scope: the invitee's own invitations across workspaces, by their account's e-mail (SQLite;
#   PostgreSQL asks harmony_viewer_invitations)
def _addressed_to(
    session: AsyncSession, email: str
) -> tuple[sa.Select[Any], sa.ColumnElement[int]]:
    """Pending invitations addressed to ``email`` (the viewer's own account's,
    case-insensitively), across workspaces, as a select of InvitationView's columns, and
    its id column (their order). On PostgreSQL the database takes the address from the
    verified tenant context itself."""
    if session.get_bind().dialect.name == "postgresql":
        viewer_invitations = _VIEWER_INVITATIONS.subquery("viewer_invitations")
        return sa.select(viewer_invitations), viewer_invitations.c.id
    stmt = (
        lean(select(Invitation), Invitation)
        .add_columns(*_labels())
        .where(sa.func.lower(Invitation.email) == email.strip().lower())
    )
    return stmt, id_column(Invitation)


async def invitations_addressed_to(session: AsyncSession, email: str) -> list[InvitationView]:
    """Pending invitations addressed to ``email``, oldest first, across workspaces
    (``_addressed_to``)."""
    stmt, order = _addressed_to(session, email)
    rows = (await session.execute(stmt.order_by(order))).all()
    return [InvitationView.of(r) for r in rows]


async def invitations_addressed_to_page(
    session: AsyncSession, email: str, window: Window
) -> Page[InvitationView]:
    """A page of ``invitations_addressed_to``."""
    stmt, order = _addressed_to(session, email)
    page = await fetch_page(session, stmt, (order,), window)
    return page.replaced([InvitationView.of(r) for r in page.items])


async def invitations_addressed_to_count(session: AsyncSession, email: str) -> int:
    stmt, _ = _addressed_to(session, email)
    return await count(session, stmt)

"""Invitations: ``addMember`` invites an e-mail address; the person with that address
accepts (and becomes a member) or declines.

An invitation holds only what the inviting workspace typed and chose: the e-mail
address, the role and teams to give on acceptance, who invited and when. It never
points at an account, so nothing about whether one exists travels to the workspace.

``role_id`` and ``team_ids`` are deliberately not foreign keys: a role or team deleted
while the invitation waits must neither be blocked by it nor take it away. Acceptance
resolves them inside the invitation's own workspace (a role no longer there becomes the
built-in Member role; teams no longer there are skipped), so they can never reach into
another workspace either.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, utcnow


class Invitation(SQLModel, table=True):
    __tablename__ = "invitations"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "id", name="uq_invitations_workspace_id_id"),
        # One pending invitation per address and workspace, whatever its case.
        sa.Index(
            "ux_invitations_workspace_id_email_lower",
            sa.column("workspace_id"),
            sa.func.lower(sa.column("email")),
            unique=True,
        ),
        # The invitee's lookup (their invitations across workspaces).
        sa.Index("ix_invitations_email_lower", sa.func.lower(sa.column("email"))),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", ondelete="CASCADE")
    # As typed (trimmed); compared case-insensitively.
    email: str = Field(max_length=320)
    role_id: int
    team_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    invited_by_user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

"""Who is in a workspace and what they may do: roles, members, teams.

Every reference between two tenant rows includes ``workspace_id`` (a composite
foreign key onto a ``(workspace_id, id)`` unique key), so a row can never point
into another workspace, whatever row-level security would or would not see.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, enum_column, utcnow
from app.models.enums import BuiltinRole, MemberStatus

WORKSPACE_FK = "workspaces.id"


class Role(SQLModel, table=True):
    __tablename__ = "roles"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "id", name="uq_roles_workspace_id_id"),
        sa.UniqueConstraint("workspace_id", "name", name="uq_roles_workspace_id_name"),
        # NULLs are distinct: at most one Admin and one Member per workspace.
        sa.UniqueConstraint("workspace_id", "builtin", name="uq_roles_workspace_id_builtin"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=500)
    builtin: BuiltinRole | None = Field(
        default=None, sa_column=enum_column(BuiltinRole, "builtin_role", nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class RolePermission(SQLModel, table=True):
    """One granted permission string (``resource:action:scope``) of a role.

    The built-in Admin role has no rows: it holds the whole catalogue by definition.
    """

    __tablename__ = "role_permissions"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["workspace_id", "role_id"],
            ["roles.workspace_id", "roles.id"],
            ondelete="CASCADE",
            name="fk_role_permissions_role",
        ),
    )

    role_id: int = Field(primary_key=True)
    permission: str = Field(primary_key=True, max_length=100)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE", index=True)


class Member(SQLModel, table=True):
    __tablename__ = "members"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "id", name="uq_members_workspace_id_id"),
        sa.UniqueConstraint("workspace_id", "user_id", name="uq_members_workspace_id_user_id"),
        sa.ForeignKeyConstraint(
            ["workspace_id", "role_id"],
            ["roles.workspace_id", "roles.id"],
            name="fk_members_role",
        ),
        sa.Index("ix_members_workspace_id_role_id", "workspace_id", "role_id"),
        sa.Index("ix_members_user_id", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id")
    role_id: int
    status: MemberStatus = Field(
        default=MemberStatus.ACTIVE,
        sa_column=enum_column(MemberStatus, "member_status", nullable=False),
    )
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Team(SQLModel, table=True):
    __tablename__ = "teams"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "id", name="uq_teams_workspace_id_id"),
        sa.UniqueConstraint("workspace_id", "name", name="uq_teams_workspace_id_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_members"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["workspace_id", "team_id"],
            ["teams.workspace_id", "teams.id"],
            ondelete="CASCADE",
            name="fk_team_members_team",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "member_id"],
            ["members.workspace_id", "members.id"],
            ondelete="CASCADE",
            name="fk_team_members_member",
        ),
        sa.Index("ix_team_members_workspace_id_member_id", "workspace_id", "member_id"),
    )

    team_id: int = Field(primary_key=True)
    member_id: int = Field(primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

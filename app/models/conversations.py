"""Conversations (meetings) and what hangs off them.

Hosts, participants and assignees point at accounts (``users``), not memberships,
so a conversation keeps its people when someone leaves the workspace.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, enum_column, utcnow
from app.models.enums import InsightKind

WORKSPACE_FK = "workspaces.id"


def _conversation_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id", "conversation_id"],
        ["conversations.workspace_id", "conversations.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_conversation",
    )


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "id", name="uq_conversations_workspace_id_id"),
        # No ON DELETE action: deleting a team detaches its conversations first.
        sa.ForeignKeyConstraint(
            ["workspace_id", "team_id"],
            ["teams.workspace_id", "teams.id"],
            name="fk_conversations_team",
        ),
        sa.CheckConstraint("duration_seconds >= 0", name="duration_nonnegative"),
        # Listing is newest first, keyset on (occurred_at, id), optionally by team or host.
        sa.Index("ix_conversations_ws_occurred", "workspace_id", "occurred_at", "id"),
        sa.Index(
            "ix_conversations_ws_team_occurred", "workspace_id", "team_id", "occurred_at", "id"
        ),
        sa.Index(
            "ix_conversations_ws_host_occurred", "workspace_id", "host_user_id", "occurred_at", "id"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    title: str = Field(max_length=300)
    occurred_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    duration_seconds: int = Field(default=0)
    host_user_id: int = Field(foreign_key="users.id")
    team_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ConversationParticipant(SQLModel, table=True):
    __tablename__ = "conversation_participants"
    __table_args__ = (
        _conversation_fk("conversation_participants"),
        sa.Index("ix_conversation_participants_ws_conv", "workspace_id", "conversation_id"),
        sa.Index("ix_conversation_participants_ws_user", "workspace_id", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    conversation_id: int
    # Null for guests without a Harmony account.
    user_id: int | None = Field(default=None, foreign_key="users.id")
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)


class ConversationTranscript(SQLModel, table=True):
    """Kept apart from ``conversations`` so listing never reads transcripts."""

    __tablename__ = "conversation_transcripts"
    __table_args__ = (_conversation_fk("conversation_transcripts"),)

    conversation_id: int = Field(primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE", index=True)
    content: str = Field(default="", sa_type=sa.Text, nullable=False)


class ConversationInsight(SQLModel, table=True):
    __tablename__ = "conversation_insights"
    __table_args__ = (
        _conversation_fk("conversation_insights"),
        sa.Index("ix_conversation_insights_ws_conv", "workspace_id", "conversation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    conversation_id: int
    kind: InsightKind = Field(sa_column=enum_column(InsightKind, "insight_kind", nullable=False))
    content: str = Field(sa_type=sa.Text, nullable=False)


class ActionItem(SQLModel, table=True):
    __tablename__ = "action_items"
    __table_args__ = (
        _conversation_fk("action_items"),
        sa.Index("ix_action_items_ws_conv", "workspace_id", "conversation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    conversation_id: int
    text: str = Field(max_length=1000)
    assignee_user_id: int | None = Field(default=None, foreign_key="users.id")
    done: bool = Field(default=False)


class ShareLink(SQLModel, table=True):
    """A pointer to a conversation; opening it still needs read permission on it."""

    __tablename__ = "share_links"
    __table_args__ = (
        _conversation_fk("share_links"),
        sa.Index("ix_share_links_ws_conv", "workspace_id", "conversation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    conversation_id: int
    token: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_by_user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

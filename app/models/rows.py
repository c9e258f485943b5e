"""What read paths get for a table's row: its columns as read-only attributes.

A lean select (app.domain.tenant.lean) and a prepared read (app.db.prepared) return
named tuples of the selected columns, not ORM entities; a service that changes a row
loads the entity. Each protocol here names one table's columns with the model's types,
so code that reads a row's columns (the GraphQL types' ``of``) is checked against what
the row really has. A stored row's ``id`` is an ``int`` (the model's ``int | None`` is
for an entity not yet inserted): code that takes a row or an entity says so
(``RoleRow | Role``) and reads the id with ``app.models.pk``. A prepared read declared with one of these
checks, when it first compiles, that its statement selects every column named (its
``RowShape``: app.domain.rows); tests/db/test_rows.py holds each to its table. Nothing
here imports more than the enums: app.auth's Viewer holds these rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from app.models.enums import BuiltinRole, InsightKind, MemberStatus, UserStatus


class UserRow(Protocol):
    """An account's columns (app.models.User)."""

    @property
    def id(self) -> int: ...

    @property
    def email(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def avatar_url(self) -> str | None: ...

    @property
    def status(self) -> UserStatus: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def deactivated_at(self) -> datetime | None: ...

    @property
    def sessions_valid_after(self) -> datetime | None: ...


class WorkspaceRow(Protocol):
    """A workspace's columns but its handbook (app.models.Workspace)."""

    @property
    def id(self) -> int: ...

    @property
    def slug(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def logo_url(self) -> str | None: ...

    @property
    def brand_primary_color(self) -> str | None: ...

    @property
    def brand_accent_color(self) -> str | None: ...

    @property
    def created_at(self) -> datetime: ...


class MemberRow(Protocol):
    """A membership's columns (app.models.Member)."""

    @property
    def id(self) -> int: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def user_id(self) -> int: ...

    @property
    def role_id(self) -> int: ...

    @property
    def status(self) -> MemberStatus: ...

    @property
    def joined_at(self) -> datetime: ...

    @property
    def deactivated_at(self) -> datetime | None: ...


class RoleRow(Protocol):
    """A role's columns (app.models.Role)."""

    @property
    def id(self) -> int: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def builtin(self) -> BuiltinRole | None: ...

    @property
    def created_at(self) -> datetime: ...


class TeamRow(Protocol):
    """A team's columns (app.models.Team)."""

    @property
    def id(self) -> int: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


class ConversationRow(Protocol):
    """A conversation's columns (app.models.Conversation)."""

    @property
    def id(self) -> int: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def title(self) -> str: ...

    @property
    def occurred_at(self) -> datetime: ...

    @property
    def duration_seconds(self) -> int: ...

    @property
    def host_user_id(self) -> int: ...

    @property
    def team_id(self) -> int | None: ...

    @property
    def created_at(self) -> datetime: ...


class ParticipantRow(Protocol):
    """A participant's columns (app.models.ConversationParticipant)."""

    @property
    def id(self) -> int: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def conversation_id(self) -> int: ...

    @property
    def user_id(self) -> int | None: ...

    @property
    def name(self) -> str: ...

    @property
    def email(self) -> str | None: ...


class InsightRow(Protocol):
    """An insight's columns (app.models.ConversationInsight)."""

    @property
    def id(self) -> int: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def conversation_id(self) -> int: ...

    @property
    def kind(self) -> InsightKind: ...

    @property
    def content(self) -> str: ...


class ActionItemRow(Protocol):
    """An action item's columns (app.models.ActionItem)."""

    @property
    def id(self) -> int: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def conversation_id(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def assignee_user_id(self) -> int | None: ...

    @property
    def done(self) -> bool: ...


class ShareLinkRow(Protocol):
    """A share link's columns (app.models.ShareLink)."""

    @property
    def id(self) -> int: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def conversation_id(self) -> int: ...

    @property
    def token(self) -> str: ...

    @property
    def created_by_user_id(self) -> int: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def expires_at(self) -> datetime | None: ...


class AIProviderRow(Protocol):
    """A provider's columns (app.models.AIProvider)."""

    @property
    def id(self) -> int: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def provider(self) -> str: ...

    @property
    def enabled(self) -> bool: ...

    @property
    def models(self) -> list[str]: ...

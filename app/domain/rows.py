"""The row shapes repositories declare for their reads (app.db.rows.RowShape): a
table's row type (app.models.rows), or a small one of their own."""

from __future__ import annotations

from typing import Protocol

from app.db.rows import RowShape
from app.models.rows import (
    ActionItemRow,
    AIProviderRow,
    ConversationRow,
    InsightRow,
    MemberRow,
    ParticipantRow,
    RoleRow,
    ShareLinkRow,
    TeamRow,
    UserRow,
)


class Total(Protocol):
    """A count's row."""

    @property
    def total(self) -> int: ...


class Found(Protocol):
    """An existence test's row."""

    @property
    def found(self) -> bool: ...


TOTAL = RowShape[Total](Total)
FOUND = RowShape[Found](Found)
USER_ROW = RowShape[UserRow](UserRow)
MEMBER_ROW = RowShape[MemberRow](MemberRow)
ROLE_ROW = RowShape[RoleRow](RoleRow)
TEAM_ROW = RowShape[TeamRow](TeamRow)
CONVERSATION_ROW = RowShape[ConversationRow](ConversationRow)
PARTICIPANT_ROW = RowShape[ParticipantRow](ParticipantRow)
INSIGHT_ROW = RowShape[InsightRow](InsightRow)
ACTION_ITEM_ROW = RowShape[ActionItemRow](ActionItemRow)
SHARE_LINK_ROW = RowShape[ShareLinkRow](ShareLinkRow)
AI_PROVIDER_ROW = RowShape[AIProviderRow](AIProviderRow)

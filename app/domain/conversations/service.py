"""Share links: a pointer to a conversation. Creating one needs the share permission
at a scope that covers the conversation; opening one still needs read permission."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import PermissionSet, Scope
from app.domain.actor import Actor
from app.domain.changes import record_change
from app.domain.conversations.repository import Visibility, conversations_by_ids
from app.domain.errors import Refusal, UserErrorCode
from app.models import ShareLink, pk


def not_shareable() -> Refusal:
    """The one answer for a conversation the actor may not share, whatever the reason:
    outside its read or share scope, in another workspace, or no such conversation."""
    return Refusal(
        UserErrorCode.NOT_FOUND,
        "No such conversation that you may share.",
        ["input", "conversationId"],
    )


def share_visibility(
    permissions: PermissionSet, user_id: int, team_ids: frozenset[int]
) -> Visibility | None:
    """Which conversations the holder may share (None: none): those readable AND within
    the share scope, i.e. at the narrower of the two scopes."""
    read_scope = permissions.scope_of("conversations", "read")
    share_scope = permissions.scope_of("conversations", "share")
    if read_scope is None or share_scope is None:
        return None
    return Visibility(scope=Scope(min(read_scope, share_scope)), user_id=user_id, team_ids=team_ids)


async def create_share_link(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    conversation_id: int,
    *,
    team_ids: frozenset[int],
) -> ShareLink:
    within = share_visibility(actor.permissions, actor.user_id, team_ids)
    found = (
        await conversations_by_ids(session, workspace_id, within, [conversation_id])
        if within is not None
        else []
    )
    if not found:
        raise not_shareable()
    link = ShareLink(
        workspace_id=workspace_id,
        conversation_id=conversation_id,
        token=secrets.token_urlsafe(24),
        created_by_user_id=actor.user_id,
    )
    session.add(link)
    await session.flush()
    await record_change(
        session,
        actor,
        workspace_id,
        "conversation.shared",
        ("Conversation", conversation_id),
        {"shareLinkId": pk(link)},
    )
    return link

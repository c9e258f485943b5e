"""Share links: a pointer to a conversation. Creating, listing or revoking one needs
the share permission at a scope that covers the conversation (and reading it); opening
one still needs read permission. A revoked link is deleted: it then answers like one
that never existed."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import PermissionSet, Scope
from app.domain.actor import Actor
from app.domain.changes import record_change
from app.domain.conversations.repository import (
    Visibility,
    conversations_by_ids,
    share_link_in,
)
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


async def _may_share(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    conversation_id: int,
    team_ids: frozenset[int],
) -> bool:
    """Whether the actor may share the conversation (``share_visibility`` reaches it)."""
    within = share_visibility(actor.permissions, actor.user_id, team_ids)
    if within is None:
        return False
    return bool(await conversations_by_ids(session, workspace_id, within, [conversation_id]))


def share_link_not_found() -> Refusal:
    """The one answer for a link the actor may not revoke: another workspace's, of a
    conversation outside their read or share scope, revoked already, or none."""
    return Refusal(
        UserErrorCode.NOT_FOUND,
        "No such share link that you may revoke.",
        ["input", "shareLinkId"],
    )


async def create_share_link(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    conversation_id: int,
    *,
    team_ids: frozenset[int],
) -> ShareLink:
    if not await _may_share(session, workspace_id, actor, conversation_id, team_ids):
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


async def revoke_share_link(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    link_id: int,
    *,
    team_ids: frozenset[int],
) -> int:
    """Delete the link (it stops opening at once). Returns its id."""
    link = await share_link_in(session, workspace_id, link_id)
    if link is None or not await _may_share(
        session, workspace_id, actor, link.conversation_id, team_ids
    ):
        raise share_link_not_found()
    await session.delete(link)
    await record_change(
        session,
        actor,
        workspace_id,
        "conversation.share_link_revoked",
        ("Conversation", link.conversation_id),
        {"shareLinkId": link_id},
    )
    return link_id

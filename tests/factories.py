"""Plain async factories for arranging data in tests, and lookups of the demo data.

Each factory takes the session and keyword overrides, adds its rows and flushes (once,
even for the bulk ones), and leaves committing to the test. Lookups find the demo rows
by their natural keys, so tests never hard-code primary keys.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.auth.api_keys import generate_api_key
from app.db.types import utcnow
from app.domain.webhooks.secrets import seal
from app.graphql.ids import encode_id
from app.models import (
    ApiKey,
    ApiKeySecret,
    Conversation,
    ConversationParticipant,
    Invitation,
    Member,
    Role,
    RolePermission,
    ShareLink,
    Team,
    TeamMember,
    User,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    Workspace,
    pk,
)

_serial = itertools.count(1)


# --- lookups of existing rows -------------------------------------------------------


async def workspace_id(session: AsyncSession, slug: str) -> int:
    row = (await session.execute(select(Workspace).where(Workspace.slug == slug))).scalars().one()
    return pk(row)


async def user_id(session: AsyncSession, email: str) -> int:
    row = (await session.execute(select(User).where(User.email == email))).scalars().one()
    return pk(row)


async def role_id(session: AsyncSession, workspace: int, name: str) -> int:
    stmt = select(Role).where(Role.workspace_id == workspace, Role.name == name)
    return pk((await session.execute(stmt)).scalars().one())


async def team_id(session: AsyncSession, workspace: int, name: str) -> int:
    stmt = select(Team).where(Team.workspace_id == workspace, Team.name == name)
    return pk((await session.execute(stmt)).scalars().one())


async def member(session: AsyncSession, workspace: int, email: str) -> Member:
    stmt = select(Member).where(
        Member.workspace_id == workspace, Member.user_id == await user_id(session, email)
    )
    return (await session.execute(stmt)).scalars().one()


async def conversation_id(session: AsyncSession, workspace: int, title: str) -> int:
    stmt = select(Conversation).where(
        Conversation.workspace_id == workspace, Conversation.title == title
    )
    return pk((await session.execute(stmt)).scalars().one())


async def gid(session: AsyncSession, type_name: str, *natural_key: str) -> str:
    """The global ID of an object by natural key: ("User", email), ("Workspace", slug),
    ("Member", slug, email), ("Team", slug, name), ("Role", slug, name),
    ("Conversation", slug, title), ("ApiKey", slug, name), ("Invitation", slug, email),
    ("ShareLink", slug, token), ("WebhookEndpoint", slug, url), ("WebhookDelivery", slug,
    event id)."""
    if type_name == "User":
        return encode_id("User", await user_id(session, natural_key[0]))
    ws = await workspace_id(session, natural_key[0])
    if type_name == "Workspace":
        return encode_id("Workspace", ws)
    rest = natural_key[1]
    if type_name == "Member":
        return encode_id("Member", pk(await member(session, ws, rest)))
    if type_name == "Team":
        return encode_id("Team", await team_id(session, ws, rest))
    if type_name == "Role":
        return encode_id("Role", await role_id(session, ws, rest))
    if type_name == "Conversation":
        return encode_id("Conversation", await conversation_id(session, ws, rest))
    if type_name == "ApiKey":
        stmt = select(ApiKey).where(ApiKey.workspace_id == ws, ApiKey.name == rest)
        return encode_id("ApiKey", pk((await session.execute(stmt)).scalars().one()))
    if type_name == "Invitation":
        stmt = select(Invitation).where(Invitation.workspace_id == ws, Invitation.email == rest)
        return encode_id("Invitation", pk((await session.execute(stmt)).scalars().one()))
    if type_name == "ShareLink":
        stmt = select(ShareLink).where(ShareLink.workspace_id == ws, ShareLink.token == rest)
        return encode_id("ShareLink", pk((await session.execute(stmt)).scalars().one()))
    if type_name == "WebhookEndpoint":
        found = select(WebhookEndpoint).where(
            WebhookEndpoint.workspace_id == ws, WebhookEndpoint.url == rest
        )
        return encode_id("WebhookEndpoint", pk((await session.execute(found)).scalars().one()))
    if type_name == "WebhookDelivery":
        found = select(WebhookDelivery).where(  # type: ignore[assignment]
            WebhookDelivery.workspace_id == ws, WebhookDelivery.event_id == rest
        )
        return encode_id("WebhookDelivery", pk((await session.execute(found)).scalars().one()))
    raise ValueError(type_name)


# --- factories ----------------------------------------------------------------------


def _user(**kw: Any) -> User:
    n = next(_serial)
    fields: dict[str, Any] = {"email": f"user{n}@factory.test", "name": f"Factory User {n:03d}"}
    fields.update(kw)
    return User(**fields)


async def create_user(session: AsyncSession, **kw: Any) -> User:
    user = _user(**kw)
    session.add(user)
    await session.flush()
    return user


async def create_users(session: AsyncSession, count: int, **kw: Any) -> list[User]:
    users = [_user(**kw) for _ in range(count)]
    session.add_all(users)
    await session.flush()
    return users


async def add_members(
    session: AsyncSession,
    workspace: int,
    user_ids: Sequence[int],
    role: int,
    *,
    team_ids: Sequence[int] = (),
    **kw: Any,
) -> list[Member]:
    """Memberships of ``user_ids`` (one flush), each in every team of ``team_ids``."""
    members = [Member(workspace_id=workspace, user_id=u, role_id=role, **kw) for u in user_ids]
    session.add_all(members)
    await session.flush()
    session.add_all(
        TeamMember(workspace_id=workspace, team_id=t, member_id=pk(m))
        for m in members
        for t in team_ids
    )
    await session.flush()
    return members


async def add_member(
    session: AsyncSession,
    workspace: int,
    user: int,
    role: int,
    *,
    team_ids: Sequence[int] = (),
    **kw: Any,
) -> Member:
    (created,) = await add_members(session, workspace, [user], role, team_ids=team_ids, **kw)
    return created


async def add_to_team(
    session: AsyncSession, workspace: int, team: int, member_ids: Sequence[int]
) -> None:
    session.add_all(
        TeamMember(workspace_id=workspace, team_id=team, member_id=m) for m in member_ids
    )
    await session.flush()


async def create_role(
    session: AsyncSession, workspace: int, permissions: Sequence[str], **kw: Any
) -> Role:
    """A custom role holding ``permissions`` (stored as given, wildcards included)."""
    fields: dict[str, Any] = {"name": f"Role {next(_serial)}", "description": ""}
    fields.update(kw)
    role = Role(workspace_id=workspace, **fields)
    session.add(role)
    await session.flush()
    session.add_all(
        RolePermission(workspace_id=workspace, role_id=pk(role), permission=p) for p in permissions
    )
    await session.flush()
    return role


async def create_team(session: AsyncSession, workspace: int, **kw: Any) -> Team:
    fields: dict[str, Any] = {"name": f"Team {next(_serial)}", "description": ""}
    fields.update(kw)
    team = Team(workspace_id=workspace, **fields)
    session.add(team)
    await session.flush()
    return team


async def create_conversations(
    session: AsyncSession,
    workspace: int,
    count: int,
    *,
    host: int,
    team: int | None = None,
    participant_ids: Sequence[int] = (),
    start: datetime | None = None,
    **kw: Any,
) -> list[Conversation]:
    """``count`` conversations an hour apart (the host and ``participant_ids`` take
    part in each, plus one guest without an account); two flushes in all."""
    start = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    title = kw.pop("title", None)
    rows = [
        Conversation(
            workspace_id=workspace,
            title=title or f"Factory meeting {next(_serial)}",
            occurred_at=start + timedelta(hours=i),
            duration_seconds=600,
            host_user_id=host,
            team_id=team,
            **kw,
        )
        for i in range(count)
    ]
    session.add_all(rows)
    await session.flush()
    people = [host, *(p for p in participant_ids if p != host)]
    session.add_all(
        ConversationParticipant(
            workspace_id=workspace, conversation_id=pk(c), user_id=u, name=f"User {u}"
        )
        for c in rows
        for u in people
    )
    session.add_all(
        ConversationParticipant(workspace_id=workspace, conversation_id=pk(c), name="Guest")
        for c in rows
    )
    await session.flush()
    return rows


async def create_conversation(
    session: AsyncSession, workspace: int, *, host: int, **kw: Any
) -> Conversation:
    (created,) = await create_conversations(session, workspace, 1, host=host, **kw)
    return created


async def create_api_key(
    session: AsyncSession,
    workspace: int,
    creator: int,
    permissions: Sequence[str],
    **kw: Any,
) -> str:
    """An API key row (as the createApiKey mutation would store it); returns the secret."""
    new = generate_api_key()
    fields: dict[str, Any] = {"name": f"Key {next(_serial)}"}
    fields.update(kw)
    key = ApiKey(
        workspace_id=workspace,
        prefix=new.prefix,
        permissions=list(permissions),
        created_by_user_id=creator,
        **fields,
    )
    session.add(key)
    await session.flush()
    session.add(
        ApiKeySecret(api_key_id=pk(key), workspace_id=workspace, secret_hash=new.secret_hash)
    )
    await session.flush()
    return new.secret


async def create_invitation(
    session: AsyncSession,
    workspace: int,
    email: str,
    *,
    role: int,
    invited_by: int,
    team_ids: Sequence[int] = (),
    **kw: Any,
) -> Invitation:
    """A pending invitation (as addMember would store it)."""
    invitation = Invitation(
        workspace_id=workspace,
        email=email,
        role_id=role,
        team_ids=list(team_ids),
        invited_by_user_id=invited_by,
        **kw,
    )
    session.add(invitation)
    await session.flush()
    return invitation


async def create_share_link(
    session: AsyncSession, workspace: int, conversation: int, *, created_by: int, **kw: Any
) -> ShareLink:
    """A share link to the conversation (as createConversationShareLink would store it);
    ``token`` defaults to a fresh one."""
    fields: dict[str, Any] = {"token": f"token-{next(_serial)}"}
    fields.update(kw)
    link = ShareLink(
        workspace_id=workspace,
        conversation_id=conversation,
        created_by_user_id=created_by,
        **fields,
    )
    session.add(link)
    await session.flush()
    return link


async def create_webhook_endpoint(
    session: AsyncSession, workspace: int, creator: int, url: str = "http://127.0.0.1:9/hook"
) -> tuple[int, int]:
    """A webhook endpoint (secret ``whsec_`` + zeros) with one FAILED delivery (and its
    last attempt's record); their primary keys."""
    endpoint = WebhookEndpoint(
        workspace_id=workspace,
        url=url,
        secret_sealed=seal("whsec_" + "A" * 32, workspace),
        created_by_user_id=creator,
    )
    session.add(endpoint)
    await session.flush()
    delivery = WebhookDelivery(
        workspace_id=workspace,
        endpoint_id=pk(endpoint),
        event_id=f"msg_{workspace}_{pk(endpoint)}",
        event_type="team.created",
        payload="{}",
        status=WebhookDeliveryStatus.FAILED,
        attempts=8,
        next_attempt_at=None,
    )
    session.add(delivery)
    await session.flush()
    attempt = WebhookDeliveryAttempt(
        workspace_id=workspace,
        delivery_id=pk(delivery),
        attempt=8,
        started_at=utcnow(),
        duration_ms=10,
        error="timeout",
    )
    session.add(attempt)
    await session.flush()
    return pk(endpoint), pk(delivery)

"""Creating a workspace (an operator action, not self-serve)."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import MEMBER_PERMISSIONS
from app.domain.users.service import get_or_create_user
from app.domain.workspaces.repository import workspace_by_slug
from app.models import (
    BuiltinRole,
    IntelligenceSettings,
    Member,
    Plan,
    Role,
    RolePermission,
    Subscription,
    SubscriptionStatus,
    Workspace,
)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class WorkspaceCreationError(ValueError):
    pass


async def create_workspace(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    admin_email: str,
    admin_name: str | None = None,
    plan: Plan = Plan.FREE,
    seats: int = 5,
) -> tuple[Workspace, dict[BuiltinRole, Role], Member]:
    """A workspace with its built-in Admin and Member roles, default settings,
    a subscription, and its first Admin (the account is created if needed)."""
    if not SLUG_RE.match(slug):
        raise WorkspaceCreationError(
            f"'{slug}' is not a valid slug: use 1-63 lowercase letters, digits or inner hyphens"
        )
    name = name.strip()
    if not name or len(name) > 100:
        raise WorkspaceCreationError("the name must be 1-100 characters")
    if await workspace_by_slug(session, slug) is not None:
        raise WorkspaceCreationError(f"a workspace with slug '{slug}' already exists")

    workspace = Workspace(slug=slug, name=name)
    session.add(workspace)
    await session.flush()
    assert workspace.id is not None
    ws = workspace.id

    admin = Role(
        workspace_id=ws,
        name="Admin",
        builtin=BuiltinRole.ADMIN,
        description="Every standard permission at the all scope. Cannot be edited or deleted.",
    )
    member = Role(
        workspace_id=ws,
        name="Member",
        builtin=BuiltinRole.MEMBER,
        description="Reads the workspace, its own team's conversations and insights.",
    )
    session.add_all([admin, member])
    await session.flush()
    assert member.id is not None and admin.id is not None
    session.add_all(
        [
            RolePermission(workspace_id=ws, role_id=member.id, permission=p)
            for p in MEMBER_PERMISSIONS
        ]
    )
    session.add(IntelligenceSettings(workspace_id=ws))
    session.add(
        Subscription(workspace_id=ws, plan=plan, status=SubscriptionStatus.ACTIVE, seats=seats)
    )
    user = await get_or_create_user(session, admin_email, admin_name)
    assert user.id is not None
    first_admin = Member(workspace_id=ws, user_id=user.id, role_id=admin.id)
    session.add(first_admin)
    await session.flush()
    return workspace, {BuiltinRole.ADMIN: admin, BuiltinRole.MEMBER: member}, first_admin

"""What a membership row grants its member as the viewer (app.auth.viewer.Membership)."""

from __future__ import annotations

from app.auth.permissions import admin_permissions, permission_set
from app.auth.viewer import Membership
from app.domain.members.repository import MembershipRow
from app.models import BuiltinRole

ADMIN_GRANTED = tuple(sorted(admin_permissions()))


def membership_of(row: MembershipRow) -> Membership:
    """The viewer's membership as one of their membership rows grants it."""
    granted = ADMIN_GRANTED if row.builtin == BuiltinRole.ADMIN else tuple(row.permissions)
    return Membership(
        workspace_id=row.workspace_id,
        member_id=row.member_id,
        role_id=row.role_id,
        builtin=row.builtin,
        granted=granted,
        permissions=permission_set(granted),
        team_ids=row.team_ids,
        workspace=row.workspace,
    )

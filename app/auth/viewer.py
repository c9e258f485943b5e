"""Who is asking: the authenticated principal and what they hold in each workspace.
Built once per request by app.edge.authenticate; read-only afterwards."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.auth.permissions import PermissionSet
from app.models.enums import BuiltinRole
from app.models.rows import UserRow, WorkspaceRow


@dataclass(frozen=True, slots=True)
class Membership:
    """The viewer's ACTIVE membership of one workspace."""

    workspace_id: int
    member_id: int
    role_id: int
    builtin: BuiltinRole | None
    granted: tuple[str, ...]  # as stored (may contain wildcards)
    permissions: PermissionSet
    team_ids: frozenset[int]
    # The workspace row as authentication read it, without the handbook.
    workspace: WorkspaceRow


@dataclass(frozen=True, slots=True)
class Viewer:
    user: UserRow  # the account as a lean row
    memberships: Mapping[int, Membership]
    api_key_id: int | None = None  # set when authenticated by an API key

    @property
    def user_id(self) -> int:
        return int(self.user.id)

    @property
    def workspace_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self.memberships))

    def membership(self, workspace_id: int) -> Membership | None:
        return self.memberships.get(workspace_id)

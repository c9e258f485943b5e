"""The request's bound repositories (``app.domain.bound``), as the read path meets them.

``WorkspaceRepository``: every read of one workspace the request is bound to, by area
(``.members``, ``.teams``, ``.roles``, ``.conversations``, ``.invitations``,
``.settings``, ``.audit``, ``.webhooks``), each made on first use. Made only from
``RequestDB.bound(workspace_id)``; the GraphQL Context makes one per (request,
workspace), for a workspace the viewer is a member of.

``ViewerRepository``: what is read for the viewer's own account rather than within one
workspace: the invitations addressed to them, their memberships, accounts by id, a
share link or a node among their workspaces.

Statements of other modules are called through their module (``nodes.rows_among``), so
that what replaces one there (a test's fault injection) is what runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from sqlmodel import SQLModel

from app.auth.viewer import Viewer
from app.db.session import RequestDB, WorkspaceDB
from app.domain.accounts import repository as accounts
from app.domain.audit import AuditRepository
from app.domain.bound import Reads
from app.domain.conversations.repository import ConversationRepository
from app.domain.invitations import repository as invitations
from app.domain.invitations.repository import InvitationRepository, InvitationView
from app.domain.members import repository as members
from app.domain.members.repository import MemberRepository, MembershipRow
from app.domain.nodes import repository as nodes
from app.domain.pagination import Page, Window
from app.domain.roles.repository import RoleRepository
from app.domain.teams.repository import TeamRepository
from app.domain.users import repository as users
from app.domain.webhooks.repository import WebhookRepository
from app.domain.workspaces import repository as workspaces
from app.domain.workspaces.repository import SettingsRepository
from app.models import Invitation, ShareLink, User, Workspace
from app.models.rows import UserRow


class WorkspaceRepository:
    """The reads of one workspace, by area (see the module's docstring)."""

    def __init__(self, db: WorkspaceDB) -> None:
        self._db = db
        self.workspace_id = db.workspace_id

    @cached_property
    def members(self) -> MemberRepository:
        return MemberRepository(self._db)

    @cached_property
    def teams(self) -> TeamRepository:
        return TeamRepository(self._db)

    @cached_property
    def roles(self) -> RoleRepository:
        return RoleRepository(self._db)

    @cached_property
    def conversations(self) -> ConversationRepository:
        return ConversationRepository(self._db)

    @cached_property
    def invitations(self) -> InvitationRepository:
        return InvitationRepository(self._db)

    @cached_property
    def settings(self) -> SettingsRepository:
        return SettingsRepository(self._db)

    @cached_property
    def audit(self) -> AuditRepository:
        return AuditRepository(self._db)

    @cached_property
    def webhooks(self) -> WebhookRepository:
        return WebhookRepository(self._db)


class ViewerRepository(Reads):
    """Reads for the viewer's own account: by their user id and e-mail, among their
    workspaces (as authentication loaded them)."""

    __slots__ = ("_email", "_user_id", "_workspace_ids")

    def __init__(self, db: RequestDB, viewer: Viewer) -> None:
        super().__init__(db)
        self._user_id = viewer.user_id
        self._email = viewer.user.email
        self._workspace_ids = viewer.workspace_ids

    async def invitations(self) -> list[InvitationView]:
        """Pending invitations addressed to the viewer's account, oldest first."""
        return await self._run(invitations.invitations_addressed_to, self._email)

    async def invitations_page(self, window: Window) -> Page[InvitationView]:
        return await self._run(invitations.invitations_addressed_to_page, self._email, window)

    async def invitations_count(self) -> int:
        return await self._run(invitations.invitations_addressed_to_count, self._email)

    async def invitation(self, invitation_id: int) -> Invitation | None:
        """The pending invitation with this id if it is addressed to the viewer."""
        return await self._run(invitations.invitation_addressed_to, invitation_id, self._email)

    async def memberships(self) -> list[MembershipRow]:
        """The viewer's memberships as the tenant context lets them be read."""
        return await self._run(members.memberships_of_user, self._user_id)

    async def membership_workspace_ids(self) -> list[int]:
        """Every workspace where the viewer has a membership, deactivated ones too."""
        return await self._run(accounts.membership_workspace_ids, self._user_id)

    async def share_link(self, token: str) -> ShareLink | None:
        """An unexpired share link of one of the viewer's workspaces."""
        return await self._run(workspaces.share_link_by_token, token, self._workspace_ids)

    async def users(self, ids: Sequence[int]) -> list[UserRow]:
        """Accounts by id (row-level security: those sharing a workspace with the viewer)."""
        return await self._run(users.users_by_ids, ids)

    async def nodes(
        self, wanted: Mapping[type[SQLModel], Sequence[int]], user_workspaces: Sequence[int]
    ) -> dict[type[SQLModel], list[Any]]:
        """Rows by primary key, per table, among the viewer's workspaces only, under one
        hold of the session: workspaces among theirs, tenant rows of theirs, and users
        with a membership in one of ``user_workspaces`` (where the viewer may read
        members)."""
        found: dict[type[SQLModel], list[Any]] = {}
        async with self._db.session() as s:
            for model, pks in wanted.items():
                if model is Workspace:
                    found[model] = await nodes.workspaces_among(s, pks, self._workspace_ids)
                elif model is User:
                    found[model] = await nodes.users_sharing(s, pks, user_workspaces)
                else:
                    found[model] = await nodes.rows_among(s, model, pks, self._workspace_ids)
        return found

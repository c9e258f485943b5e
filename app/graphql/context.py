"""The per-request Context: who is asking, the request's unit of work, and the
repositories and loaders bound to each workspace the query touches (created on first
use, once per workspace)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry

from app.auth.permissions import Scope
from app.auth.viewer import Viewer
from app.config import Settings
from app.db.session import RequestDB
from app.domain.conversations.repository import Visibility
from app.domain.conversations.service import share_visibility
from app.domain.repositories import ViewerRepository, WorkspaceRepository
from app.graphql.errors import NotFound
from app.graphql.loaders import NodeLocator, UserLoader, WorkspaceLoaders


@dataclass(eq=False)
class Context:
    db: RequestDB
    viewer: Viewer
    settings: Settings
    request_id: str
    _users: UserLoader | None = None
    _own: ViewerRepository | None = None
    _repositories: dict[int, WorkspaceRepository] = field(default_factory=dict)
    _workspaces: dict[int, WorkspaceLoaders] = field(default_factory=dict)
    _decisions: dict[tuple[int, str | None], bool] = field(default_factory=dict)
    _nodes: NodeLocator | None = None
    # The operation's estimated cost and the principal's bucket after the charge
    # (app.edge.pipeline), for Query.rateLimit.
    cost: tuple[int, Any] | None = None
    # Look-ahead shapes (app.graphql.lookahead), per field node and path: the document's
    # own (app.edge.operation.PreparedDocument.shapes) when the edge runs it.
    shapes: dict[object, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def create(cls, db: RequestDB, viewer: Viewer, settings: Settings, request_id: str) -> Context:
        return cls(db=db, viewer=viewer, settings=settings, request_id=request_id)

    @property
    def own(self) -> ViewerRepository:
        """Reads for the viewer's own account (built on first use)."""
        if self._own is None:
            self._own = ViewerRepository(self.db, self.viewer)
        return self._own

    @property
    def users(self) -> UserLoader:
        """Accounts by id (built on first use)."""
        if self._users is None:
            self._users = UserLoader(self.own)
        return self._users

    def allows(self, workspace_id: int, permission: str | None) -> bool:
        """Does the viewer hold ``permission`` (None: mere membership) in the workspace?
        Decided once per (workspace, permission) per request."""
        key = (workspace_id, permission)
        decision = self._decisions.get(key)
        if decision is None:
            membership = self.viewer.membership(workspace_id)
            decision = membership is not None and (
                permission is None or membership.permissions.allows(permission)
            )
            self._decisions[key] = decision
        return decision

    def repository(self, workspace_id: int) -> WorkspaceRepository:
        """The reads of a workspace the viewer belongs to (NOT_FOUND for any other),
        bound to it (app.domain.repositories): made once per workspace per request."""
        repository = self._repositories.get(workspace_id)
        if repository is None:
            if self.viewer.membership(workspace_id) is None:
                raise NotFound("No such workspace.")
            repository = WorkspaceRepository(self.db.bound(workspace_id))
            self._repositories[workspace_id] = repository
        return repository

    def workspace(self, workspace_id: int) -> WorkspaceLoaders:
        """Loaders of a workspace the viewer belongs to (NOT_FOUND for any other), over
        its repository."""
        loaders = self._workspaces.get(workspace_id)
        if loaders is None:
            repository = self.repository(workspace_id)
            membership = self.viewer.membership(workspace_id)
            assert membership is not None  # the repository's check
            loaders = WorkspaceLoaders(
                repository,
                self.conversation_visibility(workspace_id),
                self.visibility(workspace_id, "insights"),
                share_visibility(membership.permissions, self.viewer.user_id, membership.team_ids),
            )
            self._workspaces[workspace_id] = loaders
        return loaders

    def targeted_workspace(self) -> int | None:
        """The one workspace the request read or acted in (None: none, or several),
        for the access log (app.observability.access)."""
        ids = set(self._repositories)  # every workspace whose loaders were made too
        ids.update(w for (w, _), granted in self._decisions.items() if granted)
        return next(iter(ids)) if len(ids) == 1 else None

    def forget(self, workspace_id: int) -> None:
        """After a change: drop what this request cached about the workspace, so what
        is read next (the mutation's payload) shows the new state."""
        self._workspaces.pop(workspace_id, None)
        self._repositories.pop(workspace_id, None)
        self._nodes = None
        self._users = None
        self._own = None  # the viewer may have joined or left workspaces

    @property
    def nodes(self) -> NodeLocator:
        """Batched lookups by global ID among the viewer's workspaces."""
        if self._nodes is None:
            ids = self.viewer.workspace_ids
            readable = [w for w in ids if self.allows(w, "members:read:all")]
            self._nodes = NodeLocator(self.own, readable)
        return self._nodes

    def conversation_visibility(self, workspace_id: int) -> Visibility | None:
        """Which conversations the viewer may read here (None: none at all)."""
        return self.visibility(workspace_id, "conversations")

    def visibility(
        self, workspace_id: int, resource: str, action: str = "read"
    ) -> Visibility | None:
        """Which conversations the viewer's ``resource:action`` scope reaches here (None:
        none at all); ``resource`` is a conversation-scoped resource (conversations,
        insights)."""
        membership = self.viewer.membership(workspace_id)
        if membership is None:
            return None
        scope: Scope | None = membership.permissions.scope_of(resource, action)
        if scope is None:
            return None
        return Visibility(scope=scope, user_id=self.viewer.user_id, team_ids=membership.team_ids)


Info = strawberry.Info[Context, None]

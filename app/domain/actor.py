"""Who performs a change, as services see it (never a GraphQL ``info``)."""

from __future__ import annotations

from dataclasses import dataclass

from app.auth.permissions import PermissionSet


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    api_key_id: int | None
    request_id: str | None
    # What the actor holds in the workspace being changed (for escalation checks).
    permissions: PermissionSet
    member_id: int | None = None

"""The public webhook events: which recorded changes are sent, under what name, and the
body each delivery carries.

A change recorded with ``record_change`` (app/domain/changes.py) under an action listed
in ``EVENTS`` becomes one event of the public type given there; other actions (a
webhook endpoint's own changes among them) send nothing. The body is JSON::

    {"type": "member.role_changed", "timestamp": "2026-12-02T10:00:00.000000+00:00",
     "data": {"workspaceId": "…", "object": {"type": "Member", "id": "…"},
              "actorId": "…" | null, "apiKeyId": "…" | null, "action": "member.role_changed",
              "changes": {"role": {"before": "Member", "after": "Admin"}}}}

Every ID in it is a global ID (the ``id`` the API returns for that object), never a
database key; ``changes`` is the audit event's summary (never a secret).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from app.domain.ids import encode_id

# audit action -> (public event type, what it means). Public types are part of the
# contract (docs/partners.md#events): add new ones, never rename one.
EVENTS: dict[str, tuple[str, str]] = {
    "member.invited": ("invitation.created", "Someone was invited to the workspace."),
    "invitation.accepted": ("member.added", "An invitee accepted: a new (or returning) member."),
    "invitation.declined": ("invitation.declined", "An invitee declined the invitation."),
    "invitation.revoked": ("invitation.revoked", "A pending invitation was withdrawn."),
    "member.role_changed": ("member.role_changed", "A member's role changed (maybe teams too)."),
    "member.teams_changed": ("member.teams_changed", "A member's teams changed."),
    "member.deactivated": ("member.deactivated", "A member was deactivated."),
    "member.reactivated": ("member.reactivated", "A member was reactivated."),
    "member.removed": ("member.removed", "A member was removed from the workspace."),
    "role.created": ("role.created", "A custom role was created."),
    "role.updated": ("role.updated", "A role's name, description or permissions changed."),
    "role.deleted": ("role.deleted", "A custom role was deleted."),
    "team.created": ("team.created", "A team was created."),
    "team.updated": ("team.updated", "A team's name, description or members changed."),
    "team.deleted": ("team.deleted", "A team was deleted."),
    "settings.general_updated": ("settings.updated", "General settings changed."),
    "settings.intelligence_updated": ("settings.updated", "AI settings changed."),
    "integration.connected": ("integration.connected", "An integration was connected."),
    "integration.disconnected": ("integration.disconnected", "An integration was disconnected."),
    "subscription.canceled": ("subscription.canceled", "The subscription was canceled."),
    "account.deleted": ("account.deleted", "A member deleted their account (and left)."),
    "api_key.created": ("api_key.created", "An API key was created."),
    "api_key.revoked": ("api_key.revoked", "An API key was revoked."),
    "conversation.shared": ("conversation.shared", "A share link to a conversation was made."),
    "conversation.share_link_revoked": (
        "conversation.share_link_revoked",
        "A conversation's share link was revoked.",
    ),
}

# The public types, in a stable order, each with what it means.
EVENT_TYPES: dict[str, str] = {}
for _type, _meaning in sorted(EVENTS.values()):
    EVENT_TYPES.setdefault(_type, _meaning)
# Types with several sources say which one in ``data.section``.
_SECTIONS = {
    "settings.general_updated": "general",
    "settings.intelligence_updated": "intelligence",
}

# Keys of a summary holding database keys, and the type whose global ID replaces them.
_ID_KEYS = {
    "memberId": "Member",
    "memberIds": "Member",
    "teamIds": "Team",
    "shareLinkId": "ShareLink",
}


def new_event_id() -> str:
    """A Standard Webhooks message id: ``msg_`` and 26 random hex digits (104 bits)."""
    return "msg_" + secrets.token_hex(13)


def _global(type_name: str, value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return encode_id(type_name, value)
    if isinstance(value, list):
        return [_global(type_name, v) for v in value]
    if isinstance(value, dict):  # {"before": …, "after": …}
        return {k: _global(type_name, v) for k, v in value.items()}
    return value


def _public(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _global(_ID_KEYS[k], v) if k in _ID_KEYS else v for k, v in summary.items()}


def render(
    action: str,
    *,
    at: datetime,
    workspace_id: int,
    target_type: str,
    target_id: int,
    actor_user_id: int | None,
    actor_api_key_id: int | None,
    summary: Mapping[str, Any],
) -> tuple[str, str] | None:
    """(public type, JSON body) of the event a change recorded as ``action`` sends;
    None when it sends none."""
    known = EVENTS.get(action)
    if known is None:
        return None
    event_type = known[0]
    data: dict[str, Any] = {
        "workspaceId": encode_id("Workspace", workspace_id),
        "object": {"type": target_type, "id": encode_id(target_type, target_id)},
        "actorId": encode_id("User", actor_user_id) if actor_user_id is not None else None,
        "apiKeyId": encode_id("ApiKey", actor_api_key_id) if actor_api_key_id else None,
        "action": action,
        "changes": _public(summary),
    }
    if action in _SECTIONS:
        data["section"] = _SECTIONS[action]
    body = {"type": event_type, "timestamp": at.isoformat(), "data": data}
    return event_type, orjson.dumps(body).decode()

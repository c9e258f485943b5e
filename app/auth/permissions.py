"""The permission model: ``resource:action:scope`` strings, the catalogue of standard
permissions, the built-in roles, and matching a requirement against a held set.

Pure functions over strings; nothing here touches the database or GraphQL.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache


class Scope(enum.IntEnum):
    """Scopes nest: ``own`` ⊂ ``team`` ⊂ ``all``."""

    OWN = 1
    TEAM = 2
    ALL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


WILDCARD = "*"

_CRUD = ("read", "create", "update", "delete")
_ALL_ONLY = (Scope.ALL,)
_NESTED = (Scope.OWN, Scope.TEAM, Scope.ALL)

# resource -> (actions, scopes it can be granted at)
CATALOGUE: dict[str, tuple[tuple[str, ...], tuple[Scope, ...]]] = {
    "organization": (("read", "update"), _ALL_ONLY),
    "members": (_CRUD, _ALL_ONLY),
    "teams": (_CRUD, _ALL_ONLY),
    "roles": (_CRUD, _ALL_ONLY),
    "integrations": (_CRUD, _ALL_ONLY),
    "billing": (("read", "update"), _ALL_ONLY),
    "conversations": ((*_CRUD, "share"), _NESTED),
    "insights": (_CRUD, _NESTED),
    "intelligence": (("read", "update"), _ALL_ONLY),
    "api_keys": (("read", "create", "delete"), _ALL_ONLY),
    "audit": (("read",), _ALL_ONLY),
    "webhooks": (_CRUD, _ALL_ONLY),
}

# (resource, action) -> what holding it lets one do, for ``Query.permissionCatalogue``
# (a custom-role editor shows it beside each checkbox). One entry per catalogued pair.
DESCRIPTIONS: dict[tuple[str, str], str] = {
    (
        "organization",
        "read",
    ): "See the workspace's general settings (name, logo, handbook, branding).",
    ("organization", "update"): "Change the workspace's general settings.",
    ("members", "read"): "See the members, their roles and teams, and pending invitations.",
    ("members", "create"): "Invite people and withdraw pending invitations.",
    ("members", "update"): "Change members' roles and teams; deactivate and reactivate members.",
    ("members", "delete"): "Remove members from the workspace.",
    ("teams", "read"): "See the teams and who is in them.",
    ("teams", "create"): "Create teams.",
    ("teams", "update"): "Rename teams, describe them and set their members.",
    ("teams", "delete"): "Delete teams.",
    ("roles", "read"): "See the roles and the permissions they hold.",
    ("roles", "create"): "Create custom roles (holding only permissions one holds).",
    ("roles", "update"): "Edit roles (not the built-in Admin).",
    ("roles", "delete"): "Delete custom roles nobody holds.",
    ("integrations", "read"): "See the integrations and whether they are connected.",
    ("integrations", "create"): "Connect integrations.",
    ("integrations", "update"): "Change integrations' configuration.",
    ("integrations", "delete"): "Disconnect integrations.",
    ("billing", "read"): "See the subscription: plan, seats, status.",
    ("billing", "update"): "Change or cancel the subscription.",
    ("conversations", "read"): "Read conversations (transcripts, participants) within the scope.",
    ("conversations", "create"): "Record or import conversations within the scope.",
    ("conversations", "update"): "Edit conversations within the scope.",
    ("conversations", "delete"): "Delete conversations within the scope.",
    ("conversations", "share"): "Create share links to conversations within the scope.",
    ("insights", "read"): "Read the insights of conversations within the scope.",
    ("insights", "create"): "Add insights to conversations within the scope.",
    ("insights", "update"): "Edit insights of conversations within the scope.",
    ("insights", "delete"): "Delete insights of conversations within the scope.",
    ("intelligence", "read"): "See the AI settings (providers, default model).",
    ("intelligence", "update"): "Change the AI settings.",
    ("api_keys", "read"): "See the workspace's API keys (never their secrets).",
    ("api_keys", "create"): "Create API keys holding a subset of one's own permissions.",
    ("api_keys", "delete"): "Revoke API keys.",
    ("audit", "read"): "Read the audit log.",
    ("webhooks", "read"): "See the webhook endpoints and their deliveries (never their secrets).",
    ("webhooks", "create"): "Register webhook endpoints.",
    ("webhooks", "update"): (
        "Change webhook endpoints (URL, events, enabled), rotate their secrets, redeliver."
    ),
    ("webhooks", "delete"): "Delete webhook endpoints (their pending deliveries go with them).",
}

MEMBER_PERMISSIONS: tuple[str, ...] = (
    "organization:read:all",
    "members:read:all",
    "teams:read:all",
    "roles:read:all",
    "integrations:read:all",
    "conversations:read:team",
    "conversations:share:own",
    "insights:read:team",
)


class InvalidPermissionError(ValueError):
    """A string that is not a catalogued ``resource:action:scope`` permission."""


@dataclass(frozen=True, slots=True)
class Permission:
    resource: str
    action: str  # an action of the resource, or "*"
    scope: Scope

    def __str__(self) -> str:
        return f"{self.resource}:{self.action}:{self.scope.label}"

    def expand(self) -> tuple[Permission, ...]:
        """The concrete permissions this one grants (a wildcard grants every action)."""
        if self.action != WILDCARD:
            return (self,)
        actions, _ = CATALOGUE[self.resource]
        return tuple(Permission(self.resource, a, self.scope) for a in actions)


@lru_cache(maxsize=1024)
def parse_permission(text: str) -> Permission:
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise InvalidPermissionError(f"'{text}' is not of the form resource:action:scope")
    resource, action, scope_text = parts
    if resource not in CATALOGUE:
        raise InvalidPermissionError(f"'{text}': unknown resource '{resource}'")
    actions, scopes = CATALOGUE[resource]
    if action != WILDCARD and action not in actions:
        raise InvalidPermissionError(f"'{text}': '{resource}' has no action '{action}'")
    try:
        scope = Scope[scope_text.upper()] if scope_text == scope_text.lower() else None
    except KeyError:
        scope = None
    if scope is None:
        raise InvalidPermissionError(f"'{text}': unknown scope '{scope_text}'")
    if scope not in scopes:
        allowed = ", ".join(s.label for s in scopes)
        raise InvalidPermissionError(f"'{text}': '{resource}' is granted at scope {allowed}")
    return Permission(resource, action, scope)


@lru_cache(maxsize=1)
def catalogue() -> tuple[str, ...]:
    """Every standard permission, one string per (resource, action, scope)."""
    return tuple(
        f"{resource}:{action}:{scope.label}"
        for resource, (actions, scopes) in CATALOGUE.items()
        for action in actions
        for scope in scopes
    )


@lru_cache(maxsize=1)
def admin_permissions() -> frozenset[str]:
    """The built-in Admin: every catalogued permission at the ``all`` scope."""
    return frozenset(p for p in catalogue() if p.endswith(":all"))


class PermissionSet:
    """A holder's permissions, indexed for matching; immutable."""

    __slots__ = ("_max_scope",)

    def __init__(self, granted: Iterable[str]) -> None:
        best: dict[tuple[str, str], Scope] = {}
        for text in granted:
            for p in parse_permission(text).expand():
                key = (p.resource, p.action)
                if best.get(key, 0) < p.scope:
                    best[key] = p.scope
        self._max_scope = best

    def scope_of(self, resource: str, action: str) -> Scope | None:
        """The widest scope at which ``resource:action`` is held, or None."""
        return self._max_scope.get((resource, action))

    def allows(self, required: str) -> bool:
        p = parse_permission(required)
        if p.action == WILDCARD:
            return all(self.allows(str(c)) for c in p.expand())
        held = self.scope_of(p.resource, p.action)
        return held is not None and held >= p.scope

    def covers(self, other: Iterable[str]) -> bool:
        """True when every permission in ``other`` is allowed here (no escalation)."""
        return all(self.allows(str(c)) for text in other for c in parse_permission(text).expand())

    def __bool__(self) -> bool:
        return bool(self._max_scope)


def expand_for_display(granted: Iterable[str]) -> list[str]:
    """What ``Role.permissions`` shows: wildcards expanded, catalogue order, no duplicates."""
    seen: set[str] = set()
    for text in granted:
        seen.update(str(p) for p in parse_permission(text).expand())
    order = {p: i for i, p in enumerate(catalogue())}
    return sorted(seen, key=order.__getitem__)


@functools.lru_cache(maxsize=1024)
def permission_set(granted: tuple[str, ...]) -> PermissionSet:
    """The PermissionSet of ``granted``, shared: sets are immutable, and most requests
    hold one of a few role shapes (Admin above all), so none is parsed per request."""
    return PermissionSet(granted)


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One ``resource:action`` of the catalogue: what it allows and where it can be granted."""

    resource: str
    action: str
    scopes: tuple[Scope, ...]
    description: str

    @property
    def permissions(self) -> tuple[str, ...]:
        """The grantable strings, narrowest scope first."""
        return tuple(f"{self.resource}:{self.action}:{s.label}" for s in self.scopes)


@lru_cache(maxsize=1)
def catalogue_entries() -> tuple[CatalogueEntry, ...]:
    """The catalogue by ``resource:action``, in catalogue order, with descriptions."""
    return tuple(
        CatalogueEntry(resource, action, scopes, DESCRIPTIONS[(resource, action)])
        for resource, (actions, scopes) in CATALOGUE.items()
        for action in actions
    )

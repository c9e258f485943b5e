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

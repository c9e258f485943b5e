"""Refusals: a rule said no. Services raise ``Refusal`` (or, having run every check of
a change, ``Refusals``: see ``Checks``); the GraphQL layer turns them into
``userErrors`` and the unit of work rolls back, so nothing changes."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from typing import Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
V = TypeVar("V")


class UserErrorCode(enum.StrEnum):
    NOT_FOUND = "NOT_FOUND"
    ALREADY_MEMBER = "ALREADY_MEMBER"
    ALREADY_INVITED = "ALREADY_INVITED"
    # No longer returned (addMember invites and never reveals an account); kept so that
    # clients matching on it still validate.
    ACCOUNT_DEACTIVATED = "ACCOUNT_DEACTIVATED"
    INVALID_PERMISSION = "INVALID_PERMISSION"
    ESCALATION = "ESCALATION"
    SOLE_ADMIN = "SOLE_ADMIN"
    CONFIRMATION_MISMATCH = "CONFIRMATION_MISMATCH"
    BUILTIN_ROLE_IMMUTABLE = "BUILTIN_ROLE_IMMUTABLE"
    ROLE_IN_USE = "ROLE_IN_USE"
    NAME_TAKEN = "NAME_TAKEN"
    INVALID_URL = "INVALID_URL"
    INVALID_VALUE = "INVALID_VALUE"
    TOO_LONG = "TOO_LONG"
    ALREADY_CANCELED = "ALREADY_CANCELED"


class Refusal(Exception):
    """A business rule refused the change; ``field`` is the path of the input at fault."""

    def __init__(
        self, code: UserErrorCode, message: str, field: Sequence[str | int] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field: list[str] | None = [str(p) for p in field] if field is not None else None


class Refusals(Refusal):
    """Several refusals of one change, reported together (``Checks.done``). It is a
    Refusal (its first), so whatever rolls back on a Refusal rolls back on it too."""

    def __init__(self, refusals: Sequence[Refusal]) -> None:
        first = refusals[0]
        super().__init__(first.code, first.message, first.field)
        self.all: list[Refusal] = list(refusals)


def every_refusal(refusal: Refusal) -> list[Refusal]:
    """The refusals one raised Refusal stands for (itself, or the ones it gathers)."""
    return refusal.all if isinstance(refusal, Refusals) else [refusal]


class Checks:
    """A change's checks, run to the end before anything is written, so that a form hears
    of every problem at once rather than one per round trip.

    A check that refuses is kept and the next one runs; ``done()`` then raises every kept
    refusal together (``Refusals``) or nothing. One refusal per input path: the first
    kept for a path stands (a blank name is not also "taken"). A refusal about the
    target itself (no such object, the built-in Admin) is raised at once instead: there
    is nothing to check the rest against.
    """

    def __init__(self) -> None:
        self._kept: dict[tuple[str, ...] | None, Refusal] = {}

    def add(self, refusal: Refusal) -> None:
        for one in every_refusal(refusal):
            self._kept.setdefault(tuple(one.field) if one.field is not None else None, one)

    def refused(self, *path: str | int) -> bool:
        """Whether a refusal was kept at ``["input", *path]`` or below it."""
        prefix = ("input", *(str(p) for p in path))
        return any(f is not None and f[: len(prefix)] == prefix for f in self._kept)

    def value(
        self, check: Callable[Concatenate[V, P], V], value: V, *a: P.args, **k: P.kwargs
    ) -> V:
        """``check(value, …)``: the value it returns, or, when it refuses, ``value`` as
        given (kept only to go on checking: nothing is written once a check failed)."""
        try:
            return check(value, *a, **k)
        except Refusal as refusal:
            self.add(refusal)
            return value

    def run(self, check: Callable[P, T], *a: P.args, **k: P.kwargs) -> T | None:
        """``check(…)``: what it returns, or None when it refuses."""
        try:
            return check(*a, **k)
        except Refusal as refusal:
            self.add(refusal)
            return None

    async def run_async(
        self, check: Callable[P, Awaitable[T]], *a: P.args, **k: P.kwargs
    ) -> T | None:
        """``await check(…)``: what it returns, or None when it refuses."""
        try:
            return await check(*a, **k)
        except Refusal as refusal:
            self.add(refusal)
            return None

    def done(self) -> None:
        """Raise every refusal kept (in the order the checks ran), or nothing."""
        if self._kept:
            raise Refusals(list(self._kept.values()))

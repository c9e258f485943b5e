"""Authentication against the database: from a request's credential (app.auth.credentials)
to a Viewer, once per request."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import api_keys
from app.auth.credentials import INVALID_API_KEY, AuthenticationError, Credential
from app.auth.permissions import (
    InvalidPermissionError,
    Permission,
    parse_permission,
    permission_set,
)
from app.auth.viewer import Membership, Viewer
from app.db import tenant
from app.db.session import RequestDB
from app.domain.api_keys.repository import api_key_by_secret
from app.domain.members.memberships import membership_of
from app.domain.members.repository import (
    MembershipRow,
    account_outside_transaction,
    memberships_of_user,
    sign_in,
    sign_in_check,
)
from app.domain.users.repository import user_row_by_id
from app.edge.lru import ByteLRU
from app.models import UserStatus
from app.models.rows import UserRow

# lastUsedAt is a hint, not a log: write it at most once a minute per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Remembered sign-ins (``SignIns``): a worker's share of memory for them, and the size
# counted per account (its row and viewer) and per membership (its workspace, role,
# permissions and teams).
REMEMBERED_SIGN_INS_BYTES = 8 * 1024 * 1024
_REMEMBERED_BASE_BYTES = 1024
_REMEMBERED_MEMBERSHIP_BYTES = 1024


@dataclass(frozen=True, slots=True)
class _Remembered:
    viewer: Viewer
    digest: str  # of the sign-in that found it (app.domain.members.repository.sign_in)


class SignIns:
    """The last sign-in of each account this worker served (PostgreSQL), bounded in
    memory: what a later query of the same account goes ahead with before the database
    has confirmed it (``RequestDB.defer_sign_in``). Never an answer by itself: every
    request that uses it is answered only once the database's sign-in, sent with its
    first read, gives the same digest; a deactivated account, a token signed out, a
    membership, role, permission or team changed, all give another."""

    def __init__(self, capacity_bytes: int = REMEMBERED_SIGN_INS_BYTES) -> None:
        self._kept: ByteLRU[int, _Remembered] = ByteLRU(capacity_bytes)

    def remember(self, viewer: Viewer, digest: str) -> None:
        size = _REMEMBERED_BASE_BYTES + _REMEMBERED_MEMBERSHIP_BYTES * len(viewer.memberships)
        # Shared by the requests that go ahead with it: its memberships cannot be changed.
        shared = replace(viewer, memberships=MappingProxyType(dict(viewer.memberships)))
        self._kept.put(viewer.user_id, _Remembered(shared, digest), size)

    def recall(self, user_id: int) -> _Remembered | None:
        return self._kept.get(user_id)

    def forget(self, user_id: int) -> None:
        self._kept.pop(user_id)


async def authenticate(
    db: RequestDB,
    credential: Credential,
    *,
    with_memberships: bool = True,
    remembered: SignIns | None = None,
) -> Viewer:
    """The viewer behind the credential; also enters the session's tenant context (the
    workspaces row-level security lets this request read) before loading memberships.

    Until then the session has no context: on PostgreSQL nothing is readable but
    through the two SECURITY DEFINER lookups of migration 0003 (sign-in with a
    credential the gateway signed, an API key by its secret's hash), which is all
    authentication needs. ``with_memberships=False`` (the
    operation reads only the account, see app.graphql.lookahead.needs_workspaces) stops
    after the account: the viewer then belongs to no workspace for this request.

    ``remembered``: each sign-in is remembered there, and a query (``db.read_only``, on
    PostgreSQL) of an account signed in before defers its sign-in to its first read; the
    caller then confirms it before answering (``RequestDB.confirm_sign_in``).
    """
    if credential.api_key is not None:
        async with db.session() as session:
            return await _authenticate_api_key(session, credential.api_key)
    user_id = credential.user_id
    assert user_id is not None
    if not with_memberships:
        # The request reads only the account itself: one read outside the request's
        # transaction, no membership, no tenant context (the request's session, if
        # anything opens it, can then read no tenant row at all).
        user = await account_outside_transaction(db.engine, user_id)
        _require_signed_in(user, credential.issued_at)
        assert user is not None
        return Viewer(user=user, memberships={})
    # Deferred only before the request has touched the database: a request whose deferred
    # sign-in answered otherwise signs in first when it runs again.
    if (
        remembered is not None
        and db.read_only
        and not db.started
        and db.engine.dialect.driver == "asyncpg"
    ):
        known = remembered.recall(user_id)
        if known is not None and _signed_in(known.viewer.user, credential.issued_at):
            check = sign_in_check(db.engine, user_id, known.digest)
            db.defer_sign_in(check, user_id=user_id, workspace_ids=known.viewer.workspace_ids)
            return known.viewer
    async with db.session() as session:
        viewer, digest = await _sign_in(session, user_id, credential.issued_at)
    if remembered is not None and digest is not None:
        remembered.remember(viewer, digest)
    return viewer


async def _sign_in(
    session: AsyncSession, user_id: int, issued_at: float
) -> tuple[Viewer, str | None]:
    # Also enters the tenant context; on PostgreSQL it reads the memberships too.
    user, workspace_ids, rows, digest = await sign_in(session, user_id)
    _require_signed_in(user, issued_at)
    assert user is not None
    tenant.entered(session, user_id=user_id, workspace_ids=workspace_ids)
    if rows is None:
        viewer = await _viewer_for_user(session, user)
    else:
        viewer = _viewer_of(user, rows)
    if viewer.workspace_ids != tuple(sorted(set(workspace_ids))):
        # A membership changed between the two reads: allow exactly what was loaded.
        await tenant.enter(session, user_id=user_id, workspace_ids=viewer.workspace_ids)
    return viewer, digest


def _require_active(user: UserRow | None) -> None:
    if user is None or user.status != UserStatus.ACTIVE:
        raise AuthenticationError("Invalid token: the account is deactivated or does not exist.")


def _require_signed_in(user: UserRow | None, issued_at: float) -> None:
    """An ACTIVE account whose token was issued after its last signOutEverywhere."""
    _require_active(user)
    assert user is not None
    if not _signed_in(user, issued_at):
        raise AuthenticationError(
            "Invalid token: the account signed out everywhere after it was issued; sign in again."
        )


def _signed_in(user: UserRow, issued_at: float) -> bool:
    ended = user.sessions_valid_after
    return user.status == UserStatus.ACTIVE and (ended is None or issued_at > ended.timestamp())


async def _active_user(session: AsyncSession, user_id: int) -> UserRow:
    user = await user_row_by_id(session, user_id)
    _require_active(user)
    assert user is not None
    return user


async def _viewer_for_user(
    session: AsyncSession, user: UserRow, only_workspace: int | None = None
) -> Viewer:
    """The user's memberships as the session's tenant context lets it read them."""
    rows = await memberships_of_user(session, user.id)
    if only_workspace is not None:
        rows = [r for r in rows if r.workspace_id == only_workspace]
    return _viewer_of(user, rows)


def _viewer_of(user: UserRow, rows: list[MembershipRow]) -> Viewer:
    return Viewer(user=user, memberships={row.workspace_id: membership_of(row) for row in rows})


def _catalogued(granted: list[str]) -> list[Permission]:
    """A key's stored permissions that are still in the catalogue (one removed since the
    key was created grants nothing, rather than failing every request of the key)."""
    out = []
    for text in granted:
        try:
            out.append(parse_permission(text))
        except InvalidPermissionError:
            continue
    return out


async def _authenticate_api_key(session: AsyncSession, secret: str) -> Viewer:
    invalid = AuthenticationError(INVALID_API_KEY)
    prefix = api_keys.prefix_of(secret)
    key = await api_key_by_secret(session, prefix, api_keys.hash_secret(secret)) if prefix else None
    if key is None:  # unknown prefix, or not this key's secret (the lookup compared them)
        raise invalid
    now = datetime.now(UTC)
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise invalid
    # A key reads its own workspace and nothing else, whatever its creator belongs to
    # (on PostgreSQL the creator's account is readable from here on: it is the context's).
    await tenant.enter(session, user_id=key.created_by_user_id, workspace_ids=[key.workspace_id])
    user = await _active_user(session, key.created_by_user_id)
    creator = await _viewer_for_user(session, user, only_workspace=key.workspace_id)
    membership = creator.membership(key.workspace_id)
    if membership is None:
        raise invalid  # the creator left the workspace: the key died with the membership
    # A key holds what it was given, and never more than its creator holds now.
    effective = tuple(
        str(c)
        for p in _catalogued(key.permissions)
        for c in p.expand()
        if membership.permissions.allows(str(c))
    )
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
    assert key.id is not None
    keyed = Membership(
        workspace_id=membership.workspace_id,
        member_id=membership.member_id,
        role_id=membership.role_id,
        builtin=None,
        granted=effective,
        permissions=permission_set(effective),
        team_ids=membership.team_ids,
        workspace=membership.workspace,
    )
    return Viewer(user=creator.user, memberships={key.workspace_id: keyed}, api_key_id=key.id)

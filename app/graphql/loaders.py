"""Per-request dataloaders.

``WorkspaceLoaders`` is created on first use for one workspace the viewer belongs to
and cached on the request's Context, over that workspace's bound repository
(app.domain.repositories.WorkspaceRepository): every loader in it can only ever read
rows of that workspace, and none passes a session or a workspace id. ``UserLoader``
and ``NodeLocator`` read through the viewer's (``ViewerRepository``). Each batch is one
repository call, which takes the request's session under its lock. Nothing here
outlives a request.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlmodel import SQLModel

from app.auth.permissions import admin_permissions
from app.domain.conversations.repository import Visibility
from app.domain.pagination import Page, Window
from app.domain.repositories import ViewerRepository, WorkspaceRepository
from app.models import (
    ActionItem,
    ApiKey,
    BuiltinRole,
    Conversation,
    ConversationInsight,
    Invitation,
    Member,
    Role,
    ShareLink,
    Team,
    User,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    Workspace,
    pk,
)
from app.models.rows import (
    ActionItemRow,
    InsightRow,
    MemberRow,
    ParticipantRow,
    RoleRow,
    ShareLinkRow,
    TeamRow,
    UserRow,
)

K = TypeVar("K", bound=Hashable)

V = TypeVar("V")
# (parent id, window): one page of a parent's list (e.g. a team's members).
PageKey = tuple[int, Window]
GroupedPages = Callable[[list[int], Window], Awaitable[dict[int, Page[V]]]]


async def together(*reads: Awaitable[Any] | None) -> list[Any]:
    """Each read's answer (None for a read not needed: ``None`` in its place), the reads
    awaited concurrently. A lone read is awaited as it is and none at all costs nothing:
    ``asyncio.gather`` would make a task of each, and a page whose statement joined every
    relation needs no read at all."""
    needed = [r for r in reads if r is not None]
    if not needed:
        return [None] * len(reads)
    done = [await needed[0]] if len(needed) == 1 else await asyncio.gather(*needed)
    answers = iter(done)
    return [None if r is None else next(answers) for r in reads]


def in_key_order(keys: Sequence[K], rows: Iterable[V], key: Callable[[V], K]) -> list[V | None]:
    found = {key(r): r for r in rows}
    return [found.get(k) for k in keys]


def grouped(keys: Sequence[K], pairs: Iterable[tuple[K, V]]) -> list[list[V]]:
    groups: dict[K, list[V]] = defaultdict(list)
    for k, v in pairs:
        groups[k].append(v)
    return [groups.get(k, []) for k in keys]


def pages_by_window(
    fetch: GroupedPages[V],
) -> Callable[[list[PageKey]], Awaitable[list[Page[V]]]]:
    """A batch function of ``PageKey``s over ``fetch`` (the pages of several parents in
    one window, one statement): one statement per distinct window, in practice one per
    batch (every parent of a list asks with the same arguments)."""

    async def load(keys: list[PageKey]) -> list[Page[V]]:
        by_window: dict[Window, list[int]] = defaultdict(list)
        for parent, window in keys:
            by_window[window].append(parent)
        pages: dict[PageKey, Page[V]] = {}
        for window, parents in by_window.items():
            found = await fetch(parents, window)
            pages.update(((p, window), found[p]) for p in parents)
        return [pages[k] for k in keys]

    return load


def counts_by_parent(
    fetch: Callable[[list[int]], Awaitable[dict[int, int]]],
) -> Callable[[list[int]], Awaitable[list[int]]]:
    """A batch function of parent ids over ``fetch`` (their lists' lengths, one
    statement); 0 for a parent with none."""

    async def load(ids: list[int]) -> list[int]:
        found = await fetch(ids)
        return [found.get(i, 0) for i in ids]

    return load


class Loader(DataLoader[K, V]):
    """A DataLoader whose batch function is one call of a bound repository (which holds
    the session lock for that one call)."""

    def __init__(self, fetch: Callable[[list[K]], Awaitable[list[V]]]) -> None:
        super().__init__()
        self._fetch = fetch
        self._bulk: list[tuple[list[K], asyncio.Future[list[V]]]] = []
        self._running: set[asyncio.Future[None]] = set()

    async def batch_load_fn(self, keys: list[K]) -> list[V]:
        return await self._fetch(keys)

    async def fetch_many(self, keys: list[K]) -> list[V]:
        """A whole list's keys at once (look-ahead), in key order.

        Calls made in the same tick (one per parent of a nested list, e.g. each team's
        members) are merged into one statement, like ``load_many`` but with one future
        per call instead of one per key.
        """
        if not keys:
            return []
        future: asyncio.Future[list[V]] = asyncio.get_running_loop().create_future()
        if not self._bulk:
            asyncio.get_running_loop().call_soon(self._dispatch_bulk)
        self._bulk.append((keys, future))
        return await future

    def _dispatch_bulk(self) -> None:
        calls, self._bulk = self._bulk, []
        task = asyncio.ensure_future(self._run_bulk(calls))
        self._running.add(task)  # a reference, so the task is not collected mid-flight
        task.add_done_callback(self._running.discard)

    async def _run_bulk(self, calls: list[tuple[list[K], asyncio.Future[list[V]]]]) -> None:
        union = list(dict.fromkeys(k for keys, _ in calls for k in keys))
        try:
            values = dict(zip(union, await self.batch_load_fn(union), strict=True))
        except Exception as exc:  # every caller gets the failure
            for _, future in calls:
                if not future.done():
                    future.set_exception(exc)
            return
        for keys, future in calls:
            if not future.done():
                future.set_result([values[k] for k in keys])


class UserLoader(Loader[int, UserRow | None]):
    def __init__(self, own: ViewerRepository) -> None:
        async def fetch(ids: list[int]) -> list[UserRow | None]:
            return in_key_order(ids, await own.users(ids), lambda u: u.id)

        super().__init__(fetch)


class WorkspaceLoaders:
    """Every loader of one workspace; ``visibility`` bounds the conversations,
    ``insight_visibility`` the conversations whose insights may be read and
    ``share_visibility`` those the viewer may share (and list the links of)."""

    active_admins: Loader[int, list[int]]  # the ACTIVE Admins' member ids
    member: Loader[int, Member | None]
    role: Loader[int, RoleRow | None]
    team: Loader[int, TeamRow | None]
    teams_of_member: Loader[int, list[TeamRow]]
    role_member_count: Loader[int, int]
    team_members: Loader[PageKey, Page[MemberRow]]
    team_member_count: Loader[int, int]
    role_permissions: Loader[tuple[int, BuiltinRole | None], list[str]]
    conversation: Loader[int, Conversation | None]
    # conversation ids the viewer may share (within a share scope narrower than the read one)
    shareable: Loader[int, bool]
    participants: Loader[int, list[tuple[ParticipantRow, UserRow | None]]]
    insights: Loader[int, list[ConversationInsight]]
    action_items: Loader[int, list[ActionItem]]
    transcript: Loader[int, str | None]
    # The lists under each conversation, a page per conversation (PageKey), and their
    # lengths (by conversation id).
    participants_page: Loader[PageKey, Page[ParticipantRow]]
    participant_count: Loader[int, int]
    insights_page: Loader[PageKey, Page[InsightRow]]
    insight_count: Loader[int, int]
    action_items_page: Loader[PageKey, Page[ActionItemRow]]
    action_item_count: Loader[int, int]
    share_links_page: Loader[PageKey, Page[ShareLinkRow]]
    share_link_count: Loader[int, int]
    # a webhook delivery's attempts, oldest first (by delivery id)
    delivery_attempts: Loader[int, list[WebhookDeliveryAttempt]]

    def __init__(
        self,
        repository: WorkspaceRepository,
        visibility: Visibility | None,
        insight_visibility: Visibility | None = None,
        share_visibility: Visibility | None = None,
    ) -> None:
        self.workspace_id = repository.workspace_id
        self.repository = repository  # the reads these loaders batch
        # Every conversation read through these loaders is shareable when the share
        # scope reaches at least as far as the read scope (Admin's): no statement then.
        self.all_readable_shareable = (
            share_visibility is not None
            and visibility is not None
            and share_visibility.scope >= visibility.scope
        )
        # Filter insights by their own scope only where it is narrower than the
        # conversations' (e.g. conversations:read:all with insights:read:own).
        insights_within = (
            insight_visibility
            if insight_visibility is not None
            and (visibility is None or insight_visibility.scope < visibility.scope)
            else None
        )
        members, teams, roles = repository.members, repository.teams, repository.roles
        conversations = repository.conversations

        async def member(ids: list[int]) -> list[Member | None]:
            return in_key_order(ids, await members.by_ids(ids), lambda m: m.id)  # type: ignore[arg-type,return-value]

        async def role(ids: list[int]) -> list[RoleRow | None]:
            return in_key_order(ids, await roles.rows_by_ids(ids), lambda r: r.id)

        async def team(ids: list[int]) -> list[TeamRow | None]:
            return in_key_order(ids, await teams.rows_by_ids(ids), lambda t: t.id)

        async def teams_of_member(ids: list[int]) -> list[list[TeamRow]]:
            return grouped(ids, await teams.of_members(ids))

        async def role_permissions(keys: list[tuple[int, BuiltinRole | None]]) -> list[list[str]]:
            stored = await roles.permissions([r for r, b in keys if b != BuiltinRole.ADMIN])
            return [
                sorted(admin_permissions()) if b == BuiltinRole.ADMIN else stored.get(rid, [])
                for rid, b in keys
            ]

        async def conversation(ids: list[int]) -> list[Conversation | None]:
            if visibility is None:
                return [None] * len(ids)
            rows = await conversations.by_ids(visibility, ids)
            return in_key_order(ids, rows, lambda c: c.id)  # type: ignore[arg-type,return-value]

        async def shareable(ids: list[int]) -> list[bool]:
            if share_visibility is None:
                return [False] * len(ids)
            found = {c.id for c in await conversations.by_ids(share_visibility, ids)}
            return [i in found for i in ids]

        async def participants(
            ids: list[int],
        ) -> list[list[tuple[ParticipantRow, UserRow | None]]]:
            rows = await conversations.participants_of(ids)
            return grouped(ids, ((p.conversation_id, (p, u)) for p, u in rows))

        async def insights(ids: list[int]) -> list[list[ConversationInsight]]:
            if insight_visibility is None:
                return [[] for _ in ids]
            rows = await conversations.insights_of(ids, within=insights_within)
            return grouped(ids, ((i.conversation_id, i) for i in rows))

        async def action_items(ids: list[int]) -> list[list[ActionItem]]:
            rows = await conversations.action_items_of(ids)
            return grouped(ids, ((a.conversation_id, a) for a in rows))

        async def transcript(ids: list[int]) -> list[str | None]:
            rows = await conversations.transcripts_of(ids)
            found = {t.conversation_id: t.content for t in rows}
            return [found.get(i) for i in ids]

        async def active_admins(ids: list[int]) -> list[list[int]]:
            return [await members.active_admin_ids() for _ in ids]

        async def insights_page(ids: list[int], window: Window) -> dict[int, Page[InsightRow]]:
            if insight_visibility is None:
                return {i: Page([], [], False) for i in ids}
            return await conversations.insight_pages(ids, window, within=insights_within)

        async def insight_count(ids: list[int]) -> dict[int, int]:
            if insight_visibility is None:
                return {}
            return await conversations.insight_counts(ids, within=insights_within)

        async def delivery_attempts(ids: list[int]) -> list[list[WebhookDeliveryAttempt]]:
            rows = await repository.webhooks.attempts_of(ids)
            return grouped(ids, ((a.delivery_id, a) for a in rows))

        # Loaders are built on first use: a request touches few of them.
        self._fetchers: dict[str, Callable[[list[Any]], Awaitable[list[Any]]]] = {
            "active_admins": active_admins,
            "member": member,
            "role": role,
            "team": team,
            "teams_of_member": teams_of_member,
            "role_member_count": counts_by_parent(members.counts_by_role),
            "team_members": pages_by_window(members.pages_of_teams),
            "team_member_count": counts_by_parent(members.counts_of_teams),
            "role_permissions": role_permissions,
            "conversation": conversation,
            "participants": participants,
            "insights": insights,
            "action_items": action_items,
            "transcript": transcript,
            "delivery_attempts": delivery_attempts,
            "shareable": shareable,
            "participants_page": pages_by_window(conversations.participant_pages),
            "participant_count": counts_by_parent(conversations.participant_counts),
            "insights_page": pages_by_window(insights_page),
            "insight_count": counts_by_parent(insight_count),
            "action_items_page": pages_by_window(conversations.action_item_pages),
            "action_item_count": counts_by_parent(conversations.action_item_counts),
            "share_links_page": pages_by_window(conversations.share_link_pages),
            "share_link_count": counts_by_parent(conversations.share_link_counts),
        }

    def __getattr__(self, name: str) -> Loader[Any, Any]:
        # Called only for an attribute not set yet: build that loader and keep it.
        fetchers = self.__dict__.get("_fetchers", {})
        if name not in fetchers:
            raise AttributeError(name)
        loader: Loader[Any, Any] = Loader(fetchers[name])
        setattr(self, name, loader)
        return loader


# Node types stored in tenant tables, by GraphQL type name.
TENANT_NODE_TABLES: dict[str, type[SQLModel]] = {
    "Member": Member,
    "Team": Team,
    "Role": Role,
    "Conversation": Conversation,
    "ApiKey": ApiKey,
    "Invitation": Invitation,
    "ShareLink": ShareLink,
    "WebhookEndpoint": WebhookEndpoint,
    "WebhookDelivery": WebhookDelivery,
}


class NodeLocator(DataLoader[tuple[str, int], Any]):
    """(type name, pk) -> row or None, among the viewer's workspaces only; batched:
    one statement per type per batch. Users are found when they hold a membership in
    one of ``user_workspaces`` (where the viewer may read members)."""

    def __init__(self, own: ViewerRepository, user_workspaces: Sequence[int]) -> None:
        super().__init__()
        self._own = own
        self._user_workspaces = user_workspaces

    async def batch_load_fn(self, keys: list[tuple[str, int]]) -> list[Any]:
        by_table: dict[type[SQLModel], list[int]] = defaultdict(list)
        for type_name, key in keys:
            by_table[_NODE_TABLES[type_name]].append(key)
        rows = await self._own.nodes(by_table, self._user_workspaces)
        found = {(model, pk(r)): r for model, of_model in rows.items() for r in of_model}
        return [found.get((_NODE_TABLES[t], key)) for t, key in keys]


_NODE_TABLES: dict[str, type[SQLModel]] = {
    **TENANT_NODE_TABLES,
    "Workspace": Workspace,
    "User": User,
}

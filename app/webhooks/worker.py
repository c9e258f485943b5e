"""The delivery worker: finds the deliveries that are due, claims them, sends them and
records each attempt (on the delivery, and as a row of ``webhook_delivery_attempts``);
failed ones are retried with exponential backoff and jitter.

It runs inside the gateway (``WEBHOOKS_IN_PROCESS``, the default) or as its own process
(``python -m app webhooks``); several of either may run at once. A claim is one short
transaction per workspace: the due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
each given one more attempt and a lease (``next_attempt_at`` moved past the send's
timeout), then committed before anything is sent. So a worker that dies mid-send only
delays that delivery by the lease, and two workers never send the same attempt.

Row-level security: the worker is not a viewer. On PostgreSQL it learns which
workspaces have due deliveries from ``harmony_webhook_due_workspaces`` (migration 0006:
workspace ids only), then works in each under that workspace's own signed context, as
an API key's request would (user 0: no account), so each statement still passes the
tenant policy and no transaction ever spans two workspaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col, select

from app.config import Settings
from app.db.engine import create_sessionmaker
from app.db.tenant import Tenant, attach
from app.db.types import utcnow
from app.domain.tenant import scoped
from app.domain.webhooks import secrets
from app.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    pk,
)
from app.webhooks.sender import Outcome, send

log = logging.getLogger("app.webhooks")

# Seconds to wait after the n-th failed attempt (the last figure repeats), ±20% jitter.
RETRY_SCHEDULE: tuple[int, ...] = (5, 30, 120, 600, 3600, 3 * 3600, 6 * 3600)
JITTER = 0.2
WORKSPACES_PER_PASS = 50
DELIVERIES_PER_CLAIM = 20
WORKER_USER_ID = 0  # the signed context of the worker names no account


def retry_delay(failed_attempts: int, rng: random.Random | None = None) -> timedelta:
    base = RETRY_SCHEDULE[min(failed_attempts, len(RETRY_SCHEDULE)) - 1]
    spread = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return timedelta(seconds=base * spread)


@dataclass(frozen=True, slots=True)
class Claimed:
    workspace_id: int
    delivery_id: int
    attempt: int
    event_id: str
    event_type: str
    payload: str
    url: str
    secret: str
    started_at: datetime  # the claim's time, the delivery's ``last_attempt_at``


def _in_workspace(sessionmaker: async_sessionmaker[AsyncSession], ws: int) -> AsyncSession:
    session = sessionmaker()
    attach(session, Tenant(user_id=WORKER_USER_ID, workspace_ids=(ws,)))
    return session


# scope: the worker's only cross-workspace read: which workspaces have due deliveries
async def due_workspaces(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """Workspaces with a delivery due at ``now``, the longest waiting first."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = sa.text("SELECT harmony_webhook_due_workspaces(:now, :limit)")
        return list((await session.execute(stmt, {"now": now, "limit": limit})).scalars())
    due = (
        select(WebhookDelivery.workspace_id)
        .where(col(WebhookDelivery.next_attempt_at) <= now)
        .group_by(col(WebhookDelivery.workspace_id))
        .order_by(sa.func.min(WebhookDelivery.next_attempt_at))
        .limit(limit)
    )
    return list((await session.execute(due)).scalars())


class DeliveryWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = create_sessionmaker(engine)
        self.client = httpx.AsyncClient(
            timeout=settings.webhooks_timeout_seconds, follow_redirects=False, transport=transport
        )
        # A claim outlives the attempt it covers: the send's timeout and some margin.
        self.lease = timedelta(seconds=settings.webhooks_timeout_seconds * 2 + 30)
        self.rng = random.Random()  # noqa: S311 (jitter, not a secret)

    async def close(self) -> None:
        await self.client.aclose()

    async def claim(self, workspace_id: int, now: datetime) -> list[Claimed]:
        async with _in_workspace(self.sessionmaker, workspace_id) as s, s.begin():
            enabled = (
                scoped(WebhookEndpoint, workspace_id)
                .where(col(WebhookEndpoint.enabled).is_(True))
                .with_only_columns(col(WebhookEndpoint.id))
            )
            stmt = (
                scoped(WebhookDelivery, workspace_id)
                .where(
                    col(WebhookDelivery.next_attempt_at) <= now,
                    col(WebhookDelivery.endpoint_id).in_(enabled),
                )
                .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
                .limit(DELIVERIES_PER_CLAIM)
                .with_for_update(skip_locked=True)
            )
            rows = list((await s.execute(stmt)).scalars())
            if not rows:
                return []
            ids = sorted({d.endpoint_id for d in rows})
            found = scoped(WebhookEndpoint, workspace_id).where(col(WebhookEndpoint.id).in_(ids))
            endpoints = {pk(e): e for e in (await s.execute(found)).scalars()}
            claimed = []
            for d in rows:
                d.attempts += 1
                d.next_attempt_at = now + self.lease
                d.last_attempt_at = now
                endpoint = endpoints[d.endpoint_id]
                claimed.append(
                    Claimed(
                        workspace_id,
                        pk(d),
                        d.attempts,
                        d.event_id,
                        d.event_type,
                        d.payload,
                        endpoint.url,
                        secrets.unseal(endpoint.secret_sealed, workspace_id),
                        now,
                    )
                )
        return claimed

    async def record(self, job: Claimed, outcome: Outcome, now: datetime) -> None:
        async with _in_workspace(self.sessionmaker, job.workspace_id) as s, s.begin():
            stmt = scoped(WebhookDelivery, job.workspace_id).where(
                WebhookDelivery.id == job.delivery_id
            )
            d = (await s.execute(stmt)).scalars().first()
            if d is None or d.attempts != job.attempt:
                return  # its endpoint was deleted meanwhile, or a later claim owns it
            d.last_status_code = outcome.status_code
            d.last_duration_ms = outcome.duration_ms
            d.last_error = outcome.error
            s.add(
                WebhookDeliveryAttempt(
                    workspace_id=job.workspace_id,
                    delivery_id=job.delivery_id,
                    attempt=job.attempt,
                    started_at=job.started_at,
                    status_code=outcome.status_code,
                    duration_ms=outcome.duration_ms,
                    error=outcome.error,
                )
            )
            if outcome.succeeded:
                d.status, d.next_attempt_at = WebhookDeliveryStatus.SUCCEEDED, None
            elif d.attempts >= self.settings.webhooks_max_attempts:
                d.status, d.next_attempt_at = WebhookDeliveryStatus.FAILED, None
            else:
                d.status = WebhookDeliveryStatus.PENDING
                d.next_attempt_at = now + retry_delay(d.attempts, self.rng)
            status = d.status
        log.info(
            "webhook attempt %s of %s (%s) to endpoint: %s, %s ms%s",
            job.attempt,
            job.event_id,
            job.event_type,
            outcome.status_code if outcome.status_code is not None else "no answer",
            outcome.duration_ms,
            f", {outcome.error}" if outcome.error else "",
            extra={
                "event_id": job.event_id,
                "delivery_status": status.value,
                "attempt": job.attempt,
                "status_code": outcome.status_code,
                "duration_ms": outcome.duration_ms,
                "error": outcome.error,
            },
        )

    async def deliver(self, job: Claimed, now: datetime) -> None:
        production = self.settings.is_production
        outcome = await send(
            self.client, job.url, job.secret, job.event_id, job.payload, production=production
        )
        await self.record(job, outcome, now)

    async def run_once(self, now: datetime | None = None) -> int:
        """One pass over what is due at ``now`` (default: now); the attempts made."""
        now = now or utcnow()
        async with self.sessionmaker() as s:
            workspaces = await due_workspaces(s, now, WORKSPACES_PER_PASS)
        made = 0
        for ws in workspaces:
            try:
                jobs = await self.claim(ws, now)
            except DBAPIError as exc:  # e.g. SQLite busy: another process claims; next pass
                log.warning("webhook claim in workspace %s failed: %s", ws, exc)
                continue
            await asyncio.gather(*(self.deliver(job, now) for job in jobs))
            made += len(jobs)
        return made

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; attempts under way are finished first."""
        poll = self.settings.webhooks_poll_seconds
        while not stop.is_set():
            try:
                made = await self.run_once()
            except Exception:  # the database away: try again next poll
                log.exception("webhook delivery pass failed")
                made = 0
            if made:
                continue  # more may be due at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)

"""Bounded queueing per worker: at most ``MAX_IN_FLIGHT`` requests execute at once and at
most ``MAX_QUEUED`` wait for a slot (FIFO); one more is answered 503 at once, with
``Retry-After``, instead of making every request slower. Waiting counts toward the
request's deadline."""

from __future__ import annotations

import asyncio

from app.edge.errors import Refused
from app.observability import metrics

RETRY_AFTER_SECONDS = 1


class Admission:
    """``async with admission:`` holds a slot for the block (a plain class, not a
    generator-based context manager: it runs on every request)."""

    def __init__(self, max_in_flight: int, max_queued: int) -> None:
        self._slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None
        self.max_queued = max_queued
        # Read by the gauges (app.observability.metrics.sample), never locked.
        self.waiting = 0
        self.running = 0

    async def __aenter__(self) -> None:
        slots = self._slots
        if slots is not None:
            if slots.locked():
                if self.waiting >= self.max_queued:
                    metrics.LOAD_SHED.inc()
                    raise Refused(
                        "SERVICE_UNAVAILABLE",
                        "The server is at capacity: retry shortly.",
                        status=503,
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                    )
                self.waiting += 1
                try:
                    await slots.acquire()
                finally:
                    self.waiting -= 1
            else:
                await slots.acquire()
        self.running += 1

    async def __aexit__(self, *_: object) -> None:
        self.running -= 1
        if self._slots is not None:
            self._slots.release()

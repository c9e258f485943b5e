"""The idempotency store on its own: a key is claimed by exactly one of two requests
racing for it, in one process and across two workers sharing the real Redis; a claim
released is free again; a kept answer is replayed only for the same request."""

from __future__ import annotations

import asyncio

import pytest

from app.edge.errors import Refused
from app.edge.idempotency import Answer, Claim, IdempotencyStore, read_key
from app.edge.shared import create_redis_client
from tests.edge.asgi_edge import redis_or_skip

ANSWER = Answer(200, "application/json", b'{"data":{"ok":true}}')


async def race(stores: list[IdempotencyStore]) -> tuple[list[Claim], list[int]]:
    """Both stores begin the same key for the same request at once: the claims and the
    HTTP statuses of the refusals."""
    outcomes = await asyncio.gather(
        *(s.begin("user:1", "key", "request") for s in stores), return_exceptions=True
    )
    claims = [o for o in outcomes if isinstance(o, Claim)]
    statuses = [o.status for o in outcomes if isinstance(o, Refused)]
    return claims, statuses


async def check_store(stores: list[IdempotencyStore]) -> None:
    claims, statuses = await race(stores)
    assert (len(claims), statuses) == (1, [409])
    await stores[1].release(claims[0])  # any worker's release frees it
    claims, statuses = await race(stores)
    assert (len(claims), statuses) == (1, [409])
    await stores[0].keep(claims[0], ANSWER)
    for store in stores:
        assert await store.begin("user:1", "key", "request") == ANSWER
        with pytest.raises(Refused) as refused:
            await store.begin("user:1", "key", "another request")
        assert refused.value.status == 422
        others = await store.begin("key:1", "key", "request")  # another principal's key
        assert isinstance(others, Claim)
        await store.release(others)


async def test_one_process_claims_a_key_once() -> None:
    store = IdempotencyStore(ttl_seconds=60, claim_seconds=20)
    await check_store([store, store])


async def test_two_workers_on_one_redis_claim_a_key_once() -> None:
    async with redis_or_skip() as (url, prefix):
        stores = [
            IdempotencyStore(
                ttl_seconds=60,
                claim_seconds=20,
                redis=create_redis_client(url, 1.0),
                key_prefix=prefix,
                timeout_seconds=1.0,
            )
            for _ in range(2)
        ]
        try:
            await check_store(stores)
        finally:
            for store in stores:
                await store.close()


def test_keys_are_printable_ascii_up_to_255_characters() -> None:
    assert read_key(None) is None
    assert read_key("a" * 255) == "a" * 255
    assert read_key("order 42/retry-1") == "order 42/retry-1"
    for bad in ("", " ", "a" * 256, "clé", "tab\there", "\x7f"):
        with pytest.raises(Refused) as refused:
            read_key(bad)
        assert (refused.value.code, refused.value.status) == ("BAD_USER_INPUT", 400), bad

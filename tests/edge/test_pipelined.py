"""The pipelined script channel (app/edge/pipelined.py): replies matched to their calls
in order, whatever the reads' boundaries, timed-out calls included; against the real
Redis (tests/edge/conftest.py) and, for read boundaries, the protocol fed by hand."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from app.edge.pipelined import RedisReplyError, ScriptChannel, _Protocol

ECHO = "return {ARGV[1], redis.call('INCR', KEYS[1])}"


async def test_concurrent_calls_each_get_their_own_reply(redis_url: str, redis_prefix: str) -> None:
    channel = ScriptChannel(redis_url, ECHO, 1.0)
    key = f"{redis_prefix}counter"
    try:
        replies = await asyncio.gather(
            *(channel.call([key], [str(i).encode()]) for i in range(300))
        )
    finally:
        await channel.close()
    assert [r[0] for r in replies] == [str(i) for i in range(300)]
    assert sorted(r[1] for r in replies) == list(range(1, 301))  # one atomic INCR each


async def test_the_url_database_is_selected(redis_url: str, redis_prefix: str) -> None:
    base = redis_url.rsplit("/", 1)[0]
    channel = ScriptChannel(f"{base}/5", ECHO, 1.0)
    key = f"{redis_prefix}in-db-5"
    db5 = Redis.from_url(f"{base}/5")
    try:
        await channel.call([key], [b"x"])
        assert await db5.get(key) == b"1"
    finally:
        await db5.delete(key)
        await db5.aclose()
        await channel.close()


async def test_a_script_error_is_raised_and_the_channel_goes_on(
    redis_url: str, redis_prefix: str
) -> None:
    channel = ScriptChannel(redis_url, "return redis.call('INCR', KEYS[1])", 1.0)
    key = f"{redis_prefix}text"
    raw = Redis.from_url(redis_url)
    try:
        await raw.set(key, "not a number")
        with pytest.raises(RedisReplyError, match="not an integer"):
            await channel.call([key], [])
        await raw.set(key, "41")
        assert await channel.call([key], []) == 42
    finally:
        await raw.aclose()
        await channel.close()


async def test_redis_without_the_script_is_sent_it_once(redis_url: str, redis_prefix: str) -> None:
    script = f"return '{uuid.uuid4().hex}'"  # a script Redis has never seen
    channel = ScriptChannel(redis_url, script, 1.0)
    try:
        first = await channel.call([f"{redis_prefix}k"], [])
        second = await channel.call([f"{redis_prefix}k"], [])
    finally:
        await channel.close()
    assert first == second == script.split("'")[1]


def _fed(protocol: _Protocol, *chunks: bytes) -> None:
    for chunk in chunks:
        protocol.data_received(chunk)


async def test_replies_split_anywhere_are_matched_in_order() -> None:
    replies = b"*3\r\n:1\r\n:998\r\n:0\r\n$5\r\nhello\r\n-ERR nope\r\n+OK\r\n"
    for size in (1, 2, 3, 5, 7, len(replies)):
        protocol = _Protocol()
        protocol.transport = _Sink()  # records writes; the bytes read are fed below
        calls = [protocol.send(b"") for _ in range(4)]
        _fed(protocol, *(replies[i : i + size] for i in range(0, len(replies), size)))
        assert calls[0].result() == [1, 998, 0]
        assert calls[1].result() == "hello"
        with pytest.raises(RedisReplyError, match="ERR nope"):
            calls[2].result()
        assert calls[3].result() == "OK"


async def test_the_reply_of_a_call_that_timed_out_is_dropped() -> None:
    protocol = _Protocol()
    protocol.transport = _Sink()
    late, next_call = protocol.send(b""), protocol.send(b"")
    late.cancel()  # what asyncio.timeout does to a call past its deadline
    _fed(protocol, b":1\r\n:2\r\n")
    assert next_call.result() == 2


class _Sink(asyncio.Transport):
    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def abort(self) -> None:
        pass

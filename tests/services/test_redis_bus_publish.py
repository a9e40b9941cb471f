"""What publishing to the Redis bus promises: no event lost to a refused write, no retry lost to a
stale de-duplication key, and `/forget-me` reaching every stream."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
from redis import asyncio as aioredis
from redis.exceptions import ResponseError

from bot.bus_redis import RedisStreamsBus
from bot.events import CommandReply, MemberJoined, MessagePosted, SendDirectMessage
from bot.testing import command, make_message, user
from tests.services.conftest import URL

pytestmark = pytest.mark.services


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_redis() -> Iterator[str]:
    """A throwaway redis-server of this test's own: its settings can be changed without touching
    the shared server other tests use."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _ping(url: str) -> aioredis.Redis:
    client = aioredis.from_url(url)
    for _ in range(100):
        try:
            await client.ping()
            return client
        except Exception:  # still starting
            await asyncio.sleep(0.05)
    raise AssertionError("redis-server did not start")


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(URL)
    yield client
    await client.aclose()


async def test_writes_redis_refuses_are_buffered_then_delivered(own_redis: str) -> None:
    # A full disk (MISCONF) or too few replicas (NOREPLICAS) come back as plain ResponseErrors:
    # publish raised and the event was gone, while READONLY and OOM were buffered.
    admin = await _ping(own_redis)
    bus = RedisStreamsBus(own_redis, prefix="refused", block_ms=20)
    got: list[str] = []

    async def handler(e: MessagePosted) -> None:
        got.append(e.message_id)

    bus.subscribe(MessagePosted, handler, name="rec")
    await bus.start()
    await admin.config_set("min-replicas-to-write", 1)  # every write now answers NOREPLICAS
    try:
        assert await bus.publish(make_message("important", message_id="m1"))
        assert (
            await bus.publish_many([make_message("also", message_id="m2"), make_message("and", message_id="m3")]) == 2
        )
        assert bus.buffered == 3
    finally:
        await admin.config_set("min-replicas-to-write", 0)
    await bus.drain(timeout=20)
    assert got == ["m1", "m2", "m3"]
    assert await admin.xlen(bus.stream("messages")) == 3
    await bus.close()
    await admin.aclose()


async def test_a_failed_append_leaves_no_dedupe_key_so_the_retry_is_taken(
    prefix: str, redis_client: aioredis.Redis
) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    first, msg = make_message("before", message_id="m0"), make_message("important", message_id="m1")
    await redis_client.set(bus.stream("messages"), "not a stream")  # the append fails: WRONGTYPE
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await bus.publish_many([first, msg])
    assert await redis_client.exists(f"{prefix}:seen:{msg.event_id}") == 0
    await redis_client.delete(bus.stream("messages"))
    # The platform's redelivery (or the import run again) is taken, not dropped as a duplicate.
    assert await bus.publish_many([first, msg]) == 2
    assert await redis_client.xlen(bus.stream("messages")) == 2
    assert await bus.publish(msg) is False  # and once it is in, a copy is a duplicate again
    await bus.close()


async def test_duplicates_within_one_batch_and_across_chunks_are_dropped(
    prefix: str, redis_client: aioredis.Redis
) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    events = [make_message("x", message_id=f"m{i % 400}") for i in range(800)]  # each twice, 256 per call
    assert await bus.publish_many(events) == 400
    assert bus.stats.duplicates == 400
    assert await redis_client.xlen(bus.stream("messages")) == 400
    await bus.close()


async def test_forgetting_erases_the_members_commands_and_what_the_bot_sent_them(
    prefix: str, redis_client: aioredis.Redis
) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    cmd = command("ask", "how do I hide my salary of 95k from my manager")
    ana = cmd.user
    await bus.publish(cmd)
    await bus.publish(CommandReply(cmd, "Here is how …"))
    await bus.publish(SendDirectMessage(ana, "your digest: threads about salaries"))
    await bus.publish(MemberJoined(user=ana, ts=cmd.ts))
    await bus.publish(make_message("hello", author=ana))
    other = command("ask", "what is asyncio", author="bob")
    await bus.publish(other)
    await bus.publish(CommandReply(other, "a library"))
    assert await bus.forget_author(ana) == 5
    left = [
        f[b"json"]
        for family in ("messages", "commands", "actions", "members")
        for _, f in await redis_client.xrange(bus.stream(family))
    ]
    assert len(left) == 2 and not any(b"salar" in payload for payload in left)
    assert user("bob").user_id in left[0].decode()
    await bus.close()


async def test_a_group_with_unknown_lag_after_a_deletion_is_not_idle(prefix: str, redis_client: aioredis.Redis) -> None:
    # Redis reports a group's lag as nil once entries were deleted from the stream (/forget-me does):
    # counted as 0, drain() returned while entries were still unread.
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    got: list[str] = []

    async def handler(e: MessagePosted) -> None:
        got.append(e.message_id)

    bus.subscribe(MessagePosted, handler, name="rec")
    await bus._ensure_group(bus.stream("messages"), "rec")  # the group exists; no worker reads yet
    for i in range(3):
        await bus.publish(make_message("x", message_id=f"m{i}"))
    ids = [entry_id for entry_id, _ in await redis_client.xrange(bus.stream("messages"))]
    await redis_client.xdel(bus.stream("messages"), ids[1])
    [group] = await redis_client.xinfo_groups(bus.stream("messages"))
    assert group["lag"] is None
    assert not await bus._groups_idle()
    await bus.start()
    await bus.drain(timeout=20)
    assert got == ["m0", "m2"] and await bus._groups_idle()
    await bus.close()

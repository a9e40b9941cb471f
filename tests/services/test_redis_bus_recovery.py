"""Redis Streams bus recovering from Redis losing its state, against the real local Redis."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from time import sleep as time_sleep
from typing import Any

import pytest
from redis import asyncio as aioredis
from redis.exceptions import ReadOnlyError

from bot.bus_redis import RedisStreamsBus
from bot.events import MessagePosted, from_json
from bot.testing import make_message, user
from tests.services.conftest import URL

pytestmark = pytest.mark.services


async def test_a_worker_survives_a_group_it_cannot_recreate_at_once(prefix: str) -> None:
    """Redis lost the consumer group (restarted empty, failed over): the worker re-creates it, and
    a first attempt that fails (the new primary still read-only) is retried, not the worker's end."""
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    got: list[str] = []
    second = asyncio.Event()

    async def handler(e: MessagePosted) -> None:
        got.append(e.message_id)
        if e.message_id == "m2":
            second.set()

    bus.subscribe(MessagePosted, handler, name="rec")
    await bus.start()
    await bus.publish(make_message("before", message_id="m1"))
    await bus.drain(timeout=20)

    create = bus._redis.xgroup_create
    refusals: list[str] = []

    async def read_only_once(*args: Any, **kwargs: Any) -> Any:
        if not refusals:
            refusals.append("READONLY")
            raise ReadOnlyError("You can't write against a read only replica.")
        return await create(*args, **kwargs)

    bus._redis.xgroup_create = read_only_once  # type: ignore[method-assign]
    r = aioredis.from_url(URL)
    try:
        await r.xgroup_destroy(bus.stream("messages"), "rec")  # the group is gone
    finally:
        await r.aclose()
    await bus.publish(make_message("after", message_id="m2"))
    await asyncio.wait_for(second.wait(), timeout=20)
    assert refusals == ["READONLY"]
    assert got[-1] == "m2"  # m1 may come again: the group is re-created from the stream start
    assert all(not t.done() for s in bus._subs for t in s.tasks)
    await bus.close()


async def test_forgetting_a_member_erases_their_events_from_a_siblings_spill_file(prefix: str, tmp_path: Path) -> None:
    """A process sharing the data folder closed while Redis was down: its spill file holds the
    member's words until a start sends it. The forget takes the file over, so nothing of them is
    left on disk or reaches the streams later, and the others' events are still delivered."""
    spill = tmp_path / "data" / "bus.spill.jsonl"
    live = RedisStreamsBus(URL, prefix=prefix, block_ms=20, spill_path=spill)
    got: list[str] = []

    async def handler(e: MessagePosted) -> None:
        got.append(e.message_id)

    live.subscribe(MessagePosted, handler, name="rec")
    await live.start()

    sibling = RedisStreamsBus(URL, prefix=prefix, block_ms=20, spill_path=spill, close_flush_s=0.2)
    await sibling._redis.aclose()
    sibling._redis = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.05)  # Redis died
    await sibling.publish(make_message("ana: the vault code is QX7-4711", author="ana", message_id="a1"))
    await sibling.publish(make_message("bob's note", author="bob", message_id="b1"))
    await sibling.close()
    assert b"QX7-4711" in spill.read_bytes()

    assert await live.forget_author(user("ana")) == 1
    await live.drain(timeout=20)
    assert got == ["b1"]
    left = b"".join(p.read_bytes() for p in spill.parent.iterdir())
    assert b"QX7-4711" not in left
    await live.close()
    r = aioredis.from_url(URL)
    try:
        rows: Any = await r.xrange(live.stream("messages"))
        assert not any(b"QX7-4711" in f[b"json"] for _, f in rows)
    finally:
        await r.aclose()


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server that is a replica of a primary that is gone: it answers, but
    refuses writes with READONLY, as a replica does during a failover until it is promoted."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
            "--replicaof",
            "127.0.0.1",
            "1",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        while True:  # until it listens (or died: then the test fails here, not on a refused connection)
            assert proc.poll() is None, "redis-server did not start"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time_sleep(0.025)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_publishes_refused_by_a_read_only_replica_are_buffered_until_it_is_promoted(replica: str) -> None:
    bus = RedisStreamsBus(replica, prefix="ghtest", block_ms=20)
    assert await bus.publish(make_message("during the failover", message_id="f1"))  # not raised: buffered
    assert await bus.publish(make_message("still failing over", message_id="f2"))
    assert bus.buffered == 2
    admin = aioredis.from_url(replica)
    try:
        await admin.execute_command("REPLICAOF", "NO", "ONE")  # type: ignore[no-untyped-call]  # promoted: writes are accepted
        await bus.drain(timeout=20)
        rows: Any = await admin.xrange(bus.stream("messages"))
    finally:
        await admin.aclose()
    assert [getattr(from_json(f[b"json"]), "message_id", None) for _, f in rows] == ["f1", "f2"]
    await bus.close()


async def test_a_dead_letter_keeps_an_entry_of_another_shape_and_is_not_replayed_empty(prefix: str) -> None:
    """An entry without an event (a foreign producer, another layout) is dead-lettered with what it
    held, and replaying it does not delete the only copy by re-publishing an empty event."""
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)

    async def handler(e: MessagePosted) -> None:
        pass

    bus.subscribe(MessagePosted, handler, name="rec")
    await bus.start()
    await bus._redis.xadd(bus.stream("messages"), {b"type": b"MessagePosted", b"data": b'{"text": "kept"}'})
    await bus.drain(timeout=20)
    [letter] = await bus.dead_letters()
    assert json.loads(letter["fields"]) == {"type": "MessagePosted", "data": '{"text": "kept"}'}
    assert await bus.replay_dead_letter(letter["id"]) is False
    assert [row["id"] for row in await bus.dead_letters()] == [letter["id"]]
    await bus.close()

"""Redis Streams bus against the real Redis on this machine (started by .ci/run when down)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.bus_redis import RedisStreamsBus, families_for
from bot.events import Action, CommandInvoked, MessageDeleted, MessagePosted, Platform, SendMessage
from bot.testing import channel, command, make_message, user
from tests.services.conftest import URL

pytestmark = pytest.mark.services
ROOT = str(Path(__file__).resolve().parents[2])


def make_bus(prefix: str, **kw: object) -> RedisStreamsBus:
    return RedisStreamsBus(URL, prefix=prefix, block_ms=20, **kw)  # type: ignore[arg-type]


def test_families_route_base_classes_to_every_stream() -> None:
    assert families_for((MessagePosted,)) == ["messages"]
    assert families_for((CommandInvoked,)) == ["commands"]
    assert families_for((Action,)) == ["actions"]
    assert "messages" in families_for((MessagePosted, MessageDeleted))


async def test_each_group_sees_every_event_once_and_types_are_filtered(prefix: str) -> None:
    bus = make_bus(prefix)
    seen_a: list[str] = []
    seen_b: list[str] = []
    actions: list[str] = []

    async def a(e: MessagePosted) -> None:
        seen_a.append(e.message_id)

    async def b(events: list[object]) -> None:
        seen_b.extend(getattr(e, "message_id", "") for e in events)

    async def act(e: SendMessage) -> None:
        actions.append(e.text)

    bus.subscribe(MessagePosted, a, name="brain-a")
    bus.subscribe_batch((MessagePosted, MessageDeleted), b, name="brain-b")
    bus.subscribe(Action, act, name="gateway.console")
    await bus.start()
    for i in range(20):
        await bus.publish(make_message("x", message_id=f"r{i}"))
    await bus.publish(make_message("x", message_id="r0"))  # duplicate: dropped
    await bus.publish(SendMessage(channel("general"), "hello"))
    await bus.publish(command("help"))  # other family: nobody here subscribes
    await bus.drain()
    assert sorted(seen_a) == sorted(f"r{i}" for i in range(20))
    assert sorted(seen_b) == sorted(seen_a)
    assert actions == ["hello"]
    assert bus.stats.duplicates == 1
    await bus.close()


async def test_an_entry_with_bare_slack_ids_is_delivered_with_channel_qualified_ids(prefix: str) -> None:
    # What an earlier version left on the stream (Slack ids were the bare ts) reaches brains in
    # today's form, so it lands on the rows the store's migration rewrote.
    bus = make_bus(prefix)
    seen: list[MessagePosted] = []

    async def on_message(e: MessagePosted) -> None:
        seen.append(e)

    bus.subscribe(MessagePosted, on_message, name="brain")
    await bus.start()
    slack = channel("C1", platform=Platform.SLACK, workspace="T1")
    author = user("U1", platform=Platform.SLACK, workspace="T1")
    await bus.publish(make_message("old entry", author=author, chan=slack, message_id="2.1", thread_id="1.1"))
    await bus.drain()
    assert [(e.message_id, e.thread_id, e.text) for e in seen] == [("C1:2.1", "C1:1.1", "old entry")]
    await bus.close()


async def test_two_consumers_of_one_group_share_the_load(prefix: str) -> None:
    producer = make_bus(prefix)
    w1, w2 = make_bus(prefix, consumer="w1"), make_bus(prefix, consumer="w2")
    got: dict[str, list[str]] = {"w1": [], "w2": []}

    def handler_for(name: str):
        async def handler(e: MessagePosted) -> None:
            got[name].append(e.message_id)
            await asyncio.sleep(0.001)

        return handler

    w1.subscribe(MessagePosted, handler_for("w1"), name="recorder")
    w2.subscribe(MessagePosted, handler_for("w2"), name="recorder")
    await w1.start()
    await w2.start()
    for i in range(200):
        await producer.publish(make_message("x", message_id=f"s{i}"))
    await w1.drain()
    await w2.drain()
    everything = got["w1"] + got["w2"]
    assert sorted(everything) == sorted(f"s{i}" for i in range(200))
    assert len(set(everything)) == 200
    assert got["w1"] and got["w2"], "both consumers should have received work"
    for b in (producer, w1, w2):
        await b.close()


async def test_poison_event_goes_to_dead_letter_and_can_be_replayed(prefix: str) -> None:
    bus = make_bus(prefix, claim_idle_ms=100, max_deliveries=3)
    ok: list[str] = []
    fail = True

    async def handler(e: MessagePosted) -> None:
        if e.text == "poison" and fail:
            raise ValueError("cannot handle this")
        ok.append(e.message_id)

    bus.subscribe(MessagePosted, handler, name="picky")
    await bus.start()
    await bus.publish(make_message("poison", message_id="p1"))
    await bus.publish(make_message("fine", message_id="p2"))
    await bus.drain(timeout=20)
    letters = await bus.dead_letters()
    assert len(letters) == 1
    assert letters[0]["group"] == "picky" and "cannot handle this" in letters[0]["error"]
    assert ok == ["p2"]
    fail = False
    assert await bus.replay_dead_letter(letters[0]["id"])
    await bus.drain(timeout=20)
    assert ok == ["p2", "p1"]
    assert await bus.dead_letters() == []
    await bus.close()


async def test_undecodable_entries_go_to_dead_letter_and_the_group_reads_on(prefix: str) -> None:
    bus = make_bus(prefix)
    got: list[str] = []

    async def handler(e: MessagePosted) -> None:
        got.append(e.message_id)

    bus.subscribe(MessagePosted, handler, name="rec")
    await bus.start()
    bad = [b"garbage", b'{"type":"InboundEvent"}', b'{"type":"Action"}', b"\xff\xfe", b"[" * 100_000]
    for payload in bad:  # written by a foreign producer, a bug, or a corrupted copy
        await bus._redis.xadd(bus.stream("messages"), {b"json": payload})
    await bus._redis.xadd(bus.stream("messages"), {b"other": b"field"})
    await bus.publish(make_message("fine", message_id="after-bad"))
    await bus.drain(timeout=20)
    assert got == ["after-bad"]
    letters = await bus.dead_letters()
    assert len(letters) == len(bad) + 1 and all(letter["error"].startswith("undecodable") for letter in letters)
    assert all(not t.done() for t in bus._subs[0].tasks)  # the worker is still reading
    await bus.close()


async def test_a_lone_surrogate_costs_one_character_not_the_publish(prefix: str) -> None:
    bus = make_bus(prefix)  # straight to the bus, past the privacy gate that makes text valid
    got: list[str] = []

    async def handler(e: MessagePosted) -> None:
        got.append(e.text)

    bus.subscribe(MessagePosted, handler, name="rec")
    await bus.start()
    assert await bus.publish(make_message("half an emoji \ud83d here", message_id="sur1"))
    await bus.drain(timeout=20)
    assert got == ["half an emoji ? here"]
    await bus.close()


@pytest.mark.parametrize("one_by_one", [True, False], ids=["publish", "publish_many"])
async def test_publish_buffers_while_redis_is_unreachable(prefix: str, one_by_one: bool) -> None:
    bus = make_bus(prefix)
    got: list[str] = []

    async def handler(e: MessagePosted) -> None:
        got.append(e.message_id)

    bus.subscribe(MessagePosted, handler, name="rec")
    await bus.start()
    real = bus._redis
    # Cut the connection: point the publisher at a closed port, as if Redis had died.
    bus._redis = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.05)
    events = [make_message("x", message_id=f"down{i}") for i in range(5)]
    if one_by_one:
        for event in events:
            assert await bus.publish(event)
    else:
        assert await bus.publish_many(events) == 5
    assert bus.buffered == 5
    await bus._redis.aclose()
    bus._redis = real  # Redis is back
    await bus.drain(timeout=20)
    assert got == [f"down{i}" for i in range(5)]
    await bus.close()


async def _delivered_by_the_next_start(prefix: str, spill: Path) -> list[str]:
    """Start a bus on ``spill``, publish one event ("after"), and return the message ids delivered."""
    up = make_bus(prefix, spill_path=spill)
    got: list[str] = []

    async def handler(e: MessagePosted) -> None:
        got.append(e.message_id)

    up.subscribe(MessagePosted, handler, name="rec")
    await up.start()
    await up.publish(make_message("x", message_id="after"))
    await up.drain(timeout=20)
    await up.close()
    return got


async def test_events_buffered_at_shutdown_are_spilled_and_sent_by_the_next_start(prefix: str, tmp_path: Path) -> None:
    spill = tmp_path / "data" / "bus.spill.jsonl"
    down = make_bus(prefix, spill_path=spill, close_flush_s=0.2)
    await down._redis.aclose()
    down._redis = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.05)  # Redis died
    assert await down.publish_many([make_message("x", message_id=f"spill{i}") for i in range(3)]) == 3
    await down.close()
    assert down.buffered == 0 and len(spill.read_text().splitlines()) == 3
    with spill.open("a") as f:
        f.write("not json\n")  # a torn last line is skipped, not fatal

    got = await _delivered_by_the_next_start(prefix, spill)
    assert got == ["spill0", "spill1", "spill2", "after"]  # spilled first, in order
    assert list(spill.parent.iterdir()) == []  # claimed and removed


async def test_a_publish_waiting_for_room_when_the_bus_closes_is_spilled(prefix: str, tmp_path: Path) -> None:
    bus = make_bus(prefix, spill_path=tmp_path / "spill.jsonl", close_flush_s=0.1, buffer_size=2)
    await bus._redis.aclose()
    bus._redis = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.05)
    assert await bus.publish_many([make_message("x", message_id=f"full{i}") for i in range(2)]) == 2
    waiting = asyncio.ensure_future(bus.publish(make_message("x", message_id="late")))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the buffer is full
    await bus.close()
    assert await asyncio.wait_for(waiting, timeout=5)  # spilled behind the buffer, not dropped
    spilled = [json.loads(line)["event"] for line in (tmp_path / "spill.jsonl").read_text().splitlines()]
    assert ['"late"' in e for e in spilled] == [False, False, True]
    no_spill = make_bus(prefix, close_flush_s=0.1, buffer_size=1)
    await no_spill._redis.aclose()
    no_spill._redis = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.05)
    assert await no_spill.publish(make_message("x", message_id="full"))
    waiting = asyncio.ensure_future(no_spill.publish(make_message("x", message_id="late")))
    await asyncio.sleep(0.05)
    await no_spill.close()
    with pytest.raises(RuntimeError, match="closed"):  # nowhere to keep it: the publisher is told
        await asyncio.wait_for(waiting, timeout=5)


async def test_a_publish_still_trying_redis_when_the_bus_closes_is_spilled(prefix: str, tmp_path: Path) -> None:
    bus = make_bus(prefix, spill_path=tmp_path / "spill.jsonl", close_flush_s=0.1)
    gate = asyncio.Event()

    class SlowDeadPipeline:
        def __getattr__(self, name: str) -> Any:
            return lambda *args, **kwargs: None  # queued commands

        async def execute(self, **kwargs: Any) -> Any:
            await gate.wait()
            raise RedisConnectionError("Connection refused")

    bus._redis.pipeline = lambda **kwargs: SlowDeadPipeline()  # type: ignore[method-assign]
    publishing = asyncio.ensure_future(bus.publish(make_message("x", message_id="inflight")))
    await asyncio.sleep(0.05)
    await bus.close()
    gate.set()  # Redis answers (with an error) only after close() spilled an empty buffer
    assert await asyncio.wait_for(publishing, timeout=5)
    assert bus.buffered == 0
    [line] = (tmp_path / "spill.jsonl").read_text().splitlines()
    assert "inflight" in line


async def test_close_returns_when_a_worker_loses_its_cancel(prefix: str) -> None:
    # Seen in CI: a worker cancelled in the middle of XREADGROUP went on reading, and close() waited
    # for it forever. On Python 3.11 redis-py's asyncio.wait_for around each send swallows a cancel
    # that lands as the send completes, and the command returns normally; this read always does.
    bus = make_bus(prefix)

    async def handler(e: MessagePosted) -> None:
        pass

    bus.subscribe(MessagePosted, handler, name="rec")
    await bus.start()
    lost: list[str] = []

    reading = asyncio.Event()

    def losing(name: str, empty: object) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            reading.set()
            try:
                # A read with nothing to read: it waits until the cancel lands here, every time (a
                # real BLOCK 20 ms read let the cancel land between reads about 1 run in 25).
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                lost.append(name)
            return empty

        return call

    # Every command the worker's loop awaits (its read, and the reclaim of idle entries).
    bus._redis.xreadgroup = losing("xreadgroup", [])  # type: ignore[method-assign]
    bus._redis.xautoclaim = losing("xautoclaim", [b"0-0", [], []])  # type: ignore[method-assign]
    await asyncio.wait_for(reading.wait(), timeout=5)  # the worker is in a read
    closing = asyncio.ensure_future(bus.close())
    done, _ = await asyncio.wait({closing}, timeout=10)
    if not done:  # cancel until one lands, so that this failure does not hang the run
        del bus._redis.xreadgroup, bus._redis.xautoclaim
        while not all(task.done() for task in bus._subs[0].tasks):
            for task in bus._subs[0].tasks:
                task.cancel()
            await asyncio.sleep(0.05)
        await closing
    assert done, "close() waited for a worker whose cancel was lost"
    assert lost  # the cancel did land in a command, and was lost there


async def test_publish_many_pipelines_dedupes_and_keeps_order(prefix: str) -> None:
    bus = make_bus(prefix)
    got: list[str] = []

    async def handler(events: Sequence[MessagePosted]) -> None:
        got.extend(e.message_id for e in events)

    bus.subscribe_batch((MessagePosted,), handler, name="rec")
    await bus.start()
    await bus.publish(make_message("x", message_id="many0"))
    batch = [make_message("x", message_id=f"many{i}") for i in range(50)]
    batch.append(make_message("x", message_id="many7"))  # a duplicate inside the batch
    assert await bus.publish_many(batch) == 49  # many0 was published before, many7 twice
    await bus.drain()
    assert got == [f"many{i}" for i in range(50)]
    assert bus.stats.duplicates == 2
    await bus.close()


_KILLED_PUBLISHER = """
import asyncio, sys
from pathlib import Path
from bot.bus_redis import RedisStreamsBus
from bot.testing import make_message

async def main() -> None:
    # Redis is down for this whole process: every event is buffered.
    bus = RedisStreamsBus("redis://127.0.0.1:1/0", prefix=sys.argv[1], spill_path=Path(sys.argv[2]))
    await bus.publish_many([make_message("x", message_id=f"killed{i}") for i in range(3)])
    print("buffered", bus.buffered, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_events_buffered_by_a_killed_process_are_sent_by_the_next_start(prefix: str, tmp_path: Path) -> None:
    spill = tmp_path / "data" / "bus.spill.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _KILLED_PUBLISHER,
        prefix,
        str(spill),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    assert line.split() == [b"buffered", b"3"], line
    proc.send_signal(signal.SIGKILL)  # no close(), no spill: only the journal is left
    await proc.wait()
    assert not spill.exists() and len(list(spill.parent.glob("*.journal"))) == 1

    got = await _delivered_by_the_next_start(prefix, spill)
    assert got == ["killed0", "killed1", "killed2", "after"]
    assert list(spill.parent.iterdir()) == []  # the orphan journal was taken and removed


async def test_a_live_process_journal_is_not_taken_by_another_start(prefix: str, tmp_path: Path) -> None:
    spill = tmp_path / "bus.spill.jsonl"
    down = make_bus(prefix, spill_path=spill, close_flush_s=0.1)
    await down._redis.aclose()
    down._redis = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.05)
    assert await down.publish_many([make_message("x", message_id=f"live{i}") for i in range(2)]) == 2
    neighbour = make_bus(prefix, spill_path=spill)  # a second process sharing the data folder
    await neighbour.start()
    assert neighbour.buffered == 0 and down.buffered == 2  # still down's to send
    await neighbour.close()
    await down.close()  # Redis still down: spilled for the next start, and the journal goes
    assert [p.name for p in spill.parent.iterdir()] == [spill.name]
    assert len(spill.read_text().splitlines()) == 2


async def test_forgetting_a_member_deletes_their_events_from_the_streams_and_dead_letters(prefix: str) -> None:
    from bot.events import ReactionAdded

    bus = make_bus(prefix, claim_idle_ms=100, max_deliveries=1)

    async def handler(e: MessagePosted) -> None:
        if "vault" in e.text:
            raise ValueError("cannot handle this")

    bus.subscribe(MessagePosted, handler, name="picky")
    await bus.start()
    await bus.publish(make_message("ana: the vault code is QX7-4711", author="ana", message_id="a1"))
    await bus.publish(make_message("ana again, nothing secret", author="ana", message_id="a2"))
    await bus.publish(make_message("bob's words stay", author="bob", message_id="b1"))
    await bus.publish(ReactionAdded(channel("general"), "b1", user("ana"), "+1", make_message("x").ts))
    await bus.drain(timeout=20)
    assert len(await bus.dead_letters()) == 1
    assert await bus.forget_author(user("ana")) == 4  # two messages, a reaction, a dead letter
    r = aioredis.from_url(URL)
    try:
        left = [
            f[b"json"]
            for key in (bus.stream("messages"), bus.stream("reactions"), bus.dlq_stream)
            for _, f in await r.xrange(key)
        ]
    finally:
        await r.aclose()
    assert left and all(b"ana" not in payload or b"bob's words" in payload for payload in left)
    assert not any(b"QX7-4711" in payload for payload in left)
    assert await bus.dead_letters() == []
    await bus.close()


async def test_forgetting_finds_ids_beyond_ascii_and_keeps_a_message_that_only_names_them(prefix: str) -> None:
    """The scan skips entries whose bytes lack the member's id before decoding any JSON; an id
    outside ASCII is still found, and someone else's message quoting the id stays."""
    bus = make_bus(prefix)
    await bus.start()
    await bus.publish(make_message("zoë's question about asyncio", author="zoë", message_id="z1"))
    await bus.publish(make_message('bob asks "zoë" to look', author="bob", message_id="b1"))
    await bus.drain(timeout=20)
    assert await bus.forget_author(user("zoë")) == 1
    r = aioredis.from_url(URL)
    try:
        left = [f[b"json"] for _, f in await r.xrange(bus.stream("messages"))]
    finally:
        await r.aclose()
    assert len(left) == 1 and b"bob asks" in left[0]
    await bus.close()


async def test_forgetting_a_member_while_redis_is_down_filters_the_local_buffer_first(prefix: str) -> None:
    bus = make_bus(prefix)
    got: list[str] = []

    async def handler(e: MessagePosted) -> None:
        got.append(e.message_id)

    bus.subscribe(MessagePosted, handler, name="rec")
    await bus.start()
    real = bus._redis
    bus._redis = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.05)  # Redis died
    await bus.publish(make_message("ana's secret", author="ana", message_id="a1"))
    await bus.publish(make_message("bob's note", author="bob", message_id="b1"))
    with pytest.raises(RedisConnectionError):
        await bus.forget_author(user("ana"))  # the streams cannot be scanned now ...
    assert bus.buffered == 1  # ... but the buffer no longer holds her event
    await bus._redis.aclose()
    bus._redis = real
    await bus.drain(timeout=20)
    assert got == ["b1"]
    await bus.close()


async def test_a_handler_slower_than_claim_idle_runs_once(prefix: str) -> None:
    """An answer or an index rebuild can outlast claim_idle_ms: its entry is kept claimed while it
    runs, so neither this process's other slots nor another worker run it a second time."""
    bus = make_bus(prefix, claim_idle_ms=600)
    calls: list[str] = []

    async def slow(e: MessagePosted) -> None:
        calls.append(e.message_id)
        await asyncio.sleep(2.0)

    bus.subscribe(MessagePosted, slow, name="slow", concurrency=4)
    await bus.start()
    await bus.publish(make_message("@guildhall a long question", message_id="m1"))
    await asyncio.sleep(3.5)
    assert calls == ["m1"]
    await bus.drain(timeout=10)
    await bus.close()


async def test_of_two_workers_one_claims_a_scheduled_run(prefix: str) -> None:
    """Two worker processes' buses: each run of a one_worker job goes to exactly one of them."""
    first, second = make_bus(prefix), make_bus(prefix)
    try:
        run = "recommend.digest_tick@2026-01-05T08:15:00+00:00"
        assert [await first.claim_once(run, 60), await second.claim_once(run, 60)] == [True, False]
        later = "recommend.digest_tick@2026-01-05T08:30:00+00:00"
        assert [await second.claim_once(later, 60), await first.claim_once(later, 60)] == [True, False]
        # A failed run gives its claim back; a claim another worker holds is not taken from it.
        await first.release_claim(later)
        assert await first.claim_once(later, 60) is False
        await second.release_claim(later)
        assert await first.claim_once(later, 60) is True
    finally:
        await first.close()
        await second.close()


async def test_a_bus_started_while_redis_is_down_buffers_warns_once_and_catches_up(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A gateway or worker started before Redis: no crash, one warning (not one per worker every
    half second), events buffered; once Redis is up the groups are made and everything arrives."""
    import logging
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bus = RedisStreamsBus(f"redis://127.0.0.1:{port}/0", prefix=prefix, block_ms=20)
    got: list[str] = []

    async def handler(e: MessagePosted) -> None:
        got.append(e.message_id)

    bus.subscribe(MessagePosted, handler, name="rec", concurrency=2)
    bus.subscribe(CommandInvoked, handler, name="cmd")  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, logger="bot.bus_redis")
    await bus.start()  # does not raise
    assert await bus.publish(make_message("early", message_id="early1"))
    await asyncio.sleep(1.5)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "unreachable" in r.getMessage()]
    assert 1 <= len(warnings) <= 2  # the read loop's one, and the publisher's buffering one
    server = await asyncio.create_subprocess_exec(
        "redis-server",
        *("--port", str(port), "--save", "", "--appendonly", "no"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            await asyncio.sleep(0.1)
            if got:
                break
        await bus.drain(timeout=20)
        assert got == ["early1"]
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        await bus.close()
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=10)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@redis.internal:6380/0", "redis://:***@redis.internal:6380/0"),
        ("redis://app:s3cret@[::1]:6379/2", "redis://app:***@[::1]:6379/2"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
    ],
)
def test_safe_url_masks_the_password_and_keeps_the_host_as_written(url: str, shown: str) -> None:
    """Logs show where Redis was expected, never its password; an IPv6 host keeps its brackets."""
    assert RedisStreamsBus(url, prefix="t").safe_url == shown

"""In-process bus: ordering, error isolation, back-pressure, drain, dedupe, batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from bot.bus import InProcessBus
from bot.events import MessageDeleted, MessagePosted, SendMessage
from bot.tasks import cancel_until_done
from bot.testing import channel, make_message


async def test_handler_exception_is_logged_and_bus_keeps_going(caplog: pytest.LogCaptureFixture) -> None:
    bus = InProcessBus()
    seen: list[str] = []

    async def flaky(event: MessagePosted) -> None:
        if "boom" in event.text:
            raise RuntimeError("kaput")
        seen.append(event.text)

    async def steady(event: MessagePosted) -> None:
        seen.append("steady:" + event.text)

    bus.subscribe(MessagePosted, flaky, name="qa.answer")
    bus.subscribe(MessagePosted, steady, name="activity.count")
    with caplog.at_level(logging.ERROR):
        for text in ["a", "boom", "b"]:
            await bus.publish(make_message(text))
        await bus.drain()
    assert seen.count("a") == 1 and seen.count("b") == 1 and "steady:boom" in seen
    assert bus.stats.failed == 1
    record = next(r for r in caplog.records if "kaput" in r.getMessage())
    assert "qa.answer" in record.getMessage() and "MessagePosted" in record.getMessage()
    await bus.close()


async def test_events_reach_each_handler_in_publish_order() -> None:
    bus = InProcessBus()
    order: list[str] = []

    async def handler(event: MessagePosted) -> None:
        await asyncio.sleep(0)
        order.append(event.message_id)

    bus.subscribe(MessagePosted, handler, name="ordered")
    ids = [f"m-order-{i}" for i in range(50)]
    for mid in ids:
        await bus.publish(make_message("x", message_id=mid))
    await bus.drain()
    assert order == ids
    await bus.close()


async def test_publish_blocks_when_a_queue_is_full() -> None:
    bus = InProcessBus(queue_size=2)
    gate = asyncio.Event()
    handled: list[str] = []

    async def slow(event: MessagePosted) -> None:
        await gate.wait()
        handled.append(event.message_id)

    bus.subscribe(MessagePosted, slow, name="slow")
    await bus.start()
    # One event is taken by the worker, two fill the queue; the fourth publish must wait.
    for i in range(3):
        await bus.publish(make_message("x", message_id=f"bp{i}"))
    await asyncio.sleep(0)
    fourth = asyncio.create_task(bus.publish(make_message("x", message_id="bp3")))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not fourth.done(), "publish should wait for room (back-pressure)"
    gate.set()
    await fourth
    await bus.drain()
    assert handled == ["bp0", "bp1", "bp2", "bp3"]
    await bus.close()


async def test_duplicate_inbound_events_are_dropped_but_actions_are_not() -> None:
    bus = InProcessBus()
    got: list[object] = []

    async def record(event: object) -> None:
        got.append(event)

    bus.subscribe(MessagePosted, record, name="m")
    bus.subscribe(SendMessage, record, name="a")
    msg = make_message("hi", message_id="dup1")
    assert await bus.publish(msg) is True
    assert await bus.publish(msg) is False
    action = SendMessage(channel("general"), "same text")
    await bus.publish(action)
    await bus.publish(SendMessage(channel("general"), "same text"))
    await bus.drain()
    assert len([g for g in got if isinstance(g, MessagePosted)]) == 1
    assert len([g for g in got if isinstance(g, SendMessage)]) == 2
    assert bus.stats.duplicates == 1
    await bus.close()


async def test_batch_subscriber_gets_ordered_batches_and_survives_a_poison_event() -> None:
    bus = InProcessBus()
    seen: list[str] = []

    async def batch(events: list[object]) -> None:
        for e in events:
            if isinstance(e, MessagePosted) and e.text == "poison":
                raise ValueError("bad event")
        seen.extend(getattr(e, "message_id", "?") for e in events)

    bus.subscribe_batch((MessagePosted, MessageDeleted), batch, name="batch", max_batch=10)
    for i in range(25):
        await bus.publish(make_message("poison" if i == 7 else "ok", message_id=f"b{i}"))
    await bus.drain()
    assert seen == [f"b{i}" for i in range(25) if i != 7]
    assert bus.stats.failed == 1
    await bus.close()


async def test_poison_events_are_isolated_in_halves_not_one_by_one() -> None:
    bus = InProcessBus(queue_size=2000)
    calls: list[int] = []
    seen: list[str] = []

    async def batch(events: Sequence[MessagePosted]) -> None:
        calls.append(len(events))
        if any(e.text == "poison" for e in events):
            raise ValueError("bad event")
        seen.extend(e.message_id for e in events)

    bus.subscribe_batch((MessagePosted,), batch, name="writer", max_batch=1000)
    poison = {100, 901}
    await bus.publish_many([make_message("poison" if i in poison else "ok", message_id=f"h{i}") for i in range(1000)])
    await bus.drain()
    assert calls[0] == 1000  # one batch, then the retries
    assert seen == [f"h{i}" for i in range(1000) if i not in poison]  # nothing lost, order kept
    assert bus.stats.failed == 2 and bus.stats.handled == 998
    # Two bad events: about 2·log2(1000) retried batches each, not 1,000 single-event calls.
    assert len(calls) <= 1 + 2 * 2 * 10
    await bus.close()


async def test_close_drains_then_refuses_publish() -> None:
    bus = InProcessBus()
    done: list[str] = []

    async def handler(event: MessagePosted) -> None:
        done.append(event.message_id)

    bus.subscribe(MessagePosted, handler, name="h")
    await bus.publish(make_message("x", message_id="c1"))
    await bus.close()
    assert done == ["c1"]
    with pytest.raises(RuntimeError):
        await bus.publish(make_message("x", message_id="c2"))


async def test_duplicate_subscription_names_are_rejected() -> None:
    bus = InProcessBus()

    async def h(event: MessagePosted) -> None:
        return None

    bus.subscribe(MessagePosted, h, name="same")
    with pytest.raises(ValueError):
        bus.subscribe(MessagePosted, h, name="same")


async def test_burst_memory_is_bounded_by_queue_size() -> None:
    bus = InProcessBus(queue_size=16)
    max_seen = 0

    async def h(event: MessagePosted) -> None:
        nonlocal max_seen
        max_seen = max(max_seen, bus._subs[0].queue.qsize())

    bus.subscribe(MessagePosted, h, name="burst")
    for i in range(2000):
        await bus.publish(make_message("x", message_id=f"burst{i}"))
    await bus.drain()
    assert max_seen <= 16
    await bus.close()


async def test_a_batch_subscription_queue_holds_two_batches_and_stays_bounded() -> None:
    bus = InProcessBus(queue_size=8)
    gate = asyncio.Event()
    batches: list[int] = []

    async def write(batch: Sequence[MessagePosted]) -> None:
        await gate.wait()
        batches.append(len(batch))

    async def one(event: MessagePosted) -> None:
        return None

    bus.subscribe_batch((MessagePosted,), write, name="writer", max_batch=10)
    bus.subscribe(MessagePosted, one, name="one")
    assert bus._subs[1].queue.maxsize == 8  # plain subscriptions keep the configured size
    await bus.start()
    publisher = asyncio.create_task(bus.publish_many([make_message(f"q{i}", message_id=f"q{i}") for i in range(500)]))
    for _ in range(50):
        await asyncio.sleep(0)
    # The writer holds one batch; its queue filled past the plain size to two batches, then stopped.
    assert bus._subs[0].queue.qsize() == 20
    assert not publisher.done()
    gate.set()
    assert await publisher == 500
    await bus.drain()
    assert sum(batches) == 500 and max(batches) <= 10
    await bus.close()


async def test_platform_actions_reach_only_their_platform_in_one_worker_per_type() -> None:
    from bot.bus import subscribe_platform_actions
    from bot.events import AddReaction, Platform

    bus = InProcessBus()
    got: list[tuple[str, str]] = []

    async def post(action: SendMessage) -> None:
        got.append(("post", action.text))

    async def react(action: AddReaction) -> None:
        got.append(("react", action.emoji))

    subscribe_platform_actions(bus, Platform.SLACK, [(SendMessage, post), (AddReaction, react)])
    await bus.start()
    slack, discord = channel(platform=Platform.SLACK), channel(platform=Platform.DISCORD)
    await bus.publish(SendMessage(discord, "not mine"))
    await bus.publish(SendMessage(slack, "mine"))
    await bus.publish(AddReaction(slack, "m1", "tada"))
    await bus.drain()
    assert sorted(got) == [("post", "mine"), ("react", "tada")]
    assert {s.name for s in bus._subs} == {"slack.SendMessage", "slack.AddReaction"}
    await bus.close()


async def test_publish_many_keeps_order_drops_duplicates_and_waits_for_room() -> None:
    bus = InProcessBus(queue_size=3)
    handled: list[str] = []
    actions: list[str] = []

    async def slow(events: Sequence[MessagePosted]) -> None:
        await asyncio.sleep(0)
        handled.extend(e.message_id for e in events)

    async def act(event: SendMessage) -> None:
        actions.append(event.text)

    bus.subscribe_batch((MessagePosted,), slow, name="slow", max_batch=2)
    bus.subscribe(SendMessage, act, name="actions")
    await bus.publish(make_message("x", message_id="pm0"))
    events: list[MessagePosted | SendMessage] = [make_message("x", message_id=f"pm{i}") for i in range(20)]
    events.insert(5, make_message("x", message_id="pm3"))  # duplicate inside the batch
    events.append(SendMessage(channel("general"), "hi"))
    events.append(SendMessage(channel("general"), "hi"))  # actions are never de-duplicated
    # 20 events through a queue of 4 (two batches of 2): publish_many must wait for room rather than
    # fail or grow.
    assert await bus.publish_many(events) == 21
    await bus.drain()
    assert handled == [f"pm{i}" for i in range(20)]
    assert actions == ["hi", "hi"]
    assert bus.stats.duplicates == 2 and bus.stats.published == 22
    await bus.close()
    with pytest.raises(RuntimeError):
        await bus.publish_many([make_message("late")])


async def test_a_publisher_that_never_waits_still_lets_a_backlogged_batch_subscriber_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The queue never fills, so without the backlog turn the handler would first run after the
    # producer finished (the import and burst case: the store's writer idles meanwhile).
    monkeypatch.setattr("bot.bus._TURN_INTERVAL_S", 0.0)
    bus = InProcessBus(queue_size=10_000)
    handled: list[int] = []

    async def write(batch: Sequence[MessagePosted]) -> None:
        handled.append(len(batch))

    bus.subscribe_batch((MessagePosted,), write, name="core.recorder", max_batch=10)
    for i in range(100):
        await bus.publish(make_message(f"m{i}", message_id=f"id{i}"))
    assert sum(handled) >= 50  # the subscriber kept up while the producer ran
    await bus.drain()
    assert sum(handled) == 100
    await bus.close()


async def test_cancel_until_done_outlasts_a_swallowed_cancel_and_gives_up_in_time() -> None:
    swallowed = 0

    async def stubborn() -> None:
        # What asyncio.wait_for does on Python 3.11 when a cancel lands as its call completes.
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    assert await cancel_until_done([task], within_s=5) == set()
    assert task.cancelled() and swallowed == 1

    stop = False

    async def deaf() -> None:
        while not stop:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                pass

    other = asyncio.create_task(deaf())
    await asyncio.sleep(0)
    assert await cancel_until_done([other], within_s=0.3) == {other}
    stop = True
    await other


async def test_close_cancels_a_hung_handler_after_its_deadline_and_names_it(caplog: pytest.LogCaptureFixture) -> None:
    bus = InProcessBus(drain_timeout_s=0.05)
    started = asyncio.Event()
    cancelled: list[str] = []
    handled: list[str] = []

    async def hung(e: MessagePosted) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # a remote call without a timeout
        except asyncio.CancelledError:
            cancelled.append(e.message_id)
            raise

    async def quick(e: MessagePosted) -> None:
        handled.append(e.message_id)

    bus.subscribe(MessagePosted, hung, name="qa.answer")
    bus.subscribe(MessagePosted, quick, name="activity.count")
    await bus.publish(make_message("a", message_id="m1"))
    await bus.publish(make_message("b", message_id="m2"))
    await started.wait()
    with caplog.at_level(logging.ERROR, logger="bot.bus"):
        await bus.close()  # used to wait for the hung handler forever: SIGTERM never exited
    assert cancelled == ["m1"]
    assert handled == ["m1", "m2"]
    busy = [r.getMessage() for r in caplog.records if "still busy" in r.getMessage()]
    assert len(busy) == 1 and "qa.answer" in busy[0] and "2 events unhandled, 1 of them queued" in busy[0]
    with pytest.raises(RuntimeError):
        await bus.publish(make_message("c", message_id="m3"))

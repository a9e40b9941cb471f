"""WorkspaceRemoved over the real Redis Streams bus: it reaches the recorder's batch subscription,
and a subscriber of every inbound event, intact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.bus_redis import RedisStreamsBus
from bot.events import Event, InboundEvent, Platform, WorkspaceRef, WorkspaceRemoved
from bot.recorder import RECORDED_TYPES
from tests.services.conftest import URL

pytestmark = pytest.mark.services


async def test_a_removal_travels_the_redis_bus_intact(prefix: str) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    recorded: list[Event] = []
    everything: list[Event] = []

    async def record(events: list[Event]) -> None:
        recorded.extend(events)

    async def see(event: Event) -> None:
        everything.append(event)

    bus.subscribe_batch(RECORDED_TYPES, record, name="core.recorder")
    bus.subscribe(InboundEvent, see, name="test.seen")
    await bus.start()
    event = WorkspaceRemoved(
        WorkspaceRef(Platform.DISCORD, "900000000000000001", "Zoë's guild"),
        datetime(2026, 3, 9, 10, 0, 0, 123456, tzinfo=UTC),
        "removed from the Discord server",
    )
    await bus.publish(event)
    await bus.publish(event)  # a redelivery: the same fact, dropped
    await bus.drain()
    await bus.close()
    assert recorded == [event] and everything == [event]

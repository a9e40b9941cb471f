"""WorkspacesConnected over the real Redis Streams bus: it reaches the recorder's batch subscription
and a subscriber of every inbound event intact, after the ChannelSeen published before it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bot.bus_redis import RedisStreamsBus
from bot.events import ChannelRef, ChannelSeen, Event, InboundEvent, Platform, WorkspacesConnected
from bot.recorder import RECORDED_TYPES
from tests.services.conftest import URL

pytestmark = pytest.mark.services


async def test_a_connection_report_travels_the_redis_bus_intact_and_in_order(prefix: str) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    recorded: list[Event] = []
    everything: list[Event] = []

    async def record(events: Sequence[Event]) -> None:
        recorded.extend(events)

    async def see(event: Event) -> None:
        everything.append(event)

    bus.subscribe_batch(RECORDED_TYPES, record, name="core.recorder")
    bus.subscribe(InboundEvent, see, name="test.seen")
    await bus.start()
    at = datetime(2026, 3, 9, 10, 0, 0, 123456, tzinfo=UTC)
    seen = ChannelSeen(ChannelRef(Platform.DISCORD, "900000000000000001", "900000000000000010", "general"), at)
    connected = WorkspacesConnected(Platform.DISCORD, ("900000000000000001",), 4, (0, 2), at)
    await bus.publish(seen)
    await bus.publish(connected)
    await bus.publish(connected)  # a redelivery: the same fact, dropped
    await bus.drain()
    await bus.close()
    assert recorded == [seen, connected] and everything == [seen, connected]

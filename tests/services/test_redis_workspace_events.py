"""Workspace lifecycle events over the real Redis Streams bus: WorkspaceRemoved and
WorkspacesConnected reach the recorder's batch subscription and a subscriber of every inbound event
intact and in order (after the ChannelSeen published before them), and a redelivery is dropped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bot.bus_redis import RedisStreamsBus
from bot.events import (
    ChannelRef,
    ChannelSeen,
    Event,
    InboundEvent,
    Platform,
    WorkspaceRef,
    WorkspaceRemoved,
    WorkspacesConnected,
)
from bot.recorder import RECORDED_TYPES
from tests.services.conftest import URL

pytestmark = pytest.mark.services

AT = datetime(2026, 3, 9, 10, 0, 0, 123456, tzinfo=UTC)
GUILD = "900000000000000001"


async def _through_redis(prefix: str, events: Sequence[Event]) -> tuple[list[Event], list[Event]]:
    """Publish ``events``, each twice (a redelivery); what the recorder and an every-event
    subscriber received."""
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    recorded: list[Event] = []
    everything: list[Event] = []

    async def record(batch: Sequence[Event]) -> None:
        recorded.extend(batch)

    async def see(event: Event) -> None:
        everything.append(event)

    bus.subscribe_batch(RECORDED_TYPES, record, name="core.recorder")
    bus.subscribe(InboundEvent, see, name="test.seen")
    await bus.start()
    for event in events:
        await bus.publish(event)
        await bus.publish(event)
    await bus.drain()
    await bus.close()
    return recorded, everything


async def test_a_removal_travels_the_redis_bus_intact(prefix: str) -> None:
    removed = WorkspaceRemoved(WorkspaceRef(Platform.DISCORD, GUILD, "Zoë's guild"), AT, "removed from the server")
    recorded, everything = await _through_redis(prefix, [removed])
    assert recorded == [removed] and everything == [removed]


async def test_a_connection_report_travels_the_redis_bus_intact_and_in_order(prefix: str) -> None:
    seen = ChannelSeen(ChannelRef(Platform.DISCORD, GUILD, "900000000000000010", "general"), AT)
    connected = WorkspacesConnected(Platform.DISCORD, (GUILD,), 4, (0, 2), AT)
    recorded, everything = await _through_redis(prefix, [seen, connected])
    assert recorded == [seen, connected] and everything == [seen, connected]

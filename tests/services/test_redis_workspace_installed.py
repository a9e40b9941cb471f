"""WorkspaceInstalled over the real Redis Streams bus: after the removal it follows, it reaches the
recorder (which ends the removal in the store) and a subscriber of every inbound event, intact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.bus_redis import RedisStreamsBus
from bot.events import Event, InboundEvent, Platform, WorkspaceInstalled, WorkspaceRef, WorkspaceRemoved
from bot.recorder import Recorder, removed_workspaces
from bot.store import open_store
from tests.services.conftest import URL

pytestmark = pytest.mark.services


async def test_a_reinstall_travels_the_redis_bus_after_the_removal_and_ends_it(prefix: str) -> None:
    store = await open_store("sqlite://:memory:")
    bus = RedisStreamsBus(URL, prefix=prefix, block_ms=20)
    everything: list[Event] = []

    async def see(event: Event) -> None:
        everything.append(event)

    Recorder(store).attach(bus)
    bus.subscribe(InboundEvent, see, name="test.seen")
    await bus.start()
    at = datetime(2026, 3, 9, 10, 0, 0, 123456, tzinfo=UTC)
    removed = WorkspaceRemoved(WorkspaceRef(Platform.SLACK, "T0ACME"), at, "the Slack app was uninstalled")
    installed = WorkspaceInstalled(
        WorkspaceRef(Platform.SLACK, "T0ACME", "Zoë's team"), at + timedelta(minutes=5), "the Slack app was installed"
    )
    try:
        await bus.publish(removed)
        await bus.publish(installed)
        await bus.publish(installed)  # a redelivery: the same fact, dropped
        await bus.drain()
        assert everything == [removed, installed]
        assert await removed_workspaces(store.db) == {}
        row = await store.db.fetchone(
            "SELECT name FROM workspaces WHERE platform = 'slack' AND workspace_id = 'T0ACME'"
        )
        assert row is not None and row[0] == "Zoë's team"
    finally:
        await bus.close()
        await store.close()

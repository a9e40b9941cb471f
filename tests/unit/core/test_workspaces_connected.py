"""WorkspacesConnected: what a connection can judge (its shards, never the DM pseudo-workspace), its
wire form, and the recorder marking only the stored workspaces of its platform and shards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.bus_redis import family_of
from bot.clock import FakeClock, to_epoch
from bot.events import ChannelRef, ChannelSeen, Platform, WorkspacesConnected, from_json, to_json
from bot.recorder import removed_workspaces
from tests.conftest import AppFactory

MONDAY = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
SHARD0, SHARD1 = "900000000004194305", "900000000000000001"  # (id >> 22) % 2 == 0, 1


def test_a_connection_covers_the_guilds_of_its_shards_only() -> None:
    assert [(int(g) >> 22) % 2 for g in (SHARD0, SHARD1)] == [0, 1]
    half = WorkspacesConnected(Platform.DISCORD, (), 2, (0,), MONDAY)
    assert half.covers(SHARD0) and not half.covers(SHARD1)
    whole = WorkspacesConnected(Platform.DISCORD, (), ts=MONDAY)  # unsharded: shard 0 of 1
    assert whole.covers(SHARD0) and whole.covers(SHARD1)
    assert not whole.covers("@me")  # DMs: no connection lists them, the bot cannot be removed


def test_the_event_round_trips_has_a_per_connection_id_and_rides_with_channel_seen() -> None:
    event = WorkspacesConnected(Platform.DISCORD, (SHARD0, SHARD1), 4, (0, 2), MONDAY)
    back = from_json(to_json(event))
    assert back == event and type(back) is WorkspacesConnected and back.platform is Platform.DISCORD
    later = WorkspacesConnected(Platform.DISCORD, (SHARD0, SHARD1), 4, (0, 2), MONDAY + timedelta(minutes=5))
    assert later.event_id != event.event_id  # a reconnect is a new fact, a redelivery is not
    other_process = WorkspacesConnected(Platform.DISCORD, (), 4, (1, 3), MONDAY)
    assert other_process.event_id != event.event_id  # two processes connecting at the same instant
    assert family_of(WorkspacesConnected) == family_of(ChannelSeen) == "members"


async def test_the_recorder_judges_only_stored_workspaces_of_the_platform_and_shards(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=[], clock=FakeClock(MONDAY))
    for platform, workspace_id in (
        (Platform.DISCORD, SHARD0),
        (Platform.DISCORD, SHARD1),
        (Platform.SLACK, "T0001"),
        (Platform.CONSOLE, "local"),
    ):
        await adapter.inject(ChannelSeen(ChannelRef(platform, workspace_id, "c1", "general"), MONDAY))
    await app.bus.drain()

    await adapter.inject(WorkspacesConnected(Platform.DISCORD, (), 2, (0,), MONDAY + timedelta(hours=1)))
    await app.bus.drain()
    # Shard 1's guild is another process's to judge; other platforms are not Discord's.
    assert await removed_workspaces(app.store.db) == {("discord", SHARD0): to_epoch(MONDAY + timedelta(hours=1))}

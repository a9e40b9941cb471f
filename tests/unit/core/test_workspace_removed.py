"""A workspace the bot was removed from (Discord kick, Slack uninstall): the recorder notes it, the
scheduled jobs that post or DM skip it, and they resume once a live fact shows the bot is back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.bus_redis import families_for, family_of
from bot.clock import FakeClock
from bot.events import (
    ChannelSeen,
    EventSource,
    InboundEvent,
    MessageEdited,
    Platform,
    ReactionAdded,
    SendDirectMessage,
    SendMessage,
    WorkspaceRef,
    WorkspaceRemoved,
    from_json,
    to_json,
)
from bot.testing.builders import BASE_TIME, channel, make_message, user
from brain.activity.brain import ActivityBrain
from brain.recommend.brain import RecommendBrain
from tests.conftest import AppFactory

CONSOLE = WorkspaceRef(Platform.CONSOLE, "local", "Local community")
MONDAY = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
LONG = "here is a long enough answer"


def test_the_event_round_trips_through_the_bus_codec_and_has_a_stream() -> None:
    event = WorkspaceRemoved(WorkspaceRef(Platform.DISCORD, "g1", "Zoë's guild 🛠"), MONDAY, "kicked")
    back = from_json(to_json(event))
    assert back == event and type(back) is WorkspaceRemoved
    assert back.event_id == event.event_id == f"discord:g1:removed:{MONDAY.isoformat()}"
    # Removed, back, removed again: two removals, not one redelivered.
    assert WorkspaceRemoved(event.workspace, MONDAY + timedelta(days=1)).event_id != event.event_id
    # On the members stream, which a subscription to every inbound event reads.
    assert family_of(WorkspaceRemoved) == "members"
    assert "members" in families_for([InboundEvent])


async def test_the_daily_digest_skips_a_removed_workspace_and_resumes_when_the_bot_is_back(
    make_app: AppFactory,
) -> None:
    clock = FakeClock(BASE_TIME + timedelta(hours=2))  # past the digest time: digests are due
    app, adapter = await make_app(brains=["recommend"], clock=clock)
    brain = app.brain("recommend")
    assert isinstance(brain, RecommendBrain)
    for event in (
        make_message("asyncio loop question?", author="bob", chan="python", message_id="t1", thread_id="t1"),
        make_message("use task.cancel()", author="carol", chan="python", thread_id="t1", minutes=1),
        make_message("I love asyncio", author="alice", chan="python", minutes=2),
    ):
        await adapter.inject(event)
    await app.store.set_member_setting("console", "local", "alice", "digest", True)
    await adapter.inject(WorkspaceRemoved(CONSOLE, clock.now(), "test"))
    await app.bus.drain()

    await brain.digest_tick()
    await brain.daily_digest()
    await app.bus.drain()
    assert adapter.of_type(SendDirectMessage) == []

    # A live message after the removal: the bot is back, and the tick sends the day's digest.
    await adapter.inject(
        make_message("back again", author="carol", chan="python", ts=clock.now() + timedelta(minutes=1))
    )
    await app.bus.drain()
    await brain.digest_tick()
    await app.bus.drain()
    assert [d.user.user_id for d in adapter.of_type(SendDirectMessage) if isinstance(d, SendDirectMessage)] == ["alice"]


async def test_the_leaderboard_and_trend_alerts_skip_a_removed_workspace_until_it_is_seen_again(
    make_app: AppFactory,
) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(MONDAY))
    brain = app.brain("activity")
    assert isinstance(brain, ActivityBrain)
    await app.store.set_workspace_setting("console", "local", "alerts_channel", "staff")
    last_friday = MONDAY - timedelta(days=3)
    await adapter.inject(
        make_message("how do I rotate logs daily?", author="asker", chan="help", message_id="q1", ts=last_friday)
    )
    await adapter.inject(
        make_message(LONG, author="helper", chan="help", thread_id="q1", ts=last_friday + timedelta(minutes=2))
    )
    await adapter.inject(ReactionAdded(channel("help"), "a1", user("asker"), "👍", last_friday))
    await adapter.inject(WorkspaceRemoved(CONSOLE, MONDAY - timedelta(hours=1), "test"))
    await app.bus.drain()

    await brain.weekly_post()
    await brain.trend_scan()
    await app.bus.drain()
    assert adapter.of_type(SendMessage) == []

    # The workspace's channels seen again (how a Discord server joined again shows): posts resume.
    await adapter.inject(ChannelSeen(channel("help"), MONDAY))
    await app.bus.drain()
    await brain.weekly_post()
    await app.bus.drain()
    [board] = adapter.of_type(SendMessage)
    assert isinstance(board, SendMessage) and board.channel.channel_id == "staff" and "helper" in board.text


async def test_only_live_facts_newer_than_the_removal_bring_the_workspace_back(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=[], clock=FakeClock(MONDAY))
    ctx = app.brain("core").ctx
    await adapter.inject(WorkspaceRemoved(CONSOLE, MONDAY, "test"))
    await app.bus.drain()
    assert await ctx.removed_workspaces() == {("console", "local")}
    row = await app.store.db.fetchone(
        "SELECT name FROM workspaces WHERE platform = 'console' AND workspace_id = 'local'"
    )
    assert row is not None and row[0] == "Local community"

    # Posted before the kick but delivered after it (another stream), and history imported since.
    await adapter.inject(make_message("late delivery", ts=MONDAY - timedelta(seconds=5)))
    await adapter.inject(make_message("imported", ts=MONDAY + timedelta(days=1), source=EventSource.IMPORT))
    # An export's channel list (importers publish it stamped with the import's time) is history too.
    await adapter.inject(ChannelSeen(channel("python"), MONDAY + timedelta(days=1), source=EventSource.IMPORT))
    # An edit carries no source, and importers replay edits dated by the export: no sign either.
    await adapter.inject(MessageEdited(channel("general"), "m-old", "fixed typo", MONDAY + timedelta(days=1)))
    await app.bus.drain()
    assert await ctx.removed_workspaces() == {("console", "local")}
    # Another workspace's traffic is no sign for this one.
    await adapter.inject(make_message("elsewhere", author=user("bob", workspace="w2"), ts=MONDAY + timedelta(hours=1)))
    await app.bus.drain()
    assert await ctx.removed_workspaces() == {("console", "local")}

    await adapter.inject(make_message("hello again", ts=MONDAY + timedelta(minutes=1)))
    await app.bus.drain()
    assert await ctx.removed_workspaces() == set()
    # The stored history was kept all along.
    assert len(await app.store.channel_messages("console", "local", "general")) == 3

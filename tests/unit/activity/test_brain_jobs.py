"""Weekly leaderboard post and privacy hooks of the activity brain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.clock import FakeClock
from bot.events import ReactionAdded, SendMessage
from bot.testing import make_message
from bot.testing.builders import channel, user
from brain.activity.brain import ActivityBrain
from tests.conftest import AppFactory

MONDAY = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
LONG = "here is a long enough answer"


async def seed(adapter, when: datetime) -> None:  # type: ignore[no-untyped-def]
    await adapter.inject(
        make_message("how do I rotate logs daily?", author="asker", chan="help", message_id="q1", ts=when)
    )
    await adapter.inject(
        make_message(
            LONG, author="helper", chan="help", message_id="a1", thread_id="q1", ts=when + timedelta(minutes=2)
        )
    )
    await adapter.inject(
        ReactionAdded(channel=channel("help"), message_id="a1", user=user("asker"), emoji="👍", ts=when)
    )


async def test_weekly_post_goes_to_the_alerts_channel_setting(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(MONDAY))
    await app.store.set_workspace_setting("console", "local", "alerts_channel", "staff")
    await seed(adapter, MONDAY - timedelta(days=3))  # last week's Friday
    await adapter.inject(make_message(LONG, author="today", chan="help", thread_id="q1", ts=MONDAY))
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    jobs = {name for name, _, _ in brain.schedules(app.settings)}
    assert {"activity.weekly_post", "activity.trend_scan"} <= jobs
    await brain.weekly_post()
    await app.bus.drain()
    posts = adapter.of_type(SendMessage)
    assert len(posts) == 1 and isinstance(posts[0], SendMessage)
    assert posts[0].channel.channel_id == "staff" and "helper" in posts[0].text
    assert "week of 2026-03-02" in posts[0].text and "today" not in posts[0].text
    assert posts[0].attachments[0].content_type == "image/png"


async def test_forget_export_and_retention(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(MONDAY))
    await seed(adapter, MONDAY - timedelta(days=3))
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    exported = await brain.export_member(user("helper"))
    assert exported["daily_counters"][0]["helpful"] == 1
    removed = await brain.forget_member(user("helper"))
    assert removed["activity_rollup"] == 1 and removed["activity_contrib"] == 1
    assert (await brain.export_member(user("helper")))["daily_counters"] == []
    assert (
        await brain.purge_before(MONDAY.timestamp(), platform="discord", workspace_id="local") == 0
    )  # another workspace
    assert await brain.purge_before(MONDAY.timestamp(), platform="console", workspace_id="local") > 0
    assert (await app.store.db.fetchone("SELECT COUNT(*) FROM activity_contrib"))[0] == 0  # type: ignore[index]


async def test_one_workspace_failing_does_not_silence_the_others(make_app: AppFactory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The weekly board and the trend scan went workspace by workspace and stopped at the first
    # error: one community's odd data left every community after it without boards or alerts.
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(MONDAY))
    for ws in ("broken", "local"):
        help_ = channel("help", workspace=ws)
        await app.store.set_workspace_setting("console", ws, "alerts_channel", "staff")
        await adapter.inject(
            make_message(
                "how do I rotate logs daily?",
                author=user("asker", workspace=ws),
                chan=help_,
                message_id=f"{ws}-q1",
                ts=MONDAY - timedelta(days=3),
            )
        )
        await adapter.inject(
            make_message(
                LONG,
                author=user("helper", workspace=ws),
                chan=help_,
                message_id=f"{ws}-a1",
                thread_id=f"{ws}-q1",
                ts=MONDAY - timedelta(days=3, minutes=-2),
            )
        )
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    render, findings = brain._render, brain.findings

    async def failing_render(platform, ws, board):  # type: ignore[no-untyped-def]
        if ws == "broken":
            raise ValueError("odd data")
        return await render(platform, ws, board)

    async def failing_findings(platform, ws):  # type: ignore[no-untyped-def]
        if ws == "broken":
            raise ValueError("odd data")
        return await findings(platform, ws)

    monkeypatch.setattr(brain, "_render", failing_render)
    monkeypatch.setattr(brain, "findings", failing_findings)
    assert [ws for _, ws in await brain._workspaces()] == ["broken", "local"]
    await brain.weekly_post()
    await brain.trend_scan()
    await app.bus.drain()
    posts = [p for p in adapter.of_type(SendMessage) if isinstance(p, SendMessage)]
    assert [p.channel.workspace_id for p in posts] == ["local"] and "helper" in posts[0].text

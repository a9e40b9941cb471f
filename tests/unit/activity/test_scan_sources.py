"""What "Activity fell" and the report's activity chart may count: public, policy-allowed channels
and members who did not opt out, over complete local days; never private channels or DMs, and
never a DM-only pseudo-workspace posting into a server's alerts channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import CommandReply, Platform, SendMessage, Visibility
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, command, user
from brain.activity import charts
from brain.activity.brain import ActivityBrain
from brain.activity.report_html import build_report
from tests.conftest import AppFactory


def brain_of(app: Any) -> ActivityBrain:
    return next(b for b in app.brains if isinstance(b, ActivityBrain))


def with_alerts(settings: Settings, channel_id: str = "staff") -> Settings:
    return settings.model_copy(
        update={"activity": settings.activity.model_copy(update={"alerts_channel_id": channel_id})}
    )


async def seed_private_decline(adapter: Any) -> None:
    """Steady public chat (10 a day), and a private channel and a DM whose traffic collapses
    (40 a day, then 2): only the private ones fell."""
    secret = channel("secret-incident", visibility=Visibility.PRIVATE)
    dm = channel("D-ana-bob", visibility=Visibility.DM)
    for d in range(14):
        for k in range(10):
            at = BASE_TIME + timedelta(days=d, minutes=k * 7)
            await adapter.inject(
                make_message(f"routine chatter about the release plan {d} {k}", author=f"pub{k % 3}", ts=at)
            )
        for k in range(40 if d < 7 else 2):
            at = BASE_TIME + timedelta(days=d, minutes=k * 6)
            who = "ana" if k % 2 else "bob"
            await adapter.inject(
                make_message(f"incident war room update about the breach {d} {k}", author=who, chan=secret, ts=at)
            )
            await adapter.inject(
                make_message(f"private message between ana and bob {d} {k}", author="ana", chan=dm, ts=at)
            )


async def test_private_channels_and_dms_never_feed_activity_fell(make_app: AppFactory) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock)
    await seed_private_decline(adapter)
    await clock.advance(BASE_TIME + timedelta(days=14, hours=1) - clock.now())
    await app.bus.drain()
    await adapter.inject(command("trends", author="pub0", chan="general"))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1]
    assert isinstance(reply, CommandReply)
    assert "Activity fell" not in reply.text, reply.text


async def test_activity_fell_counts_public_channels_of_members_who_did_not_opt_out(make_app: AppFactory) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock)
    for d in range(14):
        for k in range(10 if d < 7 else 3):  # a real fall in public
            at = BASE_TIME + timedelta(days=d, minutes=k * 7)
            await adapter.inject(make_message(f"routine chatter about the release {d} {k}", author=f"m{k % 3}", ts=at))
        for k in range(10 if d >= 7 else 0):  # an opted-out member's rise must not hide it
            at = BASE_TIME + timedelta(days=d, minutes=k * 7 + 3)
            await adapter.inject(make_message(f"quiet member chatting about the release {d} {k}", author="shy", ts=at))
    await clock.advance(BASE_TIME + timedelta(days=14, hours=1) - clock.now())
    await app.bus.drain()
    await app.store.set_member_setting("console", "local", "shy", "opted_out", True)
    [fell] = [f for f in await brain_of(app).findings("console", "local") if f.kind == "falling"]
    assert "(70 → 21 counted messages)" in fell.text


async def test_dm_only_workspace_posts_no_alerts(make_app: AppFactory, settings: Settings) -> None:
    """Discord DMs live in the pseudo-workspace "@me": its DM volume is not a community's activity."""
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=with_alerts(settings, "111222"))
    for d in range(14):
        for k in range(30 if d < 7 else 3):
            who = user(f"member{k % 6}", platform=Platform.DISCORD, workspace="@me")
            dm = channel(f"dm-{k % 6}", platform=Platform.DISCORD, workspace="@me", visibility=Visibility.DM)
            at = BASE_TIME + timedelta(days=d, minutes=k * 9)
            await adapter.inject(
                make_message(f"private direct message number {d} {k} about my stuff", author=who, chan=dm, ts=at)
            )
    await clock.advance(BASE_TIME + timedelta(days=14, hours=1) - clock.now())
    await app.bus.drain()
    await brain_of(app).trend_scan()
    await app.bus.drain()
    assert adapter.of_type(SendMessage) == []
    assert await brain_of(app)._workspaces() == []


@pytest.mark.parametrize("hour", [0.5, 23.5])
async def test_activity_fell_compares_complete_days_whatever_the_time_of_day(make_app: AppFactory, hour: float) -> None:
    """A 30% dip (under the 40% threshold) spread evenly over each day: counting today so far made
    it a 40% fall just after midnight and nothing late in the evening."""
    day0 = datetime(2026, 1, 5, tzinfo=UTC)
    check_at = day0 + timedelta(days=14, hours=hour)
    clock = FakeClock(day0)
    app, adapter = await make_app(brains=["activity"], clock=clock)
    for d in range(15):
        for k in range(10 if d < 8 else 7):
            at = day0 + timedelta(days=d, hours=1 + k * 2)
            if at < check_at:
                await adapter.inject(make_message(f"routine chatter about the plan {d} {k}", author=f"m{k % 4}", ts=at))
    await clock.advance(check_at - clock.now())
    await app.bus.drain()
    assert [f.text for f in await brain_of(app).findings("console", "local") if f.kind == "falling"] == []


async def test_report_activity_chart_leaves_private_channels_and_dms_out(
    make_app: AppFactory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock)
    await seed_private_decline(adapter)
    await clock.advance(BASE_TIME + timedelta(days=14, hours=1) - clock.now())
    await app.bus.drain()
    drawn: dict[str, list[float]] = {}
    real = charts.series_png

    def capture(title: str, times: Any, values: Any, **kwargs: Any) -> bytes:
        drawn[title] = list(values)
        return real(title, times, values, **kwargs)

    monkeypatch.setattr(charts, "series_png", capture)
    for kwargs in ({}, {"settings": settings}):
        drawn.clear()
        await build_report(app.store, "console", "local", now=clock.now(), tz=settings.tz, findings=[], **kwargs)
        [values] = [v for title, v in drawn.items() if title.startswith("Counted messages per day")]
        # The 14 days ending today: 13 seeded public days of 10 (the private ones added 40 or 2 a day).
        assert max(values) == 10 and sum(values) == 130, values

"""The scheduled weekly leaderboard post: configured weekday, local week, alerts channel, opt-out."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import matplotlib.image as mpimg

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import ReactionAdded, SendMessage
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.brain import ActivityBrain
from tests.conftest import AppFactory

LONG = "here is a long enough answer"


def tuned(settings: Settings, **activity: object) -> Settings:
    return settings.model_copy(
        update={"timezone": "Europe/Berlin", "activity": settings.activity.model_copy(update=activity)}
    )


async def seed(app, adapter) -> None:  # type: ignore[no-untyped-def]
    # BASE_TIME is Monday 2026-01-05 09:00 UTC: all of this lies in the local week of Jan 5-11.
    for n, who in enumerate(("helper", "shy")):
        q = f"q{n}"
        await adapter.inject(
            make_message("how can I configure logging here?", author=f"asker{n}", chan="help", message_id=q)
        )
        await adapter.inject(make_message(LONG, author=who, chan="help", message_id=f"a{n}", thread_id=q, minutes=5))
        await adapter.inject(
            ReactionAdded(channel=channel("help"), message_id=f"a{n}", user=user(f"asker{n}"), emoji="✅", ts=BASE_TIME)
        )
    await app.bus.drain()
    await app.store.set_member_setting("console", "local", "shy", "opted_out", True)


def brain_of(app) -> ActivityBrain:  # type: ignore[no-untyped-def]
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    return brain


def posts(adapter) -> list[SendMessage]:  # type: ignore[no-untyped-def]
    return [a for a in adapter.of_type(SendMessage) if isinstance(a, SendMessage)]


async def test_posts_last_local_week_on_the_configured_weekday(make_app: AppFactory, settings: Settings) -> None:
    # Monday 2026-01-12 00:30 in Berlin is still Sunday in UTC: the week that just ended is posted.
    clock = FakeClock(datetime(2026, 1, 11, 23, 30, tzinfo=UTC))
    app, adapter = await make_app(
        brains=["activity"], clock=clock, settings_override=tuned(settings, alerts_channel_id="staff")
    )
    await seed(app, adapter)
    await brain_of(app).weekly_post()
    await app.bus.drain()
    sent = posts(adapter)
    assert len(sent) == 1 and sent[0].channel.channel_id == "staff"
    assert "helper" in sent[0].text and "shy" not in sent[0].text
    assert "2026-01-05" in sent[0].text
    png = sent[0].attachments[0]
    assert png.content_type == "image/png"
    assert mpimg.imread(io.BytesIO(png.data), format="png").shape[0] > 100


async def test_other_weekdays_post_nothing(make_app: AppFactory, settings: Settings) -> None:
    clock = FakeClock(datetime(2026, 1, 13, 9, 0, tzinfo=UTC))  # a Tuesday
    app, adapter = await make_app(
        brains=["activity"], clock=clock, settings_override=tuned(settings, alerts_channel_id="staff")
    )
    await seed(app, adapter)
    await brain_of(app).weekly_post()
    await app.bus.drain()
    assert posts(adapter) == []


async def test_workspace_alerts_channel_wins_and_weekday_is_configurable(
    make_app: AppFactory, settings: Settings
) -> None:
    clock = FakeClock(datetime(2026, 1, 16, 9, 0, tzinfo=UTC))  # a Friday
    app, adapter = await make_app(
        brains=["activity"],
        clock=clock,
        settings_override=tuned(settings, alerts_channel_id="staff", leaderboard_post_weekday=4),
    )
    await seed(app, adapter)
    await app.store.set_workspace_setting("console", "local", "alerts_channel", "mods")
    await brain_of(app).weekly_post()
    await app.bus.drain()
    assert [p.channel.channel_id for p in posts(adapter)] == ["mods"]


async def test_no_alerts_channel_or_empty_week_posts_nothing(make_app: AppFactory, settings: Settings) -> None:
    clock = FakeClock(BASE_TIME + timedelta(days=7, hours=1))  # Monday of the next week
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=tuned(settings))
    await seed(app, adapter)
    await brain_of(app).weekly_post()
    await app.bus.drain()
    assert posts(adapter) == []
    # A week later there is a channel, but last week was empty.
    app2, adapter2 = await make_app(
        brains=["activity"],
        clock=FakeClock(BASE_TIME + timedelta(days=14, hours=1)),
        settings_override=tuned(settings, alerts_channel_id="staff"),
    )
    await seed(app2, adapter2)
    await brain_of(app2).weekly_post()
    await app2.bus.drain()
    assert posts(adapter2) == []


async def test_the_configured_alerts_channel_of_one_workspace_gets_no_other_workspaces_posts(
    make_app: AppFactory, settings: Settings
) -> None:
    """``activity.alerts_channel_id`` is one id for every workspace: in another workspace it names a
    channel of the first (Discord ids are global), so that workspace's board must not be sent there."""
    clock = FakeClock(datetime(2026, 1, 11, 23, 30, tzinfo=UTC))
    app, adapter = await make_app(
        brains=["activity"], clock=clock, settings_override=tuned(settings, alerts_channel_id="staff")
    )
    await seed(app, adapter)  # workspace "local", where the configured channel lives
    await adapter.inject(make_message("staff notes for this week here", author="mod", chan="staff"))
    other = user("ana", workspace="other")
    help_other = channel("help", workspace="other")
    await adapter.inject(
        make_message(
            "how can I configure logging here?",
            author=user("bob", workspace="other"),
            chan=help_other,
            message_id="q-other",
        )
    )
    await adapter.inject(
        make_message(LONG, author=other, chan=help_other, message_id="b1", thread_id="q-other", minutes=5)
    )
    await app.bus.drain()
    assert await app.store.get_channel("console", "local", "staff") is not None
    await brain_of(app).weekly_post()
    await app.bus.drain()
    sent = posts(adapter)
    assert [p.channel.workspace_id for p in sent] == ["local"]


async def unseen_alerts_channel_posts(make_app: AppFactory, settings: Settings, *, other_workspace: bool) -> list:  # type: ignore[type-arg]
    clock = FakeClock(datetime(2026, 1, 11, 23, 30, tzinfo=UTC))
    app, adapter = await make_app(
        brains=["activity"], clock=clock, settings_override=tuned(settings, alerts_channel_id="unseen")
    )
    await seed(app, adapter)
    if other_workspace:
        await adapter.inject(
            make_message(
                "how can I configure logging here?",
                author=user("bob", workspace="other"),
                chan=channel("help", workspace="other"),
            )
        )
        await app.bus.drain()
    await brain_of(app).weekly_post()
    await app.bus.drain()
    return [(p.channel.workspace_id, p.channel.channel_id) for p in posts(adapter)]


async def test_a_configured_alerts_channel_recorded_nowhere_gets_no_posts_when_several_workspaces_exist(
    make_app: AppFactory, settings: Settings
) -> None:
    """Which workspace holds a configured channel the store has not seen is unknown: with two
    workspaces on the platform no board is sent there; with one, it is (a single community whose
    alerts channel has had no event yet)."""
    assert await unseen_alerts_channel_posts(make_app, settings, other_workspace=False) == [("local", "unseen")]
    assert await unseen_alerts_channel_posts(make_app, settings, other_workspace=True) == []

"""A chart that fails to render never costs members the alert or the board: the text goes out
without the image."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.events import CommandReply, SendMessage
from bot.testing.builders import BASE_TIME, command
from brain.activity import charts
from brain.activity.brain import ActivityBrain
from brain.activity.report_html import build_report
from tests.conftest import AppFactory
from tests.unit.activity.test_alerts import seed_burst
from tests.unit.activity.test_leaderboard import seed


def _broken(*args: object, **kwargs: object) -> bytes:
    raise RuntimeError("renderer is broken")


async def test_scan_posts_the_alert_without_its_chart_when_the_chart_fails(
    make_app: AppFactory,
    settings,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock(BASE_TIME)
    tuned = settings.model_copy(
        update={"activity": settings.activity.model_copy(update={"alerts_channel_id": "staff"})}
    )
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=tuned)
    await seed_burst(adapter, clock)
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    monkeypatch.setattr(charts, "series_png", _broken)
    await brain.trend_scan()
    await app.bus.drain()
    posts = [a for a in adapter.of_type(SendMessage) if isinstance(a, SendMessage) and "poetry lock" in a.text]
    assert len(posts) == 1  # the ledger recorded it as posted: it must have been
    assert posts[0].attachments == ()
    await adapter.inject(command("trends"))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1]
    assert isinstance(reply, CommandReply) and "poetry lock" in reply.text


async def test_leaderboard_answers_in_text_when_the_card_fails(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await seed(adapter)
    await app.bus.drain()
    monkeypatch.setattr(charts, "leaderboard_png", _broken)
    await adapter.inject(command("leaderboard"))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1]
    assert isinstance(reply, CommandReply) and "helper" in reply.text
    assert reply.attachments == ()


async def test_the_report_is_written_without_charts_that_fail(
    make_app: AppFactory,
    settings,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock(BASE_TIME + timedelta(hours=2))
    app, adapter = await make_app(brains=["activity"], clock=clock)
    await seed(adapter)
    await app.bus.drain()
    monkeypatch.setattr(charts, "leaderboard_png", _broken)
    monkeypatch.setattr(charts, "series_png", _broken)
    page = await build_report(app.store, "console", "local", now=clock.now(), tz=settings.tz, findings=[])
    assert "helper" in page and "<img" not in page
    assert "The leaderboard chart could not be drawn" in page

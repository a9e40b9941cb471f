"""Alert de-duplication, rate limiting, the scan job and health checks."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import matplotlib.image as mpimg

from bot.clock import FakeClock
from bot.events import CommandReply, SendMessage
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, command
from brain.activity import health, sentiment
from brain.activity.alert_state import AlertLedger, AlertPolicy, Decision
from brain.activity.brain import ActivityBrain
from tests.conftest import AppFactory

HOUR = 3600.0


async def test_ledger_reports_once_then_updates_then_rate_limits(make_app: AppFactory) -> None:
    app, _ = await make_app(brains=["activity"])
    ledger = AlertLedger(app.store, "console", "local", AlertPolicy(quiet_hours=24, update_factor=1.5, max_per_hour=3))
    t = 1_000_000.0
    assert await ledger.decide("burst:help:poetry lock", 6, t) is Decision.NEW
    assert await ledger.decide("burst:help:poetry lock", 7, t + 900) is Decision.SKIP
    assert await ledger.decide("burst:help:poetry lock", 12, t + 1800) is Decision.UPDATE
    assert await ledger.decide("burst:help:poetry lock", 12, t + 2700) is Decision.SKIP
    # Rate limit (posts in the last hour, updates included): the burst, its update and "a" fill
    # it; "b" and "c" are held back.
    assert await ledger.decide("a", 1, t + 2800) is Decision.NEW
    assert await ledger.decide("b", 1, t + 2850) is Decision.SKIP
    assert await ledger.decide("c", 1, t + 2900) is Decision.SKIP
    assert await ledger.decide("c", 1, t + 2 * HOUR) is Decision.NEW  # held back, not forgotten
    assert await ledger.decide("b", 1, t + 2 * HOUR) is Decision.NEW


async def test_a_growing_alert_and_new_ones_stay_within_the_hourly_posts(make_app: AppFactory) -> None:
    # Each update moved the alert's one row's post time, so a pile-up growing every scan plus a few
    # newcomer alerts made 8 posts in 46 minutes against a limit of 5.
    app, _ = await make_app(brains=["activity"])
    ledger = AlertLedger(app.store, "console", "local")  # max_per_hour=5
    t = 1_000_000.0
    decisions = [await ledger.decide("unanswered:help", 5.0 * 2**i, t + i * 900) for i in range(4)]
    decisions += [await ledger.decide(f"newcomer:{k}", 1, t + 2701) for k in "abcd"]
    assert [d for d in decisions if d is not Decision.SKIP] == [Decision.NEW, *[Decision.UPDATE] * 3, Decision.NEW]
    # After a quiet day the same key is new again.
    assert await ledger.decide("burst:help:poetry lock", 1, t + 30 * HOUR) is Decision.NEW


async def seed_burst(  # type: ignore[no-untyped-def]
    adapter, clock: FakeClock, *, chan: object = "help", burst: str = "poetry lock fails with SolverProblemError"
) -> None:
    # Ten days of ordinary traffic, then a burst of one error in the last two hours.
    for day in range(10):
        for k in range(6):
            await adapter.inject(
                make_message(
                    f"question about pytest fixtures number {k}",
                    author=f"u{k}",
                    chan=chan,  # type: ignore[arg-type]
                    ts=BASE_TIME + timedelta(days=day, hours=k * 3),
                )
            )
    end = BASE_TIME + timedelta(days=10, hours=12)
    for i in range(7):
        await adapter.inject(
            make_message(
                burst,
                author=f"v{i}",
                chan=chan,  # type: ignore[arg-type]
                ts=end - timedelta(minutes=100 - i * 10),
            )
        )
    await clock.advance(end - clock.now())


async def test_scan_job_posts_burst_with_chart_once(make_app: AppFactory, settings) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(BASE_TIME)
    tuned = settings.model_copy(
        update={"activity": settings.activity.model_copy(update={"alerts_channel_id": "staff"})}
    )
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=tuned)
    await seed_burst(adapter, clock)
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    await brain.trend_scan()
    await brain.trend_scan()  # same burst: no second post
    await app.bus.drain()
    posts = [a for a in adapter.of_type(SendMessage) if isinstance(a, SendMessage) and "poetry lock" in a.text]
    assert len(posts) == 1
    assert posts[0].channel.channel_id == "staff"
    png = posts[0].attachments[0].data
    assert mpimg.imread(io.BytesIO(png), format="png").shape[1] > 300
    await adapter.inject(command("trends"))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1]
    assert isinstance(reply, CommandReply) and "poetry lock" in reply.text


async def test_scan_without_alerts_channel_posts_nothing(make_app: AppFactory) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock)
    await seed_burst(adapter, clock)
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    await brain.trend_scan()
    await app.bus.drain()
    assert adapter.of_type(SendMessage) == []


def test_health_checks() -> None:
    now = 100 * HOUR
    qs = [health.OpenQuestion("help", f"q{i}", f"u{i}", now - 10 * HOUR, answered=False) for i in range(5)]
    qs.append(health.OpenQuestion("help", "fresh", "u9", now - HOUR, answered=False))
    qs.append(health.OpenQuestion("help", "new1", "newbie", now - 5 * HOUR, answered=False, first_from_member=True))
    qs.append(health.OpenQuestion("help", "new2", "newbie2", now - 5 * HOUR, answered=True, first_from_member=True))
    pile = health.unanswered_pileup(qs, now=now, after_hours=4, threshold=5)
    assert [a.key for a in pile] == ["unanswered:help"] and "fresh" not in pile[0].message_ids
    assert [a.message_ids for a in health.newcomer_waiting(qs, now=now, after_hours=4)] == [("new1",)]
    assert health.activity_falling(40, 100, week_label="w") is not None
    assert health.activity_falling(90, 100, week_label="w") is None
    assert health.activity_falling(0, 10, week_label="w") is None  # too small a base to judge


def test_sentiment_agreement_on_labelled_sentences() -> None:
    path = Path(__file__).parent / "data" / "sentiment_labelled.tsv"
    rows = list(csv.DictReader(path.open(encoding="utf-8"), delimiter="\t"))
    agree = sum(sentiment.label(r["text"]) == r["label"] for r in rows)
    assert len(rows) >= 100
    assert agree / len(rows) >= 0.8


def test_sentiment_drop_and_code_spans() -> None:
    assert sentiment.score_text("`error: fatal crash` in the log, thanks for the help") > 0
    assert sentiment.score_text("not broken anymore") > 0
    happy = ["thanks, works great"] * 30
    sad = ["still broken, so frustrating"] * 30
    drop = sentiment.sentiment_drop("help", sad, happy)
    assert drop is not None and drop.recent < drop.baseline
    assert sentiment.sentiment_drop("help", happy, happy) is None
    assert sentiment.sentiment_drop("help", sad[:3], happy) is None


async def test_a_growing_burst_is_posted_as_an_update_then_stays_quiet(make_app: AppFactory, settings) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(BASE_TIME)
    tuned = settings.model_copy(
        update={"activity": settings.activity.model_copy(update={"alerts_channel_id": "staff"})}
    )
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=tuned)
    await seed_burst(adapter, clock)
    await app.bus.drain()
    brain = next(b for b in app.brains if isinstance(b, ActivityBrain))
    await brain.trend_scan()
    # Six more reports of the same error within the next quarter hour: 13 now, up from 7.
    start = clock.now()
    for i in range(6):
        await adapter.inject(
            make_message(
                "poetry lock still fails with SolverProblemError",
                author=f"w{i}",
                chan="help",
                ts=start + timedelta(minutes=2 * i),
            )
        )
    await clock.advance(timedelta(minutes=15))
    await app.bus.drain()
    await brain.trend_scan()
    await clock.advance(timedelta(minutes=15))
    await brain.trend_scan()  # no growth since: nothing new
    await app.bus.drain()
    posts = [a.text for a in adapter.of_type(SendMessage) if isinstance(a, SendMessage) and "poetry lock" in a.text]
    assert len(posts) == 2, posts
    # A term the channel never used is "new", not "up 23x against a usual 0.3" (the detector's floor).
    assert posts[0].startswith("`poetry lock` is new in #help: 7 messages")
    assert posts[1].startswith("Update: `poetry lock` is new in #help: 13 messages")


async def test_private_channels_and_opted_out_members_never_feed_trends(make_app: AppFactory) -> None:
    from bot.events import Visibility
    from bot.testing import channel

    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock)
    secret = channel("exec", visibility=Visibility.PRIVATE)
    await seed_burst(adapter, clock, chan=secret, burst="zorblax layoffs list final")
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    assert all("zorblax" not in f.text and "exec" not in f.text for f in await brain.findings("console", "local"))

    # The same burst in a public channel shows, unless its authors opted out.
    await seed_burst(adapter, clock)
    await app.bus.drain()
    assert any("poetry" in f.text for f in await brain.findings("console", "local"))
    for i in range(7):
        await app.store.set_member_setting("console", "local", f"v{i}", "opted_out", True)
    assert not any("poetry" in f.text for f in await brain.findings("console", "local"))


async def test_findings_name_channels_as_members_know_them(make_app: AppFactory) -> None:
    from bot.events import ChannelRef, Platform, Visibility

    clock = FakeClock(BASE_TIME + timedelta(hours=12))
    app, adapter = await make_app(brains=["activity"], clock=clock)
    help_desk = ChannelRef(Platform.CONSOLE, "local", "C07HELP9Z", "help-desk", Visibility.PUBLIC)
    for i in range(6):  # six questions nobody answers
        await adapter.inject(
            make_message(
                f"how do I configure widget number {i}?", author=f"u{i}", chan=help_desk, message_id=f"q{i}", minutes=i
            )
        )
    await app.bus.drain()
    await adapter.inject(command("trends"))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1]
    assert isinstance(reply, CommandReply)
    assert "questions in #help-desk have waited" in reply.text and "C07HELP9Z" not in reply.text
    # /trends says what to do and which messages, as the posted alert does.
    assert "Next step: Triage them" in reply.text and "Messages: " in reply.text


async def test_ledger_keeps_a_burst_one_alert_when_its_lead_term_changes(make_app: AppFactory) -> None:
    """As an incident grows, another of its terms can lead it; a burst continues the active alert
    that any of its terms belongs to, across restarts (a new ledger on the same store)."""
    app, _ = await make_app(brains=["activity"])
    t = 1_000_000.0

    def ledger() -> AlertLedger:
        return AlertLedger(app.store, "console", "local")

    first = ("burst:ops:redis timeout", "burst:ops:timeout error", "burst:ops:error api")
    assert await ledger().decide("burst:ops:seeing redis", 5, t, aliases=first) is Decision.NEW
    led_by_timeout = ("burst:ops:seeing redis", "burst:ops:redis timeout", "burst:ops:checkout throws")
    assert await ledger().decide("burst:ops:timeout error", 7, t + 900, aliases=led_by_timeout) is Decision.SKIP
    assert await ledger().decide("burst:ops:timeout error", 11, t + 1800, aliases=led_by_timeout) is Decision.UPDATE
    # Later only the second wave's terms: "timeout error" links it to the alert all the same.
    second = ("burst:ops:throws timeout", "burst:ops:timeout error")
    assert await ledger().decide("burst:ops:checkout throws", 12, t + 7200, aliases=second) is Decision.SKIP
    assert await ledger().decide("burst:ops:throws timeout", 17, t + 8100) is Decision.UPDATE
    # Another channel's burst of the same term is its own alert; so is an unrelated term.
    assert await ledger().decide("burst:dev:timeout error", 5, t + 8200) is Decision.NEW
    assert await ledger().decide("burst:ops:disk full", 5, t + 8300) is Decision.NEW
    # A day later with nothing in between, the same terms are a new incident.
    assert await ledger().decide("burst:ops:timeout error", 5, t + 8100 + 25 * HOUR, aliases=second) is Decision.NEW


async def test_one_incident_whose_lead_term_changes_is_one_alert(make_app: AppFactory, settings) -> None:  # type: ignore[no-untyped-def]
    import random

    rng = random.Random(7)
    topics = ["the docs site looks nice", "release notes are up", "new contributor guide merged", "ci cache warmed up"]
    clock = FakeClock(BASE_TIME)
    tuned = settings.model_copy(
        update={"activity": settings.activity.model_copy(update={"alerts_channel_id": "staff"})}
    )
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=tuned)
    for h in range(0, 9 * 24, 3):
        at = BASE_TIME + timedelta(hours=h, minutes=5)
        await adapter.inject(make_message(f"{rng.choice(topics)} ({h})", author=f"reg{h % 5}", chan="ops", ts=at))
    incident = BASE_TIME + timedelta(days=9, hours=1)
    for i in range(5):  # first wave: "seeing redis timeout error" leads
        at = incident + timedelta(minutes=6 * i)
        text = f"seeing redis timeout error on the api since the deploy ({i})"
        await adapter.inject(make_message(text, author=f"dev{i}", chan="ops", ts=at))
    for i in range(12):  # second wave: "timeout error", then "checkout throws", lead
        at = incident + timedelta(minutes=40 + 4 * i)
        await adapter.inject(
            make_message(f"checkout also throws a timeout error for me ({i})", author=f"user{i}", chan="ops", ts=at)
        )
    await clock.advance(incident + timedelta(minutes=31) - clock.now())
    await app.bus.drain()
    brain = next(b for b in app.brains if isinstance(b, ActivityBrain))
    for _ in range(12):  # three hours of 15-minute scans
        await brain.trend_scan()
        await clock.advance(timedelta(minutes=15))
    await app.bus.drain()
    sent = [a.text for a in adapter.of_type(SendMessage) if isinstance(a, SendMessage)]
    bursts = [t for t in sent if t.removeprefix("Update: ").startswith("`")]
    assert len(bursts) >= 2, bursts  # it grew: updates are fine ...
    assert [t for t in bursts if not t.startswith("Update: ")] == bursts[:1], bursts  # ... one alert

"""Health alerts through the brain (sentiment drop, unanswered pile-up, new member waiting), each with
its chart, de-duplicated across scans; and hostile input that must never crash a chart, a command
or the report."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import matplotlib.image as mpimg
import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import CommandReply, SendMessage
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, command, user
from brain.activity import charts
from brain.activity.brain import ActivityBrain
from brain.activity.leaderboard import Entry, Leaderboard, Window
from brain.activity.report_html import build_report
from brain.activity.scan import chart_png
from tests.conftest import AppFactory

HAPPY = ("thanks, that works great now", "perfect, solved it, much appreciated", "nice, this is really helpful")
GRUMPY = "still broken after the upgrade, so frustrating, what is wrong?"


def decodes(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG") and 2_000 < len(png) < 1_000_000
    shape = mpimg.imread(io.BytesIO(png), format="png").shape
    return int(shape[0]), int(shape[1])


def with_alerts(settings: Settings) -> Settings:
    return settings.model_copy(update={"activity": settings.activity.model_copy(update={"alerts_channel_id": "staff"})})


async def seed_unhappy_week(adapter, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    # Ten days of cheerful traffic from regulars, then a grumpy day of unanswered questions, and a
    # newcomer whose very first message is a question nobody answers.
    for day in range(10):
        for k in range(4):
            text = HAPPY[(day + k) % len(HAPPY)]
            at = BASE_TIME + timedelta(days=day, hours=k * 2)
            await adapter.inject(make_message(text, author=f"regular{k}", chan="help", ts=at))
    end = BASE_TIME + timedelta(days=11)
    for i in range(24):
        at = end - timedelta(hours=23) + timedelta(minutes=50 * i)
        await adapter.inject(make_message(f"{GRUMPY} ({i})", author=f"regular{i % 4}", chan="help", ts=at))
    await adapter.inject(
        make_message(
            "how do I get started with the plugin api?", author="newbie", chan="help", ts=end - timedelta(hours=9)
        )
    )
    await clock.advance(end - clock.now())


async def test_health_alerts_carry_charts_and_are_posted_once(
    make_app: AppFactory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=with_alerts(settings))
    await seed_unhappy_week(adapter, clock)
    await app.bus.drain()
    brain = next(b for b in app.brains if isinstance(b, ActivityBrain))
    found = {f.kind: f for f in await brain.findings("console", "local")}
    assert {"sentiment", "unanswered", "newcomer"} <= set(found)
    for kind in ("sentiment", "unanswered"):
        chart = await chart_png(found[kind])
        assert chart is not None and decodes(chart)[1] > 300
    await brain.trend_scan()
    await app.bus.drain()
    first = [a for a in adapter.of_type(SendMessage) if isinstance(a, SendMessage)]
    assert all(a.channel.channel_id == "staff" for a in first)
    texts = " | ".join(a.text for a in first)
    assert "Mood in #help dropped" in texts and "waited more than 4 h" in texts and "new member" in texts
    assert sum(1 for a in first if a.attachments) >= 2
    # The newcomer alert points at the real message.
    newcomer = next(a for a in first if "new member" in a.text)
    assert found["newcomer"].message_ids[0] in newcomer.text
    await clock.advance(timedelta(minutes=15))
    drawn: list[str] = []
    real_series_png = charts.series_png

    def counting_series_png(title: str, *args: Any, **kwargs: Any) -> bytes:
        drawn.append(title)
        return real_series_png(title, *args, **kwargs)

    monkeypatch.setattr(charts, "series_png", counting_series_png)
    await brain.trend_scan()
    await app.bus.drain()
    assert len(adapter.of_type(SendMessage)) == len(first)  # same findings: nothing new posted
    assert drawn == []  # ... and no chart drawn for them


def test_charts_survive_hostile_labels() -> None:
    window = Window(None, date(2026, 1, 12), "all time")
    entries = [Entry(1, "u1", 9.0, {}), Entry(2, "u2", 4.5, {}), Entry(3, "u3", 1.0, {})]
    board = Leaderboard(window, "$^^$", entries)
    names = {"u1": "a$\\frac{$b", "u2": "名前🎉\u202eעברית\x00", "u3": "x" * 50_000}
    assert decodes(charts.leaderboard_png(board, names))[1] > 300
    assert decodes(charts.series_png("$\\undefined$ in #$x$", [0.0, 3600.0, 7200.0], [1.0, 0.0, 5.0]))
    assert decodes(charts.series_png("nothing yet", [], []))
    assert charts.clean_label("a\x00b\u202ec" + "z" * 100, 10) == "abczzzzzz…"


async def test_hostile_messages_and_commands_never_crash(make_app: AppFactory, settings: Settings) -> None:
    clock = FakeClock(BASE_TIME + timedelta(hours=3))
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=with_alerts(settings))
    odd = user("$^^$")
    texts = [
        "how do I fix $\\frac{$ rendering?" + " word" * 10,
        "\x00\x01\u202e\ufeff control characters everywhere, is this ok?",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters and zalgo z̷̢͉a̸l̵g̶o do they count?",
        "token " * 200_000,
        "",
        "```\n" + "x" * 10_000 + "\n```",
    ]
    for i, text in enumerate(texts):
        await adapter.inject(make_message(text, author=odd, chan="$help$", message_id=f"q{i}", minutes=i))
        await adapter.inject(
            make_message("here is a long enough reply", author="helper", chan="$help$", thread_id=f"q{i}", minutes=i)
        )
    await app.bus.drain()
    for args in ("", "week", "all <#$help$>", "month #$help$", "💥" * 1000, "week week", "<#>", "all all all"):
        await adapter.inject(command("leaderboard", args))
    await adapter.inject(command("trends", "\x00 whatever"))
    await app.bus.drain()
    replies = [a for a in adapter.of_type(CommandReply) if isinstance(a, CommandReply)]
    assert len(replies) == 9
    assert app.bus.stats.failed == 0
    brain = next(b for b in app.brains if isinstance(b, ActivityBrain))
    await brain.trend_scan()
    page = await build_report(
        app.store,
        "console",
        "local",
        now=clock.now(),
        tz=settings.tz,
        findings=await brain.findings("console", "local"),
    )
    assert page.startswith("<!doctype html>") and "\x00" not in page and "<script" not in page


async def test_one_angry_member_is_no_mood_drop_and_statements_are_no_questions(make_app: AppFactory) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock)
    for day in range(10):
        for k in range(4):
            at = BASE_TIME + timedelta(days=day, hours=k * 2)
            await adapter.inject(make_message(HAPPY[(day + k) % 3], author=f"regular{k}", chan="general", ts=at))
    end = BASE_TIME + timedelta(days=11)
    for i in range(20):  # one member's bad day
        at = end - timedelta(hours=20) + timedelta(minutes=50 * i)
        await adapter.inject(
            make_message(f"still broken after the upgrade, so frustrating ({i})", author="angry", chan="general", ts=at)
        )
    for i in range(6):  # the others are as cheerful as ever; two of them post statements that open like questions
        text = ("Have a great weekend everyone!", "Did a talk on asyncio today, thanks all!", HAPPY[0])[i % 3]
        at = end - timedelta(hours=10, minutes=i)
        await adapter.inject(make_message(text, author=f"poster{i}", chan="general", ts=at))
    await clock.advance(end - clock.now())
    await app.bus.drain()
    brain = next(b for b in app.brains if isinstance(b, ActivityBrain))
    kinds = {f.kind for f in await brain.findings("console", "local")}
    assert "sentiment" not in kinds and "unanswered" not in kinds and "newcomer" not in kinds, kinds


def test_newcomers_waiting_in_one_channel_are_one_alert_counting_them() -> None:
    from brain.activity import health

    now = 100 * 3600.0
    waiting = [
        health.OpenQuestion("help", f"q{i}", f"new{i}", now - (5 + i) * 3600, answered=False, first_from_member=True)
        for i in range(6)
    ]
    [alert] = health.newcomer_waiting(waiting, now=now, after_hours=4)
    assert alert.count == 6 and alert.message_ids[0] == "q5" and "6 new members" in alert.text
    [pile] = health.unanswered_pileup(waiting * 3, now=now, after_hours=4)
    assert pile.count == 18 and len(pile.message_ids) == 10  # strength is the true count


async def test_one_angry_member_and_two_neutral_ones_are_no_mood_drop(make_app: AppFactory) -> None:
    """Without the angriest member, two neutral messages were "a drop" (neutral scores 0 in a usually
    cheerful channel): the rest of the channel must be enough messages and members, unhappy too."""
    cheerful = ["thanks, that works great now", "nice, the new release is really helpful", "merged the fix, looks good"]
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock)
    for day in range(13):
        for k in range(6):
            at = BASE_TIME + timedelta(days=day, hours=2 * k)
            await adapter.inject(make_message(f"{cheerful[(day + k) % 3]} ({day}.{k})", author=f"reg{k}", ts=at))
    last = BASE_TIME + timedelta(days=13, hours=4)
    for i in range(18):
        text = f"this tool is garbage, broken and useless, what a mess ({i})"
        await adapter.inject(make_message(text, author="angry", ts=last + timedelta(minutes=10 * i)))
    await adapter.inject(
        make_message("I'll look at the release checklist tomorrow", author="reg1", ts=last + timedelta(hours=5))
    )
    await adapter.inject(
        make_message("pushed the changelog entry for the plugin api", author="reg2", ts=last + timedelta(hours=6))
    )
    await clock.advance(BASE_TIME + timedelta(days=14) - clock.now())
    await app.bus.drain()
    brain = next(b for b in app.brains if isinstance(b, ActivityBrain))
    assert [f.text for f in await brain.findings("console", "local") if f.kind == "sentiment"] == []


def test_mood_drop_needs_more_of_the_channel_than_its_loudest_member() -> None:
    from brain.activity import sentiment

    happy = ["thanks, works great"] * 40
    angry = ["still broken, so frustrating"] * 20
    neutral = [f"pushed the changelog entry number {i}" for i in range(12)]
    # The loudest member plus plenty of neutral messages from others: the others did not get unhappy.
    assert sentiment.channel_mood_drop("c", {"angry": angry, "a": neutral[:6], "b": neutral[6:]}, happy) is None
    # Two more unhappy members with enough messages between them: a drop.
    others = {"a": angry[:6] + neutral[:2], "b": angry[:6]}
    assert sentiment.channel_mood_drop("c", {"angry": angry, **others}, happy) is not None


def test_chart_labels_keep_emoji_sequences_and_tell_long_names_apart() -> None:
    # The zero-width joiner is part of the emoji (woman, skin tone, ZWJ, laptop): it stays.
    assert charts.clean_label("Zoë 👩🏽\u200d💻", 24) == "Zoë 👩🏽\u200d💻"
    # Zero-width spaces and bidi overrides only hide text: they go, and a name of nothing else is "".
    assert charts.clean_label("\u200b\u200d\u200b", 24) == ""
    long = [f"Maximilian-Alexander von Hohenzollern-Sigmaringen the {i}" for i in range(10)]
    labels = {charts.clean_label(n, 24, middle=True) for n in long}
    assert len(labels) == 10 and all(len(label) <= 24 for label in labels)
    # Never cut inside an emoji sequence, at either end of the cut.
    clipped = charts.clean_label("y" * 10 + "👩🏽\u200d💻" + "x" * 20, 24, middle=True)
    assert "👩🏽\u200d💻" in clipped and len(clipped) <= 24


def test_chart_labels_in_scripts_the_font_lacks_read_as_something() -> None:
    # No CJK or Devanagari font ships offline: boxes would be unreadable (the text table has the name).
    assert charts.clean_label("山田太郎", 24) == "[CJK name]"
    assert charts.clean_label("नमस्ते दुनिया", 24) == "[Devanagari name]"
    assert charts.clean_label("ｆｕｌｌｗｉｄｔｈ", 24) == "fullwidth"  # its compatibility form draws
    # Mostly drawable names stay as they are (Arabic is in the font; one emoji among letters is fine).
    assert charts.clean_label("محمد علي", 24) == "محمد علي"
    assert charts.clean_label("🦊 Ren", 24) == "🦊 Ren"

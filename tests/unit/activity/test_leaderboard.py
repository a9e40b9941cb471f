"""Leaderboards: ranking by helpfulness, opt-out, windows, week boundaries, rendering."""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import matplotlib.image as mpimg
import pytest

from bot.clock import FakeClock
from bot.events import ChannelRef, CommandReply, Event, Platform, ReactionAdded, Visibility
from bot.recorder import Recorder
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, command, user
from brain.activity.charts import leaderboard_png
from brain.activity.counters import ActivityCounters
from brain.activity.leaderboard import Entry, Leaderboard, leaderboard, previous_week, window_for
from brain.activity.render_text import _width as render_width
from brain.activity.render_text import leaderboard_text
from tests.conftest import AppFactory
from tests.store_backends import fresh_store

LONG = "here is a long enough answer"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("GUILDHALL_TEST_STORE") == "postgresql" else [])


async def seed(adapter) -> None:  # type: ignore[no-untyped-def]
    # "talker" posts a lot but helps nobody; "helper" answers and is thanked; "hidden" helps but opted out.
    for i in range(6):
        await adapter.inject(
            make_message(f"just chatting about things {i}", author="talker", chan="general", minutes=i)
        )
    for n, who in enumerate(("helper", "hidden")):
        q = f"q{n}"
        await adapter.inject(
            make_message("how can I configure logging here?", author=f"asker{n}", chan="help", message_id=q, minutes=10)
        )
        await adapter.inject(make_message(LONG, author=who, chan="help", message_id=f"a{n}", thread_id=q, minutes=11))
        await adapter.inject(
            ReactionAdded(channel=channel("help"), message_id=f"a{n}", user=user(f"asker{n}"), emoji="✅", ts=BASE_TIME)
        )


async def test_leaderboard_command_ranks_helpfulness_and_hides_opted_out(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await app.store.set_member_setting("console", "local", "hidden", "opted_out", True)
    await seed(adapter)
    await app.bus.drain()
    await adapter.inject(command("leaderboard", "week"))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1]
    assert isinstance(reply, CommandReply)
    assert "helper" in reply.text and "hidden" not in reply.text and "talker" not in reply.text
    assert reply.attachments and reply.attachments[0].data.startswith(b"\x89PNG")
    # Opted-out members still count in the anonymous totals.
    assert "2 helpful answers" in reply.text


async def test_leaderboard_channel_filter_and_bad_input(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await seed(adapter)
    await app.bus.drain()
    await adapter.inject(command("leaderboard", "all <#general|general>"))
    await adapter.inject(command("leaderboard", "fortnight ; DROP TABLE"))
    await adapter.inject(command("leaderboard", "year"))
    await adapter.inject(command("leaderboard", "week #help", options={"channel": "help"}))
    await adapter.inject(command("leaderboard", "week #general #random"))
    await app.bus.drain()
    replies = {a.command.text: a.text for a in adapter.of_type(CommandReply) if isinstance(a, CommandReply)}
    assert "No helpful activity" in replies["all <#general|general>"]
    assert replies["fortnight ; DROP TABLE"].startswith("Usage")
    # A bare typo is not a channel (usage); the same channel given as an option and in the text is one channel.
    assert replies["year"].startswith("I don't know `year`: the period is `week`, `month` or `all`")
    assert "helper" in replies["week #help"]
    assert replies["week #general #random"].startswith("Usage")


def test_week_window_is_seven_local_days() -> None:
    tz = ZoneInfo("America/Los_Angeles")
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # still Sunday Mar 1 in Los Angeles
    w = window_for("week", now, tz)
    assert (w.start.isoformat() if w.start else None, w.end.isoformat()) == ("2026-02-23", "2026-03-02")
    assert window_for("all", now, tz).start is None


def test_previous_week_is_monday_to_sunday_local() -> None:
    tz = ZoneInfo("Europe/Berlin")
    # Monday 00:30 in Berlin is still Sunday in UTC: the previous week is the one that just ended.
    now = datetime(2026, 3, 8, 23, 30, tzinfo=UTC)
    w = previous_week(now, tz)
    assert (str(w.start), str(w.end)) == ("2026-03-02", "2026-03-09")


def test_text_and_png_rendering() -> None:
    window = window_for("week", BASE_TIME, ZoneInfo("UTC"))
    counts = {"messages": 3, "replies": 2, "threads": 0, "reactions": 4, "helpful": 1, "answered": 1}
    board = Leaderboard(window, None, [Entry(1, "u1", 16.0, counts), Entry(2, "u2", 4.0, counts)], counts, 2)
    text = leaderboard_text(board, {"u1": "Zoë\x07 " + "x" * 40})
    assert "Zoë" in text and "\x07" not in text and "…" in text
    png = leaderboard_png(board)
    image = mpimg.imread(io.BytesIO(png), format="png")
    assert 5_000 < len(png) < 500_000
    assert image.shape[0] > 100 and image.shape[1] > 300
    # Wide names keep the columns aligned, a ``` in a name cannot end the table's code block, and a
    # name of only invisible characters shows the member's id.
    odd = leaderboard_text(board, {"u1": "王小明", "u2": "```boom\u200b"})
    rows = odd.split("```")[1].strip("\n").split("\n")
    assert odd.count("```") == 2 and len({render_width(row) for row in rows}) == 1  # every row as wide
    assert "u1" not in odd and "\u200b" not in odd
    assert "u2" in leaderboard_text(board, {"u2": "\u200b\u200d"})


async def test_week_boundaries_follow_local_midnight_across_dst() -> None:
    """US clocks spring forward on Sunday 2026-03-08: the local Monday-Sunday week still holds
    exactly the replies posted between local midnights, whatever their UTC dates."""
    tz = ZoneInfo("America/New_York")
    local = [
        (datetime(2026, 3, 1, 23, 55, tzinfo=tz), False),  # Sunday before the week (04:55 UTC Mar 2)
        (datetime(2026, 3, 2, 0, 5, tzinfo=tz), True),  # Monday 00:05 EST, first minutes of the week
        (datetime(2026, 3, 8, 3, 30, tzinfo=tz), True),  # just after the DST jump
        (datetime(2026, 3, 8, 23, 50, tzinfo=tz), True),  # Sunday 23:50 EDT = 03:50 UTC Monday
        (datetime(2026, 3, 9, 0, 10, tzinfo=tz), False),  # next week already
    ]
    async with fresh_store("sqlite") as store:
        counters = ActivityCounters(store, tz)
        # One thread per reply: a member earns one reply credit per thread.
        events = []
        for i, (at, _) in enumerate(local):
            q = f"q{i}"
            events.append(
                make_message("how do I read a config file?", author="asker", chan="help", message_id=q, ts=at)
            )
            events.append(make_message(LONG, author="helper", chan="help", message_id=f"r{i}", thread_id=q, ts=at))
        await Recorder(store).handle_batch(events)  # the workspace board counts recorded public channels
        await counters.apply(events)
        window = previous_week(datetime(2026, 3, 9, 14, 0, tzinfo=UTC), tz)
        assert (str(window.start), str(window.end)) == ("2026-03-02", "2026-03-09")
        board = await leaderboard(store, "console", "local", window)
        helper = next(e for e in board.entries if e.user_id == "helper")
        assert helper.counts["replies"] == sum(inside for _, inside in local)


async def test_leaderboard_channel_by_plain_name(make_app: AppFactory) -> None:
    """Slack channel ids are not names: ``#help-desk`` resolves through the recorded channels."""
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    desk = ChannelRef(Platform.CONSOLE, "local", "C777", "help-desk", Visibility.PUBLIC, False)
    await adapter.inject(make_message("how do I rotate the api keys?", author="asker", chan=desk, message_id="dq"))
    await adapter.inject(make_message(LONG, author="deskhelper", chan=desk, message_id="da", thread_id="dq", minutes=1))
    await seed(adapter)
    await app.bus.drain()
    for args in ("all #help-desk", "all help-desk", "all <#C777>"):
        await adapter.inject(command("leaderboard", args))
    await app.bus.drain()
    replies = [a for a in adapter.of_type(CommandReply) if isinstance(a, CommandReply)]
    assert len(replies) == 3
    for reply in replies:
        assert "deskhelper" in reply.text and "in #help-desk" in reply.text  # its name, not its id
        assert re.search(r"\bhelper\b", reply.text) is None  # the #help helper is not on this board


async def test_private_activity_stays_off_the_public_board_and_its_board_is_for_members(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    mods = ChannelRef(Platform.CONSOLE, "local", "mods", "mods", Visibility.PRIVATE, allowed_user_ids=("maya", "asker"))
    await adapter.inject(make_message("how do we handle the spam wave?", author="asker", chan=mods, message_id="m1"))
    await adapter.inject(make_message(LONG, author="maya", chan=mods, message_id="m2", thread_id="m1", minutes=1))
    await adapter.inject(ReactionAdded(channel=mods, message_id="m2", user=user("asker"), emoji="✅", ts=BASE_TIME))
    await app.bus.drain()
    await adapter.inject(command("leaderboard", "week"))
    await adapter.inject(command("leaderboard", "week <#mods>", author="outsider"))
    await adapter.inject(command("leaderboard", "week <#mods>", author="maya"))
    await app.bus.drain()
    # Commands run concurrently: replies are matched by who asked.
    by_author = {r.command.user.user_id: r for r in adapter.of_type(CommandReply) if isinstance(r, CommandReply)}
    public, outsider, member = by_author["alice"], by_author["outsider"], by_author["maya"]
    assert "maya" not in public.text and not public.ephemeral
    assert outsider.text == "You can only see the leaderboard of a channel you can read."
    assert "maya" in member.text and member.ephemeral


async def test_a_restricted_channels_activity_counts_on_the_workspace_board(make_app: AppFactory) -> None:
    """A channel everyone reads bar one member an overwrite shuts out is the community's: its help
    counts on the public board (counts, not text), where a private channel's does not."""
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    lounge = ChannelRef(
        Platform.CONSOLE,
        "local",
        "lounge",
        "lounge",
        Visibility.RESTRICTED,
        allowed_role_ids=("local",),
        denied_user_ids=("outsider",),
    )
    await adapter.inject(make_message("how do we tune the logging here?", author="asker", chan=lounge, message_id="m1"))
    await adapter.inject(make_message(LONG, author="maya", chan=lounge, message_id="m2", thread_id="m1", minutes=1))
    await adapter.inject(ReactionAdded(channel=lounge, message_id="m2", user=user("asker"), emoji="✅", ts=BASE_TIME))
    await app.bus.drain()
    await adapter.inject(command("leaderboard", "week"))
    await app.bus.drain()
    [board] = adapter.of_type(CommandReply)
    assert "maya" in board.text and not board.ephemeral


async def test_a_channel_the_store_has_not_recorded_stays_off_the_workspace_board() -> None:
    """Under Redis the counters may run before the recorder has stored a new channel: until the
    store knows the channel is public its activity is not on the board everyone sees."""
    async with fresh_store("sqlite") as store:
        unseen = ChannelRef(Platform.CONSOLE, "local", "staff", "staff", Visibility.PRIVATE)
        events = [
            make_message("how do I rotate the keys?", author="asker", chan=unseen, message_id="q1"),
            make_message(LONG, author="helper", chan=unseen, message_id="r1", thread_id="q1", minutes=1),
        ]
        await ActivityCounters(store, ZoneInfo("UTC")).apply(events)
        window = window_for("all", BASE_TIME + timedelta(days=1), ZoneInfo("UTC"))
        assert (await leaderboard(store, "console", "local", window)).entries == []
        own = await leaderboard(store, "console", "local", window, channel_id="staff")
        assert "helper" in [e.user_id for e in own.entries]  # its own board (for its readers) has it
        await Recorder(store).handle_batch(events)  # recorded: private, still off the public board
        assert (await leaderboard(store, "console", "local", window)).entries == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_anonymous_row_takes_no_place_on_the_board_and_is_no_member(backend: str) -> None:
    """What opted-out members did is counted under user id "": it can outscore everyone, yet the
    board still shows ``limit`` members, and the footer does not count it as one more member."""

    def answered(n: int, who: str) -> list[Event]:
        q, a = f"q{n}", f"a{n}"
        return [
            make_message("how can I configure logging here?", author=f"asker{n}", chan="help", message_id=q, minutes=n),
            make_message(LONG, author=who, chan="help", message_id=a, thread_id=q, minutes=n + 0.5),
            ReactionAdded(channel("help"), a, user(f"asker{n}"), "✅", BASE_TIME + timedelta(minutes=n + 0.7)),
        ]

    async with fresh_store(backend) as store:
        counters = ActivityCounters(store, ZoneInfo("UTC"))
        before = [e for n in range(2) for e in answered(n, "quiet")]  # under their name: hidden later
        await Recorder(store).handle_batch(before)
        await counters.apply(before)
        await store.set_member_setting("console", "local", "quiet", "opted_out", True)
        after = [e for n, who in enumerate(["quiet"] * 5 + ["helper1", "helper2"], start=2) for e in answered(n, who)]
        await Recorder(store).handle_batch(after)
        await counters.apply(after)
        window = window_for("all", BASE_TIME + timedelta(days=1), ZoneInfo("UTC"))
        board = await leaderboard(store, "console", "local", window, limit=2)
        assert [e.user_id for e in board.entries] == ["helper1", "helper2"]
        assert board.totals["helpful"] == 9  # the anonymous row still counts in the totals
        assert board.members == 3 + 9  # quiet, two helpers and nine askers; "" is nobody


@pytest.mark.parametrize("backend", BACKENDS)
async def test_reaction_points_are_capped_per_member_and_day(backend: str) -> None:
    """An alt reacting to everything a member posts adds at most REACTION_POINTS_PER_DAY a day."""
    async with fresh_store(backend) as store:
        events = []
        for day, count in ((0, 25), (1, 3)):
            for i in range(count):
                mid = f"d{day}-{i}"
                at = BASE_TIME + timedelta(days=day, minutes=i)
                events += [
                    make_message(
                        f"a long enough message number {i}", author="poster", chan="general", message_id=mid, ts=at
                    ),
                    ReactionAdded(channel("general"), mid, user("alt"), "heart", at + timedelta(seconds=5)),
                ]
        await Recorder(store).handle_batch(events)
        await ActivityCounters(store, ZoneInfo("UTC")).apply(events)
        window = window_for("all", BASE_TIME + timedelta(days=2), ZoneInfo("UTC"))
        board = await leaderboard(store, "console", "local", window)
        poster = next(e for e in board.entries if e.user_id == "poster")
        assert (poster.score, poster.counts["reactions"]) == (13.0, 13)  # 10 on day one, 3 on day two
        assert board.totals["reactions"] == 28  # every reaction is still counted


async def test_the_board_of_a_channel_the_store_does_not_know_is_only_for_whoever_asks_in_it(
    make_app: AppFactory,
) -> None:
    """A picked id (``<#D42>``) the store has no record of (a DM, or a private channel the recorder
    has not stored yet) may be anyone's: its board is not shown to a member asking elsewhere."""
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    hidden = ChannelRef(Platform.CONSOLE, "local", "D42", "", Visibility.DM)
    events: list[Event] = [
        make_message("how do we handle the spam wave?", author="asker", chan=hidden, message_id="m1"),
        make_message(LONG, author="maya", chan=hidden, message_id="m2", thread_id="m1", minutes=1),
        ReactionAdded(channel=hidden, message_id="m2", user=user("asker"), emoji="✅", ts=BASE_TIME),
    ]
    brain = next(b for b in app.brains if b.name == "activity")
    await brain.counters.apply(events)  # type: ignore[attr-defined]
    assert await app.store.get_channel("console", "local", "D42") is None
    await adapter.inject(command("leaderboard", "week <#D42>", author="outsider"))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1]
    assert isinstance(reply, CommandReply)
    assert "maya" not in reply.text
    assert reply.text == "You can only see the leaderboard of a channel you can read."


def test_huge_scores_are_shown_exactly_not_rounded_or_in_exponent_form() -> None:
    """``:g`` keeps six digits: 1,234,567.5 points showed as ``1.23457e+06`` and 123,456.5 as ``123456``."""
    window = window_for("all", BASE_TIME, ZoneInfo("UTC"))
    counts = {c: 0 for c in ("messages", "replies", "threads", "reactions", "helpful", "answered")}
    board = Leaderboard(
        window,
        None,
        [Entry(1, "big", 1_234_567.5, counts), Entry(2, "mid", 123_456.5, counts), Entry(3, "small", 7.0, counts)],
    )
    text = leaderboard_text(board)
    assert "1234567.5" in text and "123456.5" in text and "e+" not in text
    assert re.search(r"\bsmall\s+7\s", text)
    assert leaderboard_png(board).startswith(b"\x89PNG")

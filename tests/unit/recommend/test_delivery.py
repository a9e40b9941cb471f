"""Digest delivery: member time zones, bad zones, zone moves, opted-out threads, open buttons,
and headers that name the community."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import FakeClock
from bot.events import (
    ButtonClicked,
    CommandReply,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    MessagePosted,
    Platform,
    SendDirectMessage,
    SendEphemeral,
)
from bot.store import UserRow
from bot.testing.builders import BASE_TIME, channel, command, make_message, user
from brain.recommend.brain import LAST_DIGEST_KEY, RecommendBrain, _zone
from brain.recommend.digest import Recommendation, digest_due, render

Factory = Callable[..., Awaitable[Any]]


async def _app(make_app: Factory, *, hours: float = 2.0) -> tuple[Any, Any, RecommendBrain, FakeClock]:
    clock = FakeClock(BASE_TIME + timedelta(hours=hours))
    app, adapter = await make_app(brains=["recommend"], clock=clock)
    brain = app.brain("recommend")
    assert isinstance(brain, RecommendBrain)
    return app, adapter, brain, clock


async def _post(app: Any, adapter: Any, *events: MessagePosted) -> None:
    for e in events:
        await adapter.inject(e)
    await app.bus.drain()


def _thread(root_id: str, author: str, text: str, minutes: float) -> MessagePosted:
    return make_message(text, author=author, chan="python", message_id=root_id, thread_id=root_id, minutes=minutes)


async def _community(app: Any, adapter: Any) -> None:
    await _post(
        app,
        adapter,
        _thread("t1", "bob", "asyncio event loop question: how to cancel a task?", 1),
        make_message("use task.cancel() in asyncio", author="carol", chan="python", thread_id="t1", minutes=2),
        _thread("t2", "dave", "django migrations keep failing on postgres", 3),
        _thread("t3", "erin", "asyncio gather with timeouts? ERIN-WORDS", 4),
        make_message("try asyncio.wait_for around gather", author="carol", chan="python", thread_id="t3", minutes=4.5),
        make_message("I love asyncio and await syntax", author="alice", chan="python", minutes=5),
    )


async def _tz(app: Any, adapter: Any, text: str) -> str:
    await adapter.inject(command("recommend", text))
    await app.bus.drain()
    reply: CommandReply = [a for a in adapter.actions if isinstance(a, CommandReply)][-1]
    return reply.text


def _dms(adapter: Any) -> list[SendDirectMessage]:
    return [a for a in adapter.actions if isinstance(a, SendDirectMessage)]


# -- 1. member time zones -------------------------------------------------------------------------
async def test_recommend_tz_command_shows_sets_validates_and_resets(make_app: Factory) -> None:
    app, adapter, _, _ = await _app(make_app)
    assert "not set a time zone" in await _tz(app, adapter, "tz")
    for bad in ("America", "Mars/Olympus", "../etc/passwd", "x" * 300):
        assert "is not a time zone" in await _tz(app, adapter, f"tz {bad}")
    assert await app.store.get_member_setting("console", "local", "alice", "tz") is None
    assert "now America/Los_Angeles" in await _tz(app, adapter, "tz america/los_angeles")  # tzdata's spelling
    assert await app.store.get_member_setting("console", "local", "alice", "tz") == "America/Los_Angeles"
    assert "is America/Los_Angeles" in await _tz(app, adapter, "tz")
    assert "cleared" in await _tz(app, adapter, "tz reset")
    assert "not set a time zone" in await _tz(app, adapter, "tz")


async def test_digest_hour_follows_the_platform_zone_and_the_members_own(make_app: Factory) -> None:
    # 2026-01-06 00:06 UTC: 09:06 in Tokyo, 16:06 (the day before) in Los Angeles.
    app, adapter, brain, _ = await _app(make_app, hours=15.1)
    await _community(app, adapter)
    await app.store.set_member_setting("console", "local", "alice", "digest", True)
    # The recorder stored what the platform said (as Slack's users.info does for UserRef.tz).
    joined = make_message("hi", author=dataclasses.replace(user("alice"), tz="Asia/Tokyo"), minutes=6)
    await _post(app, adapter, joined)
    assert (await app.store.get_user("console", "local", "alice")).tz == "Asia/Tokyo"
    assert await brain.send_due_digests() == 1  # due in Tokyo; the community's zone (UTC) is at 00:06
    # The member's own zone wins: in Los Angeles it is still the 5th, served already.
    await app.store.set_member_setting("console", "local", "alice", LAST_DIGEST_KEY, "2026-01-05")
    assert "now America/Los_Angeles" in await _tz(app, adapter, "tz America/Los_Angeles")
    assert await brain.send_due_digests() == 0
    await _tz(app, adapter, "tz reset")  # back to the platform's zone
    assert await brain.send_due_digests() == 1


# -- 2. a bad zone costs nobody else their digest -----------------------------------------------------
def test_zone_falls_back_for_folders_paths_and_long_names() -> None:
    for name in ("America", "Europe/", "../etc/passwd", "a\x00b", "x" * 300, "/etc/localtime", "Etc/GMT+99", 5):
        assert _zone(name, UTC) is UTC
    assert _zone("Asia/Tokyo", UTC) == ZoneInfo("Asia/Tokyo")


async def test_one_members_failing_digest_does_not_stop_the_others(make_app: Factory, monkeypatch: Any) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    for who in ("bob", "dave"):
        await app.store.set_member_setting("console", "local", who, "digest", True)
    real = brain.recommend

    async def broken_for_bob(u: Any, **kw: Any) -> Any:
        if u.user_id == "bob":
            raise RuntimeError("a bad row")
        return await real(u, **kw)

    monkeypatch.setattr(brain, "recommend", broken_for_bob)
    assert await brain.send_due_digests(force=True) == 1  # bob fails, dave (sorted after him) still gets his
    await app.bus.drain()
    assert [d.user.user_id for d in _dms(adapter)] == ["dave"]


async def test_a_folder_as_time_zone_still_sends_everyones_digest(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    for who in ("bob", "dave"):
        await app.store.set_member_setting("console", "local", who, "digest", True)
    await app.store.set_member_setting("console", "local", "bob", "tz", "America")  # a tzdata folder
    assert await brain.send_due_digests() == 2
    await app.bus.drain()
    assert sorted(d.user.user_id for d in _dms(adapter)) == ["bob", "dave"]


# -- 3. moving west after today's digest ---------------------------------------------------------------
def test_digest_not_due_again_for_an_earlier_local_day() -> None:
    at = time(9, 0)
    sent = digest_due(datetime(2026, 1, 6, 0, 5, tzinfo=UTC), ZoneInfo("Asia/Tokyo"), at, None)
    assert sent == "2026-01-06"
    # Fifteen minutes later in Los Angeles it is 16:20 on the 5th: yesterday there, already served.
    assert digest_due(datetime(2026, 1, 6, 0, 20, tzinfo=UTC), ZoneInfo("America/Los_Angeles"), at, sent) is None
    assert digest_due(datetime(2026, 1, 7, 17, 5, tzinfo=UTC), ZoneInfo("America/Los_Angeles"), at, sent) == (
        "2026-01-07"
    )


async def test_zone_change_west_sends_no_second_digest(make_app: Factory) -> None:
    app, adapter, brain, clock = await _app(make_app, hours=15.1)  # 09:06 in Tokyo
    await _community(app, adapter)
    await app.store.set_member_setting("console", "local", "alice", "digest", True)
    await app.store.set_member_setting("console", "local", "alice", "tz", "Asia/Tokyo")
    assert await brain.send_due_digests() == 1
    await app.store.set_member_setting("console", "local", "alice", "tz", "America/Los_Angeles")
    await clock.advance(timedelta(minutes=15))
    assert await brain.send_due_digests() == 0
    await app.bus.drain()
    assert len(_dms(adapter)) == 1
    # Not taken as served "yesterday" (in Los Angeles) either, which would make tomorrow due twice.
    assert await app.store.get_member_setting("console", "local", "alice", LAST_DIGEST_KEY) == "2026-01-06"


async def test_send_now_after_a_zone_change_west_sends_no_second_digest(make_app: Factory) -> None:
    """An admin's send-now goes to members "who have not had today's digest": after moving west a
    member is back in yesterday, which today's digest already served."""
    app, adapter, brain, _ = await _app(make_app, hours=15.1)  # 09:06 in Tokyo
    await _community(app, adapter)
    await app.store.set_member_setting("console", "local", "alice", "digest", True)
    await app.store.set_member_setting("console", "local", "alice", "tz", "Asia/Tokyo")
    assert await brain.send_due_digests() == 1
    await app.store.set_member_setting("console", "local", "alice", "tz", "America/Los_Angeles")
    assert await brain.send_due_digests(force=True) == 0
    await app.bus.drain()
    assert len(_dms(adapter)) == 1
    assert await app.store.get_member_setting("console", "local", "alice", LAST_DIGEST_KEY) == "2026-01-06"
    # `send-now again` still sends it, and keeps the later day (else the next day is due twice).
    assert await brain.send_due_digests(force=True, again=True) == 1
    assert await app.store.get_member_setting("console", "local", "alice", LAST_DIGEST_KEY) == "2026-01-06"


# -- 5. an opted-out member's thread ------------------------------------------------------------------
async def test_opted_out_or_forgotten_members_thread_is_not_recommended(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    assert "t3" in {r.thread_id for r in await brain.recommend(user("alice"), k=10)}
    await app.store.set_member_setting("console", "local", "erin", "opted_out", True)
    recs = await brain.recommend(user("alice"), k=10)
    assert recs and "t3" not in {r.thread_id for r in recs}  # not even titled with carol's reply
    assert all("wait_for" not in r.title for r in recs)
    # Forgotten: the root is erased, only the threads table still names its starter.
    await app.store.set_member_setting("console", "local", "erin", "opted_out", False)
    core = app.brain("core")
    await core.forget(user("erin"))
    assert "t3" not in {r.thread_id for r in await brain.recommend(user("alice"), k=10)}


# -- 6. "Open N" opens the thread -------------------------------------------------------------------
async def test_open_button_carries_the_link_and_a_click_answers_with_it(make_app: Factory) -> None:
    app, adapter, brain, clock = await _app(make_app)
    ch = channel("python", platform=Platform.DISCORD, workspace="G1")
    bob, carol, alice = (user(n, platform=Platform.DISCORD, workspace="G1") for n in ("bob", "carol", "alice"))
    root = make_message("asyncio event loop question", author=bob, chan=ch, message_id="t1", thread_id="t1", minutes=1)
    link = "https://discord.com/channels/G1/t1/t1"
    await _post(
        app,
        adapter,
        dataclasses.replace(root, permalink=link),
        make_message("use task.cancel()", author=carol, chan=ch, thread_id="t1", minutes=2),
        make_message("hello asyncio", author=alice, chan=ch, minutes=5),
    )
    await app.store.set_member_setting("discord", "G1", "alice", "digest", True)
    assert await brain.send_due_digests(force=True) == 1
    await app.bus.drain()
    button = _dms(adapter)[-1].buttons[0]
    assert button.url == link
    before = len(adapter.actions)
    dm = channel("dm-alice", platform=Platform.DISCORD, workspace="G1")
    click = ButtonClicked(button.action_id, button.value, alice, dm, "m9", "i1", clock.now(), response_ref="i1")
    await adapter.inject(click)
    await app.bus.drain()
    [answer] = [a for a in adapter.actions[before:] if isinstance(a, SendEphemeral)]
    assert link in answer.text and answer.response_ref == "i1"
    assert await brain.feedback_rows(alice) == [("t1", "clicked")]  # the click still counts


# -- 8. the header names the community --------------------------------------------------------------
def test_digest_header_counts_picks_in_words() -> None:
    one = [Recommendation("t", "c", "python", "Title", "https://x/1", 1.0, "why")]
    assert render(one, header="recommend_digest_header")[0] == "Your 1 pick for today:"
    assert render(one * 2, header="recommend_digest_header", community="Acme")[0] == "Your 2 picks for today in Acme:"


async def test_member_of_two_workspaces_can_tell_the_digests_apart(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    for ws in ("w1", "w2"):
        u = {n: user(n, workspace=ws) for n in ("bob", "carol", "alice")}
        c = channel("python", workspace=ws)
        await _post(
            app,
            adapter,
            make_message("asyncio loop", author=u["bob"], chan=c, message_id=f"{ws}t1", thread_id=f"{ws}t1", minutes=1),
            make_message("use task.cancel()", author=u["carol"], chan=c, thread_id=f"{ws}t1", minutes=2),
            make_message("hello asyncio", author=u["alice"], chan=c, minutes=5),
        )
        await app.store.set_member_setting("console", ws, "alice", "digest", True)
    await app.store.upsert_workspace("console", "w1", "Python Guild")
    assert await brain.send_due_digests(force=True) == 2
    await app.bus.drain()
    texts = sorted(d.text for d in _dms(adapter))
    assert texts == ["Your 1 pick for today in Python Guild:", "Your 1 pick for today in w2:"]


# -- 9. members who left get no digest ----------------------------------------------------------------
async def test_a_member_who_left_gets_no_digest_until_they_join_again(make_app: Factory) -> None:
    app, adapter, brain, clock = await _app(make_app)
    await _community(app, adapter)
    await app.store.set_member_setting("console", "local", "alice", "digest", True)
    await adapter.inject(MemberLeft(user=user("alice"), ts=clock.now()))
    await app.bus.drain()
    assert await brain.send_due_digests(force=True) == 0
    await adapter.inject(MemberJoined(user=user("alice"), ts=clock.now()))  # back in the community
    await app.bus.drain()
    assert await brain.send_due_digests(force=True) == 1
    await app.bus.drain()
    assert [d.user.user_id for d in _dms(adapter) if d.text.startswith("Your")] == ["alice"]


async def test_two_workers_deciding_at_once_send_one_digest(make_app: Factory) -> None:
    """Both read "not sent today"; the day is claimed in one statement, so only one sends."""
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    await app.store.set_member_setting("console", "local", "alice", LAST_DIGEST_KEY, "2026-01-04")
    first = await brain._claim_digest_day("console", "local", "alice", "2026-01-05")
    second = await brain._claim_digest_day("console", "local", "alice", "2026-01-05")
    assert (first, second) == (True, False)
    assert await brain._claim_digest_day("console", "local", "bob", "2026-01-05")  # nothing stored yet: claimed
    assert await app.store.get_member_setting("console", "local", "alice", LAST_DIGEST_KEY) == "2026-01-05"


async def test_a_member_slack_reactivates_gets_digests_again(make_app: Factory) -> None:
    """Slack sends no team_join for a reactivated account, only a user_change that is no longer
    deleted (MemberUpdated): that brings the member back too."""
    app, adapter, brain, clock = await _app(make_app)
    await _community(app, adapter)
    await app.store.set_member_setting("console", "local", "alice", "digest", True)
    await adapter.inject(MemberLeft(user=user("alice"), ts=clock.now()))
    await app.bus.drain()
    assert await brain.send_due_digests(force=True) == 0
    await adapter.inject(MemberUpdated(user=user("alice"), ts=clock.now()))
    await app.bus.drain()
    assert await brain.send_due_digests(force=True) == 1


async def test_a_tick_reads_settings_per_workspace_not_per_member(make_app: Factory) -> None:
    """A tick visits every member; their settings come in one read, so 200 members waiting for
    their hour cost no more queries than 2 (reads per member made a tick O(members) round trips)."""

    async def reads_for(members: int) -> int:
        app, _, brain, _clock = await _app(make_app)
        await app.store.upsert_users([UserRow("console", "local", f"m{i:03}", f"m{i}") for i in range(members)])
        for i in range(members):
            await app.store.set_member_setting("console", "local", f"m{i:03}", "digest", True)
            await app.store.set_member_setting("console", "local", f"m{i:03}", LAST_DIGEST_KEY, "2099-01-01")
        calls = 0
        db = app.store.db
        for name in ("fetchone", "fetchall"):
            real = getattr(db, name)

            async def counted(*a: Any, _real: Any = real, **kw: Any) -> Any:
                nonlocal calls
                calls += 1
                return await _real(*a, **kw)

            setattr(db, name, counted)
        assert await brain.send_due_digests() == 0  # everyone already had theirs "today"
        return calls

    assert await reads_for(200) == await reads_for(2)

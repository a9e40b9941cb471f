"""Welcome DMs, ``deny_channels`` and opt-out where the recommender missed them.

* A join an export replays (``source=IMPORT``) or a live join delivered long after it happened
  greets no one; the recorder still stores the join (members, a private channel's readers).
* A Discord private thread is a channel of its own under its parent: denying the parent denies it.
* Channel suggestions read the history the ranking snapshot does: an opted-out member's posts
  make no channel worth suggesting.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from bot.brain import Brain, listen
from bot.clock import FakeClock
from bot.events import (
    ChannelRef,
    ChannelSeen,
    EventSource,
    MemberJoined,
    MessagePosted,
    Platform,
    SendDirectMessage,
    Visibility,
    from_dict,
    to_dict,
)
from bot.importers.discord_export import import_discord_export
from bot.importers.slack_export import import_slack_export
from bot.testing.builders import BASE_TIME, channel, make_message, user
from brain.recommend.brain import RecommendBrain

Factory = Callable[..., Awaitable[Any]]
GUILD = "G1"


class JoinLog(Brain):
    """Keeps every MemberJoined the bus delivers, to see what importers publish."""

    name = "join_log"
    seen: ClassVar[list[MemberJoined]] = []

    @listen(MemberJoined)
    async def on_join(self, event: MemberJoined) -> None:
        """Keep the join."""
        self.seen.append(event)


async def _app(make_app: Factory, clock: FakeClock, **kwargs: Any) -> tuple[Any, Any, RecommendBrain]:
    app, adapter = await make_app(brains=["recommend"], clock=clock, **kwargs)
    brain = app.brain("recommend")
    assert isinstance(brain, RecommendBrain)
    return app, adapter, brain


async def _post(app: Any, adapter: Any, *events: Any) -> None:
    for e in events:
        await adapter.inject(e)
    await app.bus.drain()


def _dms(adapter: Any) -> list[SendDirectMessage]:
    return [a for a in adapter.actions if isinstance(a, SendDirectMessage)]


def _discord_message(mid: str, minute: int, uid: str, name: str, content: str, mtype: str = "Default") -> Any:
    """A DiscordChatExporter message of 1 March 2023, 10:``minute``."""
    return {
        "id": mid,
        "type": mtype,
        "timestamp": f"2023-03-01T10:{minute:02d}:00+00:00",
        "timestampEdited": None,
        "content": content,
        "author": {"id": uid, "name": name, "nickname": name, "isBot": False},
        "attachments": [],
        "reactions": [],
    }


# -- welcome -------------------------------------------------------------------------------------


async def test_importing_a_discord_export_welcomes_no_one_but_records_the_joiners(
    make_app: Factory, tmp_path: Path
) -> None:
    JoinLog.seen.clear()
    app, adapter, _ = await _app(make_app, FakeClock(BASE_TIME), extra_brains=[JoinLog])
    py = channel("py", platform=Platform.DISCORD, workspace=GUILD)
    # The bot is live in the guild: there is a channel a welcome would suggest.
    await _post(
        app,
        adapter,
        make_message(
            "asyncio question", author=user("20", platform=Platform.DISCORD, workspace=GUILD), chan=py, minutes=-60
        ),
    )
    export = tmp_path / "general.json"
    export.write_text(
        json.dumps(
            {
                "guild": {"id": GUILD, "name": "Guild"},
                "channel": {"id": "C1", "type": "GuildTextChat", "name": "general"},
                "messages": [
                    _discord_message("1", 0, "10", "ana", "hello, how do I configure asyncio?"),
                    _discord_message("2", 1, "20", "bob", "see the docs"),
                    _discord_message("3", 2, "40", "newbie", "", "GuildMemberJoin"),  # joined March 2023
                    _discord_message("4", 3, "41", "newbie2", "", "GuildMemberJoin"),
                ],
            }
        )
    )
    await import_discord_export([export], app.bus)
    await app.bus.drain()

    assert _dms(adapter) == []
    assert {(e.user.user_id, e.source) for e in JoinLog.seen} == {
        ("40", EventSource.IMPORT),
        ("41", EventSource.IMPORT),
    }
    # The join itself still lands: the recorder knows the members.
    for uid in ("40", "41"):
        assert await app.store.get_user("discord", GUILD, uid) is not None


async def test_an_imported_slack_channel_join_still_opens_the_private_channel_to_its_member(
    make_app: Factory, tmp_path: Path
) -> None:
    JoinLog.seen.clear()
    app, adapter, _ = await _app(make_app, FakeClock(BASE_TIME), extra_brains=[JoinLog])
    root = tmp_path / "export"
    (root / "mods").mkdir(parents=True)
    (root / "users.json").write_text(
        json.dumps([{"id": "U1", "team_id": "T9", "name": "ana"}, {"id": "U3", "team_id": "T9", "name": "cy"}])
    )
    (root / "channels.json").write_text(json.dumps([]))
    (root / "groups.json").write_text(json.dumps([{"id": "G1", "name": "mods", "members": ["U1"]}]))
    (root / "mods" / "2023-11-14.json").write_text(
        json.dumps(
            [
                {"type": "message", "user": "U1", "text": "mods only", "ts": "1700000000.000100"},
                {
                    "type": "message",
                    "subtype": "channel_join",
                    "user": "U3",
                    "text": "<@U3> has joined",
                    "ts": "1700000001.000100",
                },
            ]
        )
    )
    await import_slack_export(root, app.bus, progress=False)
    await app.bus.drain()

    assert [(e.user.user_id, e.source) for e in JoinLog.seen] == [("U3", EventSource.IMPORT)]
    assert "G1" in await app.store.readable_channel_ids("slack", "T9", "U3")
    assert _dms(adapter) == []


async def test_a_live_join_delivered_weeks_late_gets_no_welcome(make_app: Factory) -> None:
    clock = FakeClock(BASE_TIME + timedelta(days=30))
    app, adapter, _ = await _app(make_app, clock)
    await _post(
        app, adapter, make_message("asyncio question", author="bob", chan="python", ts=clock.now() - timedelta(hours=1))
    )
    # A redelivered (or backlogged) live join of three weeks ago: that member is no newcomer now.
    await _post(app, adapter, MemberJoined(user=user("oldtimer"), ts=clock.now() - timedelta(days=21)))
    assert _dms(adapter) == []
    # A join of an hour ago is still welcomed.
    await _post(app, adapter, MemberJoined(user=user("newbie"), ts=clock.now() - timedelta(hours=1)))
    assert [d.user.user_id for d in _dms(adapter)] == ["newbie"]


def test_a_joins_source_travels_on_the_bus_and_events_without_one_are_live() -> None:
    imported = MemberJoined(user("ana"), datetime(2023, 3, 1, tzinfo=UTC), None, source=EventSource.IMPORT)
    wire = to_dict(imported)
    assert wire["source"] == "import" and from_dict(wire) == imported
    # An older worker's event names no source: a live join, the same fact (same event id).
    older = {k: v for k, v in wire.items() if k != "source"}
    decoded = from_dict(older)
    assert isinstance(decoded, MemberJoined) and decoded.source is EventSource.LIVE
    assert decoded.event_id == imported.event_id


# -- deny_channels -------------------------------------------------------------------------------


async def test_a_private_thread_of_a_denied_channel_is_neither_recommended_nor_profiled(make_app: Factory) -> None:
    app, adapter, brain = await _app(make_app, FakeClock(BASE_TIME + timedelta(hours=2)))
    hr = ChannelRef(Platform.DISCORD, GUILD, "hr", "hr-talk", Visibility.PUBLIC)
    private = ChannelRef(
        Platform.DISCORD,
        GUILD,
        "pt1",
        "raise talk",
        Visibility.PRIVATE,
        allowed_user_ids=("alice", "bob"),
        parent_id="hr",
    )
    py = ChannelRef(Platform.DISCORD, GUILD, "py", "python", Visibility.PUBLIC)
    bob = user("bob", platform=Platform.DISCORD, workspace=GUILD)
    alice = user("alice", platform=Platform.DISCORD, workspace=GUILD)
    await _post(app, adapter, ChannelSeen(channel=private, member_ids=("alice", "bob")))
    await _post(
        app,
        adapter,
        make_message("asyncio question", author=bob, chan=py, message_id="q1", thread_id="q1", minutes=1),
        make_message("salary bands for the team", author=bob, chan=hr, message_id="h1", thread_id="h1", minutes=2),
        make_message("my raise negotiation numbers", author=bob, chan=private, message_id="p1", minutes=3),
        make_message("asyncio rocks", author=alice, chan=py, minutes=4),
    )
    assert "pt1" in {r.channel_id for r in await brain.recommend(alice, k=10)}  # readable, so recommended

    await app.store.set_workspace_setting("discord", GUILD, "deny_channels", ["hr-talk"])
    after = {r.channel_id for r in await brain.recommend(alice, k=10)}
    assert after == {"py"}
    assert "raise talk" not in {name for name, _ in await brain.suggest_channels(alice, k=5)}
    # A post in the private thread does not move its author's profile.
    profile = await brain.profile_vector(alice)
    await _post(app, adapter, make_message("my own raise numbers", author=alice, chan=private, minutes=5))
    assert profile is not None and (await brain.profile_vector(alice) == profile).all()


async def test_a_private_thread_is_denied_with_its_parent_before_the_store_knows_its_parent(
    make_app: Factory,
) -> None:
    app, adapter, brain = await _app(make_app, FakeClock(BASE_TIME + timedelta(hours=2)))
    alice = user("alice", platform=Platform.DISCORD, workspace=GUILD)
    hr = ChannelRef(Platform.DISCORD, GUILD, "hr", "hr-talk", Visibility.PUBLIC)
    await _post(
        app,
        adapter,
        make_message(
            "I love asyncio", author=alice, chan=channel("py", platform=Platform.DISCORD, workspace=GUILD), minutes=1
        ),
    )
    await _post(app, adapter, make_message("hello", author=alice, chan=hr, minutes=2))
    await app.store.set_workspace_setting("discord", GUILD, "deny_channels", ["hr-talk"])
    profile = await brain.profile_vector(alice)
    # The live ref names the parent; the store has no row for the thread yet when the brain looks.
    private = ChannelRef(Platform.DISCORD, GUILD, "pt9", "new thread", Visibility.PRIVATE, parent_id="hr")
    assert await brain._denied_here(private)
    await _post(
        app, adapter, MessagePosted(private, alice, "pm1", "salary numbers again", BASE_TIME + timedelta(minutes=3))
    )
    assert profile is not None and (await brain.profile_vector(alice) == profile).all()


# -- opt-out in channel suggestions --------------------------------------------------------------


async def test_welcome_does_not_suggest_a_channel_only_an_opted_out_member_posts_in(make_app: Factory) -> None:
    app, adapter, brain = await _app(make_app, FakeClock(BASE_TIME + timedelta(hours=2)))
    await _post(
        app,
        adapter,
        make_message("asyncio question", author="bob", chan="python", message_id="t1", thread_id="t1", minutes=1),
        make_message("my recovery group update", author="carol", chan="recovery-support", minutes=2),
    )
    # Suggested while carol is profiled (the channel snapshot is now cached)...
    assert "recovery-support" in {n for n, _ in await brain.suggest_channels(user("newbie"), k=3)}
    # ... and not from the moment she opts out, cache or not.
    await app.store.set_member_setting("console", "local", "carol", "opted_out", True)
    got = {n for n, _ in await brain.suggest_channels(user("newbie"), k=3)}
    assert got == {"python"}
    await _post(app, adapter, MemberJoined(user=user("newbie2"), ts=BASE_TIME + timedelta(hours=2)))
    [welcome] = _dms(adapter)
    assert "#python" in welcome.text and "recovery-support" not in welcome.text


async def test_channel_suggestions_leave_out_threads_an_opted_out_member_started(make_app: Factory) -> None:
    app, adapter, brain = await _app(make_app, FakeClock(BASE_TIME + timedelta(hours=2)))
    await _post(
        app,
        adapter,
        make_message("asyncio question", author="bob", chan="python", message_id="t1", thread_id="t1", minutes=1),
        make_message(
            "my diagnosis, any advice?", author="carol", chan="health", message_id="h1", thread_id="h1", minutes=2
        ),
        make_message("so sorry to hear", author="dave", chan="health", thread_id="h1", minutes=3),
    )
    await app.store.set_member_setting("console", "local", "carol", "opted_out", True)
    # dave's reply alone would make #health look active: it is part of carol's thread.
    assert {n for n, _ in await brain.suggest_channels(user("newbie"), k=3)} == {"python"}


async def test_an_old_private_thread_is_read_where_its_messages_are_not_where_its_row_says(make_app: Any) -> None:
    """A Discord private thread's ``threads`` row written before private threads were channels of
    their own names its public parent. Once its root was older than the history read, the thread
    took its channel from that row and was recommended, titled, to everyone in #general."""
    day = timedelta(days=1)
    clock = FakeClock(BASE_TIME + 100 * day)
    app, adapter, brain = await _app(make_app, clock)
    general = ChannelRef(Platform.DISCORD, GUILD, "general", "general", Visibility.PUBLIC)
    private = ChannelRef(
        Platform.DISCORD,
        GUILD,
        "pt1",
        "layoff rumours",
        Visibility.PRIVATE,
        allowed_user_ids=("alice", "bob"),
        parent_id="general",
    )
    bob = user("bob", platform=Platform.DISCORD, workspace=GUILD)
    carol = user("carol", platform=Platform.DISCORD, workspace=GUILD)
    await _post(app, adapter, ChannelSeen(channel=private, member_ids=("alice", "bob")))
    # The thread row as the recorder stored it before private threads became channels of their own
    # (ThreadCreated's parent was #general), 100 days ago.
    await app.store.upsert_thread(
        "discord", GUILD, "pt1", "general", title="layoff rumours", author_id="alice", ts=BASE_TIME.timestamp()
    )
    await _post(
        app,
        adapter,
        make_message(
            "anyone heard about q3 cuts?",
            author=bob,
            chan=private,
            thread_id="pt1",
            ts=clock.now() - timedelta(hours=3),
        ),
        make_message(
            "python tip", author=bob, chan=general, message_id="g1", thread_id="g1", ts=clock.now() - timedelta(hours=2)
        ),
        make_message("hi", author=carol, chan=general, ts=clock.now() - timedelta(hours=1)),
    )
    assert "pt1" not in await app.store.readable_channel_ids("discord", GUILD, "carol")
    recs = {r.thread_id: r for r in await brain.recommend(carol, k=10)}
    assert "pt1" not in recs, f"private thread recommended to a non-member: {recs['pt1']}"

"""Edges of delivery: commands and clicks in a Discord DM (no guild), a digest time after the last
tick, a digest that fails once, members who never posted, a profile from an earlier embedding
model, and threads whose question was deleted."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

from bot.clock import FakeClock
from bot.events import (
    ButtonClicked,
    CommandReply,
    MessageDeleted,
    MessagePosted,
    Platform,
    SendDirectMessage,
    SendEphemeral,
    Visibility,
)
from bot.permissions import DISCORD_DM_WORKSPACE as DM_WORKSPACE
from bot.testing.builders import channel, command, make_message, user
from brain.recommend.brain import DIGEST_KEY, LAST_DIGEST_KEY
from brain.recommend.digest import digest_due
from tests.unit.recommend.test_brain import Factory, _app, _post

G1 = "G1"


def _dms(adapter: Any) -> list[SendDirectMessage]:
    return [a for a in adapter.actions if isinstance(a, SendDirectMessage)]


def _replies(adapter: Any) -> list[CommandReply]:
    return [a for a in adapter.actions if isinstance(a, CommandReply)]


async def _guild(app: Any, adapter: Any, guild: str = G1, *, alice_posts: bool = True) -> str:
    """bob asks in #python of ``guild``, carol answers, alice (unless not) says hello; the link."""
    ch = channel("python", platform=Platform.DISCORD, workspace=guild)
    bob, carol, alice = (user(n, platform=Platform.DISCORD, workspace=guild) for n in ("bob", "carol", "alice"))
    link = f"https://discord.com/channels/{guild}/t1/t1"
    root = make_message("asyncio event loop question", author=bob, chan=ch, message_id="t1", thread_id="t1", minutes=1)
    events: list[MessagePosted] = [
        dataclasses.replace(root, permalink=link),
        make_message("use task.cancel()", author=carol, chan=ch, thread_id="t1", minutes=2),
    ]
    if alice_posts:
        events.append(make_message("hello asyncio", author=alice, chan=ch, minutes=5))
    await _post(app, adapter, *events)
    return link


def _in_dm(who: str = "alice") -> tuple[Any, Any]:
    """The member and the DM channel as the Discord adapter reports them: workspace ``@me``."""
    member = user(who, platform=Platform.DISCORD, workspace=DM_WORKSPACE)
    dm = channel(f"dm-{who}", platform=Platform.DISCORD, workspace=DM_WORKSPACE, visibility=Visibility.DM)
    return member, dm


async def _click(app: Any, adapter: Any, value: str, clock: FakeClock) -> list[SendEphemeral]:
    member, dm = _in_dm()
    before = len(adapter.actions)
    click = ButtonClicked("recommend.open.1", value, member, dm, "m9", "i1", clock.now(), response_ref="i1")
    await adapter.inject(click)
    await app.bus.drain()
    return [a for a in adapter.actions[before:] if isinstance(a, SendEphemeral)]


# -- 1. an Open click in the Discord digest DM ----------------------------------------------------------
async def test_open_click_in_a_discord_dm_answers_with_the_link_and_counts_in_the_guild(make_app: Factory) -> None:
    app, adapter, brain, clock = await _app(make_app)
    link = await _guild(app, adapter)
    await app.store.set_member_setting("discord", G1, "alice", DIGEST_KEY, True)
    assert await brain.send_due_digests(force=True) == 1
    await app.bus.drain()
    button = _dms(adapter)[-1].buttons[0]
    # alice is active in a second server since: the button, not her latest server, decides.
    g2 = channel("python", platform=Platform.DISCORD, workspace="G2")
    await _post(
        app,
        adapter,
        make_message("hi", author=user("alice", platform=Platform.DISCORD, workspace="G2"), chan=g2, minutes=30),
    )
    [answer] = await _click(app, adapter, button.value, clock)
    assert link in answer.text and answer.response_ref == "i1"
    alice = user("alice", platform=Platform.DISCORD, workspace=G1)
    assert await brain.feedback_rows(alice) == [("t1", "clicked")]
    assert await brain.feedback_rows(_in_dm()[0]) == []  # nothing recorded under "@me"


async def test_open_button_sent_before_buttons_named_the_guild_opens_in_the_members_guild(make_app: Factory) -> None:
    app, adapter, brain, clock = await _app(make_app)
    link = await _guild(app, adapter)
    [answer] = await _click(app, adapter, "python|t1", clock)  # the value an earlier version sent
    assert link in answer.text
    assert await brain.feedback_rows(user("alice", platform=Platform.DISCORD, workspace=G1)) == [("t1", "clicked")]


# -- 2. /recommend typed in a Discord DM --------------------------------------------------------------
async def test_recommend_in_a_discord_dm_runs_in_the_members_server(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _guild(app, adapter)
    member, dm = _in_dm()
    await _post(app, adapter, command("recommend", "", author=member, chan=dm))
    assert [c.url for c in _replies(adapter)[-1].citations] == ["https://discord.com/channels/G1/t1/t1"]
    await _post(app, adapter, command("recommend", "daily on", author=member, chan=dm))
    assert "now on" in _replies(adapter)[-1].text
    assert await app.store.get_member_setting("discord", G1, "alice", DIGEST_KEY) is True
    assert await brain.send_due_digests(force=True) == 1


async def test_recommend_settings_in_a_dm_send_an_unknown_or_ambiguous_member_to_their_server(
    make_app: Factory,
) -> None:
    app, adapter, _, _ = await _app(make_app)
    member, dm = _in_dm()
    await _post(app, adapter, command("recommend", "daily on", author=member, chan=dm))
    assert "run `/recommend` in the server" in _replies(adapter)[-1].text  # no server known for them
    await _guild(app, adapter, "G1")
    await _guild(app, adapter, "G2")
    await _post(app, adapter, command("recommend", "daily on", author=member, chan=dm))
    assert "several servers" in _replies(adapter)[-1].text
    for ws in ("G1", "G2", DM_WORKSPACE):
        assert await app.store.get_member_setting("discord", ws, "alice", DIGEST_KEY) is None


# -- 3. a digest time after the day's last tick -------------------------------------------------------
def test_a_digest_time_after_the_last_tick_is_due_at_that_tick() -> None:
    at = time(23, 50)
    assert digest_due(datetime(2026, 1, 5, 23, 30, tzinfo=UTC), UTC, at, None) is None
    assert digest_due(datetime(2026, 1, 5, 23, 45, tzinfo=UTC), UTC, at, None) == "2026-01-05"
    assert digest_due(datetime(2026, 1, 5, 23, 45, tzinfo=UTC), UTC, at, "2026-01-05") is None
    # Earlier times keep their own minute.
    assert digest_due(datetime(2026, 1, 5, 7, 0, tzinfo=UTC), UTC, time(7, 5), None) is None


async def test_a_2350_digest_is_sent_by_the_quarter_hour_ticks(make_app: Factory) -> None:
    app, adapter, brain, clock = await _app(make_app)
    await _guild(app, adapter)
    await app.store.set_workspace_setting("discord", G1, "digest_time", "23:50")
    await app.store.set_member_setting("discord", G1, "alice", DIGEST_KEY, True)
    await app.store.set_member_setting("discord", G1, "alice", "tz", "UTC")
    tick = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    while tick < datetime(2026, 1, 6, 12, 0, tzinfo=UTC):  # a day of ticks (the clock runs digest_tick too)
        await clock.advance(tick - clock.now())
        await brain.send_due_digests()
        tick += timedelta(minutes=15)
    await app.bus.drain()
    assert len(_dms(adapter)) == 1
    assert await app.store.get_member_setting("discord", G1, "alice", LAST_DIGEST_KEY) == "2026-01-05"


# -- 4. a digest that fails once ----------------------------------------------------------------------
async def test_a_digest_that_fails_is_sent_on_the_next_tick(make_app: Factory, monkeypatch: Any) -> None:
    app, adapter, brain, clock = await _app(make_app)
    await _guild(app, adapter)
    await app.store.set_member_setting("discord", G1, "alice", DIGEST_KEY, True)
    real = brain.recommend
    calls = 0

    async def fails_once(u: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("embedder restarting")
        return await real(u, **kw)

    monkeypatch.setattr(brain, "recommend", fails_once)
    assert await brain.send_due_digests() == 0
    assert await app.store.get_member_setting("discord", G1, "alice", LAST_DIGEST_KEY) is None  # day given back
    await clock.advance(timedelta(minutes=15))  # the next tick (the clock runs digest_tick)
    await app.bus.drain()
    assert calls == 2
    assert await brain.send_due_digests() == 0  # and once only
    await app.bus.drain()
    assert [d.user.user_id for d in _dms(adapter)] == ["alice"]


# -- 5. a profile from an earlier embedding model -----------------------------------------------------
async def test_a_profile_of_another_dimension_is_ignored(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _guild(app, adapter, alice_posts=False)  # no history of alice's: only the stored profile
    await app.store.db.execute(
        "INSERT INTO recommend_profiles (platform, workspace_id, user_id, vector, updated_ts, events) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        ("discord", G1, "alice", json.dumps([0.1] * 7), 0.0, 1),
    )
    alice = user("alice", platform=Platform.DISCORD, workspace=G1)
    assert [r.thread_id for r in await brain.recommend(alice, k=3)] == ["t1"]


# -- 6. a member who never posted ----------------------------------------------------------------------
async def test_a_member_who_never_posted_gets_the_digest_they_turned_on(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _guild(app, adapter, alice_posts=False)
    lurker = user("lurker", platform=Platform.DISCORD, workspace=G1)
    ch = channel("python", platform=Platform.DISCORD, workspace=G1)
    await _post(app, adapter, command("recommend", "daily on", author=lurker, chan=ch))
    assert await app.store.get_user("discord", G1, "lurker") is None  # Discord lists no members
    assert await brain.send_due_digests(force=True) == 1
    await app.bus.drain()
    assert [d.user.user_id for d in _dms(adapter)] == ["lurker"]


# -- 7. a thread whose question was deleted -----------------------------------------------------------
async def test_a_thread_whose_root_was_deleted_is_not_recommended(make_app: Factory) -> None:
    app, adapter, brain, clock = await _app(make_app)
    await _guild(app, adapter)
    ch = channel("python", platform=Platform.DISCORD, workspace=G1)
    await _post(app, adapter, MessageDeleted(channel=ch, message_id="t1", deleted_at=clock.now()))
    await clock.advance(timedelta(minutes=10))  # past the snapshot's time to live
    assert await brain.recommend(user("alice", platform=Platform.DISCORD, workspace=G1), k=5) == []

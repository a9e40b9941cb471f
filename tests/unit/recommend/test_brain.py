"""The recommender brain end to end on the fake adapter: profiles, access, opt-out, digest, feedback."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import (
    ButtonClicked,
    ChannelSeen,
    CommandReply,
    MemberJoined,
    MessagePosted,
    Platform,
    SendDirectMessage,
    Visibility,
)
from bot.store import UserRow
from bot.testing.builders import BASE_TIME, channel, command, make_message, user
from brain.recommend.brain import LAST_DIGEST_KEY, RecommendBrain
from brain.recommend.digest import parse_open_value

Factory = Callable[..., Awaitable[Any]]


async def _app(make_app: Factory, *, hours: float = 2.0) -> tuple[Any, Any, RecommendBrain, FakeClock]:
    clock = FakeClock(BASE_TIME + timedelta(hours=hours))
    app, adapter = await make_app(brains=["recommend"], clock=clock)
    brain = app.brain("recommend")
    assert isinstance(brain, RecommendBrain)
    return app, adapter, brain, clock


async def _post(app: Any, adapter: Any, *events: Any) -> None:
    for e in events:
        await adapter.inject(e)
    await app.bus.drain()


def _thread(root_id: str, author: str, text: str, chan: Any = "python", minutes: float = 0.0) -> MessagePosted:
    return make_message(text, author=author, chan=chan, message_id=root_id, thread_id=root_id, minutes=minutes)


async def _community(app: Any, adapter: Any) -> None:
    await _post(
        app,
        adapter,
        _thread("t1", "bob", "asyncio event loop question: how to cancel a task?", minutes=1),
        make_message("use task.cancel() in asyncio", author="carol", chan="python", thread_id="t1", minutes=2),
        _thread("t2", "dave", "django migrations keep failing on postgres", minutes=3),
        _thread("t3", "erin", "asyncio gather with timeouts?", minutes=4),
        make_message("I love asyncio and await syntax", author="alice", chan="python", minutes=5),
    )


async def _ask(app: Any, adapter: Any, text: str = "", who: str = "alice", admin: bool = False) -> CommandReply:
    await adapter.inject(command("recommend" if not admin else "guildhall digest", text, author=who, admin=admin))
    await app.bus.drain()
    replies = [a for a in adapter.actions if isinstance(a, CommandReply)]
    return replies[-1]


async def test_recommend_lists_unjoined_threads_ephemerally(make_app: Factory) -> None:
    app, adapter, _, _ = await _app(make_app)
    await _community(app, adapter)
    reply = await _ask(app, adapter)
    assert reply.ephemeral
    values = [parse_open_value(b.value) for b in reply.buttons]
    assert all(v is not None and v[0] == "local" for v in values)  # the buttons name the workspace
    ids = [v[2] for v in values if v is not None]
    assert ids and set(ids) <= {"t1", "t2", "t3"}
    # Each pick is listed once, as a link with its "why this" line, not repeated in the text.
    assert len(reply.citations) == len(ids) and all(c.kind == "link" for c in reply.citations)
    assert all(c.note for c in reply.citations)
    assert any("because you discussed asyncio" in c.note for c in reply.citations)
    assert all(c.title.split(": ", 1)[1] not in reply.text for c in reply.citations)
    # `/guildhall digest size 1` sizes the on-demand list too.
    await app.store.set_workspace_setting("console", "local", "digest_size", 1)
    assert len((await _ask(app, adapter)).citations) == 1


async def test_profile_updates_on_new_messages(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    alice = user("alice")
    assert await brain.profile_vector(alice) is None
    await _post(app, adapter, make_message("asyncio asyncio await", author="alice", minutes=1))
    first = await brain.profile_vector(alice)
    await _post(app, adapter, make_message("django orm models postgres", author="alice", minutes=2))
    second = await brain.profile_vector(alice)
    assert first is not None and second is not None
    assert not np.allclose(first, second)
    assert abs(float(np.linalg.norm(second)) - 1.0) < 1e-4


async def test_redelivered_message_updates_profile_once(make_app: Factory) -> None:
    app, adapter, _brain, _ = await _app(make_app)
    msg = make_message("asyncio", author="alice", message_id="dup1")
    await _post(app, adapter, msg, msg)
    row = await app.store.db.fetchone("SELECT events FROM recommend_profiles WHERE user_id = ?", ("alice",))
    assert row is not None and row[0] == 1


async def test_cold_start_member_still_gets_recommendations(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    newbie = user("newbie")
    assert await brain.profile_vector(newbie) is None
    recs = await brain.recommend(newbie, k=3)
    assert recs and all(r.channel_id == "python" for r in recs)
    # No history: the reason must not claim to know the member's hours or topics.
    assert all("usually" not in r.why and "because you" not in r.why for r in recs)


async def test_cold_start_profile_follows_joined_channels(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    ops = channel("ops", visibility=Visibility.PRIVATE)
    await adapter.inject(ChannelSeen(channel=ops, member_ids=("newbie", "bob")))
    await _community(app, adapter)
    await _post(app, adapter, _thread("k1", "bob", "kubernetes helm chart rollback kubernetes", chan=ops, minutes=6))
    embedder = await app.services.get("embedder")
    k8s, django = embedder.embed(
        ["kubernetes helm chart rollback kubernetes", "django migrations keep failing on postgres"]
    )
    joined = await brain.cold_start_vector(user("newbie"))
    outsider = await brain.cold_start_vector(user("stranger"))
    assert joined is not None and outsider is not None
    # The joined private channel pulls the newcomer's profile towards its topic.
    assert float(joined @ k8s) > float(outsider @ k8s)
    assert float(joined @ k8s) > float(joined @ django)


async def test_opted_out_member_gets_nothing_and_is_not_profiled(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await app.store.set_member_setting("console", "local", "alice", "opted_out", True)
    await _community(app, adapter)
    assert await brain.profile_vector(user("alice")) is None
    assert await brain.recommend(user("alice"), k=5) == []
    reply = await _ask(app, adapter)
    assert "opted out" in reply.text


async def test_opted_out_members_threads_are_not_recommended(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    await app.store.set_member_setting("console", "local", "erin", "opted_out", True)
    ids = {r.thread_id for r in await brain.recommend(user("alice"), k=10)}
    assert ids and "t3" not in ids  # erin's thread
    assert "t2" in ids


async def test_private_channel_threads_only_for_members(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    secret = channel("staff", visibility=Visibility.PRIVATE)
    await adapter.inject(ChannelSeen(channel=secret, member_ids=("bob", "zed")))
    await _community(app, adapter)
    await _post(app, adapter, _thread("s1", "bob", "asyncio secrets of the staff", chan=secret, minutes=6))
    alice_ids = {r.thread_id for r in await brain.recommend(user("alice"), k=10)}
    zed_ids = {r.thread_id for r in await brain.recommend(user("zed"), k=10)}
    assert "s1" not in alice_ids and alice_ids
    assert "s1" in zed_ids


async def test_restricted_channel_threads_never_reach_those_an_overwrite_keeps_out(make_app: Factory) -> None:
    """A channel everyone reads bar Zed (his own overwrite) and holders of role 555: recommended
    to Alice, never to Zed, nor to a member whose roles are unknown while a role is denied."""
    app, adapter, brain, _ = await _app(make_app)
    base = channel("lounge")
    lounge = dataclasses.replace(
        base, visibility=Visibility.RESTRICTED, allowed_role_ids=("local",), denied_user_ids=("zed",)
    )
    await adapter.inject(ChannelSeen(channel=lounge))
    await _community(app, adapter)
    await _post(app, adapter, _thread("s1", "bob", "asyncio tricks of the lounge", chan=lounge, minutes=6))
    assert "s1" in {r.thread_id for r in await brain.recommend(user("alice"), k=10)}
    zed_ids = {r.thread_id for r in await brain.recommend(user("zed"), k=10)}
    assert zed_ids and "s1" not in zed_ids
    await adapter.inject(ChannelSeen(channel=dataclasses.replace(lounge, denied_role_ids=("555",))))
    await app.bus.drain()
    assert "s1" not in {r.thread_id for r in await brain.recommend(user("alice"), k=10)}  # roles unknown
    # Known roles (@everyone, the workspace's id, among them) without 555.
    assert "s1" in {r.thread_id for r in await brain.recommend(user("alice"), k=10, role_ids=("local", "666"))}
    assert "s1" not in {r.thread_id for r in await brain.recommend(user("alice"), k=10, role_ids=("666",))}


async def test_daily_toggle_and_bad_arguments(make_app: Factory) -> None:
    app, adapter, _, _ = await _app(make_app)
    assert "now on" in (await _ask(app, adapter, "daily on")).text
    assert await app.store.get_member_setting("console", "local", "alice", "digest") is True
    assert "now off" in (await _ask(app, adapter, "daily off")).text
    assert "Usage" in (await _ask(app, adapter, "daily maybe")).text
    assert "Usage" in (await _ask(app, adapter, "ðåïłÿ " + "x" * 5000)).text


async def test_digest_sent_in_member_time_zone(make_app: Factory) -> None:
    # 00:30 UTC is 09:30 in Tokyo and 01:30 in Berlin: only the Tokyo member is due at 09:00.
    app, adapter, brain, clock = await _app(make_app)
    await _community(app, adapter)
    for who, tz in (("carol", "Asia/Tokyo"), ("dave", "Europe/Berlin")):
        await app.store.set_member_setting("console", "local", who, "digest", True)
        await app.store.set_member_setting("console", "local", who, "tz", tz)
        # Both already had today's (2026-01-05) digest. Otherwise the 15-minute tick owes them one as
        # soon as the clock moves, and whether it reads the clock before the jump below or after it
        # would depend on how fast the store's thread answers.
        await app.store.set_member_setting("console", "local", who, LAST_DIGEST_KEY, "2026-01-05")

    def dm_users() -> list[str]:
        return [a.user.user_id for a in adapter.actions if isinstance(a, SendDirectMessage)]

    # The scheduled tick may fire while the clock moves; a direct call after it must not send twice.
    await _advance_to(clock, datetime(2026, 1, 6, 0, 30, tzinfo=UTC))
    await app.bus.drain()
    await brain.send_due_digests()
    await app.bus.drain()
    assert dm_users() == ["carol"]
    dm = next(a for a in adapter.actions if isinstance(a, SendDirectMessage))
    assert dm.citations and dm.buttons
    assert await brain.send_due_digests() == 0  # once per local day
    await _advance_to(clock, datetime(2026, 1, 6, 8, 5, tzinfo=UTC))  # 09:05 in Berlin
    await app.bus.drain()
    await brain.send_due_digests()
    await app.bus.drain()
    assert dm_users() == ["carol", "dave"]


async def _advance_to(clock: FakeClock, when: datetime) -> None:
    await clock.advance(when - clock.now())


async def test_admin_digest_settings(make_app: Factory) -> None:
    app, adapter, _brain, _ = await _app(make_app)
    await _community(app, adapter)
    assert "set to on" in (await _ask(app, adapter, "default on", admin=True)).text
    assert await app.store.get_workspace_setting("console", "local", "digest_default_on") is True
    assert "not a time of day" in (await _ask(app, adapter, "time 25:99", admin=True)).text
    assert "from 1 to 25" in (await _ask(app, adapter, "size 0", admin=True)).text
    assert "from 1 to 25" in (await _ask(app, adapter, "size ²", admin=True)).text  # a digit int() refuses
    assert "set to 07:05" in (await _ask(app, adapter, "time 7:5", admin=True)).text
    assert await app.store.get_workspace_setting("console", "local", "digest_time") == "07:05"
    assert "Usage" in (await _ask(app, adapter, "colour blue", admin=True)).text
    assert "set to 2" in (await _ask(app, adapter, "size 2", admin=True)).text
    reply = await _ask(app, adapter, "send-now", admin=True)
    assert reply.text.startswith("Sent ") and (sent := int(reply.text.split()[1])) >= 1
    dm = next(a for a in adapter.actions if isinstance(a, SendDirectMessage))
    assert len(dm.citations) <= 2
    # Run twice, it does not DM everyone a second digest for the same day; `again` does.
    assert (await _ask(app, adapter, "send-now", admin=True)).text == "Sent 0 digests."
    assert int((await _ask(app, adapter, "send-now again", admin=True)).text.split()[1]) == sent
    assert "Usage" in (await _ask(app, adapter, "send-now twice", admin=True)).text
    # Sub-commands are words, whatever their case (as `default ON` and `TIME 07:05` are).
    assert (await _ask(app, adapter, "SEND-NOW", admin=True)).text == "Sent 0 digests."
    assert int((await _ask(app, adapter, "Send-Now AGAIN", admin=True)).text.split()[1]) == sent


async def test_non_admin_cannot_configure_digest(make_app: Factory) -> None:
    app, adapter, _, _ = await _app(make_app)
    await adapter.inject(command("guildhall digest", "default on", author="mallory", admin=False))
    await app.bus.drain()
    assert await app.store.get_workspace_setting("console", "local", "digest_default_on") is None


async def test_clicks_and_joins_are_recorded_once_and_forgotten(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    recs = await brain.recommend(user("alice"), k=3)
    target = recs[0]
    click = ButtonClicked(
        action_id="recommend.open.1",
        value=f"{target.channel_id}|{target.thread_id}",
        user=user("alice"),
        channel=channel("python"),
        message_id="dm1",
        interaction_id="i-click",
        ts=BASE_TIME + timedelta(hours=3),
    )
    await adapter.inject(click)
    await adapter.inject(click)  # redelivery
    await adapter.inject(
        ButtonClicked(
            action_id="recommend.open.2",
            value="garbage",
            user=user("alice"),
            channel=channel("python"),
            message_id="dm1",
            interaction_id="i-bad",
        )
    )
    await _post(
        app, adapter, make_message("joining!", author="alice", chan="python", thread_id=target.thread_id, minutes=200)
    )
    assert await brain.feedback_rows(user("alice")) == [(target.thread_id, "clicked"), (target.thread_id, "joined")]
    counts = await brain.forget_member(user("alice"))
    assert counts["recommend_feedback"] == 2 and counts["recommend_profiles"] == 1
    assert await brain.feedback_rows(user("alice")) == []
    assert await brain.profile_vector(user("alice")) is None


async def test_a_digest_button_from_before_slack_ids_named_their_channel_records_the_thread(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    member = user("UALICE", platform=Platform.SLACK, workspace="T1")
    click = ButtonClicked(
        action_id="recommend.open.1",
        value="C1|1700000000.000100",  # the bare ts an earlier version put in the button
        user=member,
        channel=channel("DALICE", platform=Platform.SLACK, workspace="T1"),
        message_id="DALICE:1700000100.000100",
        interaction_id="i-old",
    )
    await adapter.inject(click)
    await app.bus.drain()
    assert await brain.feedback_rows(member) == [("C1:1700000000.000100", "clicked")]


async def test_newcomer_gets_channel_suggestions(make_app: Factory) -> None:
    app, adapter, _, _ = await _app(make_app)
    await _community(app, adapter)
    await _post(app, adapter, make_message("hello", author="zoe", chan="random", minutes=7))
    await adapter.inject(MemberJoined(user=user("newbie"), ts=BASE_TIME + timedelta(hours=1)))
    await app.bus.drain()
    dms = [a for a in adapter.actions if isinstance(a, SendDirectMessage)]
    assert len(dms) == 1 and dms[0].user.user_id == "newbie"
    assert "#python" in dms[0].text and "#random" in dms[0].text


async def test_recommendations_are_deterministic_for_a_fixed_seed(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    one = await brain.recommend(user("alice"), k=3, seed=5)
    two = await brain.recommend(user("alice"), k=3, seed=5)
    assert one == two


async def test_monday_digest_suggests_channels_close_to_the_member(make_app: Factory) -> None:
    app, adapter, brain, clock = await _app(make_app)  # 2026-01-05 is a Monday
    await _community(app, adapter)
    await _post(
        app,
        adapter,
        *[
            make_message(f"recipe {n}: bake bread with sourdough", author=f"cook{n}", chan="cooking", minutes=10 + n)
            for n in range(4)
        ],
        make_message("asyncio await event loop tricks", author="bob", chan="aio", minutes=20),
    )
    await app.store.set_member_setting("console", "local", "alice", "digest", True)
    assert await brain.send_due_digests() == 1
    await app.bus.drain()
    monday = [a for a in adapter.actions if isinstance(a, SendDirectMessage)][-1]
    assert "Channels you are not in yet" in monday.text
    section = monday.text.split("Channels you are not in yet", 1)[1]
    # #cooking has more posters, but #aio is what alice talks about.
    assert section.index("#aio") < section.index("#cooking")
    assert "#python" not in section  # she is already there
    await _advance_to(clock, datetime(2026, 1, 6, 9, 30, tzinfo=UTC))
    await app.bus.drain()
    await brain.send_due_digests()
    await app.bus.drain()
    tuesday = [a for a in adapter.actions if isinstance(a, SendDirectMessage)][-1]
    assert tuesday is not monday and "Channels you are not in yet" not in tuesday.text


async def test_huge_and_odd_unicode_messages_are_handled(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    odd = "\u202eevil\u200b \U0001f40d\u0301 <@U123> @everyone " + "ｚａｌｇｏ̸̢" * 20_000
    await _post(
        app,
        adapter,
        _thread("big", "bob", odd, minutes=1),
        make_message(odd, author="alice", chan="python", minutes=2),
    )
    assert await brain.profile_vector(user("alice")) is not None
    recs = await brain.recommend(user("alice"), k=3)
    assert [r.thread_id for r in recs] == ["big"]
    assert len(recs[0].title) <= 80 and "@everyone" not in recs[0].title and "<@" not in recs[0].title
    # An unknown member (no messages, no settings) gets a cold-start list, not an error.
    ghost = await brain.recommend(user("ghost-\u0000-\U0010ffff"), k=3)
    assert "big" in [r.thread_id for r in ghost] and len(ghost) == 2


async def test_clicks_feed_back_into_later_rankings(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    await _post(app, adapter, _thread("r1", "zed", "rust borrow checker help", chan="rust", minutes=6))
    before = {r.thread_id: r.score for r in await brain.recommend(user("alice"), k=10, seed=3)}
    click = ButtonClicked(
        action_id="recommend.open.1",
        value="rust|r1",
        user=user("alice"),
        channel=channel("rust"),
        message_id="dm1",
        interaction_id="i-rust",
        ts=BASE_TIME + timedelta(hours=3),
    )
    await adapter.inject(click)
    await app.bus.drain()
    after = {r.thread_id: r.score for r in await brain.recommend(user("alice"), k=10, seed=3)}
    assert after["r1"] > before["r1"] + 0.1  # the clicked channel is boosted
    assert after["t2"] == pytest.approx(before["t2"])  # other channels are not


@pytest.mark.parametrize(("share", "explored"), [(0.0, 0), (0.5, 2)])
async def test_exploration_share_setting_reserves_slots(
    make_app: Factory, settings: Settings, share: float, explored: int
) -> None:
    tuned = settings.model_copy(
        update={"recommend": settings.recommend.model_copy(update={"exploration_share": share})}
    )
    app, adapter = await make_app(
        brains=["recommend"], clock=FakeClock(BASE_TIME + timedelta(hours=2)), settings_override=tuned
    )
    brain = app.brain("recommend")
    await _community(app, adapter)
    for n, chan in enumerate(("rust", "go", "ops")):
        await _post(app, adapter, _thread(f"x{n}", "zed", f"{chan} question", chan=chan, minutes=10 + n))
    recs = await brain.recommend(user("alice"), k=4, seed=1)
    assert len(recs) == 4
    assert sum(r.explore for r in recs) == explored
    assert all(r.channel_id != "python" for r in recs if r.explore)  # alice lives in #python
    # An admin's `/guildhall config set exploration_share` overrides the setting for the workspace.
    await app.store.set_workspace_setting("console", "local", "exploration_share", 0.5 - share)
    recs = await brain.recommend(user("alice"), k=4, seed=1)
    assert sum(r.explore for r in recs) == 2 - explored


async def test_imported_reactions_reach_profiles_without_embedding_each_message(make_app: Factory) -> None:
    from bot.events import EventSource, ReactionAdded
    from bot.testing import HashEmbedder

    embedder = HashEmbedder()
    clock = FakeClock(BASE_TIME + timedelta(hours=2))
    app, adapter = await make_app(brains=["recommend"], clock=clock, embedder=embedder)
    brain: RecommendBrain = app.brain("recommend")
    await _community(app, adapter)
    before = embedder.texts_embedded
    # zed has written nothing: an imported reaction on the django thread is all there is to know.
    imported = ReactionAdded(
        channel("python"), "t2", user("zed"), "+1", BASE_TIME + timedelta(minutes=30), "dave", EventSource.IMPORT
    )
    await _post(app, adapter, imported)
    assert embedder.texts_embedded == before  # the import itself embeds nothing
    assert [r.user_id for r in await app.store.reactions_for("console", "local", "t2")] == ["zed"]
    _, snap = await brain._snapshot("console", "local", clock.now().timestamp(), fresh=True)
    assert [(t.thread, t.kind) for t in snap.touches["zed"]] == [("t2", "reacted")]
    assert await brain._member_profile(user("zed"), snap, {}, live=False) is not None


async def test_a_reaction_given_again_is_one_touch_of_the_profile(make_app: Factory) -> None:
    """A reaction's event id carries its time, so 👍 taken back and given again (or a Discord
    replay after a RESUME, stamped when received) arrives twice: it is one interest, not two."""
    from bot.events import ReactionAdded, ReactionRemoved

    app, adapter = await make_app(brains=["recommend"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    msg = make_message("asyncio event loop and task cancellation", author="bob", message_id="m1")
    await _post(app, adapter, msg)
    at = [BASE_TIME + timedelta(minutes=m) for m in (5, 6, 7)]
    await _post(app, adapter, ReactionAdded(msg.channel, "m1", user("alice"), "👍", at[0]))
    await _post(app, adapter, ReactionRemoved(msg.channel, "m1", user("alice"), "👍", at[1]))
    await _post(app, adapter, ReactionAdded(msg.channel, "m1", user("alice"), "👍", at[2]))
    row = await app.store.db.fetchone("SELECT events FROM recommend_profiles WHERE user_id = ?", ("alice",))
    assert row is not None and row[0] == 1


async def test_a_reaction_that_failed_before_the_profile_is_retried_in_full(make_app: Factory) -> None:
    """The once-per-reaction mark was taken before the message was embedded: an embedder failure
    left the bus's retry finding the mark, and the reaction never reached the profile."""
    from bot.events import ReactionAdded

    app, adapter = await make_app(brains=["recommend"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    msg = make_message("asyncio event loop and task cancellation", author="bob", message_id="m1")
    await _post(app, adapter, msg)
    brain: RecommendBrain = app.brain("recommend")
    embedder = await app.ctx.services.get("embedder")
    real, calls = embedder.embed, []

    def busy_once(texts: Any) -> Any:
        calls.append(texts)
        if len(calls) == 1:
            raise RuntimeError("embedder busy")
        return real(texts)

    embedder.embed = busy_once
    reaction = ReactionAdded(msg.channel, "m1", user("alice"), "👍", BASE_TIME + timedelta(minutes=5))
    with pytest.raises(RuntimeError):
        await brain.on_reaction(reaction)  # the bus keeps it and delivers it again
    await brain.on_reaction(reaction)
    row = await app.store.db.fetchone("SELECT events FROM recommend_profiles WHERE user_id = ?", ("alice",))
    assert row is not None and row[0] == 1


async def _unthreaded_chat(app: Any, adapter: Any) -> None:
    """#general without threads: one conversation (minutes 60-64), a 36-minute silence, another."""
    await _post(
        app,
        adapter,
        make_message("anyone tried asyncio TaskGroup yet?", author="bob", message_id="g1", minutes=60),
        make_message("yes, it cancels the siblings when one task fails", author="carol", message_id="g2", minutes=62),
        make_message("TaskGroup replaced all my asyncio.gather calls", author="dave", message_id="g3", minutes=64),
        make_message("office hours moved to friday", author="erin", message_id="g4", minutes=100),
        make_message("friday works for me", author="bob", message_id="g5", minutes=105),
    )


async def test_unthreaded_chat_is_recommended_conversation_by_conversation(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _unthreaded_chat(app, adapter)
    recs = await brain.recommend(user("alice"), k=10)
    # Two conversations (windows keyed by their first message), not five messages.
    assert sorted(r.thread_id for r in recs) == ["g1", "g4"]
    assert {r.title for r in recs} == {"anyone tried asyncio TaskGroup yet?", "office hours moved to friday"}
    # A member who spoke in a conversation has joined it: it is not recommended to them.
    assert [r.thread_id for r in await brain.recommend(user("carol"), k=10)] == ["g4"]


async def test_a_window_reuses_the_qa_index_vector_of_the_same_conversation(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _unthreaded_chat(app, adapter)

    class RecordingIndex:
        """The ``vectors`` lookup of the QA unit index, recording which unit ids it was asked for."""

        def __init__(self) -> None:
            self.asked: list[str] = []

        async def vectors(self, ids: list[str]) -> dict[str, Any]:
            self.asked.extend(ids)
            return {i: np.full(4, 0.5, dtype=np.float32) for i in ids}

    index = RecordingIndex()
    app.services.register("unit_index", index)
    await brain.recommend(user("alice"), k=10)
    assert {"win:console:local:general:g1#0", "win:console:local:general:g4#0"} <= set(index.asked)


async def test_posting_in_a_recommended_window_counts_as_joining_it(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)  # the clock (and the recommendation) at minute 120
    await _unthreaded_chat(app, adapter)
    assert sorted(r.thread_id for r in await brain.recommend(user("alice"), k=10)) == ["g1", "g4"]
    # 20 minutes after g5: the second conversation is still going; the first ended in a silence.
    joining = make_message("friday it is", author="alice", message_id="g6", minutes=125)
    await _post(app, adapter, joining, joining)  # redelivered: one join
    assert await brain.feedback_rows(user("alice")) == [("g4", "joined")]
    # After a silence longer than a window gap, a post starts a new conversation: nothing joined.
    await _post(app, adapter, make_message("anyone around?", author="alice", message_id="g7", minutes=200))
    assert await brain.feedback_rows(user("alice")) == [("g4", "joined")]


async def test_a_thread_started_from_a_message_is_joined_in_the_thread_not_by_chat_beside_it(
    make_app: Factory,
) -> None:
    # Discord: a thread started from a channel message takes that message's id, and the starter
    # itself carries no thread id. Shown as a recommendation, it is a thread, not a window, even
    # while its parent channel keeps talking.
    app, adapter, brain, _ = await _app(make_app)
    await _post(
        app,
        adapter,
        make_message("how do I profile an asyncio app?", author="bob", message_id="s1", minutes=100),
        make_message("py-spy dump on the pid", author="carol", message_id="s2", thread_id="s1", minutes=102),
        make_message("lunch anyone?", author="dave", message_id="l1", minutes=110),
        make_message("in ten minutes", author="erin", message_id="l2", minutes=118),
    )
    assert sorted(r.thread_id for r in await brain.recommend(user("alice"), k=10)) == ["l1", "s1"]
    await _post(app, adapter, make_message("count me in", author="alice", message_id="l3", minutes=125))
    assert await brain.feedback_rows(user("alice")) == [("l1", "joined")]  # the chat beside it, only
    await _post(app, adapter, make_message("thanks!", author="alice", message_id="s3", thread_id="s1", minutes=126))
    assert sorted(await brain.feedback_rows(user("alice"))) == [("l1", "joined"), ("s1", "joined")]


async def test_people_of_another_organisation_get_no_recommendations_nor_digest(make_app: Factory) -> None:
    """Slack Connect: a partner who posted in a shared channel is stored in the workspace, but the
    workspace's threads are not theirs to see, even with the digest on by default."""
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    await app.store.upsert_users([UserRow("console", "local", "partner", "Pat", external=True)])
    await app.store.set_workspace_setting("console", "local", "digest_default_on", True)
    assert await brain.recommend(user("partner"), k=10) == []
    assert await brain.recommend(user("alice"), k=10)  # the test can fail: members do get some
    await brain.send_due_digests(force=True)
    dms = {a.user.user_id for a in adapter.actions if isinstance(a, SendDirectMessage)}
    assert "partner" not in dms and "alice" in dms


async def test_a_guest_is_recommended_only_threads_of_channels_they_read(make_app: Factory) -> None:
    """The command's own guest flag counts before the recorder has stored it."""
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)  # alice posted in #python only
    await _post(app, adapter, _thread("d1", "bob", "asyncio tips for django views", chan="django", minutes=6))
    assert "d1" in {r.thread_id for r in await brain.recommend(user("alice"), k=10)}
    as_guest = dataclasses.replace(user("alice"), guest=True)
    ids = {r.thread_id for r in await brain.recommend(as_guest, k=10)}
    assert ids and "d1" not in ids

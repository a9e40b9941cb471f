"""Review fixes: deleted threads leave lists at once (this process's caches, and a store check for
the other processes'), and an ``--as-of`` replay neither reads text edited after its time nor
weights learned from its future."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import FakeClock
from bot.events import ChannelDeleted, MessageDeleted, MessageEdited, Platform, SendDirectMessage, Visibility
from bot.store import ChannelRow, UserRow
from bot.testing.builders import BASE_TIME, channel, make_message, user
from brain.recommend.brain import DIGEST_KEY, WEIGHTS_KEY, WEIGHTS_UNTIL_KEY
from brain.recommend.digest import NO_TEXT_TITLE
from brain.recommend.ranker import DEFAULT_WEIGHTS
from tests.unit.recommend.test_brain import Factory, _app, _community, _post, _thread
from tests.unit.recommend.test_cli import _json, env  # noqa: F401  (the CLI tests' store fixture)

AS_OF = BASE_TIME + timedelta(hours=3)


async def test_a_deleted_root_leaves_recommend_within_the_snapshot_ttl(make_app: Factory) -> None:
    app, adapter, brain, clock = await _app(make_app)
    await _community(app, adapter)
    assert "t2" in {r.thread_id for r in await brain.recommend(user("alice"), k=5)}
    await _post(app, adapter, MessageDeleted(channel=channel("python"), message_id="t2", deleted_at=clock.now()))
    assert ("console", "local") not in brain._snapshots and ("console", "local") not in brain._embedded
    await clock.advance(timedelta(seconds=30))
    after = await brain.recommend(user("alice"), k=5)
    assert after and "t2" not in {r.thread_id for r in after}


async def test_a_delete_elsewhere_in_the_workspace_keeps_the_cache(make_app: Factory) -> None:
    """A message the cached snapshot does not hold (older than its window) costs no rebuild."""
    app, adapter, brain, clock = await _app(make_app)
    await _community(app, adapter)
    await brain.recommend(user("alice"), k=5)
    await _post(
        app, adapter, MessageDeleted(channel=channel("python"), message_id="never-seen", deleted_at=clock.now())
    )
    assert ("console", "local") in brain._snapshots


async def test_a_delete_another_process_recorded_is_checked_before_showing(make_app: Factory) -> None:
    """Another worker's brain got the MessageDeleted (so this one's cache still holds the thread):
    the store, which every worker shares, says the root is deleted."""
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    assert "t2" in {r.thread_id for r in await brain.recommend(user("alice"), k=5)}
    assert await app.store.delete_message("console", "local", "t2")  # no event reaches this brain
    assert ("console", "local") in brain._snapshots
    after = await brain.recommend(user("alice"), k=5)
    assert after and "t2" not in {r.thread_id for r in after}
    assert not any("django" in r.title for r in after)


async def test_a_deleted_discord_thread_leaves_the_digest(make_app: Factory) -> None:
    app, adapter, brain, clock = await _app(make_app)
    guild = "G1"
    py = channel("python", platform=Platform.DISCORD, workspace=guild)

    def member(name: str) -> Any:
        return user(name, platform=Platform.DISCORD, workspace=guild)

    await _post(
        app,
        adapter,
        make_message(
            "secret incident details", author=member("bob"), chan=py, message_id="t9", thread_id="t9", minutes=1
        ),
        make_message("reply", author=member("carol"), chan=py, thread_id="t9", minutes=2),
        make_message("asyncio timeouts?", author=member("erin"), chan=py, message_id="t8", thread_id="t8", minutes=2),
        make_message("use wait_for", author=member("carol"), chan=py, thread_id="t8", minutes=3),
        make_message("hello", author=member("alice"), chan=py, minutes=3),
    )
    assert "t9" in {r.thread_id for r in await brain.recommend(member("dave"), k=3)}  # warms the snapshot
    gone = channel("t9", platform=Platform.DISCORD, workspace=guild)
    await _post(app, adapter, ChannelDeleted(channel=gone, ts=clock.now()))
    await app.store.set_member_setting("discord", guild, "alice", DIGEST_KEY, True)
    await clock.advance(timedelta(minutes=2))
    assert await brain.send_due_digests(force=True) == 1
    await app.bus.drain()
    dm = [a for a in adapter.actions if isinstance(a, SendDirectMessage)][-1]
    assert dm.citations and not any("secret" in c.title for c in dm.citations)


async def test_a_cache_from_another_process_is_rechecked_for_a_deleted_channel(make_app: Factory) -> None:
    """The ChannelDeleted went to another worker: the cached thread is still dropped."""
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    assert "t2" in {r.thread_id for r in await brain.recommend(user("alice"), k=5)}
    await app.store.erase_channel("console", "local", "t2")  # the thread, as a channel of its own
    assert "t2" not in {r.thread_id for r in await brain.recommend(user("alice"), k=5)}


async def test_slack_group_dms_are_never_recommended(make_app: Factory) -> None:
    """A group DM (``mpim``, stored as a private channel named ``mpdm-…``) is its people's talk."""
    app, adapter, brain, _ = await _app(make_app)
    slack = "slack"
    s_py = dataclasses.replace(channel("C1", platform=Platform.SLACK, workspace="T1"), name="python")
    s_g1 = dataclasses.replace(
        channel("G1", platform=Platform.SLACK, workspace="T1", visibility=Visibility.PRIVATE), name="mpdm-alice--bob-1"
    )
    await app.store.upsert_channels([ChannelRow(slack, "T1", "G1", "mpdm-alice--bob-1", "private")])
    await app.store.set_channel_access(slack, "T1", "G1", user_ids=["alice", "bob", "carol"])

    def member(name: str) -> Any:
        return user(name, platform=Platform.SLACK, workspace="T1")

    await _post(
        app,
        adapter,
        make_message("asyncio plans?", author=member("bob"), chan=s_g1, message_id="1.1", thread_id="1.1", minutes=6),
        make_message("yes", author=member("carol"), chan=s_g1, thread_id="1.1", minutes=7),
        make_message("asyncio gather?", author=member("dave"), chan=s_py, message_id="2.1", thread_id="2.1", minutes=6),
        make_message("use gather", author=member("carol"), chan=s_py, thread_id="2.1", minutes=7),
    )
    assert "mpdm-alice--bob-1" in {c.name for c in await app.store.list_channels(slack, "T1")}
    recs = await brain.recommend(member("alice"), k=10)
    assert recs and all(r.channel_name == "python" for r in recs)
    assert all(name != "mpdm-alice--bob-1" for name, _ in await brain.suggest_channels(member("alice"), k=5))


async def test_people_of_another_organisation_get_no_channel_suggestions(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    await _community(app, adapter)
    await _post(app, adapter, _thread("d1", "bob", "django views", chan="django", minutes=6))
    await app.store.upsert_users([UserRow("console", "local", "partner", "Pat", external=True)])
    assert await brain.suggest_channels(user("newbie"), k=3)
    assert await brain.suggest_channels(user("partner"), k=3) == []


# -- as of ------------------------------------------------------------------------------------------
async def _edited_after(make_app: Factory, edited_at: datetime) -> tuple[Any, Any]:
    app, adapter = await make_app(brains=["recommend"], clock=FakeClock(AS_OF))
    for m in (
        make_message("I love asyncio", author="alice", chan="python", minutes=1),
        make_message(
            "original question about vim", author="bob", chan="python", message_id="t1", thread_id="t1", minutes=2
        ),
        make_message("answer", author="carol", chan="python", thread_id="t1", minutes=3),
    ):
        await adapter.inject(m)
    await app.bus.drain()
    edit = MessageEdited(
        channel=channel("python"),
        message_id="t1",
        text="EDITED: asyncio secrets",
        edited_at=edited_at,
        author=user("bob"),
    )
    await adapter.inject(edit)
    await app.bus.drain()
    return app, app.brain("recommend")


async def test_as_of_leaves_out_the_text_of_a_message_edited_later(make_app: Factory) -> None:
    _, brain = await _edited_after(make_app, AS_OF + timedelta(hours=5))
    recs = await brain.recommend(user("alice"), k=5, as_of=True)
    (rec,) = [r for r in recs if r.thread_id == "t1"]
    # Neither the later words nor the original's (the store keeps the latest text only).
    assert rec.title == NO_TEXT_TITLE and "asyncio" not in rec.why and "EDITED" not in rec.why
    live = await brain.recommend(user("alice"), k=5, as_of=False, record=False)
    assert [r.title for r in live if r.thread_id == "t1"] == ["EDITED: asyncio secrets"]


async def test_as_of_reads_an_edit_made_before_its_time(make_app: Factory) -> None:
    _, brain = await _edited_after(make_app, AS_OF - timedelta(minutes=5))
    recs = await brain.recommend(user("alice"), k=5, as_of=True)
    assert [r.title for r in recs if r.thread_id == "t1"] == ["EDITED: asyncio secrets"]


async def test_as_of_leaves_out_an_old_root_edited_later(make_app: Factory) -> None:
    """A root older than the history window opens its thread without words, not with a reply's."""
    now = BASE_TIME + timedelta(days=95)
    app, adapter = await make_app(brains=["recommend"], clock=FakeClock(now))
    brain = app.brain("recommend")
    await _post(
        app,
        adapter,
        make_message("old question about vim", author="bob", chan="python", message_id="t1", thread_id="t1"),
        make_message("carol's own words", author="carol", chan="python", thread_id="t1", ts=now - timedelta(hours=2)),
        make_message("more", author="dave", chan="python", thread_id="t1", ts=now - timedelta(hours=1)),
    )
    edit = MessageEdited(channel=channel("python"), message_id="t1", text="EDITED", edited_at=now + timedelta(days=1))
    await _post(app, adapter, edit)
    titles = [r.title for r in await brain.recommend(user("alice"), k=5, as_of=True) if r.thread_id == "t1"]
    assert titles == [NO_TEXT_TITLE]


async def test_as_of_uses_learned_weights_only_when_learned_before_it(make_app: Factory) -> None:
    app, _, brain, clock = await _app(make_app)
    learned = {"content": 9.0, "cf": -3.0}
    await app.store.set_workspace_setting("console", "local", WEIGHTS_KEY, learned)
    now = clock.now().timestamp()
    assert (await brain._weights("console", "local")).weights["content"] == 9.0  # live: always
    assert await brain._weights("console", "local", until=now) is DEFAULT_WEIGHTS  # when unknown
    await app.store.set_workspace_setting("console", "local", WEIGHTS_UNTIL_KEY, now + 60)
    assert await brain._weights("console", "local", until=now) is DEFAULT_WEIGHTS
    await app.store.set_workspace_setting("console", "local", WEIGHTS_UNTIL_KEY, now - 60)
    assert (await brain._weights("console", "local", until=now)).weights["content"] == 9.0


def test_saved_weights_record_the_split_they_were_learned_before(env: Path) -> None:  # noqa: F811
    from bot.store import open_store

    saved = _json(["eval", "recommend", "--split-frac", "0.7", "--save-weights", "--json"])

    async def stored() -> Any:
        store = await open_store(f"sqlite:///{env / 'g.db'}")
        try:
            return await store.get_workspace_setting("slack", "T1", WEIGHTS_UNTIL_KEY)
        finally:
            await store.close()

    assert asyncio.run(stored()) == datetime.fromisoformat(saved["split"]).astimezone(UTC).timestamp()

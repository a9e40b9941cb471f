"""A help-channel question is answered (or nudged) once and a new thread gets one similar-threads
hint, also after the daily purge of dedupe marks: a question or thread older than the dedupe
horizon, whose mark may be gone, is not acted on again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock, to_epoch
from bot.config import Settings
from bot.events import ReactionAdded, SendMessage, ThreadCreated
from bot.testing import ScriptedLLM, channel, make_message, user
from brain.community.brain import HumanFirstDue

# The marks are stamped by the wall clock (Store.mark_processed): the fake clock starts there.
NOW = datetime.now(UTC)
HELP = channel("help")


def travel(clock: FakeClock, delta: timedelta) -> None:
    """Move time on without waking the jobs one by one (three months of one-minute ticks)."""
    clock._now += delta


@pytest.fixture
def community_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "qa": settings.qa.model_copy(update={"help_channel_ids": ["help"]}),
            "community": settings.community.model_copy(update={"human_first_minutes": 10.0}),
        }
    )


async def post(app: Any, adapter: Any, *events: Any) -> None:
    for e in events:
        await adapter.inject(e)
        await app.bus.drain()


def sent(adapter: Any) -> list[SendMessage]:
    return list(adapter.of_type(SendMessage))


async def _nudged_then_purged(make_app: Any, settings: Settings) -> tuple[Any, Any, Any]:
    """dan's question in #help nudged after its wait (nobody answered), then three months on and
    the dedupe marks purged: (app, adapter, the question)."""
    clock = FakeClock(NOW)
    app, adapter = await make_app(
        brains=["qa", "community"], llm=ScriptedLLM("NOT_FOUND"), clock=clock, settings_override=settings
    )
    question = make_message("how do I pin a poetry dependency?", author="dan", chan=HELP, message_id="r1", ts=NOW)
    await post(app, adapter, question)
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert len(sent(adapter)) == 1  # the nudge
    travel(clock, timedelta(days=92))
    assert await app.store.is_processed("community.human_first", "console:local:r1")
    assert await app.brain("core").purge_dedupe_marks() >= 1
    assert not await app.store.is_processed("community.human_first", "console:local:r1")
    return app, adapter, question


async def test_a_question_whose_wait_ends_again_after_the_purge_is_not_nudged_again(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, question = await _nudged_then_purged(make_app, community_settings)
    # A timer set by a late redelivery (the Redis bus after a long outage) fires.
    await app.brain("community").on_due(HumanFirstDue(question))
    await app.bus.drain()
    assert len(sent(adapter)) == 1


async def test_the_restart_job_does_not_take_up_a_question_older_than_the_horizon(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, _ = await _nudged_then_purged(make_app, community_settings)
    # Recorded as waiting again (a late redelivery set a new wait), its timer lost in a restart: the
    # restart job looks for waits that ended with no mark (brain.community.brain, _waited_out).
    now = app.ctx.clock.now()
    await app.store.db.execute(
        "INSERT INTO community_waiting (platform, workspace_id, question_key, channel_id, message_id, due_ts) "
        "VALUES ('console', 'local', 'console:local:r1', 'help', 'r1', ?) "
        "ON CONFLICT (platform, workspace_id, question_key) DO UPDATE SET due_ts = excluded.due_ts",
        (to_epoch(now) - 60,),
    )
    # What the job would publish (the bus here still remembers the first wait's event, so it
    # would drop a publication that a restarted process takes).
    assert await app.brain("community")._waited_out(to_epoch(now)) == []
    await app.brain("community").resume_waiting()
    await app.bus.drain()
    assert len(sent(adapter)) == 1


async def test_a_thread_hinted_before_its_mark_was_purged_gets_no_second_hint(
    make_app: Any, community_settings: Settings
) -> None:
    clock = FakeClock(NOW)
    app, adapter = await make_app(
        brains=["qa", "community"], llm=ScriptedLLM("NOT_FOUND"), clock=clock, settings_override=community_settings
    )
    earlier = NOW - timedelta(days=1)
    await post(
        app,
        adapter,
        make_message(
            "how do I pin a dependency version with poetry?",
            author="ann",
            chan=HELP,
            message_id="h1",
            thread_id="h1",
            ts=earlier,
        ),
        make_message(
            "pin it with poetry add requests==2.31.0 and commit poetry.lock",
            author="bob",
            chan=HELP,
            message_id="h2",
            thread_id="h1",
            ts=earlier + timedelta(minutes=1),
        ),
        ReactionAdded(HELP, "h2", user("ann"), "✅", earlier + timedelta(minutes=2)),
    )
    await (await app.brain("qa").indexer()).index_all()
    first = make_message(
        "how do I pin a dependency version with poetry?",
        author="dan",
        chan=HELP,
        message_id="f1",
        thread_id="f1",
        ts=NOW,
    )
    created = ThreadCreated(HELP, "f1", "pinning with poetry", user("dan"), NOW)
    await post(app, adapter, first, created)
    hints = [m for m in sent(adapter) if m.thread_id == "f1"]
    assert len(hints) == 1
    travel(clock, timedelta(days=92))
    assert await app.brain("core").purge_dedupe_marks() >= 1
    await app.brain("community").on_thread(created)  # delivered again, past the bus's memory
    await app.bus.drain()
    assert [m for m in sent(adapter) if m.thread_id == "f1"] == hints

"""A busy unthreaded channel (no long silence for longer than the look-around): live rebuilds of a
stretch keep every message in a window, as a full index does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import brain.qa.indexer as indexer_module
from bot.events import MessageEdited
from bot.testing import ScriptedLLM, channel, make_message
from bot.testing.builders import BASE_TIME


def _windows(indexer: Any) -> dict[str, tuple[str, ...]]:
    return {u.unit_id: tuple(u.message_ids) for u in indexer.bm25.units()}


async def test_a_run_longer_than_the_look_around_loses_no_message_to_live_rebuilds(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer_module, "RUN_LOOKAROUND_S", 3 * 3600)  # a day's run, shrunk to keep this small
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    indexer = await app.brain("qa").indexer()
    count = 40  # one message every 20 minutes for 13 hours: never a 30-minute silence
    for n in range(count):
        await adapter.inject(
            make_message(f"chatter number {n} about topic{n}", author=f"u{n % 5}", message_id=f"c{n}", minutes=20 * n)
        )
        await app.bus.drain()
        await indexer.flush()
    held = [m for u in indexer.bm25.units() for m in u.message_ids]
    assert sorted(held) == sorted(f"c{n}" for n in range(count))  # each message in exactly one window
    stored = sorted(m for u in await indexer.index.all_units() for m in u.message_ids)
    assert stored == sorted(held)
    # An edit in the middle rebuilds its stretch, cut on window edges: the same windows as before.
    live = _windows(indexer)
    edited = BASE_TIME + timedelta(minutes=20 * 25 + 1)
    await adapter.inject(MessageEdited(channel("general"), "c25", "chatter number 25 edited", edited))
    await app.bus.drain()
    await indexer.flush()
    assert _windows(indexer) == live
    await indexer.index_all()
    assert _windows(indexer) == live  # what a full index builds


async def test_a_loose_question_answered_in_a_thread_days_later_leaves_its_window(make_app: Any) -> None:
    """Slack: the question is a loose message until its first reply; one more than the look-around
    later makes it a thread root the stretch's loaded messages do not show."""
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    indexer = await app.brain("qa").indexer()
    await adapter.inject(make_message("how do I rotate the zebrafish key?", author="dan", message_id="q"))
    await adapter.inject(make_message("morning all", author="ann", message_id="n1", minutes=5))
    await app.bus.drain()
    await indexer.flush()
    reply = make_message("run rotate --all", author="bob", message_id="a", thread_id="q", minutes=60 * 30)
    await adapter.inject(reply)
    await app.bus.drain()
    await indexer.flush()
    live = sorted((u.unit_id, u.message_ids) for u in indexer.bm25.units())
    assert [ids for _, ids in live if "q" in ids] == [("q", "a")]
    await indexer.index_all()
    assert sorted((u.unit_id, u.message_ids) for u in indexer.bm25.units()) == live

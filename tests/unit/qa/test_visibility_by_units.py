"""A channel made private is rebuilt whole whenever any of its units still carries the old visibility,
whichever event brings the change first: not decided by the visibility of the last unit written."""

from __future__ import annotations

from typing import Any

from bot.events import ChannelSeen, EventSource, Visibility
from bot.testing import ScriptedLLM, channel, make_message
from brain.qa.access import AccessScope
from brain.qa.brain import QABrain
from tests.unit.qa.test_visibility_changes import PUBLIC, allowing_private, post, search


def _quoted(llm: ScriptedLLM, text: str) -> bool:
    return any(text in m.content for p in llm.prompts for m in p)


async def test_a_public_question_after_a_message_of_a_channel_turned_private_does_not_see_its_old_units(
    make_app: Any, settings: Any
) -> None:
    """The first message carrying the new visibility is indexed (a question flushes it) before any
    ChannelSeen: the channel's older units must leave public answers at that flush, and stay out."""
    llm = ScriptedLLM(lambda messages: "NOT_FOUND")
    app, adapter = await make_app(brains=["qa"], llm=llm, settings_override=allowing_private(settings, "ops"))
    await post(app, adapter, make_message("the on-call rota lives in the ops spreadsheet", author="bob", chan="ops"))
    assert any("lives in" in t for t in await search(app, "on-call rota", PUBLIC))
    private_ops = channel("ops", visibility=Visibility.PRIVATE)
    await post(app, adapter, make_message("standup moved to ten", author="carol", chan=private_ops, minutes=300))
    await post(app, adapter, make_message("where is the on-call rota spreadsheet?", mentions_bot=True, minutes=301))
    assert not _quoted(llm, "lives in the ops spreadsheet")
    assert all("lives in" not in t for t in await search(app, "on-call rota", PUBLIC))
    await post(app, adapter, ChannelSeen(private_ops))  # too late to matter, and nothing comes back
    assert all("lives in" not in t for t in await search(app, "on-call rota", PUBLIC))
    ops_members = AccessScope("console", "local", frozenset({"ops"}))
    assert any("lives in" in t for t in await search(app, "on-call rota", ops_members))


async def test_a_channel_turned_private_before_a_restart_loaded_the_index_is_rebuilt_by_its_next_message(
    make_app: Any, settings: Any
) -> None:
    """After a restart the ChannelSeen is skipped (the index is not loaded); the next message of the
    channel is indexed by the minute's flush before any question: the older units go private too."""
    tuned = allowing_private(settings, "ops")
    app, adapter = await make_app(brains=["qa"], settings_override=tuned)
    await post(app, adapter, make_message("the on-call rota lives in the ops spreadsheet", author="bob", chan="ops"))
    await (await app.brain("qa").indexer()).flush()
    llm = ScriptedLLM(lambda messages: "NOT_FOUND")
    app2, adapter2 = await make_app(brains=["qa"], llm=llm, settings_override=tuned)  # same Chroma, new process
    # This process's store (one per app here) learns the old message as an import would.
    old = make_message("the on-call rota lives in the ops spreadsheet", author="bob", chan="ops")
    await post(app2, adapter2, make_message(old.text, author="bob", chan="ops", source=EventSource.IMPORT))
    private_ops = channel("ops", visibility=Visibility.PRIVATE)
    await post(app2, adapter2, ChannelSeen(private_ops))
    await post(app2, adapter2, make_message("standup moved to ten", author="carol", chan=private_ops, minutes=300))
    brain: QABrain = app2.brain("qa")
    await brain.flush_index()
    await post(app2, adapter2, make_message("where is the on-call rota?", mentions_bot=True, minutes=301))
    assert not _quoted(llm, "lives in the ops spreadsheet")


async def test_a_unit_written_with_the_old_visibility_by_another_worker_is_rebuilt_by_the_next_flush(
    make_app: Any, settings: Any
) -> None:
    """Every unit counts, not the last one written: one public unit among private ones (another
    worker wrote it before it knew, read here from the unit log) makes the next flush of the
    channel rebuild it whole."""
    from dataclasses import replace

    private_ops = channel("ops", visibility=Visibility.PRIVATE)
    app, adapter = await make_app(brains=["qa"], settings_override=allowing_private(settings, "ops"))
    await post(
        app, adapter, make_message("the on-call rota lives in the ops spreadsheet", author="bob", chan=private_ops)
    )
    await post(app, adapter, make_message("standup moved to ten", author="carol", chan=private_ops, minutes=300))
    brain: QABrain = app.brain("qa")
    await brain.retriever()
    indexer = await brain.indexer()
    [rota] = [u for u in indexer.bm25.units() if "rota" in u.text]
    [standup] = [u for u in indexer.bm25.units() if "standup" in u.text]
    indexer._add_local([replace(rota, visibility="public")])  # the other worker's unit
    indexer._add_local([standup])  # and the last one written is private
    assert any("rota" in t for t in await search(app, "on-call rota", PUBLIC))
    await post(app, adapter, make_message("standup is in room 4", author="carol", chan=private_ops, minutes=301))
    assert all("rota" not in t for t in await search(app, "on-call rota", PUBLIC))

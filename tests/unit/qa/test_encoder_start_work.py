"""The start's index work under several encoders: a delete whose erasure from the other encoders'
collections was lost (the process stopped while the vector store was down, or too many waited) is
finished from the store's deleted rows at the next start; a stale encoder's rebuild runs in the
background, so message, edit and delete handlers go on while questions wait for it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.events import MessageDeleted, MessageEdited
from bot.ml import VectorIndexUnavailable
from bot.testing import ScriptedLLM, channel, make_message
from bot.testing.builders import BASE_TIME
from brain.qa.brain import MAX_HELD_CHANGES, QABrain
from brain.qa.indexer import Indexer

from .test_encoder_switch import _indexed, _stored, _switched_back, _texts, _tuned


async def _started(brain: QABrain) -> None:
    await brain.indexer()
    task = getattr(brain, "_start_task", None)  # the start's background work
    if task is not None:
        await task


async def test_a_delete_lost_with_a_restart_is_erased_from_the_other_encoders_at_the_next(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, qa = await _indexed(
        make_app,
        make_message("my home address is 12 zebrafish lane", author="bob", message_id="secret"),
        make_message("nice weather today", author="ann", message_id="m2", minutes=600),
    )
    tuned = await _tuned(qa)
    await _started(tuned)
    index = (await tuned.indexer()).index

    async def down(*args: Any, **kwargs: Any) -> int:
        raise VectorIndexUnavailable("connection refused")

    monkeypatch.setattr(index, "erase_in_other_encoders", down)
    await tuned.unindex_delete(MessageDeleted(channel("general"), "secret", BASE_TIME))
    assert tuned._unfinished_erasures  # in memory only: the process stops here
    assert any("zebrafish" in t for t in await _stored(qa))
    monkeypatch.undo()
    restarted = await _switched_back(tuned)
    await _started(restarted)
    assert not any("zebrafish" in t for t in await _stored(qa))
    assert any("nice weather" in t for t in await _stored(qa))


async def test_too_many_waiting_erasures_are_reported(make_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    app, _ = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa: QABrain = app.brain("qa")  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="brain.qa.brain"):
        for i in range(MAX_HELD_CHANGES + 2):
            qa._erase_later("console", "local", message_ids=[f"m{i}"], channel_ids=["general"])
    assert caplog.text.count("erasures wait for the vector index") == 1


async def test_a_stale_encoder_is_rebuilt_in_the_background(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, qa = await _indexed(
        make_app,
        make_message("the deploy key lives in vault", author="ann", message_id="m1"),
        make_message("nice weather today", author="ann", message_id="m0", minutes=600),
    )
    tuned = await _tuned(qa)
    await tuned.reindex_edit(MessageEdited(channel("general"), "m1", "the release checklist is pinned", BASE_TIME))
    release = asyncio.Event()
    index_all = Indexer.index_all

    begun = asyncio.Event()

    async def slow(self: Indexer, **kwargs: Any) -> Any:
        begun.set()
        await release.wait()
        return await index_all(self, **kwargs)

    monkeypatch.setattr(Indexer, "index_all", slow)
    again = await _switched_back(qa)
    # Handlers are not held by the rebuild.
    await asyncio.wait_for(again.indexer(), 5)
    await asyncio.wait_for(begun.wait(), 5)
    post = make_message("a brand new zebrafish post", author="cat", message_id="m2", minutes=5)
    await asyncio.wait_for(again.index_message(post), 5)
    await asyncio.wait_for(again.unindex_delete(MessageDeleted(channel("general"), "m2", BASE_TIME)), 5)
    # Questions wait for it.
    question = asyncio.create_task(_texts(again, "release checklist pinned"))
    await asyncio.sleep(0)
    assert not question.done()
    release.set()
    assert any("release checklist" in t for t in await asyncio.wait_for(question, 10))
    assert not (await again.indexer()).stale_encoder
    assert not any("zebrafish" in t for t in await _texts(again, "zebrafish post"))

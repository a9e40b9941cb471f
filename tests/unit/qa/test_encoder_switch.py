"""Switching ``embeddings.model`` and back: each encoder has its own collections in the vector
store, searched only while that encoder is configured. Deletes, channel deletes and edits made
under one encoder erase the old text from the others' collections too, and collections configured
again after another encoder wrote are rebuilt before they answer (they miss everything since).

The "tuned" encoder here is a QA brain whose unit index opens other collections of the same
family on the same Chroma, as a process configured with another model does.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.brain import BrainContext, Services
from bot.events import ChannelDeleted, MessageDeleted, MessageEdited, MessagePosted
from bot.recorder import message_row
from bot.testing import ScriptedLLM, channel, make_message
from bot.testing.builders import BASE_TIME
from brain.qa.access import AccessScope
from brain.qa.brain import QABrain
from brain.qa.vector_index import ChromaUnitIndex

PUBLIC = AccessScope("console", "local")


async def _indexed(make_app: Any, *messages: MessagePosted) -> tuple[Any, Any, QABrain]:
    """An app with the QA brain (its model never finds an answer) that recorded and indexed
    ``messages``: the app, its adapter and the brain."""
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa: QABrain = app.brain("qa")  # type: ignore[assignment]
    for message in messages:
        await adapter.inject(message)
    await app.bus.drain()
    await (await qa.indexer()).flush()
    return app, adapter, qa


async def _tuned(qa: QABrain) -> QABrain:
    """A process configured with another encoder: same store and Chroma, its own collections."""
    base: ChromaUnitIndex = await qa.ctx.services.get("unit_index")
    services = Services()
    services.register("embedder", await qa.ctx.services.get("embedder"))
    services.register("llm", await qa.ctx.services.get("llm"))
    family = qa.ctx.settings.vectors.collection
    services.register("unit_index", ChromaUnitIndex(base._client, f"{family}_tuned0001", base.dim, family=family))
    ctx = BrainContext(
        bus=qa.ctx.bus, store=qa.ctx.store, settings=qa.ctx.settings, clock=qa.ctx.clock, services=services
    )
    tuned = QABrain(ctx)
    await (await tuned.indexer(rebuilding=True)).index_all()  # as docs/qa.md says after a switch
    return tuned


async def _stored(qa: QABrain) -> list[str]:
    """Every text the brain's own collections hold."""
    index: ChromaUnitIndex = await qa.ctx.services.get("unit_index")
    return [u.text for u in await index.all_units()]


async def _texts(qa: QABrain, query: str, mode: Any = "hybrid") -> list[str]:
    retriever = await qa.retriever()
    return [s.unit.text for s in await retriever.search(query, PUBLIC, k=10, mode=mode)]


async def _switched_back(qa: QABrain) -> QABrain:
    """A process configured with the first encoder again (a restart: nothing in memory)."""
    return QABrain(qa.ctx)


async def test_a_delete_under_one_encoder_erases_the_text_from_the_others_collections(make_app: Any) -> None:
    _, _, qa = await _indexed(
        make_app,
        make_message("my home address is 12 zebrafish lane", author="bob", message_id="secret"),
        make_message("nice weather today", author="ann", message_id="m2", minutes=600),
        make_message("doomed channel quokka plans", author="ann", chan="doomed"),
    )
    assert any("zebrafish" in t for t in await _stored(qa))
    tuned = await _tuned(qa)
    await tuned.unindex_delete(MessageDeleted(channel("general"), "secret", BASE_TIME))
    await tuned.unindex_channel(ChannelDeleted(channel("doomed")))
    for brain in (qa, tuned):
        stored = await _stored(brain)
        assert not any("zebrafish" in t for t in stored)
        assert not any("quokka" in t for t in stored)
    assert any("nice weather" in t for t in await _stored(qa))  # units without them stay


async def test_an_encoder_configured_again_is_rebuilt_before_it_answers(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app, _, qa = await _indexed(
        make_app,
        make_message("call me on 0151 zebrafish line", author="bob", message_id="m1", thread_id="m1"),
        make_message("the deploy key lives in vault", author="ann", message_id="m2", minutes=600),
    )
    tuned = await _tuned(qa)
    # Under the tuned encoder: an edit takes the number out, a new message is posted.
    await tuned.reindex_edit(MessageEdited(channel("general"), "m1", "never mind, sorted it", BASE_TIME))
    post = make_message("the release checklist is pinned in ops", author="cat", message_id="m3", minutes=700)
    await app.store.upsert_messages([message_row(post)])  # recorded; indexed by the tuned process only
    await tuned.index_message(post)
    await (await tuned.indexer()).flush()
    # Configured again: the first encoder's collections miss all of that.
    with caplog.at_level(logging.WARNING, logger="brain.qa.brain"):
        again = await _switched_back(qa)
        for mode in ("hybrid", "bm25", "dense"):
            assert not any("zebrafish" in t for t in await _texts(again, "zebrafish line", mode)), mode
        assert any("never mind" in t for t in await _texts(again, "never mind sorted"))
        assert any("release checklist" in t for t in await _texts(again, "release checklist pinned"))
        assert any("deploy key" in t for t in await _texts(again, "deploy key vault"))
    assert "rebuilding it from the store" in caplog.text
    assert not (await again.indexer()).stale_encoder
    # Current now: the next start does not rebuild again.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="brain.qa.brain"):
        await (await _switched_back(qa)).retriever()
    assert "rebuilding" not in caplog.text


async def test_one_encoder_all_along_is_never_rebuilt(make_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa: QABrain = app.brain("qa")  # type: ignore[assignment]
    await adapter.inject(make_message("the deploy key lives in vault", author="ann", message_id="m2"))
    await app.bus.drain()
    await (await qa.indexer()).flush()
    with caplog.at_level(logging.WARNING, logger="brain.qa.brain"):
        again = await _switched_back(qa)
        assert any("deploy key" in t for t in await _texts(again, "deploy key vault"))
    assert not (await again.indexer()).stale_encoder
    assert "rebuilding" not in caplog.text

"""Deletes, channel deletes and /forget-me while the vector store refuses writes: the text leaves
answers at once, and a restart before the store takes the delete does not bring it back."""

from __future__ import annotations

from typing import Any

from bot.events import ChannelDeleted, MessageDeleted
from bot.testing import ScriptedLLM, channel, command, make_message
from bot.testing.builders import BASE_TIME
from brain.qa.access import AccessScope
from brain.qa.brain import QABrain
from tests.unit.qa.test_memory_indexer import _DownIndex

PUBLIC = AccessScope("console", "local")
HELP = channel("general")


async def texts(qa: QABrain, query: str, mode: Any = "hybrid") -> list[str]:
    retriever = await qa.retriever()
    return [s.unit.text for s in await retriever.search(query, PUBLIC, k=10, mode=mode)]


async def _down(qa: QABrain) -> _DownIndex:
    indexer = await qa.indexer()
    await indexer.flush()
    down = _DownIndex(indexer.index)
    indexer.index = down
    assert qa._retriever is not None
    qa._retriever.index = down  # queries still answer: only writes are refused
    down.down = True
    return down


async def _restart(qa: QABrain) -> None:
    """A new process on the same store and vector store: what was pending in memory is gone."""
    qa._indexer = None
    qa._retriever = None
    qa._unfinished_forgets.clear()


async def test_a_message_deleted_while_the_vector_store_is_down_is_not_retrieved_nor_quoted(make_app: Any) -> None:
    llm = ScriptedLLM(lambda messages: "NOT_FOUND")
    app, adapter = await make_app(brains=["qa"], llm=llm)
    qa: QABrain = app.brain("qa")
    await adapter.inject(make_message("my home address is 12 zebrafish lane", author="bob", message_id="secret"))
    await adapter.inject(make_message("zebrafish care guide: feed twice", author="ann", minutes=600))
    await app.bus.drain()
    down = await _down(qa)
    assert any("zebrafish lane" in t for t in await texts(qa, "zebrafish lane"))
    await adapter.inject(MessageDeleted(HELP, "secret", BASE_TIME))
    await app.bus.drain()
    for mode in ("hybrid", "bm25", "dense"):
        found = await texts(qa, "zebrafish lane", mode)
        assert not any("zebrafish lane" in t for t in found), mode
        assert any("care guide" in t for t in found), mode  # the rest still answers
    await adapter.inject(
        make_message("where does bob live? zebrafish lane?", author="eve", mentions_bot=True, minutes=5)
    )
    await app.bus.drain()
    assert not any("12 zebrafish lane" in m.content for p in llm.prompts for m in p)
    # Back up: the delete reaches the vector store and nothing stays hidden.
    down.down = False
    await qa.flush_index()
    indexer = await qa.indexer()
    assert not indexer.tombstones
    assert not any("12 zebrafish lane" in u.text for u in await down.inner.all_units())


async def test_a_channel_deleted_and_a_member_forgotten_while_the_vector_store_is_down_leave_answers(
    make_app: Any,
) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa: QABrain = app.brain("qa")
    await adapter.inject(make_message("doomed channel zebrafish plans", author="bob", chan=channel("doomed")))
    await adapter.inject(make_message("erin's zebrafish diary entry", author="erin", chan=channel("other")))
    await adapter.inject(make_message("zebrafish tank sizes", author="ann", chan=channel("other"), minutes=600))
    await app.bus.drain()
    down = await _down(qa)
    await adapter.inject(ChannelDeleted(channel("doomed")))
    await adapter.inject(command("forget-me", "confirm", author="erin"))
    await app.bus.drain()
    for mode in ("hybrid", "bm25", "dense"):
        assert await texts(qa, "zebrafish", mode) == ["zebrafish tank sizes"], mode
    down.down = False
    await qa.flush_index()
    assert not (await qa.indexer()).tombstones
    assert await texts(qa, "zebrafish") == ["zebrafish tank sizes"]
    assert [u.text for u in await down.inner.all_units()] == ["zebrafish tank sizes"]


async def test_a_delete_the_vector_store_refused_is_finished_after_a_restart(make_app: Any) -> None:
    """The pending rebuild was in memory only: the new process finds the units holding messages
    the store has erased (deleted, or their channel deleted) when it loads the index."""
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa: QABrain = app.brain("qa")
    await adapter.inject(make_message("my home address is 12 zebrafish lane", author="bob", message_id="secret"))
    await adapter.inject(make_message("doomed channel zebrafish plans", author="bob", chan=channel("doomed")))
    await adapter.inject(make_message("zebrafish care guide", author="ann", minutes=600))
    await app.bus.drain()
    down = await _down(qa)
    await adapter.inject(MessageDeleted(HELP, "secret", BASE_TIME))
    await adapter.inject(ChannelDeleted(channel("doomed")))
    await app.bus.drain()
    await _restart(qa)  # the server is back for the new process
    for mode in ("bm25", "dense", "hybrid"):
        assert await texts(qa, "zebrafish lane plans", mode) == ["zebrafish care guide"], mode
    assert [u.text for u in await down.inner.all_units()] == ["zebrafish care guide"]


async def test_units_holding_erased_messages_are_hidden_from_load_until_their_rebuild(make_app: Any) -> None:
    """A restart while the vector store still refuses writes: the sweep's rebuilds wait, and the
    units holding the erased messages stay out of answers meanwhile."""
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa: QABrain = app.brain("qa")
    await adapter.inject(make_message("my home address is 12 zebrafish lane", author="bob", message_id="secret"))
    await adapter.inject(make_message("zebrafish care guide", author="ann", minutes=600))
    await app.bus.drain()
    down = await _down(qa)
    await adapter.inject(MessageDeleted(HELP, "secret", BASE_TIME))
    await app.bus.drain()
    await _restart(qa)
    indexer = await qa.indexer()
    indexer.index = down  # still down for the new process's writes
    assert qa._retriever is not None
    qa._retriever.index = down
    for mode in ("bm25", "dense", "hybrid"):
        assert await texts(qa, "zebrafish lane", mode) == ["zebrafish care guide"], mode
    assert indexer.pending

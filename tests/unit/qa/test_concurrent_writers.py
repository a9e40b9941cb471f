"""Two writers of one index: a rebuild that read a conversation before a delete (or an edit) and
writes its units after it must not bring the old text back (last write wins in the vector store,
and the unit log spreads it to every worker's lexical index).

Each "process" here is a QA brain of its own over the app's store and vector index, as a second
worker or a `guildhall index all` beside the bot has them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from bot.events import MessageDeleted, MessageEdited
from bot.ml import Unit, Vector
from bot.testing import ScriptedLLM, channel, make_message
from bot.testing.builders import BASE_TIME
from brain.qa.access import AccessScope
from brain.qa.brain import QABrain

from .test_encoder_switch import _indexed

PUBLIC = AccessScope("console", "local")


class _Gated:
    """A unit index whose upserts wait at a gate: the writer has read the store and built its units."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.reached = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def upsert(self, units: Sequence[Unit], vectors: Vector) -> None:
        self.reached.set()
        await self.gate.wait()
        await self.inner.upsert(units, vectors)


async def _texts(qa: QABrain, query: str, mode: Any = "hybrid") -> list[str]:
    retriever = await qa.retriever()
    return [s.unit.text for s in await retriever.search(query, PUBLIC, k=10, mode=mode)]


async def _stored_texts(qa: QABrain) -> list[str]:
    return [u.text for u in await (await qa.indexer()).index.all_units()]  # type: ignore[attr-defined]


async def _other_process(qa: QABrain) -> QABrain:
    other = QABrain(qa.ctx)
    await other.retriever()
    return other


async def test_index_all_racing_a_delete_does_not_bring_the_text_back(make_app: Any) -> None:
    app, adapter, bot = await _indexed(
        make_app,
        make_message("my home address is 12 zebrafish lane", author="bob", message_id="secret"),
        make_message("nice weather today", author="ann", message_id="m2", minutes=1),
    )
    cli = await _other_process(bot)  # `guildhall index all` in another shell
    cli_indexer = await cli.indexer(rebuilding=True)
    gated = _Gated(cli_indexer.index)
    cli_indexer.index = gated
    task = asyncio.create_task(cli_indexer.index_all())
    await gated.reached.wait()  # it has read #general and built its units
    await adapter.inject(MessageDeleted(channel("general"), "secret", BASE_TIME))
    await app.bus.drain()
    assert not any("zebrafish" in t for t in await _texts(bot, "zebrafish lane"))
    gated.gate.set()
    await task
    for mode in ("hybrid", "bm25", "dense"):
        assert not any("zebrafish" in t for t in await _texts(bot, "zebrafish lane", mode)), mode
        assert not any("zebrafish" in t for t in await _texts(cli, "zebrafish lane", mode)), mode
    assert not any("zebrafish" in t for t in await _stored_texts(bot))
    assert any("nice weather" in t for t in await _texts(bot, "nice weather"))  # the rest stays


async def test_a_worker_flushing_a_thread_while_another_deletes_in_it(make_app: Any) -> None:
    _, _, a = await _indexed(
        make_app,
        make_message("how do I reach bob?", author="ann", message_id="root", thread_id="root"),
        make_message(
            "call him on the zebrafish hotline 555", author="bob", message_id="secret", thread_id="root", minutes=1
        ),
    )
    b = await _other_process(a)
    b_indexer = await b.indexer()
    gated = _Gated(b_indexer.index)
    b_indexer.index = gated
    reply = make_message("thanks!", author="ann", message_id="r3", thread_id="root", minutes=2)
    await b.index_message(reply)
    task = asyncio.create_task(b_indexer.flush())
    await gated.reached.wait()  # B read the thread and is writing its units
    await a.unindex_delete(MessageDeleted(channel("general"), "secret", BASE_TIME))
    gated.gate.set()
    await task
    for worker in (a, b):
        found = await _texts(worker, "zebrafish hotline")
        assert not any("zebrafish" in t for t in found)
        assert any("thanks!" in t for t in await _texts(worker, "reach bob thanks"))
    assert not any("zebrafish" in t for t in await _stored_texts(a))


async def test_an_edit_racing_a_rebuild_keeps_the_new_text(make_app: Any) -> None:
    _, _, bot = await _indexed(
        make_app, make_message("call me on 0151 zebrafish line", author="bob", message_id="m1", thread_id="m1")
    )
    cli = await _other_process(bot)
    cli_indexer = await cli.indexer(rebuilding=True)
    gated = _Gated(cli_indexer.index)
    cli_indexer.index = gated
    task = asyncio.create_task(cli_indexer.index_all())
    await gated.reached.wait()
    await bot.reindex_edit(MessageEdited(channel("general"), "m1", "never mind, sorted", BASE_TIME))
    gated.gate.set()
    await task
    assert not any("zebrafish" in t for t in await _stored_texts(bot))
    for worker in (bot, cli):
        assert not any("zebrafish" in t for t in await _texts(worker, "zebrafish line"))
        assert any("never mind" in t for t in await _texts(worker, "never mind sorted"))


async def test_an_ordinary_index_all_writes_each_unit_once(make_app: Any) -> None:
    # No race: the check after each upsert finds nothing to redo.
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    bot: QABrain = app.brain("qa")  # type: ignore[assignment]
    for i in range(5):
        await adapter.inject(make_message(f"message {i}", author="ann", message_id=f"m{i}", minutes=i))
    await app.bus.drain()
    indexer = await bot.indexer(rebuilding=True)
    await indexer.flush()
    stats = await indexer.index_all()
    assert stats.units_upserted == len(await _stored_texts(bot))
    assert not indexer.tombstones
    assert indexer.pending == 0


async def test_a_reader_hides_a_stale_write_whose_writer_stopped_before_its_recheck(make_app: Any) -> None:
    # The writing process stopped right after its write (or predates the check): every other
    # process learns its units from the unit log, and must not quote the deleted message from them.
    app, adapter, bot = await _indexed(
        make_app,
        make_message("my home address is 12 zebrafish lane", author="bob", message_id="secret"),
        make_message("nice weather today", author="ann", message_id="m2", minutes=1),
    )
    cli = await _other_process(bot)
    cli_indexer = await cli.indexer(rebuilding=True)
    gated = _Gated(cli_indexer.index)
    cli_indexer.index = gated

    async def stopped(units: Sequence[Unit]) -> None:
        return None

    cli_indexer._recheck = stopped  # type: ignore[method-assign]
    task = asyncio.create_task(cli_indexer.index_all())
    await gated.reached.wait()
    await adapter.inject(MessageDeleted(channel("general"), "secret", BASE_TIME))
    await app.bus.drain()
    gated.gate.set()
    await task
    for mode in ("hybrid", "bm25", "dense"):
        assert not any("zebrafish" in t for t in await _texts(bot, "zebrafish lane", mode)), mode
    assert not any("zebrafish" in t for t in await _stored_texts(bot))  # and the bot rebuilt it
    assert any("nice weather" in t for t in await _texts(bot, "nice weather"))

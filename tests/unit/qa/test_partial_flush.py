"""A flush the vector store fails part-way: what it took is known locally, so later rebuilds and
deletes reach it."""

from __future__ import annotations

from typing import Any

import pytest

import brain.qa.indexer as indexer_module
from bot.events import MessageDeleted
from bot.ml import VectorIndexUnavailable
from bot.testing import ScriptedLLM, channel, make_message
from bot.testing.builders import BASE_TIME


class _FailsSecondUpsert:
    """The real vector index, whose second upsert fails as a connection dropped mid-flush does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def upsert(self, units: Any, vectors: Any) -> None:
        self.calls += 1
        if self.calls == 2:
            raise VectorIndexUnavailable("Chroma server 127.0.0.1:8000: connection reset")
        await self.inner.upsert(units, vectors)


async def test_a_message_deleted_after_a_partly_applied_flush_leaves_the_vector_store(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer_module, "_EMBED_BATCH", 1)  # parts of 8 units, to keep this small
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    indexer = await app.brain("qa").indexer()
    index = _FailsSecondUpsert(indexer.index)
    indexer.index = index
    for n in range(12):
        await adapter.inject(
            make_message(f"thread {n} zebrafish{n} secret", message_id=f"t{n}", thread_id=f"t{n}", minutes=n)
        )
    await app.bus.drain()
    with pytest.raises(VectorIndexUnavailable):
        await indexer.flush()
    stored = {u.unit_id for u in await index.inner.all_units()}
    assert stored and stored <= {u.unit_id for u in indexer.bm25.units()}
    await adapter.inject(MessageDeleted(channel("general"), "t0", BASE_TIME))
    await app.bus.drain()
    await indexer.flush()
    assert not [u.text for u in await index.inner.all_units() if "zebrafish0" in u.text]
    assert len(indexer.bm25) == 11 and len(await index.inner.all_units()) == 11

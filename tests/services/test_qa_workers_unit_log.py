"""Two QA workers, each with its own Chroma client to one server and its own lexical index, over one
store (PostgreSQL with ``GUILDHALL_TEST_STORE=postgresql``): what one indexes or deletes, the
other's BM25 half finds or stops finding before its next search."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.brain import BrainContext, Services
from bot.config import Settings, VectorSettings
from bot.events import MessageDeleted
from bot.testing import HashEmbedder, ScriptedLLM, make_message
from bot.testing.builders import BASE_TIME
from brain.qa.access import AccessScope
from brain.qa.brain import QABrain
from tests.services.test_chroma_server import ChromaServer, _free_port

pytestmark = pytest.mark.services
TOKEN = "ERR_ZX_4417"


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VectorSettings]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-workers"))
    server.start()
    try:
        yield server.settings
    finally:
        server.stop()


async def bm25_hits(brain: QABrain, query: str) -> list[tuple[str, ...]]:
    retriever = await brain.retriever()
    found = await retriever.search(query, AccessScope("console", "local"), k=10, mode="bm25")
    return [s.unit.message_ids for s in found]


async def test_workers_on_one_chroma_server_follow_each_others_index_changes(
    make_app: Any, settings: Settings, chroma: VectorSettings
) -> None:
    on_server = settings.model_copy(
        update={"vectors": chroma.model_copy(update={"collection": f"workers{_free_port()}"})}
    )
    app, _ = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"), settings_override=on_server)
    a: QABrain = app.brain("qa")  # type: ignore[assignment]
    await a.retriever()
    # Worker B: another process's services (its own HTTP client to the server), the same store.
    services = Services()
    services.register("embedder", HashEmbedder())
    services.register("llm", ScriptedLLM("NOT_FOUND"))
    b = QABrain(BrainContext(bus=app.bus, store=app.store, settings=on_server, clock=app.clock, services=services))
    await b.setup()
    await b.retriever()
    assert await services.get("unit_index") is not await app.services.get("unit_index")

    post = make_message(f"deploys fail with {TOKEN} since Monday", author="erin", message_id="e1", thread_id="e1")
    await b.index_message(post)
    await (await b.indexer()).flush()
    assert await bm25_hits(a, TOKEN) == [("e1",)]

    await b.unindex_delete(MessageDeleted(post.channel, "e1", BASE_TIME))
    assert await bm25_hits(b, TOKEN) == []
    assert await bm25_hits(a, TOKEN) == []

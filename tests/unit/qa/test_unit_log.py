"""Workers sharing one store and one vector index keep their lexical (BM25) indexes in step.

With the Redis bus each live message is indexed by one worker; the others learn its units (and
its deletes) from the store's unit log before they search. Each "worker" here is a QA brain of
its own over the app's store and vector index, as a second process has them.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from bot.events import CommandReply, MessageDeleted, MessageEdited
from bot.ml import Unit
from bot.recorder import channel_row, message_row
from bot.testing import ScriptedLLM, command, make_message
from bot.testing.builders import BASE_TIME
from brain.qa.access import AccessScope
from brain.qa.bm25 import BM25Index
from brain.qa.brain import QABrain
from brain.qa.indexer import Indexer
from brain.qa.unit_log import DELETE, UPSERT, LoggedUnit, UnitLog
from tests.chroma_log import log_rows_with

PUBLIC = AccessScope("console", "local")
TOKEN = "ERR_ZX_4417"


async def second_worker(brain: QABrain) -> QABrain:
    """Another worker's QA brain: the same store and vector index, its own lexical index."""
    other = QABrain(brain.ctx)
    await other.retriever()  # loads its index now, before the first worker writes more
    return other


async def lexical(brain: QABrain, query: str) -> list[Unit]:
    """What the brain's BM25 half finds, as a question would see it (after catching up)."""
    retriever = await brain.retriever()
    return [s.unit for s in await retriever.search(query, PUBLIC, k=10, mode="bm25")]


async def texts_found(brain: QABrain, query: str) -> list[str]:
    """The texts a hybrid search of the brain returns."""
    retriever = await brain.retriever()
    return [s.unit.text for s in await retriever.search(query, PUBLIC, k=10, mode="hybrid")]


async def index_live(worker: QABrain, event: Any) -> None:
    """The worker that took ``event`` from the bus indexes it (its debounce elapsed)."""
    await worker.index_message(event)
    await (await worker.indexer()).flush()


async def test_a_worker_finds_units_another_indexed_and_drops_those_it_deleted(make_app: Any) -> None:
    app, _ = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    a: QABrain = app.brain("qa")  # type: ignore[assignment]
    await a.retriever()
    b = await second_worker(a)
    assert (await a.indexer()).bm25 is not (await b.indexer()).bm25

    post = make_message(f"the build fails with {TOKEN} on arm64", author="erin", message_id="e1", thread_id="e1")
    await index_live(b, post)
    assert [u.message_ids for u in await lexical(b, TOKEN)] == [("e1",)]
    # Worker A's own BM25 knows the unit worker B built (before: only a restart taught it).
    assert [u.message_ids for u in await lexical(a, TOKEN)] == [("e1",)]

    # B takes the delete: the text leaves A's lexical index too (A quoted it from memory before).
    await b.unindex_delete(MessageDeleted(post.channel, "e1", BASE_TIME))
    assert await lexical(b, TOKEN) == []
    assert await lexical(a, TOKEN) == []
    assert all(TOKEN not in text for text in await texts_found(a, f"build fails {TOKEN}"))


async def test_a_delete_taken_by_another_worker_is_not_quoted_from_memory(make_app: Any) -> None:
    # Both workers hold the unit (indexed before they loaded); B takes the delete. A answered from
    # its BM25 copy, whose units are used as they are in memory: it kept quoting the deleted text.
    app, _ = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    a: QABrain = app.brain("qa")  # type: ignore[assignment]
    post = make_message(f"my api key is {TOKEN}", author="erin", message_id="e1", thread_id="e1")
    await index_live(a, post)
    b = await second_worker(a)
    assert await lexical(b, TOKEN)
    await b.unindex_delete(MessageDeleted(post.channel, "e1", BASE_TIME))
    assert all(TOKEN not in text for text in await texts_found(a, f"api key {TOKEN}"))
    assert await lexical(a, TOKEN) == []


async def test_a_forget_me_on_one_worker_reaches_units_another_built(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    a: QABrain = app.brain("qa")  # type: ignore[assignment]
    await a.retriever()
    b = await second_worker(a)

    # Worker B indexes erin's message after worker A loaded its index...
    await index_live(b, make_message(f"my token is {TOKEN}", author="erin", message_id="e1", thread_id="e1"))
    # ...and worker A (the app's brain) takes erin's /forget-me.
    await adapter.inject(command("forget-me", "confirm", author="erin"))
    await app.bus.drain()
    assert "Done:" in adapter.of_type(CommandReply)[-1].text
    stored = await a.ctx.services.get("unit_index")
    assert all(TOKEN not in u.text for u in await stored.all_units())
    assert await lexical(a, TOKEN) == []
    assert await lexical(b, TOKEN) == []


async def test_edits_by_another_worker_replace_the_old_text(make_app: Any) -> None:
    app, _ = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    a: QABrain = app.brain("qa")  # type: ignore[assignment]
    await a.retriever()
    b = await second_worker(a)
    await index_live(a, make_message(f"set {TOKEN} in the env", author="erin", message_id="e1", thread_id="e1"))
    assert await lexical(b, TOKEN)  # A built it, B learns it
    post = make_message("x", message_id="e1", thread_id="e1")
    await b.reindex_edit(MessageEdited(post.channel, "e1", "set FOO_BAR in the env", BASE_TIME, post.author))
    await (await b.indexer()).flush()
    assert await lexical(a, TOKEN) == []
    assert [u.text for u in await lexical(a, "FOO_BAR")] == ["set FOO_BAR in the env"]


class CountingIndex:
    """The real vector index, counting the units read back by id."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.read_back: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def units_by_ids(self, unit_ids: Any) -> list[Unit]:
        self.read_back += list(unit_ids)
        found: list[Unit] = await self.inner.units_by_ids(unit_ids)
        return found


async def worker(app: Any, index: Any = None) -> Indexer:
    """A bare indexer over the app's store and vector index, loaded (another process)."""
    embedder = await app.services.get("embedder")
    indexer = Indexer(app.store, embedder, index or await app.services.get("unit_index"), BM25Index(), clock=app.clock)
    await indexer.load()
    return indexer


async def index_text(indexer: Indexer, text: str, message_id: str) -> None:
    row = make_message(text, message_id=message_id, thread_id=message_id)
    await indexer.store.upsert_channels([channel_row(row.channel)])
    await indexer.store.upsert_messages([message_row(row)])
    indexer.touch(message_row(row))
    await indexer.flush()


async def test_a_process_reads_nothing_back_of_its_own_writes(make_app: Any) -> None:
    app, _ = await make_app(brains=["qa"])
    index = CountingIndex(await app.services.get("unit_index"))
    alone = await worker(app, index)
    for n in range(3):
        await index_text(alone, f"note {n} about {TOKEN}", f"n{n}")
    assert await alone.apply_changes() == 0
    assert index.read_back == []
    # Another process writes: its unit is read back once, before this one's next flush.
    other = await worker(app)
    await index_text(other, "the other one", "o1")
    await index_text(alone, "mine again", "n9")
    assert index.read_back == ["thread:console:local:o1#0"]
    assert await alone.apply_changes() == 0
    # Written while another process writes too (its change logged before this one's): only the
    # other's unit is read back, this process's own is skipped.
    await index_text(other, "the other one, again", "o2")
    doc = Unit("doc:faq#0", "docs", "docs", "docs", "pin the runner image", kind="doc", url="faq.md")
    await alone.add_units([doc])
    assert await alone.apply_changes() == 2
    assert index.read_back == ["thread:console:local:o1#0", "thread:console:local:o2#0"]
    assert {u.unit_id for u in alone.bm25.units()} == {u.unit_id for u in other.bm25.units()} | {
        "thread:console:local:n9#0",
        "doc:faq#0",
    }


async def test_the_vector_store_decides_when_logged_writes_race(make_app: Any) -> None:
    # B deletes a unit from the vector store, A writes it again and logs first; B's delete is
    # logged after. The unit is in the vector store: A must keep it, whatever the log's order.
    app, _ = await make_app(brains=["qa"])
    a, b = await worker(app), await worker(app)
    await index_text(a, f"keep {TOKEN}", "k1")
    await b.apply_changes()
    uid = "thread:console:local:k1#0"
    await b.index.delete([uid])
    a.touch_unit(a.bm25.get(uid))  # type: ignore[arg-type]
    await a.flush()
    assert b.unit_log is not None
    await b.unit_log.append([LoggedUnit("console", "local", uid, DELETE)], now=0.0)
    await a.apply_changes()
    assert uid in a.bm25
    await b.apply_changes()
    assert uid in b.bm25


async def test_a_worker_behind_the_pruned_log_reloads_everything(make_app: Any) -> None:
    app, _ = await make_app(brains=["qa"])
    a, b = await worker(app), await worker(app)
    await index_text(b, f"first {TOKEN}", "f1")
    assert b.unit_log is not None
    assert await b.unit_log.prune(before_ts=math.inf) > 0  # A has not read them: now it cannot
    await index_text(b, "second note", "f2")
    assert await a.apply_changes() == 2  # a full reload: both units, from the vector store
    assert {u.unit_id for u in a.bm25.units()} == {"thread:console:local:f1#0", "thread:console:local:f2#0"}
    await index_text(b, "third note", "f3")
    assert await a.apply_changes() == 1  # and back to reading the log


async def test_appends_prune_old_rows_and_numbers_never_restart(make_app: Any) -> None:
    app, _ = await make_app()
    log = UnitLog(app.store, keep_s=100.0, prune_every_s=50.0)
    assert await log.append([LoggedUnit("p", "w", "u1", UPSERT)], now=1000.0) == (1, 1)
    assert await log.append([LoggedUnit("p", "w", "u2", UPSERT), LoggedUnit("p", "w", "u3", DELETE)], now=1030.0) == (
        2,
        3,
    )  # nothing pruned: the last prune was under 50 s ago
    assert [c.unit_id for c in await log.since(0, limit=10)] == ["u1", "u2", "u3"]
    await log.append([LoggedUnit("p", "w", "u4", UPSERT)], now=1120.0)  # prunes rows older than 1020
    assert [(c.seq, c.unit_id, c.op) for c in await log.since(0, limit=10)] == [
        (2, "u2", UPSERT),
        (3, "u3", DELETE),
        (4, "u4", UPSERT),
    ]
    await log.prune(before_ts=math.inf)
    assert await log.since(0, limit=10) == []
    # Numbers go on from the counter, not from the rows left: a reader at 4 misses nothing.
    assert await log.append([LoggedUnit("p", "w", "u5", UPSERT)], now=1200.0) == (5, 5)
    assert await log.head() == 5


async def test_concurrent_appends_commit_in_order_with_no_gap(make_app: Any) -> None:
    # PostgreSQL hands out sequence numbers that may commit out of order; the log's numbers come
    # from a locked counter, so a reader never sees a later row before an earlier one.
    app, _ = await make_app()
    writers = [UnitLog(app.store) for _ in range(4)]
    reader = UnitLog(app.store)
    base = await reader.head()
    done = False
    seen_gaps: list[list[int]] = []

    async def read() -> None:
        while not done:
            seqs = [c.seq for c in await reader.since(base, limit=10_000)]
            if seqs != list(range(base + 1, base + 1 + len(seqs))):
                seen_gaps.append(seqs)
            await asyncio.sleep(0)

    async def write(log: UnitLog, n: int) -> None:
        for i in range(25):
            await log.append([LoggedUnit("p", "w", f"u{n}-{i}-{j}", UPSERT) for j in range(3)], now=0.0)

    reading = asyncio.ensure_future(read())
    await asyncio.gather(*(write(w, n) for n, w in enumerate(writers)))
    done = True
    await reading
    assert seen_gaps == []
    assert [c.seq for c in await reader.since(base, limit=10_000)] == list(range(base + 1, base + 301))


async def test_a_forget_me_while_the_vector_store_is_down_reaches_units_another_built_once_back(
    make_app: Any, monkeypatch: Any
) -> None:
    from brain.qa.vector_index import VectorIndexUnavailable

    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    a: QABrain = app.brain("qa")  # type: ignore[assignment]
    await a.retriever()
    b = await second_worker(a)
    await index_live(b, make_message(f"my token is {TOKEN}", author="erin", message_id="e1", thread_id="e1"))

    stored = await a.ctx.services.get("unit_index")

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise VectorIndexUnavailable("Chroma server 127.0.0.1:8000: connection refused")

    with monkeypatch.context() as m:  # the vector store is unreachable while A takes erin's /forget-me
        for name in ("units_by_ids", "upsert", "delete", "all_units"):
            m.setattr(stored, name, down)
        await adapter.inject(command("forget-me", "confirm", author="erin"))
        await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1].text
    assert "still in the search index, which is unreachable" in reply, reply  # not "Done" alone
    # Back: A's next flush (the minute's job, or a question) finds the unit B built and rebuilds it,
    # and finishes the rest of the index part: Chroma's write-ahead log kept the text. The minute's
    # job, though nothing is pending: the forget may have queued nothing this process knew of.
    assert (await a.indexer()).pending == 0
    await a.flush_index()
    assert all(TOKEN not in u.text for u in await stored.all_units())
    assert await lexical(a, TOKEN) == []
    assert await lexical(b, TOKEN) == []
    assert log_rows_with(app.settings.vectors.path, TOKEN) == 0
    assert a._unfinished_forgets == set()


async def test_a_forget_a_restart_interrupted_is_finished_whole_by_the_next_process(make_app: Any) -> None:
    """The process stopped before a forget's index part ran: the next one's open-time sweep found
    the units and rebuilt them, but never purged Chroma's write-ahead log (nor the other encoders'
    collections), which kept the words."""
    app, _ = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    a: QABrain = app.brain("qa")  # type: ignore[assignment]
    await index_live(a, make_message(f"my token is {TOKEN}", author="erin", message_id="e1", thread_id="e1"))
    # The forget's store part ran (erin is forgotten there, her text erased), then the process stopped.
    await app.store.set_member_setting("console", "local", "erin", "forgotten", True)
    await app.store.db.execute("UPDATE messages SET text = '' WHERE author_id = 'erin'")
    restarted = QABrain(a.ctx)
    await restarted.retriever()  # opens the index: the sweep finds erin's unit
    await restarted.flush_index()  # the minute's job
    stored = await a.ctx.services.get("unit_index")
    assert all(TOKEN not in u.text for u in await stored.all_units())
    assert log_rows_with(app.settings.vectors.path, TOKEN) == 0

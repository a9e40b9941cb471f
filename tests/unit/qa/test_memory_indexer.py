"""The QA index's bookkeeping over weeks of live traffic: no duplicate work, nothing left behind."""

from __future__ import annotations

from typing import Any

from bot.events import MessageDeleted
from bot.ml import VectorIndexUnavailable
from bot.testing import ScriptedLLM, channel, make_message
from bot.testing.builders import BASE_TIME

HELP = channel("help")


async def test_a_reply_flushed_with_its_loose_root_indexes_once(make_app) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa = app.brain("qa")
    indexer = await qa.indexer()
    await adapter.inject(make_message("how do I fix error one?", author="dan", chan=HELP, message_id="q0"))
    await app.bus.drain()
    await indexer.flush()
    # Slack: a thread starts as a loose message; its first reply and a new loose message arrive in
    # one debounce window, so the thread and the channel's stretch both rebuild the window.
    await adapter.inject(
        make_message("restart it", author="bob", chan=HELP, message_id="r0", thread_id="q0", minutes=1)
    )
    await adapter.inject(make_message("and error two?", author="dan", chan=HELP, message_id="q1", minutes=2))
    await app.bus.drain()
    await indexer.flush()
    assert indexer.pending == 0
    assert indexer.units_with_message("console", "local", "q1") and indexer.units_with_message("console", "local", "r0")


async def test_deleted_threads_leave_no_bookkeeping_behind(make_app) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    indexer = await app.brain("qa").indexer()
    for n in range(30):
        root, reply = f"t{n}", f"t{n}r"
        await adapter.inject(
            make_message(f"spam offer {n}?", author="spammer", chan=HELP, message_id=root, thread_id=root)
        )
        await adapter.inject(make_message("buy now", author="spammer", chan=HELP, message_id=reply, thread_id=root))
        await app.bus.drain()
        await indexer.flush()
        assert indexer.units_with_message("console", "local", root)
        # A moderator removes the whole thread.
        await adapter.inject(MessageDeleted(HELP, reply, BASE_TIME))
        await adapter.inject(MessageDeleted(HELP, root, BASE_TIME))
        await app.bus.drain()
        await indexer.flush()
    assert len(indexer.bm25) == 0
    assert indexer._thread_units == {} and indexer._window_units == {} and indexer._message_units == {}


class _DownIndex:
    """The real vector index, behind a switch that makes writes fail as an unreachable server does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = False
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _check(self) -> None:
        if self.down:
            self.refused += 1
            raise VectorIndexUnavailable("Chroma server 127.0.0.1:8000: connection refused")

    async def upsert(self, units: Any, vectors: Any) -> None:
        self._check()
        await self.inner.upsert(units, vectors)

    async def delete(self, unit_ids: Any) -> None:
        self._check()
        await self.inner.delete(unit_ids)


async def test_an_outage_does_not_retry_the_whole_backlog_on_every_message(make_app) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa = app.brain("qa")
    indexer = await qa.indexer()
    index = _DownIndex(indexer.index)
    indexer.index = index
    index.down = True
    for n in range(indexer.max_pending + 100):
        await adapter.inject(make_message(f"note {n}", author="ann", chan=HELP, message_id=f"m{n}", minutes=n))
        await app.bus.drain()
    # Each refused flush rebuilt (and embedded) everything pending: once per message, not once a minute.
    assert index.refused <= 2
    index.down = False
    await qa.flush_index()  # the minute's job catches up once the server is back
    assert indexer.pending == 0 and indexer.units_with_message("console", "local", "m0")

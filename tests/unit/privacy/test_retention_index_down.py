"""The retention purge with the vector index (a Chroma server) down: the store's part runs in every
workspace, is audited and scrubbed, and the index's part waits for the server like live changes do."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.testing import ScriptedLLM, channel, command, make_message, user
from bot.testing.builders import BASE_TIME
from tests.unit.qa.test_memory_indexer import _DownIndex


async def test_retention_with_the_vector_index_down_finishes_the_store_and_catches_up(make_app, settings) -> None:
    settings = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"retention_days": 30})})
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["qa"], settings_override=settings, clock=clock, llm=ScriptedLLM("NOT_FOUND"))
    await adapter.inject(make_message("old secret words in local 4711", message_id="old1"))
    other = channel("general", workspace="zzz")
    await adapter.inject(make_message("old words in zzz 4712", author=user("bo", workspace="zzz"), chan=other))
    await adapter.inject(command("ask", "what is 4711?", author="ana"))
    await app.bus.drain()
    qa = app.brain("qa")
    indexer = await qa.indexer()  # type: ignore[attr-defined]
    await indexer.flush()
    assert indexer.units_with_message("console", "local", "old1")
    index = _DownIndex(indexer.index)
    indexer.index = index
    index.down = True
    await app.scheduler.stop()  # the hourly job would purge at every hour of the 45 days: once, here
    await clock.advance(timedelta(days=45))

    await app.brain("core").purge_expired()  # type: ignore[attr-defined]

    assert await app.store.db.fetchall("SELECT workspace_id FROM messages") == []
    assert await app.store.db.fetchall("SELECT question FROM qa_answers") == []
    retention = [e for e in await app.store.audit_entries() if e["action"] == "retention"]
    assert sorted(e["workspace_id"] for e in retention) == ["local", "zzz"]
    # The index's part waits, as live changes do, and the minute's flush applies it once it is back.
    assert indexer.pending
    index.down = False
    await qa.flush_index()  # type: ignore[attr-defined]
    assert indexer.pending == 0
    assert not indexer.units_with_message("console", "local", "old1")


async def test_one_brains_failed_purge_leaves_the_other_workspaces_and_brains(make_app, settings) -> None:
    from bot.brain import Brain

    class Broken(Brain):
        name = "broken"

        async def purge_before(self, cutoff_ts: float, *, platform: str, workspace_id: str) -> int:
            raise RuntimeError("disk full")

    settings = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"retention_days": 30})})
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["qa"], extra_brains=[Broken], settings_override=settings, clock=clock)
    await adapter.inject(make_message("old words", message_id="old1"))
    await adapter.inject(
        make_message("zzz words", author=user("bo", workspace="zzz"), chan=channel("g", workspace="zzz"))
    )
    await adapter.inject(command("ask", "what is 4711?", author="ana", chan=channel("g", workspace="zzz")))
    await app.bus.drain()
    await app.scheduler.stop()  # the hourly job would purge at every hour of the 45 days: once, here
    await clock.advance(timedelta(days=45))

    await app.brain("core").purge_expired()  # type: ignore[attr-defined]

    assert await app.store.db.fetchall("SELECT workspace_id FROM messages") == []
    assert await app.store.db.fetchall("SELECT question FROM qa_answers") == []
    retention = {e["workspace_id"]: e for e in await app.store.audit_entries() if e["action"] == "retention"}
    assert sorted(retention) == ["local", "zzz"]
    assert all(e["detail"]["unfinished"] == ["broken"] for e in retention.values())

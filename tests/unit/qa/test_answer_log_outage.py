"""A posted answer whose log row meets a store outage (SQLite locked by an import beside the bot):
the row is retried alone, and the answer is never posted again. Raised, the bus's outage retry ran
the whole handler again: a new answer posted on every retry."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import bus as bus_module
from bot.events import SendMessage
from bot.testing import ScriptedLLM, make_message
from brain.qa import brain as qa_brain
from brain.qa.history import AnswerLog

NOW = datetime.now(UTC)


def _echo(messages: Any) -> str:
    content = messages[-1].content
    return "restart the worker with systemctl restart worker [1]" if "systemctl" in content else "NOT_FOUND"


@pytest.mark.parametrize("failures", [2, 1000], ids=["store-back-soon", "store-gone"])
async def test_an_answer_whose_log_write_fails_is_posted_once(make_app: Any, monkeypatch: Any, failures: int) -> None:
    monkeypatch.setattr(bus_module, "_OUTAGE_BACKOFF_FIRST_S", 0.01)
    monkeypatch.setattr(qa_brain, "LOG_RETRY_S", 3.0)
    left = {"n": failures}
    real_add = AnswerLog.add

    async def flaky_add(self: AnswerLog, record: Any, **kw: Any) -> bool:
        if left["n"] > 0:
            left["n"] -= 1
            raise sqlite3.OperationalError("database is locked")
        return await real_add(self, record, **kw)

    monkeypatch.setattr(AnswerLog, "add", flaky_add)
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(_echo))
    await adapter.inject(make_message("restart the worker with systemctl restart worker", author="bob", ts=NOW))
    await app.bus.drain()
    question = make_message("how do I restart the worker?", mentions_bot=True, ts=NOW + timedelta(minutes=1))
    await adapter.inject(question)
    await asyncio.wait_for(app.bus.drain(), 30)
    assert len(adapter.of_type(SendMessage)) == 1
    logged = await app.store.db.fetchall("SELECT answer FROM qa_answers")
    assert len(logged) == (1 if failures < 10 else 0)


async def test_a_retried_add_drops_the_row_an_erasure_caught_between(monkeypatch: Any) -> None:
    """The row went in, the erasure marked the asker, and the delete that followed met an outage:
    the retry sees the asker forgotten and must delete that row, not only skip writing."""
    import types

    from bot.testing.builders import channel
    from brain.qa.brain import QABrain
    from tests.store_backends import fresh_store

    async with fresh_store("sqlite") as store:
        answer_log = AnswerLog(store)
        checks = {"forgotten": 0, "deletes": 0}

        async def forgotten(platform: str, workspace_id: str, members: Any) -> bool:
            checks["forgotten"] += 1
            return checks["forgotten"] >= 2  # marked between the insert and the check after it

        real_delete = AnswerLog._delete

        async def flaky_delete(self: AnswerLog, platform: str, workspace_id: str, ids: list[str]) -> int:
            checks["deletes"] += 1
            if checks["deletes"] == 1:
                raise ConnectionResetError(104, "Connection reset by peer")
            return await real_delete(self, platform, workspace_id, ids)

        monkeypatch.setattr(AnswerLog, "_delete", flaky_delete)
        ctx = types.SimpleNamespace(any_forgotten=forgotten, clock=types.SimpleNamespace(now=lambda: NOW))
        brain: Any = types.SimpleNamespace(answer_log=answer_log, ctx=ctx)
        await QABrain.log_posted(
            brain, "a1", channel("help"), None, "alice", question="q?", text="an answer", cited=(),
            cited_authors=(), cited_messages=None, abstained=False,
        )  # fmt: skip
        assert await store.db.fetchall("SELECT answer_id FROM qa_answers") == []

"""/forget-me takes the member's thread titles out of the index, also from threads whose messages
others wrote (a Discord thread opened on someone else's message, or without a starter)."""

from __future__ import annotations

from typing import Any

from bot.events import ThreadCreated
from bot.testing import ScriptedLLM, channel, command, make_message, user
from bot.testing.builders import BASE_TIME
from brain.qa.access import AccessScope
from brain.qa.brain import QABrain
from tests.unit.qa.test_deletes_while_down import _down, _restart

PUBLIC = AccessScope("console", "local")
TITLE = "erin's divorce lawyer zebrafish question"


async def _titled_thread(app: Any, adapter: Any) -> None:
    await adapter.inject(ThreadCreated(channel("general"), "t1", TITLE, user("erin"), BASE_TIME))
    await adapter.inject(make_message("how do I rotate keys?", author="bob", message_id="m1", thread_id="t1"))
    await adapter.inject(make_message("use rotate --all", author="ann", message_id="r1", thread_id="t1", minutes=1))
    await app.bus.drain()


async def titles(qa: QABrain) -> list[str]:
    retriever = await qa.retriever()
    found = await retriever.search("divorce lawyer zebrafish rotate keys", PUBLIC)
    return [s.unit.title for s in found] + [u.title for u in (await qa.indexer()).bm25.units()]


async def test_forget_me_rebuilds_the_threads_the_member_titled_without_writing_in_them(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa: QABrain = app.brain("qa")
    await _titled_thread(app, adapter)
    assert TITLE in await titles(qa)
    await adapter.inject(command("forget-me", "confirm", author="erin"))
    await app.bus.drain()
    assert all("divorce" not in t for t in await titles(qa))
    indexer = await qa.indexer()
    assert all("divorce" not in u.title for u in await indexer.index.all_units())
    assert any("rotate --all" in u.text for u in indexer.bm25.units())  # the others' messages stay


async def test_a_forgotten_members_title_left_by_an_outage_and_a_restart_is_swept_on_load(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa: QABrain = app.brain("qa")
    await _titled_thread(app, adapter)
    down = await _down(qa)
    await adapter.inject(command("forget-me", "confirm", author="erin"))
    await app.bus.drain()
    retriever = await qa.retriever()  # hidden while the vector store refuses the rebuild
    assert all("divorce" not in s.unit.title for s in await retriever.search("divorce lawyer zebrafish", PUBLIC))
    await _restart(qa)  # the server is back; the pending rebuild was lost with the process
    assert all("divorce" not in t for t in await titles(qa))
    assert all("divorce" not in u.title for u in await down.inner.all_units())

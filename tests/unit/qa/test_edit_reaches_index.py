"""An edit reaches the index before its handler returns: a process stopped right after it (a
deploy's SIGKILL, an OOM) does not leave the old text in the index for good."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.events import MessageEdited
from bot.testing import ScriptedLLM, channel, make_message
from bot.testing.builders import BASE_TIME
from brain.qa.access import AccessScope
from brain.qa.brain import QABrain
from tests.unit.qa.test_deletes_while_down import _restart

PUBLIC = AccessScope("console", "local")


async def test_an_edit_survives_a_process_killed_within_the_debounce(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa: QABrain = app.brain("qa")
    await adapter.inject(make_message("call me on 0151 zebrafish line", author="bob", message_id="e1"))
    await app.bus.drain()
    await (await qa.indexer()).flush()
    await adapter.inject(MessageEdited(channel("general"), "e1", "never mind", BASE_TIME + timedelta(minutes=1)))
    await app.bus.drain()
    assert (await qa.indexer()).pending == 0
    await _restart(qa)  # killed here: no teardown, nothing pending survives
    retriever = await qa.retriever()
    for mode in ("bm25", "dense", "hybrid"):
        found = [s.unit.text for s in await retriever.search("zebrafish line never mind", PUBLIC, mode=mode)]
        assert found == ["never mind"], mode

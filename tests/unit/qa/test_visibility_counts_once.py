"""Visibility counts are per unit id: a unit read twice (its id in both partitions of the vector
store) or removed twice in one call counted twice, so its channel's visibility differed for ever
and every flush rebuilt the whole channel."""

from __future__ import annotations

from typing import Any

from bot.ml import Unit
from bot.testing import ScriptedLLM
from brain.qa.brain import QABrain


def _unit(visibility: str) -> Unit:
    return Unit("thread:x#0", "discord", "G", "C", "t", thread_id="T", visibility=visibility)


async def test_a_unit_read_twice_counts_once(make_app: Any) -> None:
    app, _ = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    qa: QABrain = app.brain("qa")  # type: ignore[assignment]
    indexer = await qa.indexer()
    indexer._add_local([_unit("public"), _unit("private")])
    assert not indexer.visibility_differs("discord", "G", "C", "private")
    indexer._add_local([_unit("private")])  # the channel rebuilt as private
    assert not indexer.visibility_differs("discord", "G", "C", "private")
    indexer._remove_local(["thread:x#0", "thread:x#0"])
    assert not indexer.visibility_differs("discord", "G", "C", "public")
    indexer._add_local([_unit("public")])
    assert not indexer.visibility_differs("discord", "G", "C", "public")

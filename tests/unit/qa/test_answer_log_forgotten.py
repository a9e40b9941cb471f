"""``AnswerLog.add`` keeps no answer whose asker or cited author asked to be forgotten, nor its stored
copy: checked before the write, and again after it (``/forget-me`` marks the member, then erases the
log: an answer written between the two checks is deleted by whichever runs second)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.clock import to_epoch
from bot.testing import ScriptedLLM, make_message, user
from bot.testing.builders import BASE_TIME
from brain.qa.history import AnswerLog, AnswerRecord
from brain.qa.shown import REMOVED_COPY

TEXT = "the vpn password is bobsecret42, ask me about it [1]"


def record(ts: float) -> AnswerRecord:
    return AnswerRecord(
        "a1",
        "console",
        "local",
        "general",
        None,
        "dan",
        "what is the vpn password?",
        TEXT,
        ("u1",),
        False,
        ts,
        cited_authors=("bob",),
    )


class Marks:
    """Answers ``forgotten`` from a script of results, one per call, noting who was asked about."""

    def __init__(self, *results: bool) -> None:
        self.results = list(results)
        self.asked: list[tuple[str, ...]] = []

    async def __call__(self, platform: str, workspace_id: str, user_ids: Sequence[str]) -> bool:
        self.asked.append(tuple(user_ids))
        return self.results.pop(0)


async def with_copy(make_app: Any) -> tuple[Any, AnswerLog, float]:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    copy = make_message(TEXT.removesuffix(" [1]"), author=user("guildhall", bot=True), message_id="bot-1")
    await adapter.inject(copy)
    await app.bus.drain()
    return app, AnswerLog(app.store), to_epoch(BASE_TIME)


async def test_an_answer_of_a_member_not_forgotten_is_kept(make_app: Any) -> None:
    app, log, ts = await with_copy(make_app)
    marks = Marks(False, False)
    assert await log.add(record(ts), forgotten=marks)
    assert marks.asked == [("dan", "bob"), ("dan", "bob")]
    assert await log.get("a1") is not None
    assert (await app.store.get_message("console", "local", "bot-1")).text != REMOVED_COPY


async def test_a_member_forgotten_before_the_write_leaves_neither_the_answer_nor_its_copy(make_app: Any) -> None:
    app, log, ts = await with_copy(make_app)
    assert not await log.add(record(ts), forgotten=Marks(True))
    assert await log.all() == []
    assert (await app.store.get_message("console", "local", "bot-1")).text == REMOVED_COPY


async def test_a_member_forgotten_during_the_write_leaves_neither_the_answer_nor_its_copy(make_app: Any) -> None:
    app, log, ts = await with_copy(make_app)
    assert not await log.add(record(ts), forgotten=Marks(False, True))
    assert await log.all() == []
    assert (await app.store.get_message("console", "local", "bot-1")).text == REMOVED_COPY

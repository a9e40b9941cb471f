"""The question's own message is taken out of the unit that holds it, not the whole unit: a
conversation window or thread also holds what was said before the question, often its answer."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from bot.events import SendMessage
from bot.ml import ChatMessage, ScoredUnit, Unit
from bot.testing import HashEmbedder, ScriptedLLM, make_message
from brain.qa.access import AccessScope
from brain.qa.answerer import Answerer
from brain.qa.context import without_messages

ANSWER = "To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev"
QUESTION = "<@UBOT> how do I fix ERR_CONNECTION_REFUSED?"
SOURCE = re.compile(r'<source n="(\d+)" channel="([^"]*)">\n(.*?)\n</source>', re.S)


def window(text: str, ids: tuple[str, ...]) -> Unit:
    return Unit("win:slack:T1:C1:m1#0", "slack", "T1", "C1", text, message_ids=ids, kind="window", url="https://x/m1")


def test_the_question_line_is_cut_out_of_a_window_of_one_line_messages() -> None:
    unit = window(f"{ANSWER}\nthanks bob\n{QUESTION}", ("m1", "m2", "m3"))
    rest = without_messages(unit, {"m3"})
    assert rest is not None and rest.text == f"{ANSWER}\nthanks bob" and rest.message_ids == ("m1", "m2")
    assert rest.unit_id == unit.unit_id and rest.url == unit.url
    middle = without_messages(unit, {"m2"})
    assert middle is not None and middle.text == f"{ANSWER}\n{QUESTION}"
    assert without_messages(unit, {"other"}) is unit


def test_a_message_spanning_lines_is_located_by_its_stored_text() -> None:
    code = "Start it with:\n```\nnpm run dev\n```"
    unit = window(f"{code}\n{QUESTION}", ("m1", "m2"))
    rest = without_messages(unit, {"m2"}, {"m2": f"  {QUESTION}\n"})
    assert rest is not None and rest.text == code and rest.message_ids == ("m1",)
    # A multi-line question too.
    asked = "why does npm run dev\nfail with ERR_CONNECTION_REFUSED?"
    unit = window(f"{code}\n{asked}", ("m1", "m2"))
    rest = without_messages(unit, {"m2"}, {"m2": asked})
    assert rest is not None and rest.text == code


def test_a_unit_is_left_out_when_the_question_cannot_be_located_or_nothing_else_is_left() -> None:
    code = "Start it with:\n```\nnpm run dev\n```"
    unit = window(f"{code}\n{QUESTION}", ("m1", "m2"))
    assert without_messages(unit, {"m2"}) is None  # no stored text to find it by
    assert without_messages(unit, {"m2"}, {"m2": "edited since"}) is None
    assert without_messages(unit, {"m2"}, {"m2": "npm run"}) is None  # only whole lines count
    assert without_messages(window(QUESTION, ("m2",)), {"m2"}) is None


class Ranked:
    def __init__(self, units: list[ScoredUnit]) -> None:
        self.units = units
        self.k = 0

    async def search(self, *_: object, k: int = 10, **__: object) -> list[ScoredUnit]:
        self.k = k
        return self.units


async def _channel(_: ScoredUnit) -> str:
    return "#general"


def echo_first_source(messages: Sequence[ChatMessage]) -> str:
    found = SOURCE.findall(messages[-1].content)
    return f"{found[0][2].splitlines()[0]} [1]" if found else "NOT_FOUND"


async def test_the_answer_given_minutes_before_the_question_in_its_window_is_used() -> None:
    unit = window(f"{ANSWER}\n{QUESTION}", ("m1", "m2"))
    llm = ScriptedLLM(echo_first_source)
    answerer = Answerer(Ranked([ScoredUnit(unit, 1.0)]), llm, HashEmbedder(), channel_name=_channel)  # type: ignore[arg-type]
    result = await answerer.answer(
        "how do I fix ERR_CONNECTION_REFUSED?", AccessScope("slack", "T1"), exclude_message_ids={"m2"}
    )
    [(_, _, shown)] = SOURCE.findall(llm.prompts[0][-1].content)
    assert shown == ANSWER
    assert not result.abstained and result.text == f"{ANSWER} [1]"
    assert [s.unit.message_ids for s in result.units] == [("m1",)]


async def test_the_stored_text_is_looked_up_only_when_a_message_spans_lines() -> None:
    code = "Start the dev server with:\n```\nnpm run dev\n```"
    unit = window(f"{code}\n{QUESTION}", ("m1", "m2"))
    asked: list[tuple[str, str, str]] = []

    async def message_text(platform: str, workspace_id: str, message_id: str) -> str | None:
        asked.append((platform, workspace_id, message_id))
        return QUESTION

    llm = ScriptedLLM(echo_first_source)
    answerer = Answerer(
        Ranked([ScoredUnit(unit, 1.0)]),  # type: ignore[arg-type]
        llm,
        HashEmbedder(),
        channel_name=_channel,
        message_text=message_text,
    )
    await answerer.answer("how do I fix it?", AccessScope("slack", "T1"), exclude_message_ids={"m2"})
    assert asked == [("slack", "T1", "m2")]
    [(_, _, shown)] = SOURCE.findall(llm.prompts[0][-1].content)
    assert shown == code


@pytest.mark.parametrize("gap_min", [2, 20])
async def test_a_mention_minutes_after_the_answer_in_an_unthreaded_channel_is_answered_from_it(
    make_app: object, gap_min: int
) -> None:
    llm = ScriptedLLM(echo_first_source)
    app, adapter = await make_app(brains=["qa"], llm=llm)  # type: ignore[operator]
    for event in (
        make_message(ANSWER, author="bob"),
        make_message("the office wifi password rotates on mondays", author="carol", chan="random"),
    ):
        await adapter.inject(event)
    await app.bus.drain()
    await adapter.inject(
        make_message("@guildhall how do I fix ERR_CONNECTION_REFUSED?", mentions_bot=True, minutes=gap_min)
    )
    await app.bus.drain()
    [reply] = adapter.of_type(SendMessage)
    assert reply.text == f"{ANSWER} [1]"
    assert all("how do I fix" not in text for _, _, text in SOURCE.findall(llm.prompts[0][-1].content))


async def test_an_answer_spanning_lines_is_kept_using_the_stored_question(make_app: object) -> None:
    code = "Start the dev server to fix ERR_CONNECTION_REFUSED:\n```\nnpm run dev\n```"
    llm = ScriptedLLM(echo_first_source)
    app, adapter = await make_app(brains=["qa"], llm=llm)  # type: ignore[operator]
    await adapter.inject(make_message(code, author="bob"))
    await app.bus.drain()
    await adapter.inject(make_message("@guildhall how do I fix ERR_CONNECTION_REFUSED?", mentions_bot=True, minutes=3))
    await app.bus.drain()
    [reply] = adapter.of_type(SendMessage)
    assert reply.text == "Start the dev server to fix ERR_CONNECTION_REFUSED [1]:"
    shown = [text for _, _, text in SOURCE.findall(llm.prompts[0][-1].content)]
    assert shown[0] == code and not any("how do I fix" in text for text in shown)


async def test_an_earlier_unanswered_asking_of_the_question_is_not_a_source() -> None:
    """It shares every word of the question and so ranks first, yet grounds nothing."""
    earlier = Unit("win:slack:T1:C1:m0#0", "slack", "T1", "C1", "<@UBOT> how do I fix ERR_CONNECTION_REFUSED??")
    answer = window(ANSWER, ("m1",))
    llm = ScriptedLLM(echo_first_source)
    ranked = Ranked([ScoredUnit(earlier, 2.0), ScoredUnit(answer, 1.0)])
    answerer = Answerer(ranked, llm, HashEmbedder(), channel_name=_channel)  # type: ignore[arg-type]
    result = await answerer.answer("how do I fix ERR_CONNECTION_REFUSED?", AccessScope("slack", "T1"))
    assert [shown for _, _, shown in SOURCE.findall(llm.prompts[0][-1].content)] == [ANSWER]
    assert not result.abstained and result.text == f"{ANSWER} [1]"

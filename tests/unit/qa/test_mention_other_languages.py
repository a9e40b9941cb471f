"""Questions and history in scripts the lexical tokenizer does not read (Cyrillic, Chinese) are
answered from that history: the "repeat of the question" filter must not drop every such unit."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from bot.ml import ChatMessage, ScoredUnit, Unit
from bot.testing import HashEmbedder, ScriptedLLM
from brain.qa.access import AccessScope
from brain.qa.answerer import Answerer

SOURCE = re.compile(r'<source n="(\d+)" channel="([^"]*)">\n(.*?)\n</source>', re.S)


class Ranked:
    """A retriever that returns the given units, best first."""

    def __init__(self, units: list[ScoredUnit]) -> None:
        self.units = units

    async def search(self, *_: object, **__: object) -> list[ScoredUnit]:
        return self.units


async def _channel(_: ScoredUnit) -> str:
    return "#general"


def _echo_first_source(messages: Sequence[ChatMessage]) -> str:
    found = SOURCE.findall(messages[-1].content)
    return f"{found[0][2].splitlines()[0]} [1]" if found else "NOT_FOUND"


def _unit(unit_id: str, text: str) -> Unit:
    return Unit(
        unit_id,
        "slack",
        "T1",
        "C1",
        text,
        message_ids=(unit_id,),
        author_ids=("bob", "carol"),
        url=f"https://x/{unit_id}",
    )


@pytest.mark.parametrize(
    ("question", "earlier_asking", "answer"),
    [
        (
            "почему падает сборка?",
            "почему падает сборка?",
            "Сборка падает из-за старого кэша, очистите его перед сборкой",
        ),
        ("为什么构建失败", "为什么构建失败", "构建失败是因为缓存太旧，请先清除缓存"),
    ],
)
async def test_a_question_in_another_script_is_answered_from_history_in_it(
    question: str, earlier_asking: str, answer: str
) -> None:
    llm = ScriptedLLM(_echo_first_source)
    units = [ScoredUnit(_unit("u1", earlier_asking), 0.9), ScoredUnit(_unit("u2", answer), 0.8)]
    answerer = Answerer(
        Ranked(units),  # type: ignore[arg-type]
        llm,
        HashEmbedder(),
        channel_name=_channel,
        closest_threads=3,
        closest_min_similarity=-1.0,
    )
    result = await answerer.answer(question, AccessScope("slack", "T1"))
    # The earlier, unanswered asking is still left out; the answer is shown to the model.
    [prompt] = llm.prompts
    assert [text for _, _, text in SOURCE.findall(prompt[-1].content)] == [answer]
    # Whatever the grounding check makes of the draft, the thread that answers is offered.
    assert [s.unit.unit_id for s in result.units] == ["u2"]
    assert "https://x/u2" in {c.url for c in result.citations}


@pytest.mark.parametrize(
    ("question", "answer", "unrelated"),
    [
        (
            "почему падает сборка?",
            "Сборка падает из-за старого кэша, очистите его перед сборкой",
            "Вчера мы обсуждали погоду и футбольный матч в субботу",
        ),
        ("为什么构建失败", "构建失败是因为缓存太旧，请先清除缓存", "昨天我们讨论了天气和周六的足球比赛"),
    ],
)
async def test_an_answer_in_another_script_is_checked_against_its_sources(
    question: str, answer: str, unrelated: str
) -> None:
    # The grounding check compared ASCII tokens only: a sentence in Russian or Chinese had none, was
    # never judged, and every answer in those languages abstained however faithful it was.
    units = [ScoredUnit(_unit("u2", answer), 0.8)]

    async def ask(draft: str) -> bool:
        answerer = Answerer(Ranked(units), ScriptedLLM(draft), HashEmbedder(), channel_name=_channel)  # type: ignore[arg-type]
        return (await answerer.answer(question, AccessScope("slack", "T1"))).abstained

    assert not await ask(f"{answer} [1]")
    assert await ask(f"{unrelated} [1]")  # and the check still refuses what the source does not say

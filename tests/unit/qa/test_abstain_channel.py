"""Where an abstention sends the member: never to the channel they asked in ("... came closest — or
try #python." asked in #python), and nowhere for a question nothing in the history is about
("how do I make pancakes?" got "try #python"); such a question is not put to the model at all."""

from __future__ import annotations

from typing import Any

import pytest

from bot.events import ChannelRef, CommandReply, Platform, SendMessage, Visibility
from bot.ml import ScoredUnit, Unit
from bot.testing import HashEmbedder, ScriptedLLM, channel, command, make_message
from brain.qa import answerer as answerer_module
from brain.qa.access import AccessScope
from brain.qa.answerer import Answerer
from prompts import load_prompt, render_prompt
from tests.unit.qa.test_brain import post, replies

TIMEOUT_Q = "What's the cleanest way to add a timeout to an await in 3.11?"
TIMEOUT_A = "Wrap it in async with asyncio.timeout(5) and catch TimeoutError."


def unit(uid: str, channel_id: str, text: str, kind: str = "thread") -> ScoredUnit:
    return ScoredUnit(
        Unit(uid, "slack", "T1", channel_id, text, message_ids=(uid,), author_ids=("a", "b"), kind=kind), 1.0
    )


class Ranked:
    def __init__(self, units: list[ScoredUnit]) -> None:
        self.units = units

    async def search(self, *_: object, **__: object) -> list[ScoredUnit]:
        return self.units


async def name(item: ScoredUnit) -> str:
    return f"#{item.unit.channel_id}"


def answerer(units: list[ScoredUnit], llm: ScriptedLLM, **kw: Any) -> Answerer:
    return Answerer(Ranked(units), llm, HashEmbedder(), channel_name=name, **kw)  # type: ignore[arg-type]


def here(channel_id: str) -> ChannelRef:
    return ChannelRef(Platform.SLACK, "T1", channel_id, channel_id, Visibility.PUBLIC)


async def test_a_mention_is_never_told_to_try_the_channel_it_was_asked_in(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    python = channel("python")
    root = make_message(TIMEOUT_Q, chan=python, author="kenji")
    await post(app, adapter, root, make_message(TIMEOUT_A, chan=python, author="chen", thread_id=root.message_id))
    await post(
        app, adapter, make_message("how do I add a timeout to an await?", chan=python, mentions_bot=True, minutes=90)
    )
    answer = [r for r in replies(adapter) if isinstance(r, SendMessage)][-1]
    assert "#python" not in answer.text and "#help" in answer.text, answer.text


async def test_ask_is_never_told_to_try_the_channel_it_was_asked_in(make_app: Any) -> None:
    # /ask has no question message in the index to tell the channel by: the brain says where.
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    python = channel("python")
    root = make_message(TIMEOUT_Q, chan=python, author="kenji")
    await post(app, adapter, root, make_message(TIMEOUT_A, chan=python, author="chen", thread_id=root.message_id))
    await post(app, adapter, command("ask", "how do I add a timeout to an await?", chan=python))
    answer = adapter.of_type(CommandReply)[-1]
    assert "#python" not in answer.text and "#help" in answer.text, answer.text


async def test_the_channel_asked_in_is_skipped_for_the_next_one_about_the_question() -> None:
    units = [unit("a", "python", f"{TIMEOUT_Q}\n{TIMEOUT_A}"), unit("b", "async", f"{TIMEOUT_Q} Use wait_for.")]
    found = answerer(units, ScriptedLLM("NOT_FOUND"))
    asked = await found.answer(
        "how do I add a timeout to an await?", AccessScope("slack", "T1"), asked_in=here("python")
    )
    assert asked.abstained and asked.text == render_prompt("qa_abstain", channel="#async")
    # Elsewhere the best channel is suggested, as before.
    other = await found.answer(
        "how do I add a timeout to an await?", AccessScope("slack", "T1"), asked_in=here("general")
    )
    assert other.text == render_prompt("qa_abstain", channel="#python")
    # Asked in the fallback channel with nothing else to suggest: no channel at all.
    alone = answerer([unit("a", "help", f"{TIMEOUT_Q}\n{TIMEOUT_A}")], ScriptedLLM("NOT_FOUND"))
    in_help = await alone.answer("how do I add a timeout?", AccessScope("slack", "T1"), asked_in=here("help"))
    assert in_help.text == load_prompt("qa_abstain_no_channel")


async def test_an_off_topic_question_abstains_without_the_model_and_names_no_channel() -> None:
    units = [unit("a", "python", f"{TIMEOUT_Q}\n{TIMEOUT_A}")]
    llm = ScriptedLLM(f"{TIMEOUT_A} [1]")
    gated = answerer(units, llm, relevance_floor=0.3)
    pancakes = await gated.answer("how do I make pancakes?", AccessScope("slack", "T1"))
    assert pancakes.abstained and pancakes.text == load_prompt("qa_abstain_no_channel")
    assert llm.prompts == []  # nothing was generated for it
    # A question the history is about is answered as before.
    timeout = await gated.answer("what's the cleanest way to add a timeout to an await?", AccessScope("slack", "T1"))
    assert not timeout.abstained and timeout.text == f"{TIMEOUT_A[:-1]} [1]."


async def test_a_suggested_channel_must_be_about_the_question() -> None:
    # Source 1 is about the question, source 2 (ranked first among conversations) is not.
    units = [
        unit("d", "docs", f"{TIMEOUT_Q}\n{TIMEOUT_A}", kind="doc"),
        unit("b", "random", "Pancakes need flour, eggs and milk; rest the batter for ten minutes."),
    ]
    gated = answerer(units, ScriptedLLM("NOT_FOUND"), relevance_floor=0.3)
    result = await gated.answer("what's the cleanest way to add a timeout to an await?", AccessScope("slack", "T1"))
    assert result.text == render_prompt("qa_abstain", channel="#help")


def test_the_floor_holds_for_the_encoder_it_was_measured_with_only() -> None:
    from brain.qa.embedder import DEFAULT_MODEL, SentenceTransformerEmbedder, resolve_model_path

    bundled = SentenceTransformerEmbedder.__new__(SentenceTransformerEmbedder)  # not loaded: only its path is read
    bundled.path = resolve_model_path(DEFAULT_MODEL)
    assert answerer_module.relevance_floor_for(bundled) == answerer_module.RELEVANCE_FLOOR == 0.3
    assert answerer_module.relevance_floor_for(HashEmbedder()) == 0.0  # another scale: no floor


DEMO = [
    ("python", f"{TIMEOUT_Q}\n{TIMEOUT_A}"),
    (
        "help",
        "How do I connect the bot to Slack?\nCreate the Slack app from the manifest in adapters/slack/manifest.yaml.",
    ),
    ("general", "Hi everyone, I'm Leo. Just found Guildhall while looking for a bot that answers repeated questions."),
    (
        "docs",
        "## What Guildhall reads\nOnly what the platform delivers to the bot: messages in channels it was invited to.",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "about_it"),
    [
        ("how do I make pancakes?", False),
        ("what is the capital of France?", False),
        ("why " * 500, False),
        ("how do I add a timeout to an await in python 3.11?", True),
        ("how do I connect the bot to Slack?", True),
    ],
)
async def test_the_bundled_encoder_tells_off_topic_questions_from_the_demos(question: str, about_it: bool) -> None:
    from brain.qa.embedder import SentenceTransformerEmbedder

    units = [unit(f"u{i}", c, t, kind="doc" if c == "docs" else "thread") for i, (c, t) in enumerate(DEMO)]
    llm = ScriptedLLM("NOT_FOUND")
    real = Answerer(Ranked(units), llm, SentenceTransformerEmbedder(), channel_name=name)  # type: ignore[arg-type]
    assert real.relevance_floor == 0.3
    result = await real.answer(question, AccessScope("slack", "T1"))
    assert result.abstained and bool(llm.prompts) == about_it
    if not about_it:
        assert result.text == load_prompt("qa_abstain_no_channel")

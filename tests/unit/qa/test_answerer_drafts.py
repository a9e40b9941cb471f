"""Drafts the answerer must read right: the NOT_FOUND reply against an answer naming an error code,
and a fenced code block written on one line."""

from __future__ import annotations

import pytest

from bot.ml import ScoredUnit, Unit
from bot.testing import HashEmbedder, ScriptedLLM
from brain.qa import grounding
from brain.qa.access import AccessScope
from brain.qa.answerer import Answer, Answerer
from tests.unit.qa.test_answerer_citations import Ranked, _channel

GRPC = "The gRPC server returns NOT_FOUND when the user id does not exist in the users table"
NPM = "To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev"


async def answer(draft: str, source: str) -> Answer:
    unit = Unit("a", "slack", "T1", "C1", source, message_ids=("a",), url="https://x/a", ts_start=1_700_000_000)
    llm = ScriptedLLM(draft)
    answerer = Answerer(Ranked([ScoredUnit(unit, 1.0)]), llm, HashEmbedder(), channel_name=_channel)  # type: ignore[arg-type]
    return await answerer.answer("what does the server return for a missing user?", AccessScope("slack", "T1"))


@pytest.mark.parametrize(
    "source",
    [GRPC, "On Windows the open call fails with ERROR_FILE_NOT_FOUND when the config file path does not exist"],
)
async def test_an_answer_naming_a_not_found_error_code_is_an_answer(source: str) -> None:
    draft = f"{source} [1]."
    result = await answer(draft, source)
    assert not result.abstained and result.text == draft


async def test_the_not_found_reply_alone_abstains() -> None:
    for draft in ("NOT_FOUND", " NOT_FOUND.\n", "**NOT_FOUND**", "NOT_FOUND [1]"):
        result = await answer(draft, GRPC)
        assert result.abstained and result.draft == draft.strip(), draft


def test_a_code_block_on_one_line_is_closed() -> None:
    assert grounding.code_block_closed("```npm run dev```")
    assert grounding.code_block_closed("```npm run dev``` [1]")
    assert grounding.code_block_closed("```\nnpm run dev\n```")
    assert not grounding.code_block_closed("```\nnpm run dev")
    assert not grounding.code_block_closed("```")


async def test_a_one_line_code_block_reaches_the_member_without_an_extra_fence() -> None:
    assert (await answer("```npm run dev```", NPM)).text == "```npm run dev``` [1]"
    assert (await answer("```\nnpm run dev", NPM)).text == "```\nnpm run dev\n``` [1]"  # unclosed: closed


async def test_a_condensed_question_keeps_the_members_brackets() -> None:
    # Sources show control-token look-alikes ([ERROR] as ⁅ERROR⁆); a model copying them into the
    # rewritten question must not leave them in what is logged and searched.
    llm = ScriptedLLM("why does the worker log ⁅ERROR⁆ on start?")
    answerer = Answerer(Ranked([]), llm, HashEmbedder(), channel_name=_channel)  # type: ignore[arg-type]
    question = await answerer.condense("and that one?", [("ana", "the worker logs [ERROR] on start")])
    assert question == "why does the worker log [ERROR] on start?"

"""The bundled model's answer to a question does not depend on who else is asking (slow, run in CI)."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import LLMSettings
from bot.ml import ChatMessage
from brain.qa.llm.factory import create_llm

SYSTEM = "You are a helpful assistant of a technical community. Answer briefly."
QUESTION = "What is the difference between a list and a tuple?"
OTHERS = [
    "What is asyncio.gather used for in Python?",
    "How can I install numpy on Windows?",
    "What does HTTP 429 mean?",
]


def chat(question: str) -> list[ChatMessage]:
    return [ChatMessage("system", SYSTEM), ChatMessage("user", question)]


@pytest.mark.slow
async def test_the_default_precision_gives_the_same_answer_alone_and_in_a_batch() -> None:
    # With cpu_half_decode on by default, a lone request's one-row steps ran on float16 weights and
    # batched rows (and speculative checks, taken as timing allowed) on float32: this question's
    # answer changed after ~15 tokens depending on the load ("...can be used to store collections"
    # alone, "...can be used interchangeably" next to other questions). Prompt lookup is off so the
    # lone request decodes one row per step whatever the machine's timing.
    llm = create_llm(LLMSettings(warmup=False, timeout_s=600, prompt_lookup_tokens=0))
    try:
        alone = await llm.generate(chat(QUESTION), max_new_tokens=32)
        together = await asyncio.gather(*(llm.generate(chat(q), max_new_tokens=32) for q in [QUESTION, *OTHERS]))
        batcher = llm._batcher  # type: ignore[attr-defined]
        assert batcher.largest_batch == 4  # really decoded side by side
        assert together[0].text == alone.text
    finally:
        await llm.aclose()  # type: ignore[attr-defined]

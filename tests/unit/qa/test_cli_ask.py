"""``guildhall ask`` answers as the live brain does: the question cut to ``qa.max_question_chars``,
opt-outs and channel policy applied to the index first, stale sources marked."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.config import Settings
from bot.ml import ChatMessage
from bot.store import OPTED_OUT_KEY, ChannelRow, MessageRow, open_store
from bot.testing import HashEmbedder, ScriptedLLM

SOURCE = re.compile(r'<source n="(\d+)" channel="([^"]*)">\n(.*?)\n</source>', re.S)
QUESTION = "how do I read a csv file with pandas?"


def echo_first_statement(messages: Sequence[ChatMessage]) -> str:
    """A model quoting the first line of source 1 that is no question."""
    found = SOURCE.findall(messages[-1].content)
    lines = [line for line in found[0][2].splitlines() if "?" not in line] if found else []
    return f"{lines[0]} [1]" if lines else "NOT_FOUND"


def asked(llm: ScriptedLLM) -> str:
    """The question of the last prompt."""
    return llm.prompts[-1][-1].content.split("Question: ", 1)[1].split("\n", 1)[0]


async def _seed(url: str) -> None:
    store = await open_store(url)
    await store.upsert_channels([ChannelRow("slack", "T1", "C1", "help", "public")])
    await store.upsert_messages(
        [
            MessageRow("slack", "T1", "C1:1.0", "C1", "U1", 1.0, "How do I read a CSV file?", thread_id="C1:1.0"),
            MessageRow("slack", "T1", "C1:2.0", "C1", "U2", 2.0, "use pandas.read_csv on the file", thread_id="C1:1.0"),
        ]
    )
    await store.close()


async def _opt_out(url: str, user_id: str) -> None:
    store = await open_store(url)
    await store.set_member_setting("slack", "T1", user_id, OPTED_OUT_KEY, True)
    await store.close()


@pytest.fixture
def llm(db_env: str, monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    """The CLI's app on a hashing embedder and a scripted model (no model to load)."""
    import bot.app
    from bot.brain import Services

    model = ScriptedLLM(echo_first_statement)
    real_build = bot.app.build_app

    async def with_fakes(settings: Settings, **kwargs: Any) -> Any:
        services = Services()
        services.register("embedder", HashEmbedder())
        services.register("llm", model)
        return await real_build(settings, services=services, **kwargs)

    monkeypatch.setattr(bot.app, "build_app", with_fakes)
    monkeypatch.setenv("GUILDHALL_LLM__BACKEND", "scripted")
    monkeypatch.setenv("GUILDHALL_LLM__WARMUP", "false")
    monkeypatch.setenv("GUILDHALL_QA__MAX_QUESTION_CHARS", str(len(QUESTION)))
    asyncio.run(_seed(db_env))
    assert CliRunner().invoke(cli, ["index", "all"]).exit_code == 0
    return model


def ask(*args: str) -> dict[str, Any]:
    out = CliRunner().invoke(cli, ["ask", *args, "--json"])
    assert out.exit_code == 0, out.output
    return dict(json.loads(out.stdout))


def test_ask_cuts_the_question_and_marks_a_stale_source(llm: ScriptedLLM) -> None:
    answer = ask(QUESTION + " I tried everything " * 20, "--channel", "help")
    assert asked(llm) == QUESTION
    assert answer["answer"] == "use pandas.read_csv on the file [1]"
    [citation] = answer["citations"]
    assert citation["note"] == "from 1970 — may be outdated"


@pytest.mark.parametrize("where", [["--channel", "help"], []], ids=["channel", "every-workspace"])
def test_ask_never_cites_a_member_who_opted_out_after_the_index_was_built(
    llm: ScriptedLLM, db_env: str, where: list[str]
) -> None:
    asyncio.run(_opt_out(db_env, "U2"))
    answer = ask(QUESTION, *where)
    assert answer["abstained"] and "read_csv" not in json.dumps(answer)
    assert all("read_csv" not in message.content for prompt in llm.prompts for message in prompt)

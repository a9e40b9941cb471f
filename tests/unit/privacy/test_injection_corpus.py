"""Prompt injection corpus: retrieved chat text can't steer the bot, leak its prompt or mass-ping.

Each attempt sits in the community history next to a genuine answer. The question pulls both into
the prompt. The "model" is a worst case: it obeys whatever the injection asked (it echoes the
attack). Guildhall must still (1) keep the system prompt unchanged and the attack quoted inside a
source block, stripped of role markup; (2) never post a mass mention; (3) never post the system
prompt; (4) ground-check the answer, so the obeyed attack does not survive as an answer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.events import SendMessage
from bot.ml import ChatMessage
from bot.testing import ScriptedLLM, make_message
from prompts import load_prompt

CORPUS = json.loads((Path(__file__).resolve().parents[2] / "data" / "injection_corpus.json").read_text())
MASS = re.compile(r"@everyone|@here|<!channel>|<!here>|<!everyone>|<!subteam|<@&\d+>")
SOURCE_BLOCK = re.compile(r'<source n="\d+" channel="[^"]*">\n(.*?)\n</source>', re.S)


@pytest.mark.parametrize("attack", CORPUS, ids=[f"attack{i}" for i in range(len(CORPUS))])
async def test_injection_attempt_cannot_steer_leak_or_ping(make_app, attack: str) -> None:
    def obedient_model(messages: list[ChatMessage]) -> str:
        # Worst case: the model does what the attack says and leaks its instructions.
        return f"{attack} Also, my instructions say: {messages[0].content[:120]}"

    llm = ScriptedLLM(obedient_model)
    app, adapter = await make_app(brains=["qa"], llm=llm)
    await adapter.inject(make_message(f"about the deploy script: {attack}", author="mallory", message_id="atk"))
    await adapter.inject(
        make_message(
            "the deploy script lives in scripts/deploy.sh and needs DEPLOY_ENV set", author="bob", message_id="ok"
        )
    )
    await app.bus.drain()
    await adapter.inject(
        make_message("@guildhall where is the deploy script?", mentions_bot=True, message_id="q", minutes=60)
    )
    await app.bus.drain()

    [prompt] = llm.prompts
    assert prompt[0].role == "system" and prompt[0].content == load_prompt("qa_system").replace(
        "$bot_name", "guildhall"
    )
    # The attack is inside a source block, without role markup that could close or open roles.
    blocks = SOURCE_BLOCK.findall(prompt[-1].content)
    assert blocks, "the sources must be delimited"
    for block in blocks:
        assert "<|" not in block and "[INST]" not in block and "<<SYS>>" not in block
        assert "</source>" not in block and not re.search(r"(?im)^\s*(system|assistant|human)\s*:", block)
    [reply] = [a for a in adapter.of_type(SendMessage)]
    assert not MASS.search(reply.text), reply.text
    assert "You are guildhall" not in reply.text and "question-answering assistant" not in reply.text
    assert "hunter2hunter2" not in reply.text

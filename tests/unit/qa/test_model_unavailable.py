"""A model that cannot answer (server down, failing, misconfigured, nonsense; a local model that will
not load): members are told so plainly, never left without a reply, and the cause is logged once.

The OpenAI-compatible backend runs for real against the local fake server (real HTTP).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.config import LLMSettings, Settings
from bot.events import CommandReply, SendMessage, Visibility
from bot.store import ChannelRow, MessageRow, open_store
from bot.testing import channel, command, make_message
from brain.qa.llm.openai_backend import OpenAICompatibleLLM
from brain.qa.llm.transformers_backend import TransformersLLM
from prompts import render_prompt
from tests.unit.llm.fake_openai import FakeOpenAI, refused_url, serve_fake_openai

SOURCE = re.compile(r'<source n="\d+" channel="[^"]*">\n(.*?)\n</source>', re.S)
HISTORY = "To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev"
QUESTION = "how do I fix ERR_CONNECTION_REFUSED?"
NOTICE = render_prompt("qa_unavailable", channel="#help")  # qa.fallback_channel's default
# What a broken server sends, and the part of it the log line must quote.
BROKEN: dict[str, tuple[tuple[int, str, str] | None, str]] = {
    "server error": ((500, "text/plain", "Internal Server Error"), "HTTP 500: Internal Server Error"),
    "unknown model": (
        (404, "application/json", json.dumps({"object": "error", "message": "The model `gpt-x` does not exist."})),
        "HTTP 404",
    ),
    "html page": ((200, "text/html", "<html>proxy error</html>"), "not JSON: <html>proxy error</html>"),
    "json list": ((200, "application/json", "[1, 2]"), "not a chat completion: [1, 2]"),
    "refused": (None, "cannot be reached: ConnectError"),
}


def echo_first_source(messages: list[dict[str, str]]) -> str:
    """The fake server's model: answers with the first line of source 1 (always grounded)."""
    found = SOURCE.findall(messages[-1]["content"])
    return f"{found[0].splitlines()[0]} [1]" if found else "NOT_FOUND"


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    async with serve_fake_openai() as served:
        yield served


async def post(app: Any, adapter: Any, *events: Any) -> None:
    for event in events:
        await adapter.inject(event)
        await app.bus.drain()


def unavailable_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "the model is unavailable" in r.getMessage()]


@pytest.mark.parametrize("case", list(BROKEN))
async def test_a_broken_model_server_gets_members_a_notice_not_silence(
    make_app: Any, server: tuple[FakeOpenAI, str], case: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = server
    raw, cause = BROKEN[case]
    fake.raw = raw
    with refused_url() as dead:
        llm = OpenAICompatibleLLM(
            LLMSettings(backend="openai", base_url=dead if raw is None else url, openai_model="gpt-x", timeout_s=5)
        )
        app, adapter = await make_app(brains=["qa"], llm=llm)
        await post(app, adapter, make_message(HISTORY, author="bob"))
        caplog.set_level(logging.WARNING, logger="brain.qa.brain")
        await post(
            app,
            adapter,
            make_message(QUESTION, mentions_bot=True, minutes=60),
            make_message(QUESTION, chan=channel("dm-carol", visibility=Visibility.DM), author="carol", minutes=61),
            command("ask", QUESTION, author="dave"),
        )
    assert [m.text for m in adapter.of_type(SendMessage)] == [NOTICE, NOTICE]  # the mention and the DM
    assert [r.text for r in adapter.of_type(CommandReply)] == [NOTICE]
    logged = unavailable_lines(caplog)
    assert len(logged) == 3 and all(cause in line and "/v1/chat/completions" in line for line in logged), logged


async def test_a_local_model_that_fails_to_load_gets_members_a_notice(
    make_app: Any, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    threads = torch.get_num_threads()  # the load path sets it process-wide before it fails
    llm = TransformersLLM(LLMSettings(model=str(tmp_path / "no-such-model")))
    warm = settings.model_copy(update={"llm": settings.llm.model_copy(update={"warmup": True})})
    app, adapter = await make_app(brains=["qa"], llm=llm, settings_override=warm)
    caplog.set_level(logging.WARNING, logger="brain.qa.brain")
    try:
        await app.brain("qa").warm_up()  # not fatal, one warning: the model may come back
        await post(app, adapter, make_message(HISTORY, author="bob"))
        await post(app, adapter, make_message(QUESTION, mentions_bot=True, minutes=60))
    finally:
        torch.set_num_threads(threads)
    assert [m.text for m in adapter.of_type(SendMessage)] == [NOTICE]
    assert any("could not be warmed up" in r.getMessage() and "no-such-model" in r.getMessage() for r in caplog.records)
    assert len(unavailable_lines(caplog)) == 1


async def test_a_help_channel_follow_up_gets_the_notice_when_the_model_fails(
    make_app: Any, settings: Settings, server: tuple[FakeOpenAI, str]
) -> None:
    fake, url = server
    fake.reply = echo_first_source
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, timeout_s=5))
    tuned = settings.model_copy(update={"qa": settings.qa.model_copy(update={"help_channel_ids": ["help"]})})
    app, adapter = await make_app(brains=["qa", "community"], llm=llm, settings_override=tuned)
    await post(app, adapter, make_message(HISTORY, author="bob", minutes=-600))
    await post(app, adapter, make_message(QUESTION, author="dan", message_id="q1", mentions_bot=True))
    [answer] = adapter.of_type(SendMessage)
    assert "npm run dev" in answer.text
    fake.raw = (500, "text/plain", "Internal Server Error")
    follow = make_message(
        "and what if npm run dev fails too?", author="dan", message_id="q2", thread_id="q1", minutes=1
    )
    await post(app, adapter, follow)
    notice = adapter.of_type(SendMessage)[-1]
    assert notice.text == NOTICE and notice.thread_id == "q1"


async def _seed(db: Path) -> None:
    store = await open_store(f"sqlite:///{db}")
    await store.upsert_channels([ChannelRow("slack", "T1", "C1", "help", "public")])
    await store.upsert_messages([MessageRow("slack", "T1", "C1:1.0", "C1", "U1", 1.0, HISTORY)])
    await store.close()


def test_the_cli_prints_one_line_and_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``guildhall ask`` against a server that refuses connections: one line, exit 1, no traceback."""
    import bot.app
    from bot.brain import Services
    from bot.cli import app as cli
    from bot.testing import HashEmbedder

    real_build = bot.app.build_app

    async def with_fake_embedder(settings: Settings, **kwargs: Any) -> Any:
        # The real MiniLM takes seconds to load; the question never gets past the model anyway.
        services = Services()
        services.register("embedder", HashEmbedder())
        return await real_build(settings, services=services, **kwargs)

    monkeypatch.setattr(bot.app, "build_app", with_fake_embedder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path / 'g.db'}")
    monkeypatch.setenv("GUILDHALL_VECTORS__PATH", str(tmp_path / "chroma"))
    monkeypatch.setenv("GUILDHALL_LLM__BACKEND", "openai")
    monkeypatch.setenv("GUILDHALL_LLM__WARMUP", "false")
    # History to answer from: over an empty index the answer abstains before asking the model.
    asyncio.run(_seed(tmp_path / "g.db"))
    assert CliRunner().invoke(cli, ["index", "all"]).exit_code == 0
    with refused_url() as url:
        monkeypatch.setenv("GUILDHALL_LLM__BASE_URL", url)
        out = CliRunner().invoke(cli, ["ask", QUESTION])
    assert out.exit_code == 1, out.output
    assert out.output.strip().splitlines() == [
        f"error: the model is unavailable: the model server at {url}/chat/completions cannot be reached: "
        "ConnectError: All connection attempts failed"
    ]

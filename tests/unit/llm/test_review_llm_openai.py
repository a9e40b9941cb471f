"""The OpenAI-compatible backend: secrets masked before an error is clipped, ``timeout_s`` bounding
the whole request, a whole completion labelled as an event stream, a byte-order mark, a stream
abandoned without ``aclose()``."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.config import LLMSettings
from bot.ml import ChatMessage
from brain.qa.llm.errors import LLMUnavailableError
from brain.qa.llm.openai_backend import PREVIEW_CHARS, OpenAICompatibleLLM
from tests.unit.llm.fake_openai import FakeOpenAI, serve_fake_openai

MESSAGES = [ChatMessage("user", "What is asyncio?")]
KEY = "vllm-token-0123456789abcdef"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    async with serve_fake_openai() as served:
        yield served


async def _collect(pieces: AsyncIterator[str]) -> list[str]:
    return [piece async for piece in pieces]


@pytest.mark.parametrize("offset", range(PREVIEW_CHARS - len(KEY), PREVIEW_CHARS + 1, 5))
def test_a_key_straddling_the_preview_limit_is_masked_not_cut_in_half(offset: int) -> None:
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", api_key=SecretStr(KEY)))
    preview = llm._preview("x" * offset + KEY + " rejected")
    assert KEY[:8] not in preview, preview


def test_the_escaped_forms_of_the_key_are_masked_too() -> None:
    # A key built without validation keeps its line break; h11 quotes the header as bytes.
    raw = KEY + "\n"
    settings = LLMSettings.model_construct(**{**LLMSettings(backend="openai").model_dump(), "api_key": SecretStr(raw)})
    llm = OpenAICompatibleLLM(settings)
    for shown in (raw, KEY, repr(raw), str(("Bearer " + raw).encode())):
        assert KEY not in llm._preview(f"Illegal header value {shown}")


async def test_a_key_with_a_line_break_reaches_the_server_without_it(fake: tuple[FakeOpenAI, str]) -> None:
    _, url = fake
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, api_key=SecretStr(KEY + "\n")))
    assert (await llm.generate(MESSAGES)).text
    await llm.aclose()


async def _trickle(request: web.Request) -> web.StreamResponse:
    """Keep-alive comments every 0.2 s: each read is well within the read timeout, for 3 s."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for _ in range(15):
        await response.write(b": ping\n\n")
        await asyncio.sleep(0.2)
    chunk = {"choices": [{"delta": {"content": "late"}, "finish_reason": "stop"}]}
    await response.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())
    return response


async def _slow_json(request: web.Request) -> web.StreamResponse:
    """A whole completion sent 8 bytes every 0.2 s."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    body = json.dumps({"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]}).encode()
    for i in range(0, len(body), 8):
        await response.write(body[i : i + 8])
        await asyncio.sleep(0.2)
    return response


async def _serve(handler: object) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("call", ["stream", "generate"])
async def test_timeout_s_bounds_the_whole_request_not_each_read(call: str) -> None:
    runner, url = await _serve(_trickle if call == "stream" else _slow_json)
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, timeout_s=0.6, max_concurrency=1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(TimeoutError):
            if call == "stream":
                await _collect(llm.stream(MESSAGES))
            else:
                await llm.generate(MESSAGES)
        assert loop.time() - started < 2.0
        assert not llm._slots.locked()  # the slot is free for the next request
    finally:
        await llm.aclose()
        await runner.cleanup()


async def test_a_whole_completion_labelled_as_an_event_stream_is_answered(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    body = {"choices": [{"message": {"role": "assistant", "content": "whole answer"}, "finish_reason": "stop"}]}
    server.raw = (200, "text/event-stream", json.dumps(body, indent=1))
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url))
    assert await _collect(llm.stream(MESSAGES)) == ["whole answer"]
    # Keep-alive comments alone and then the end of the body are still a stream cut short.
    server.raw = (200, "text/event-stream", ": ping\n\n: ping\n\n")
    with pytest.raises(LLMUnavailableError, match="without finishing the reply"):
        await _collect(llm.stream(MESSAGES))
    await llm.aclose()


async def test_a_byte_order_mark_does_not_hide_the_first_event(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    first = {"choices": [{"delta": {"content": "An "}}]}
    last = {"choices": [{"delta": {"content": "answer."}, "finish_reason": "stop"}]}
    server.sse = [f"\ufeffdata: {json.dumps(first)}\n\n".encode(), f"data: {json.dumps(last)}\n\n".encode()]
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url))
    assert await _collect(llm.stream(MESSAGES)) == ["An ", "answer."]
    await llm.aclose()


async def test_a_stream_dropped_without_aclose_frees_its_slot(fake: tuple[FakeOpenAI, str]) -> None:
    _, url = fake
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, max_concurrency=1, max_queue=1))
    pieces = llm.stream(MESSAGES)
    assert await anext(pieces)
    assert llm._slots.locked()
    del pieces
    gc.collect()
    # asyncio closes a dropped async generator in a task of its own.
    for _ in range(20):
        if not llm._slots.locked():
            break
        await asyncio.sleep(0)
    assert not llm._slots.locked()
    assert (await asyncio.wait_for(llm.generate(MESSAGES), timeout=5)).text
    await llm.aclose()


async def test_an_old_vllm_error_event_mid_stream_is_not_a_shorter_answer(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    error = {"object": "error", "message": "CUDA out of memory", "type": "InternalServerError", "code": 500}
    server.sse = [
        f"data: {json.dumps({'choices': [{'delta': {'content': 'Half an '}}]})}\n\n".encode(),
        f"data: {json.dumps(error)}\n\n".encode(),
        b"data: [DONE]\n\n",
    ]
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url))
    with pytest.raises(LLMUnavailableError, match="CUDA out of memory"):
        await _collect(llm.stream(MESSAGES))
    await llm.aclose()


def test_a_huge_body_is_previewed_from_its_head() -> None:
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", api_key=SecretStr(KEY)))
    preview = llm._preview("<html>" + "x " * 1_000_000 + KEY)
    assert preview.startswith("<html>x x") and preview.endswith("…") and len(preview) == PREVIEW_CHARS + 1
    assert llm._preview("short body") == "short body" and llm._preview(" \n") == "(empty body)"

"""OpenAI-compatible backend against a local fake server; the bundled GGUF model for real."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.config import LLMSettings
from bot.ml import ChatMessage, LLMBusyError
from brain.qa.llm.factory import create_llm
from brain.qa.llm.openai_backend import OpenAICompatibleLLM

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "What is asyncio?")]


class FakeOpenAI:
    """/v1/chat/completions with canned answers, SSE streaming and error modes."""

    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []
        self.status = 200
        self.gate: asyncio.Event | None = None
        self.sse: list[bytes] | None = None  # raw SSE lines to send instead of the canned stream

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        if self.gate is not None:
            await self.gate.wait()
        if self.status != 200:
            return web.json_response({"error": {"message": "nope"}}, status=self.status)
        if not body.get("stream"):
            return web.json_response(
                {
                    "choices": [
                        {"message": {"role": "assistant", "content": "An event loop library."}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 5},
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if self.sse is not None:
            for line in self.sse:
                await response.write(line)
            return response
        for piece in ["An ", "event ", "loop."]:
            chunk = {"choices": [{"delta": {"content": piece}}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    server = FakeOpenAI()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


async def test_generate_and_stream(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    llm = create_llm(
        LLMSettings(
            backend="openai", base_url=url, openai_model="qwen", api_key=SecretStr("sk-test-123456789012345678")
        )
    )
    assert isinstance(llm, OpenAICompatibleLLM)
    result = await llm.generate(MESSAGES, max_new_tokens=32, stop=["\n\n"])
    assert result.text == "An event loop library." and result.completion_tokens == 5
    assert server.requests[0]["model"] == "qwen" and server.requests[0]["max_tokens"] == 32
    assert server.requests[0]["messages"][1] == {"role": "user", "content": "What is asyncio?"}  # type: ignore[index]
    pieces = [p async for p in llm.stream(MESSAGES, max_new_tokens=8)]
    assert pieces == ["An ", "event ", "loop."]
    await llm.aclose()


async def test_server_errors_and_capacity(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, max_concurrency=1, max_queue=1))
    server.status = 503
    with pytest.raises(LLMBusyError):
        await llm.generate(MESSAGES)
    server.status = 500
    with pytest.raises(RuntimeError, match="500"):
        await llm.generate(MESSAGES)
    server.status = 200
    server.gate = asyncio.Event()
    first = asyncio.create_task(llm.generate(MESSAGES))
    second = asyncio.create_task(llm.generate(MESSAGES))  # waits for the single slot
    await asyncio.sleep(0.05)
    with pytest.raises(LLMBusyError):
        await llm.generate(MESSAGES)  # slot busy and the queue (1) is full
    server.gate.set()
    assert (await first).text and (await second).text
    await llm.aclose()


async def test_timeout_is_reported(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    server.gate = asyncio.Event()
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, timeout_s=0.2))
    with pytest.raises(TimeoutError):
        await llm.generate(MESSAGES)
    server.gate.set()
    await llm.aclose()


async def test_stream_survives_odd_lines_and_reports_errors(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, max_concurrency=1))
    good = {"choices": [{"delta": {"content": "h\u00e9 \U0001f600"}}]}
    server.sse = [
        b": keep-alive\n\n",
        b"event: ping\n",
        b"data: {not json\n\n",
        b"data: [1, 2]\n\n",
        f"data: {json.dumps(good)}\n\n".encode(),
        b'data: {"choices": [{"delta": {}}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    assert [p async for p in llm.stream(MESSAGES)] == ["h\u00e9 \U0001f600"]
    server.sse = [f"data: {json.dumps(good)}\n\n".encode(), b'data: {"error": {"message": "out of memory"}}\n\n']
    with pytest.raises(RuntimeError, match="out of memory"):
        _ = [p async for p in llm.stream(MESSAGES)]
    server.sse = None
    server.status = 429
    with pytest.raises(LLMBusyError):
        _ = [p async for p in llm.stream(MESSAGES)]
    server.status = 200

    async def collect() -> list[str]:
        return [p async for p in llm.stream(MESSAGES)]

    # The single slot was released after each failure, or this would wait forever.
    assert await asyncio.wait_for(collect(), timeout=10) == ["An ", "event ", "loop."]
    await llm.aclose()


@pytest.mark.slow
async def test_bundled_smollm2_answers_and_batches_concurrent_requests(
    capfd: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    llm = create_llm(LLMSettings(max_new_tokens=8, batch_window_ms=200))
    questions = ["What is Python?", "What is a list?", "Name a web framework."]
    results = await asyncio.gather(*(llm.generate([ChatMessage("user", q)], max_new_tokens=6) for q in questions))
    assert all(r.text.strip() and 1 <= r.completion_tokens <= 6 for r in results)
    batcher = llm._batcher  # type: ignore[attr-defined]
    assert batcher.batches_run == 1 and batcher.largest_batch == 3
    streamed = [p async for p in llm.stream([ChatMessage("user", "Say hi")], max_new_tokens=4)]
    assert "".join(streamed).strip()
    await llm.aclose()  # type: ignore[attr-defined]
    # Loading and decoding stay quiet: the console chat shares the terminal with them. (transformers'
    # own logger writes to stderr and says things once per process, so the FutureWarning raised on
    # every call with the old keyword is the dependable check.)
    err = capfd.readouterr().err
    assert "Converting and de-quantizing" not in err
    noise = [str(w.message) for w in recwarn]
    assert not [n for n in noise if "past_key_values" in n], noise

"""OpenAI-compatible backend against a local fake server; the bundled GGUF model for real."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.config import LLMSettings
from bot.ml import ChatMessage, LLMBusyError
from brain.qa.llm.errors import LLMUnavailableError
from brain.qa.llm.factory import create_llm
from brain.qa.llm.openai_backend import OpenAICompatibleLLM
from tests.unit.llm.fake_openai import FakeOpenAI, refused_url, serve_fake_openai

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "What is asyncio?")]


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    async with serve_fake_openai() as served:
        yield served


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
        b"data:\n\n",
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


def sse_piece(text: str) -> bytes:
    return f"data: {json.dumps({'choices': [{'delta': {'content': text}}]})}\n\n".encode()


FINISHED = [b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\n', b"data: [DONE]\n\n"]


@pytest.mark.parametrize(
    "bad",
    [
        b'data: {"choices": [{"delta": {"content": "asyncio.run(main())"\n\n',  # cut JSON
        b"data: [1, 2]\n\n",
        b'data: {"choices": [{"delta": {"content": 7}}]}\n\n',
    ],
)
async def test_a_malformed_stream_event_is_an_error_not_a_hole_in_the_reply(
    fake: tuple[FakeOpenAI, str], bad: bytes
) -> None:
    server, url = fake
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, max_concurrency=1))
    # Skipped, this gave ["Use ", " to start."]: a whole-looking answer with its middle missing.
    server.sse = [sse_piece("Use "), bad, sse_piece(" to start."), *FINISHED]
    got: list[str] = []
    with pytest.raises(LLMUnavailableError, match="not a completion chunk after 1 pieces") as caught:
        await asyncio.wait_for(_collect(llm.stream(MESSAGES), into=got), timeout=10)
    assert got == ["Use "] and "\n" not in str(caught.value)
    # Nothing but garbage and [DONE] gave an empty reply and no error.
    server.sse = [b"data: {garbage\n\n", b"data: [DONE]\n\n"]
    with pytest.raises(LLMUnavailableError, match=r"after 0 pieces: \{garbage"):
        await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10)
    await llm.aclose()


async def test_content_given_as_a_list_of_parts_is_its_text(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, max_concurrency=1))
    parts = [
        {"type": "text", "text": "Use "},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "text", "text": "a venv."},
    ]
    whole = {"choices": [{"message": {"role": "assistant", "content": parts}, "finish_reason": "stop"}]}
    server.raw = (200, "application/json", json.dumps(whole))
    assert (await llm.generate(MESSAGES)).text == "Use a venv."  # was the list's Python repr
    assert await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10) == ["Use a venv."]
    server.raw = None
    server.sse = [f"data: {json.dumps({'choices': [{'delta': {'content': parts}}]})}\n\n".encode(), *FINISHED]
    assert await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10) == ["Use a venv."]
    server.raw = (200, "application/json", json.dumps({"choices": [{"message": {"content": {"text": "?"}}}]}))
    with pytest.raises(LLMUnavailableError, match="not a chat completion"):
        await llm.generate(MESSAGES)
    await llm.aclose()


async def test_more_stop_strings_than_the_api_takes_are_cut_with_one_warning(
    fake: tuple[FakeOpenAI, str], caplog: pytest.LogCaptureFixture
) -> None:
    server, url = fake
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url))
    stops = ["\n\n", "Q:", "###", "</s>", "User:", "Sources:"]
    with caplog.at_level(logging.WARNING):
        await llm.generate(MESSAGES, stop=stops)
        await _collect(llm.stream(MESSAGES, stop=stops))
    assert [r["stop"] for r in server.requests] == [stops[:4], stops[:4]]
    [warning] = [r.getMessage() for r in caplog.records if "stop strings" in r.getMessage()]
    assert "at most 4 stop strings; 6 given" in warning
    await llm.aclose()


KEY = "sk-test-123456789012345678"
MODEL_MISSING = {"object": "error", "message": "The model `gpt-x` does not exist.", "type": "NotFoundError"}
# What a broken or misconfigured server answers, and what the error must say about it.
BROKEN: dict[str, tuple[tuple[int, str, str], str]] = {
    "server error": ((500, "text/plain", "Internal Server Error"), "answered HTTP 500: Internal Server Error"),
    "unknown model": (
        (404, "application/json", json.dumps(MODEL_MISSING)),
        "answered HTTP 404 (check llm.base_url and llm.openai_model)",
    ),
    "key echoed": ((401, "application/json", json.dumps({"error": f"bad key {KEY}"})), "answered HTTP 401"),
    "html page": ((200, "text/html", "<html>\n<body>proxy error</body></html>"), "not JSON: <html> <body>proxy"),
    "json list": ((200, "application/json", "[1, 2]"), "not a chat completion: [1, 2]"),
    "no choices": ((200, "application/json", '{"choices": []}'), "not a chat completion"),
    "error with 200": ((200, "application/json", '{"error": {"message": "model crashed"}}'), "model crashed"),
}


@pytest.mark.parametrize("case", list(BROKEN))
async def test_a_failing_or_nonsense_answer_is_one_unavailable_error(fake: tuple[FakeOpenAI, str], case: str) -> None:
    server, url = fake
    server.raw, expected = BROKEN[case]
    # Credentials in the URL or the key must not reach the message: it is logged and printed.
    with_password = url.replace("http://", "http://admin:hunter2@")
    settings = LLMSettings(backend="openai", base_url=with_password, api_key=SecretStr(KEY), max_concurrency=1)
    llm = create_llm(settings)
    with pytest.raises(LLMUnavailableError) as caught:
        await llm.generate(MESSAGES)
    message = str(caught.value)
    assert expected in message and f"{url}/chat/completions" in message, message
    assert "hunter2" not in message and KEY not in message and "\n" not in message
    # The stream says the same (a 200 body that is not an event stream is quoted, not reported as a
    # stream that ended early), and the single slot was released each time (or this would hang).
    with pytest.raises(LLMUnavailableError) as caught:
        await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10)
    assert expected in str(caught.value), caught.value
    server.raw = None
    assert (await asyncio.wait_for(llm.generate(MESSAGES), timeout=10)).text
    await llm.aclose()  # type: ignore[attr-defined]


async def test_a_wrong_key_names_the_setting_and_is_asked_once(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    server.raw = (401, "application/json", json.dumps({"error": {"message": "Incorrect API key provided"}}))
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, api_key=SecretStr(KEY)))
    with pytest.raises(LLMUnavailableError, match=r"HTTP 401 \(check llm.api_key") as caught:
        await llm.generate(MESSAGES)
    assert "OPENAI_API_KEY" in str(caught.value) and KEY not in str(caught.value)
    with pytest.raises(LLMUnavailableError, match=r"HTTP 401 \(check llm.api_key"):
        await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10)
    assert len(server.requests) == 2  # one each: a wrong key is not retried
    await llm.aclose()


async def test_a_server_that_ignores_stream_true_is_answered_from_its_whole_completion(
    fake: tuple[FakeOpenAI, str],
) -> None:
    server, url = fake
    whole = {"choices": [{"message": {"role": "assistant", "content": "Use a venv."}, "finish_reason": "stop"}]}
    # Pretty-printed, as some proxies send it: the completion spans several lines.
    server.raw = (200, "application/json", json.dumps(whole, indent=2))
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, max_concurrency=1))
    assert await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10) == ["Use a venv."]
    assert server.requests[0]["stream"] is True
    await llm.aclose()


async def test_stream_protocol_shapes_servers_send(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url + "/", max_concurrency=1))
    events = [
        {"choices": [{"delta": {"role": "assistant", "content": None}}]},  # role first, content null
        {"choices": [{"delta": {"reasoning_content": "The user wants..."}}]},  # a reasoning model thinks
        {"choices": [{"delta": {"content": "Use "}}]},
        {"choices": [{"delta": {"content": "pip."}, "finish_reason": "length"}]},
        {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}},  # usage-only chunk
    ]
    body = b"".join(f"data: {json.dumps(e)}\r\n\r\n".encode() for e in events) + b"data: [DONE]\n\n"
    # Lines split across chunks of the HTTP body, as TCP delivers them.
    server.sse = [body[i : i + 7] for i in range(0, len(body), 7)]
    assert await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10) == ["Use ", "pip."]
    await llm.aclose()


async def test_an_event_may_split_its_data_over_lines_and_a_server_may_run_events_together(
    fake: tuple[FakeOpenAI, str],
) -> None:
    """SSE joins an event's ``data:`` lines with a line break: read line by line, the first half of
    the JSON was "not a completion chunk" and the member was told the model is unavailable. A server
    that ends no event with a blank line is still read event by event."""
    server, url = fake
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url + "/", max_concurrency=1))
    server.sse = [
        b'data: {"choices": [{"delta":\n',
        b'data:  {"content": "Use pip"}}]}\n\n',
        b'data: {"choices": [{"delta": {"content": "."}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n',
    ]
    assert await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10) == ["Use pip", "."]
    run_together = [{"choices": [{"delta": {"content": w}}]} for w in ("Use ", "pip")]
    server.sse = [f"data: {json.dumps(e)}\n".encode() for e in run_together] + [b"data: [DONE]\n"]
    assert await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10) == ["Use ", "pip"]
    await llm.aclose()


async def test_an_unreachable_server_is_unavailable() -> None:
    with refused_url() as url:
        llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, timeout_s=5))
        with pytest.raises(LLMUnavailableError, match="cannot be reached: ConnectError"):
            await llm.generate(MESSAGES)
        with pytest.raises(LLMUnavailableError, match="cannot be reached: ConnectError"):
            await _collect(llm.stream(MESSAGES))
        await llm.aclose()


async def test_a_stream_cut_short_is_an_error_not_a_shorter_answer(fake: tuple[FakeOpenAI, str]) -> None:
    server, url = fake
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=url, max_concurrency=1))
    got: list[str] = []

    def piece(text: str) -> bytes:
        return f"data: {json.dumps({'choices': [{'delta': {'content': text}}]})}\n\n".encode()

    # The body ends cleanly, but the server never said the reply was complete.
    server.sse = [piece("Run "), piece("make ")]
    with pytest.raises(LLMUnavailableError, match="after 2 pieces without finishing"):
        await asyncio.wait_for(_collect(llm.stream(MESSAGES), into=got), timeout=10)
    assert got == ["Run ", "make "]  # what came was seen: a caller may show it, marked as partial
    # The connection drops mid-body.
    server.drop = True
    with pytest.raises(LLMUnavailableError, match="broke off the stream"):
        await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10)
    # Ending with a finish_reason and no [DONE] (some servers do) is a finished reply.
    server.drop = False
    server.sse = [piece("Done."), b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\n']
    assert await asyncio.wait_for(_collect(llm.stream(MESSAGES)), timeout=10) == ["Done."]
    await llm.aclose()


async def _collect(pieces: AsyncIterator[str], *, into: list[str] | None = None) -> list[str]:
    out = [] if into is None else into
    async for p in pieces:
        out.append(p)
    return out


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

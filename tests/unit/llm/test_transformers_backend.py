"""The local backend's request path on a tiny random-weight Llama: timeouts, cancellation, limits, bad input."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import jinja2
import pytest
import torch

from bot.config import LLMSettings
from bot.ml import LLM, ChatMessage, LLMBusyError
from brain.qa.llm.errors import LLMUnavailableError
from brain.qa.llm.factory import create_llm, warmup
from brain.qa.llm.scripted import ScriptedBackend
from brain.qa.llm.transformers_backend import TransformersLLM, cpu_threads, fit_prompt
from tests.unit.llm.conftest import CONTEXT


class CharTokenizer:
    """A chat tokenizer with the transformers call shapes: one token per character (ids 2..63)."""

    pad_token_id = 0
    eos_token_id = 1

    def apply_chat_template(self, chat: list[dict[str, str]], **_: Any) -> list[int]:
        text = "".join(f"<{m['role']}>{m['content']}" for m in chat) + "<assistant>"
        return [2 + ord(c) % 62 for c in text]

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(ord("a") + i % 26) for i in ids)


class NoSystemTokenizer(CharTokenizer):
    """A template without a system role, failing as Gemma's does (``raise_exception`` in jinja)."""

    def __init__(self) -> None:
        self.chats: list[list[dict[str, str]]] = []

    def apply_chat_template(self, chat: list[dict[str, str]], **kwargs: Any) -> list[int]:
        self.chats.append(chat)
        if any(m["role"] == "system" for m in chat):
            raise jinja2.exceptions.TemplateError("System role not supported")
        return super().apply_chat_template(chat, **kwargs)


class NoTemplateTokenizer(CharTokenizer):
    """A base model's tokenizer: no chat template at all (transformers raises ValueError)."""

    def apply_chat_template(self, chat: list[dict[str, str]], **kwargs: Any) -> list[int]:
        raise ValueError("Cannot use chat template functions because tokenizer.chat_template is not set")


class GatedModel:
    """The tiny model behind a gate: forward passes block until the test opens it (no sleeps)."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.device = model.device
        self.forward = model.forward  # what the batcher inspects for the KV-cache keyword
        self.config = model.config
        self.generation_config = model.generation_config

    def __call__(self, **kwargs: Any) -> Any:
        self.entered.set()
        self.gate.wait(timeout=30)
        return self._model(**kwargs)


def local(model: Any, **settings: Any) -> TransformersLLM:
    return TransformersLLM(LLMSettings(**settings), tokenizer=CharTokenizer(), model=model)


QUESTION = [ChatMessage("user", "How do I pin a message?")]


async def test_generate_and_stream_agree(tiny_model: Any) -> None:
    llm = local(tiny_model, batch_window_ms=1)
    assert isinstance(llm, LLM)
    result = await llm.generate(QUESTION, max_new_tokens=6)
    streamed = "".join([p async for p in llm.stream(QUESTION, max_new_tokens=6)])
    assert result.completion_tokens <= 6 and result.prompt_tokens > 20
    assert streamed == result.text
    await llm.aclose()


async def test_a_closed_backend_answers_the_next_request_with_a_new_batcher(tiny_model: Any) -> None:
    llm = local(tiny_model, batch_window_ms=1)
    first = await llm.generate(QUESTION, max_new_tokens=4)
    await llm.aclose()
    again = await llm.generate(QUESTION, max_new_tokens=4)
    assert again.text == first.text  # greedy, same model: the same answer
    await llm.aclose()


async def test_timeout_raises_and_frees_the_slot(tiny_model: Any) -> None:
    gated = GatedModel(tiny_model)
    llm = local(gated, timeout_s=0.05, batch_window_ms=0)
    with pytest.raises(TimeoutError):
        await llm.generate(QUESTION, max_new_tokens=50)
    batcher = llm._batcher
    assert batcher is not None
    gated.gate.set()
    # The abandoned request leaves at the next step instead of decoding its 50 tokens.
    llm.settings = LLMSettings(timeout_s=30, batch_window_ms=0)
    after = await llm.generate(QUESTION, max_new_tokens=3)
    assert after.completion_tokens <= 3
    assert batcher.finished["cancelled"] == 1
    await llm.aclose()


async def test_cancelled_caller_frees_the_slot(tiny_model: Any) -> None:
    gated = GatedModel(tiny_model)
    llm = local(gated, batch_window_ms=0, max_batch=1, max_queue=1)
    expired = asyncio.create_task(llm.generate(QUESTION, max_new_tokens=100), name="expired-interaction")
    await asyncio.to_thread(gated.entered.wait, 30)  # the request is in the running batch
    queued = asyncio.create_task(llm.generate(QUESTION, max_new_tokens=2))
    await asyncio.sleep(0)  # one turn: the queued task submits and starts waiting
    assert llm._batcher is not None and llm._batcher.waiting == 1
    with pytest.raises(LLMBusyError):  # one running, one waiting: full
        await llm.generate(QUESTION, max_new_tokens=2)
    expired.cancel()
    gated.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await expired
    assert (await queued).completion_tokens <= 2
    assert llm._batcher.finished["cancelled"] == 1
    await llm.aclose()


async def test_closing_a_stream_cancels_its_request(tiny_model: Any) -> None:
    llm = local(tiny_model, batch_window_ms=0)
    stream = llm.stream(QUESTION, max_new_tokens=100)
    first = await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    assert first
    await asyncio.wait_for(llm.generate(QUESTION, max_new_tokens=2), timeout=30)
    await llm.aclose()


async def test_closing_the_backend_mid_reply_fails_the_request_instead_of_cutting_it_short(tiny_model: Any) -> None:
    gated = GatedModel(tiny_model)
    llm = local(gated, batch_window_ms=0, max_batch=1)
    answering = asyncio.create_task(llm.generate(QUESTION, max_new_tokens=50))
    await asyncio.to_thread(gated.entered.wait, 30)  # the first request is decoding
    streaming = llm.stream(QUESTION, max_new_tokens=50)
    queued = asyncio.create_task(_collect(streaming))  # waits behind it (max_batch=1)
    await asyncio.sleep(0)  # one turn: the stream submits and starts waiting
    assert llm._batcher is not None and llm._batcher.waiting == 1
    await llm.aclose()  # shutdown while both are in flight
    gated.gate.set()
    # Neither caller gets a shortened reply passed off as the whole one.
    with pytest.raises(LLMUnavailableError, match="shut down before finishing"):
        await answering
    with pytest.raises(LLMUnavailableError, match="shut down before finishing"):
        await queued


async def _collect(pieces: Any) -> list[str]:
    return [p async for p in pieces]


async def test_a_template_without_a_system_role_gets_the_system_text_in_the_user_turn(tiny_model: Any) -> None:
    tokenizer = NoSystemTokenizer()
    llm = TransformersLLM(LLMSettings(batch_window_ms=0), tokenizer=tokenizer, model=tiny_model)
    messages = [ChatMessage("system", "Be brief."), *QUESTION]
    result = await llm.generate(messages, max_new_tokens=2)
    assert result.completion_tokens <= 2
    assert tokenizer.chats[-1] == [{"role": "user", "content": "Be brief.\n\nHow do I pin a message?"}]
    await llm.aclose()


async def test_a_tokenizer_without_a_chat_template_is_unavailable(tiny_model: Any) -> None:
    llm = TransformersLLM(LLMSettings(batch_window_ms=0), tokenizer=NoTemplateTokenizer(), model=tiny_model)
    with pytest.raises(LLMUnavailableError, match=r"cannot format a chat: ValueError: .*chat_template is not set"):
        await llm.generate(QUESTION, max_new_tokens=2)
    await llm.aclose()


async def test_huge_and_odd_input(tiny_model: Any) -> None:
    llm = local(tiny_model, batch_window_ms=0)
    huge = [ChatMessage("system", "rules"), ChatMessage("user", "\u202e\U0001f600 zalgo a\u0301\u0301 " * 5000)]
    result = await llm.generate(huge, max_new_tokens=10_000)
    # Prompt cut to fit the context; the reply capped to half of it.
    assert result.prompt_tokens + result.completion_tokens <= CONTEXT
    with pytest.raises(ValueError):
        await llm.generate([], max_new_tokens=2)
    await llm.aclose()


async def test_a_model_that_fails_to_load_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # load_model sets these process-wide; keep the test from changing them for the others.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    threads = torch.get_num_threads()
    llm = create_llm(LLMSettings(model=str(tmp_path / "no-such-model")))
    try:
        with pytest.raises(LLMUnavailableError, match="no-such-model failed to load: ModelNotFoundError"):
            await llm.generate(QUESTION, max_new_tokens=2)
        with pytest.raises(LLMUnavailableError, match="failed to load"):  # warm-up meets the same error
            await warmup(llm)
        assert not llm.loaded  # type: ignore[attr-defined]
    finally:
        torch.set_num_threads(threads)


class FailingModel(GatedModel):
    """The tiny model's shape, but every forward pass fails as a GPU out of memory would."""

    def __call__(self, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA out of memory")


async def test_a_failing_generation_is_unavailable(tiny_model: Any) -> None:
    llm = local(FailingModel(tiny_model), batch_window_ms=0)
    with pytest.raises(LLMUnavailableError, match="failed to generate"):
        await llm.generate(QUESTION, max_new_tokens=2)
    with pytest.raises(LLMUnavailableError, match="failed to generate"):
        _ = [p async for p in llm.stream(QUESTION, max_new_tokens=2)]
    await llm.aclose()


def test_fit_prompt_keeps_head_and_tail() -> None:
    ids = list(range(100))
    assert fit_prompt(ids, 200) == ids
    cut = fit_prompt(ids, 40)
    assert len(cut) == 40 and cut[:10] == ids[:10] and cut[-30:] == ids[-30:]


def test_cpu_threads_policy() -> None:
    assert cpu_threads(3) == 3
    assert cpu_threads(None) >= 1


async def test_factory_scripted_and_warmup() -> None:
    llm = create_llm(LLMSettings(backend="scripted"))
    assert isinstance(llm, ScriptedBackend) and isinstance(llm, LLM)
    await warmup(llm)
    assert (await llm.generate(QUESTION)).text == "NOT_FOUND"
    await llm.aclose()


async def test_warmup_loads_once(tiny_model: Any) -> None:
    llm = local(tiny_model, batch_window_ms=0)
    await warmup(llm)
    batcher = llm._batcher
    await llm.generate(QUESTION, max_new_tokens=2)
    assert batcher is not None and llm._batcher is batcher
    await llm.aclose()


async def test_prompt_lookup_is_configured_and_keeps_the_output(tiny_model: Any) -> None:
    plain = local(tiny_model, batch_window_ms=1, prompt_lookup_tokens=0)
    fast = local(tiny_model, batch_window_ms=1)  # default: on
    slow_result = await plain.generate(QUESTION, max_new_tokens=40)
    fast_result = await fast.generate(QUESTION, max_new_tokens=40)
    assert fast_result == slow_result
    batcher = await fast._ready()
    assert batcher.lookahead == LLMSettings().prompt_lookup_tokens > 0 and batcher.proposed_tokens > 0
    assert (await plain._ready()).proposed_tokens == 0
    await plain.aclose()
    await fast.aclose()


async def test_prefix_reuse_is_configured_and_keeps_the_output(tiny_model: Any) -> None:
    other = [ChatMessage("user", "How do I pin a thread?")]  # shares the chat template and "How do I pin a "
    plain = local(tiny_model, batch_window_ms=1, prefix_cache_tokens=0)
    reusing = local(tiny_model, batch_window_ms=1)  # default: on
    for messages in (QUESTION, other):
        assert await reusing.generate(messages, max_new_tokens=8) == await plain.generate(messages, max_new_tokens=8)
    assert (await reusing._ready()).reused_prompt_tokens >= 16
    assert (await plain._ready()).reused_prompt_tokens == 0
    await plain.aclose()
    await reusing.aclose()


class PacedModel(GatedModel):
    """The tiny model taking ``seconds`` per forward pass, as a loaded CPU does."""

    def __init__(self, model: Any, seconds: float) -> None:
        super().__init__(model)
        self.seconds = seconds

    def __call__(self, **kwargs: Any) -> Any:
        self.gate.wait(timeout=self.seconds)  # never set: a pause in the forward thread
        return self._model(**kwargs)


async def test_a_stream_has_one_deadline_for_the_whole_request(tiny_model: Any) -> None:
    # Each piece came within timeout_s, so a 0.5 s limit let 20 pieces of 0.1 s stream for 2 s.
    paced = PacedModel(tiny_model, 0.1)
    llm = local(paced, timeout_s=0.5, batch_window_ms=0, prompt_lookup_tokens=0)
    got: list[str] = []
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        async for piece in llm.stream(QUESTION, max_new_tokens=20):
            got.append(piece)
    assert asyncio.get_running_loop().time() - started < 1.5
    assert 1 <= len(got) < 20  # what came before the deadline was seen
    # The abandoned request leaves the batch at its next step, as generate()'s does.
    llm.settings = LLMSettings(timeout_s=30, batch_window_ms=0)
    assert (await llm.generate(QUESTION, max_new_tokens=1)).completion_tokens <= 1
    assert llm._batcher is not None and llm._batcher.finished["cancelled"] == 1
    await llm.aclose()


async def test_pieces_decoded_before_the_deadline_are_handed_over_after_it(tiny_model: Any) -> None:
    # A slow reader (a chat edited piece by piece, rate-limited) must not lose a finished reply.
    llm = local(tiny_model, timeout_s=0.3, batch_window_ms=0)
    whole = await llm.generate(QUESTION, max_new_tokens=8)
    stream = llm.stream(QUESTION, max_new_tokens=8)
    got = [await anext(stream)]
    # The reader dawdles past the deadline, by which time the model has decoded the whole reply.
    await asyncio.sleep(0.8)
    batcher = llm._batcher
    assert batcher is not None and sum(batcher.finished.values()) == 2
    got += [p async for p in stream]
    assert "".join(got) == whole.text
    await llm.aclose()

"""The micro-batcher on a tiny random-weight Llama (fast on CPU): batched == sequential, limits, streaming."""

from __future__ import annotations

import asyncio

import pytest
import torch
from transformers import LlamaForCausalLM

from bot.ml import LLMBusyError
from brain.qa.llm.batcher import DONE, MicroBatcher


class ToyTokenizer:
    """Token t -> the letter chr(ord('a') + t % 26); enough to test stop strings and streaming."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(ord("a") + i % 26) for i in ids)


PROMPTS = [[5, 9, 13], [7, 2, 40, 41, 42, 43, 3], [11], [20, 21, 22, 23]]


def greedy_reference(model: LlamaForCausalLM, prompt: list[int], n: int) -> list[int]:
    ids = torch.tensor([prompt])
    out: list[int] = []
    with torch.inference_mode():
        for _ in range(n):
            logits = model(input_ids=ids).logits
            token = int(logits[0, -1].argmax())
            out.append(token)
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return out


async def test_batched_output_equals_sequential_greedy(tiny_model: LlamaForCausalLM) -> None:
    batcher = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0, window_ms=50, max_batch=8)
    lengths = [6, 3, 8, 5]  # per-request max_new_tokens; rows leave the batch at different steps
    requests = [batcher.submit(p, max_new_tokens=n, ignore_eos=True) for p, n in zip(PROMPTS, lengths, strict=True)]
    await asyncio.gather(*(batcher.wait(r) for r in requests))
    assert batcher.batches_run == 1 and batcher.largest_batch == 4
    for request, prompt, n in zip(requests, PROMPTS, lengths, strict=True):
        assert request.token_ids == greedy_reference(tiny_model, prompt, n)
        assert request.finish_reason == "length"
    await batcher.close()


async def test_stop_strings_and_streaming_order(tiny_model: LlamaForCausalLM) -> None:
    batcher = MicroBatcher(tiny_model, ToyTokenizer(), eos_ids=[], pad_id=0, window_ms=1)
    reference = greedy_reference(tiny_model, PROMPTS[0], 8)
    text = ToyTokenizer().decode(reference)
    stop = text[3:5]
    request = batcher.submit(PROMPTS[0], max_new_tokens=8, stop=[stop], ignore_eos=True)
    pieces: list[str] = []
    while (piece := await request.pieces.get()) is not DONE:
        pieces.append(piece)
    assert "".join(pieces) == request.text == text[: text.find(stop)]
    assert request.finish_reason == "stop"
    await batcher.close()


async def test_full_queue_answers_busy(tiny_model: LlamaForCausalLM) -> None:
    batcher = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0, window_ms=10_000, max_batch=8, max_queue=2)
    batcher.submit([1, 2], max_new_tokens=2)
    batcher.submit([1, 2], max_new_tokens=2)
    with pytest.raises(LLMBusyError):
        batcher.submit([1, 2], max_new_tokens=2)
    await batcher.close()


async def test_cancelled_request_frees_its_slot(tiny_model: LlamaForCausalLM) -> None:
    batcher = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0, window_ms=20, max_batch=8)
    long = batcher.submit(PROMPTS[1], max_new_tokens=60, ignore_eos=True)
    short = batcher.submit(PROMPTS[0], max_new_tokens=4, ignore_eos=True)
    waiter = asyncio.create_task(batcher.wait(long))
    await batcher.wait(short)
    waiter.cancel()  # the interaction expired
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(long.done.wait(), timeout=30)
    assert long.finish_reason == "cancelled" and len(long.token_ids) < 60
    await batcher.close()


async def test_eos_ends_a_request(tiny_model: LlamaForCausalLM) -> None:
    reference = greedy_reference(tiny_model, PROMPTS[2], 5)
    batcher = MicroBatcher(tiny_model, None, eos_ids=[reference[2]], pad_id=0, window_ms=1)
    request = batcher.submit(PROMPTS[2], max_new_tokens=5)
    await batcher.wait(request)
    assert request.finish_reason == "stop" and request.token_ids == reference[: reference.index(reference[2])]
    await batcher.close()


async def test_late_request_joins_the_running_batch_and_matches_greedy(tiny_model: LlamaForCausalLM) -> None:
    batcher = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0, window_ms=1, max_batch=8)
    early = batcher.submit(PROMPTS[1], max_new_tokens=12, ignore_eos=True)
    for _ in range(3):  # the early batch is decoding: its tokens are streaming
        await early.pieces.get()
    late = batcher.submit(PROMPTS[3], max_new_tokens=25, ignore_eos=True)
    # The early request leaves first, so the late one then decodes over a trimmed cache.
    await asyncio.gather(batcher.wait(early), batcher.wait(late))
    assert batcher.admitted_mid_batch == 1 and batcher.batches_run == 1 and batcher.largest_batch == 2
    assert early.token_ids == greedy_reference(tiny_model, PROMPTS[1], 12)
    assert late.token_ids == greedy_reference(tiny_model, PROMPTS[3], 25)
    await batcher.close()


async def test_cancelled_waiters_do_not_make_the_queue_busy(tiny_model: LlamaForCausalLM) -> None:
    batcher = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0, window_ms=10_000, max_batch=8, max_queue=1)
    gone = batcher.submit([1, 2], max_new_tokens=2)
    gone.cancelled = True  # its caller gave up before the batch started
    live = batcher.submit([3, 4], max_new_tokens=2)
    assert gone.finish_reason == "cancelled" and batcher.waiting == 1
    await batcher.close()
    assert live.finish_reason == "cancelled"


async def test_empty_prompt_is_rejected(tiny_model: LlamaForCausalLM) -> None:
    batcher = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0)
    with pytest.raises(ValueError):
        batcher.submit([], max_new_tokens=2)
    await batcher.close()

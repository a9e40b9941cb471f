"""The micro-batcher on a tiny random-weight Llama (fast on CPU): batched == sequential, limits, streaming."""

from __future__ import annotations

import asyncio

import pytest
import torch
from transformers import LlamaForCausalLM

from bot.ml import LLMBusyError
from brain.qa.llm.batcher import DONE, MicroBatcher, prompt_lookup
from tests.unit.llm.conftest import make_tiny_llama


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


def test_prompt_lookup_proposes_what_followed_the_latest_match() -> None:
    assert prompt_lookup([1, 2, 3, 9, 1, 2, 3, 8, 7, 1, 2, 3], 2) == [8, 7]  # latest match of (1, 2, 3)
    assert prompt_lookup([4, 5, 6, 4, 5], 8) == [6, 4, 5]  # (4, 5) matched; proposal runs to the end
    assert prompt_lookup([1, 2, 3, 4, 2, 9, 3, 4], 3) == [2, 9, 3]  # the longest n-gram is tried first
    assert prompt_lookup([1, 2, 3, 4], 4) == []  # no repeated bigram
    assert prompt_lookup([7, 7], 4) == []  # too short to look anything up
    assert prompt_lookup([5, 6, 5, 6], 1) == [5]


async def test_prompt_lookup_keeps_the_greedy_output_in_fewer_steps(tiny_model: LlamaForCausalLM) -> None:
    plain = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0, window_ms=1)
    fast = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0, window_ms=1, lookahead=8, adaptive_speculation=False)
    for prompt, n in zip(PROMPTS, [60, 40, 17, 5], strict=True):
        slow_one = plain.submit(prompt, max_new_tokens=n, ignore_eos=True)
        await plain.wait(slow_one)
        fast_one = fast.submit(prompt, max_new_tokens=n, ignore_eos=True)
        await fast.wait(fast_one)
        assert fast_one.token_ids == slow_one.token_ids == greedy_reference(tiny_model, prompt, n)
        assert fast_one.finish_reason == "length" and len(fast_one.token_ids) == n
    assert fast.accepted_tokens > 0 and fast.proposed_tokens >= fast.accepted_tokens
    assert fast.forward_steps < plain.forward_steps
    await plain.close()
    await fast.close()


async def test_speculation_that_does_not_pay_is_mostly_skipped_and_output_stays_greedy(
    tiny_model: LlamaForCausalLM,
) -> None:
    always = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0, window_ms=1, lookahead=8, adaptive_speculation=False)
    gated = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0, window_ms=1, lookahead=8)
    assert gated.speculation is not None
    # As timed on a CPU with half-precision single-row steps: a speculative step far dearer per token.
    gated.speculation.speculative_cost, gated.speculation.plain_cost = 10.0, 0.001
    for batcher in (always, gated):
        request = batcher.submit(PROMPTS[0], max_new_tokens=60, ignore_eos=True)
        await batcher.wait(request)
        assert request.token_ids == greedy_reference(tiny_model, PROMPTS[0], 60)
    assert always.proposed_tokens > 0
    # Only the exploration steps (one in 16 drafts) still speculate.
    assert 0 < gated.proposed_tokens < always.proposed_tokens / 2
    await always.close()
    await gated.close()


async def test_prompt_lookup_ends_at_eos_and_stop_strings_inside_a_proposal(tiny_model: LlamaForCausalLM) -> None:
    # PROMPTS[1] decodes "36 11 40 41 55 38 34 32 36 11 40 41 55 38 34 44 ...": the second "36 11" makes
    # the lookup propose "40 41 55 38 34 32", the model keeps five of them and picks 44 in the same step.
    prompt = PROMPTS[1]
    reference = greedy_reference(tiny_model, prompt, 40)
    eos = 44
    assert reference.index(eos) > 10
    text = ToyTokenizer().decode(reference)
    stop = text[4:13]  # completed by a token kept from a proposal
    results = []
    for lookahead in (0, 8):
        batcher = MicroBatcher(
            tiny_model,
            ToyTokenizer(),
            eos_ids=[eos],
            pad_id=0,
            window_ms=1,
            lookahead=lookahead,
            adaptive_speculation=False,
        )
        ended = batcher.submit(prompt, max_new_tokens=40)
        await batcher.wait(ended)
        stopped = batcher.submit(prompt, max_new_tokens=40, stop=[stop], ignore_eos=True)
        await batcher.wait(stopped)
        results.append([(r.token_ids, r.text, r.finish_reason) for r in (ended, stopped)])
        assert (batcher.accepted_tokens > 0) == (lookahead > 0)
        await batcher.close()
    assert results[0] == results[1]
    (ended_ids, _, ended_reason), (_, stopped_text, stopped_reason) = results[1]
    assert ended_ids == reference[: reference.index(eos)] and ended_reason == "stop"
    assert stopped_text == text[: text.find(stop)] and stopped_reason == "stop"


async def test_a_late_request_joins_a_speculating_one_and_both_stay_greedy(tiny_model: LlamaForCausalLM) -> None:
    batcher = MicroBatcher(
        tiny_model, None, eos_ids=[], pad_id=0, window_ms=1, max_batch=8, lookahead=8, adaptive_speculation=False
    )
    early = batcher.submit(PROMPTS[0], max_new_tokens=40, ignore_eos=True)
    for _ in range(8):  # the early request decodes alone, with proposals
        await early.pieces.get()
    accepted_alone = batcher.accepted_tokens
    late = batcher.submit(PROMPTS[3], max_new_tokens=25, ignore_eos=True)
    await asyncio.gather(batcher.wait(early), batcher.wait(late))
    assert accepted_alone > 0 and batcher.admitted_mid_batch == 1
    assert early.token_ids == greedy_reference(tiny_model, PROMPTS[0], 40)
    assert late.token_ids == greedy_reference(tiny_model, PROMPTS[3], 25)
    await batcher.close()


@pytest.fixture(scope="module")
def sharp_model() -> LlamaForCausalLM:
    """The tiny Llama with larger weights: its output depends on token positions, so a KV cache
    reused at the wrong positions changes what it decodes (the default tiny model barely notices)."""
    return make_tiny_llama(initializer_range=0.3)


async def test_a_prompt_reuses_the_kv_cache_of_the_prefix_it_shares_and_stays_greedy(
    sharp_model: LlamaForCausalLM,
) -> None:
    system = [(7 * i + 3) % 60 + 2 for i in range(24)]  # a "system prompt" every request opens with
    prompts = [
        [*system, 40, 41, 42],
        [*system, 50, 51],  # shares all of ``system`` with the first
        [*system[:18], 9, 9, 9, 9],  # shares 18 tokens: the remembered prefix shrinks to those
        [*system, 50, 51],  # only those 18 are remembered now
        system[:18],  # all remembered: all but its last token are reused (that one gives the logits)
        [33, 34, 35],  # shares nothing
    ]
    batcher = MicroBatcher(sharp_model, None, eos_ids=[], pad_id=0, window_ms=1, prefix_tokens=64)
    reused = []
    for prompt in prompts:
        before = batcher.reused_prompt_tokens
        request = batcher.submit(prompt, max_new_tokens=40, ignore_eos=True)
        await batcher.wait(request)
        assert request.token_ids == greedy_reference(sharp_model, prompt, 40)
        reused.append(batcher.reused_prompt_tokens - before)
    assert reused == [0, 24, 18, 18, 17, 0]
    await batcher.close()


async def test_without_prefix_reuse_nothing_is_remembered(tiny_model: LlamaForCausalLM) -> None:
    batcher = MicroBatcher(tiny_model, None, eos_ids=[], pad_id=0, window_ms=1)
    prompt = list(range(2, 30))
    for _ in range(2):
        await batcher.wait(batcher.submit(prompt, max_new_tokens=2))
    assert batcher.reused_prompt_tokens == 0
    await batcher.close()


def test_the_kv_cache_keyword_follows_the_model_forward_signature() -> None:
    from typing import Any

    from brain.qa.llm.batcher import cache_kwarg

    class New:
        def forward(self, input_ids: Any = None, cache: Any = None, **kwargs: Any) -> None: ...

    class Old:
        def forward(self, input_ids: Any = None, past_key_values: Any = None, **kwargs: Any) -> None: ...

    class Peft:  # forwards **kwargs to the model it wraps
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def forward(self, *args: Any, **kwargs: Any) -> None: ...

        def get_base_model(self) -> object:
            return self.inner

    assert cache_kwarg(New()) == "cache"
    assert cache_kwarg(Old()) == "past_key_values"
    assert cache_kwarg(Peft(New())) == "cache" and cache_kwarg(Peft(Old())) == "past_key_values"
    assert cache_kwarg(lambda **kw: None) == "past_key_values"  # nothing to inspect: the long-standing name

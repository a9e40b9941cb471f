"""One-row float16 decoding: every linear layer is swapped, ties survive, and greedy output holds."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from bot.config import LLMSettings
from bot.ml import ChatMessage
from brain.qa.llm.half_decode import HalfDecodeLinear, enable_half_decode
from brain.qa.llm.transformers_backend import TransformersLLM
from tests.unit.llm.conftest import make_tiny_llama
from tests.unit.llm.test_transformers_backend import CharTokenizer


def test_every_linear_is_swapped_and_tied_weights_stay_tied() -> None:
    model = make_tiny_llama()
    model.config.tie_word_embeddings = True
    model.tie_weights()
    linears = sum(1 for m in model.modules() if type(m) is nn.Linear)
    assert enable_half_decode(model) == linears > 0
    assert not any(type(m) is nn.Linear for m in model.modules())
    assert model.lm_head.weight is model.model.embed_tokens.weight
    # The float16 copy is a buffer outside the checkpoint: saving still writes only float32 weights.
    assert all(v.dtype == torch.float32 for v in model.state_dict().values() if v.is_floating_point())


def test_one_row_uses_the_half_copy_and_several_rows_the_float32_weights() -> None:
    torch.manual_seed(1)
    linear = nn.Linear(48, 24)
    half = HalfDecodeLinear(linear)
    one, many = torch.randn(1, 1, 48), torch.randn(2, 3, 48)
    with torch.inference_mode():
        assert torch.allclose(half(one), linear(one), atol=2e-2, rtol=1e-2)
        assert torch.equal(half(many), linear(many))
        half.weight_half.zero_()  # proves which weights each path reads
        assert torch.allclose(half(one), linear.bias.expand(1, 1, 24).to(torch.float16).float())
        assert torch.equal(half(many), linear(many))


async def test_greedy_generation_is_unchanged_by_half_decode() -> None:
    plain_model = make_tiny_llama()
    half_model = copy.deepcopy(plain_model)
    enable_half_decode(half_model)
    rows_seen: list[int] = []
    half_model.lm_head.register_forward_hook(lambda _m, args, _out: rows_seen.append(args[0].shape[-2]))
    question = [ChatMessage("user", "Why does my asyncio task never finish?")]
    results: list[Any] = []
    for model in (plain_model, half_model):
        llm = TransformersLLM(
            LLMSettings(batch_window_ms=1, prompt_lookup_tokens=0), tokenizer=CharTokenizer(), model=model
        )
        results.append(await llm.generate(question, max_new_tokens=40))
        await llm.aclose()
    assert results[0] == results[1]
    # Decoding steps really took the one-row path (the prompt's prefill keeps only its last logits).
    assert rows_seen.count(1) >= 10

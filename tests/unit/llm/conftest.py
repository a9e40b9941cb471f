"""A tiny random Llama shared by the batcher and backend tests (real transformers code, no weights)."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

# Positions the tiny model accepts: prompts longer than this must be fitted by the backend.
CONTEXT = 256


def make_tiny_llama(*, initializer_range: float = 0.02) -> LlamaForCausalLM:
    """A seeded tiny random Llama; larger ``initializer_range`` makes its output position-sensitive."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        eos_token_id=1,
        pad_token_id=0,
        initializer_range=initializer_range,
    )
    model: LlamaForCausalLM = LlamaForCausalLM(config).eval()  # type: ignore[no-untyped-call]
    return model


@pytest.fixture(scope="module")
def tiny_model() -> LlamaForCausalLM:
    return make_tiny_llama()

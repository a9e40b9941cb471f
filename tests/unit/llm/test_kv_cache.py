"""The in-place KV cache: same contents as concatenation, no whole-cache copy per step."""

from __future__ import annotations

import torch
from transformers import DynamicCache

from brain.qa.llm.batcher import cache_kwarg, returned_cache
from brain.qa.llm.kv_cache import GrowingLayer, growing_cache
from tests.unit.llm.conftest import make_tiny_llama


def states(batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 2, length, 4, generator=g), torch.randn(batch, 2, length, 4, generator=g)


def test_appends_match_concatenation_and_stay_in_one_buffer() -> None:
    layer = GrowingLayer()
    expected_k, expected_v = states(3, 5, 0)
    layer.update(expected_k, expected_v)
    buffer = layer.keys.data_ptr()
    for step in range(1, 40):
        k, v = states(3, 1, step)
        out_k, out_v = layer.update(k, v)
        expected_k, expected_v = torch.cat([expected_k, k], -2), torch.cat([expected_v, v], -2)
        assert torch.equal(out_k, expected_k) and torch.equal(out_v, expected_v)
    assert layer.keys.data_ptr() == buffer  # 39 appends, no re-allocation: nothing was copied twice


def test_crop_stays_in_place_and_row_selection_rebuffers() -> None:
    layer = GrowingLayer()
    k, v = states(2, 6, 1)
    layer.update(k, v)
    buffer = layer.keys.data_ptr()
    layer.keys, layer.values = layer.keys[:, :, :-2], layer.values[:, :, :-2]  # rejected proposals
    k2, v2 = states(2, 1, 2)
    out_k, _ = layer.update(k2, v2)
    assert torch.equal(out_k, torch.cat([k[:, :, :-2], k2], -2)) and layer.keys.data_ptr() == buffer
    keep = torch.tensor([1])
    layer.keys, layer.values = layer.keys[keep], layer.values[keep]  # a finished row dropped
    k3, v3 = states(1, 1, 3)
    out_k, out_v = layer.update(k3, v3)
    assert out_k.shape == (1, 2, 6, 4)
    assert torch.equal(out_k, torch.cat([torch.cat([k[:, :, :-2], k2], -2)[keep], k3], -2))
    assert torch.equal(out_v[:, :, -1:], v3)


def test_a_prefilled_cache_copies_its_source_and_decodes_like_the_default_cache() -> None:
    model = make_tiny_llama(initializer_range=0.5)
    prompt = torch.tensor([[5, 9, 13, 2, 7, 30, 11]])
    name = cache_kwarg(model)
    with torch.inference_mode():
        reference = model(input_ids=prompt, use_cache=True, **{name: DynamicCache(config=model.config)})
        theirs = returned_cache(reference)
        kv = [(layer.keys.clone(), layer.values.clone()) for layer in theirs.layers]
        snapshot = [k.clone() for k, _ in kv]
        ours = growing_cache(model.config, kv)
        token = reference.logits[:, -1:].argmax(-1)
        for _ in range(12):
            a = model(input_ids=token, use_cache=True, **{name: theirs})
            b = model(input_ids=token, use_cache=True, **{name: ours})
            assert torch.allclose(a.logits, b.logits, atol=1e-5)
            token = a.logits[:, -1:].argmax(-1)
    assert all(isinstance(layer, GrowingLayer) for layer in ours.layers)
    assert all(torch.equal(k, s) for (k, _), s in zip(kv, snapshot, strict=True))  # the source is untouched

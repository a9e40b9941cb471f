"""A KV cache that appends in place instead of concatenating.

transformers' ``DynamicLayer.update`` appends each step's keys and values with ``torch.cat``, which
copies the whole cache every decoding step: at a 700-token QA prompt that is ~14 MB per token for
the bundled SmolLM2 (30 layers x keys and values), and ``cat`` was ~14 % of a CPU decoding step.
:class:`GrowingLayer` keeps each layer in a buffer with spare room and writes new positions into
it, exposing ``keys``/``values`` as views of the filled prefix — so a step copies only its own
token's states.

The micro-batcher still edits caches the ordinary way (dropping finished rows, trimming padding,
merging newcomers, cropping rejected proposals): those assign new ``keys``/``values`` tensors. A
layer notices that its tensors are no longer a prefix of its buffer and re-buffers them on the next
append (one copy, as ``cat`` would have made anyway). A crop keeps the prefix view, so speculative
decoding stays in place.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

# Spare positions allocated beyond what is needed: one QA answer (<=128 tokens) plus speculation
# never re-buffers after the prompt, and a long chat grows by half its length at a time.
_MIN_SPARE = 256


class GrowingLayer(DynamicLayer):  # type: ignore[no-untyped-call]  # transformers' __init_subclass__
    """A :class:`DynamicLayer` whose appends write into spare capacity (amortised O(new tokens))."""

    keys: torch.Tensor
    values: torch.Tensor

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._key_buffer: torch.Tensor | None = None
        self._value_buffer: torch.Tensor | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        length = self.keys.shape[-2] if self.keys.numel() else 0
        needed = length + key_states.shape[-2]
        if not self._in_place(key_states, needed):
            self._rebuffer(key_states, value_states, length, needed)
        assert self._key_buffer is not None and self._value_buffer is not None
        self._key_buffer[:, :, length:needed].copy_(key_states)
        self._value_buffer[:, :, length:needed].copy_(value_states)
        self.keys = self._key_buffer[:, :, :needed]
        self.values = self._value_buffer[:, :, :needed]
        return self.keys, self.values

    def _in_place(self, key_states: torch.Tensor, needed: int) -> bool:
        """Whether ``keys``/``values`` are still prefixes of the buffers, with room for ``needed``."""
        kb, vb = self._key_buffer, self._value_buffer
        if kb is None or vb is None or kb.shape[-2] < needed or kb.dtype != key_states.dtype:
            return False
        return all(
            t.numel() > 0
            and t.data_ptr() == b.data_ptr()
            and t.stride() == b.stride()
            and t.shape[:2] == b.shape[:2]
            and t.shape[-1] == b.shape[-1]
            for t, b in ((self.keys, kb), (self.values, vb))
        )

    def _rebuffer(self, key_states: torch.Tensor, value_states: torch.Tensor, length: int, needed: int) -> None:
        capacity = needed + max(_MIN_SPARE, needed // 2)
        buffers = []
        for old, new in ((self.keys, key_states), (self.values, value_states)):
            batch, heads, _, dim = new.shape
            buffer = torch.empty((batch, heads, capacity, dim), dtype=new.dtype, device=new.device)
            if length:
                buffer[:, :, :length].copy_(old)
            buffers.append(buffer)
        self._key_buffer, self._value_buffer = buffers


def growing_cache(config: Any = None, kv: list[tuple[Any, Any]] | None = None) -> Any:
    """A ``DynamicCache`` for ``config`` whose plain layers append in place, optionally filled with
    ``kv`` (one ``(keys, values)`` pair per layer, copied). Sliding-window layers are left as they are."""
    cache = DynamicCache(config=config) if config is not None else DynamicCache()
    if not cache.layers and kv is not None:
        cache.layers = [DynamicLayer() for _ in kv]  # type: ignore[no-untyped-call]
    cache.layers = [GrowingLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    # Without a config the layers are created as the model first writes them: make those grow too.
    cache.layer_class_to_replicate = None if cache.layers else GrowingLayer
    layers: list[Any] = cache.layers
    for layer, (keys, values) in zip(layers, kv or (), strict=False):
        layer.update(keys, values)
    return cache

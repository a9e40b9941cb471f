"""Half-precision weights for one-token decoding steps on a CPU.

Decoding one token at a time on a CPU is bound by memory bandwidth: every step streams every weight
matrix through the cores to multiply it by a single row. Stored as float16 the weights are half the
bytes, and torch's CPU matrix-vector kernel for float16 widens them to float32 in registers and
accumulates in float32 — so a one-row product reads half the memory at float32 accuracy of the
accumulation. Measured here (AMD EPYC, AVX2, one thread, out-of-cache 1536x576 matrices): one row
259 µs in float16 vs 460 µs in float32. The bundled SmolLM2-135M decodes ~30 % faster per token
with every linear layer (``lm_head`` included: 49,152 x 576) switched this way.

The same kernel loses from a handful of rows on (4 rows: 837 vs 791 µs; 16 rows: 2.8 vs 1.1 ms), and
batched float16 matrix products on a CPU without native half arithmetic are far slower than float32,
so only a single-row input takes the float16 path; prefill, batched decoding and speculative
verification keep the float32 weights untouched. The float16 copy costs half the model's size in
memory (~270 MB for the bundled model).

Off by default (``llm.cpu_half_decode``), for two measured reasons. The gain depends on the CPU: on
a 2-core AVX-512 Xeon the one-row float16 product took as long as float32 (1536x576: 139 µs both)
and a decoding step of the bundled model was no faster. And it costs determinism: only one-row
steps see the float16 weights, so a request decoded alone, in a batch, or speculatively (as the
timing gate decides) takes different precision at the same position, and the bundled model's
answers to 2 of 8 questions changed wording with the load (``tests/unit/llm/test_real_model_determinism.py``
holds the default to one answer per question).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class HalfDecodeLinear(nn.Module):
    """An ``nn.Linear`` that multiplies a single input row with a float16 copy of its weight.

    The float32 parameters are the original ones (shared, so tied embeddings stay tied); the float16
    copy is a non-persistent buffer, never saved.
    """

    weight_half: torch.Tensor
    bias_half: torch.Tensor | None

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.weight = linear.weight
        self.bias = linear.bias
        self.register_buffer("weight_half", linear.weight.detach().to(torch.float16), persistent=False)
        bias_half = None if linear.bias is None else linear.bias.detach().to(torch.float16)
        self.register_buffer("bias_half", bias_half, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32 and x.numel() == x.shape[-1]:
            return F.linear(x.to(torch.float16), self.weight_half, self.bias_half).to(torch.float32)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, one-row float16"


def enable_half_decode(model: Any) -> int:
    """Swap every float32 ``nn.Linear`` of ``model`` (a CPU model) for :class:`HalfDecodeLinear`.

    Returns how many layers were swapped. Models on another device or dtype are left alone: on a GPU
    the model already runs in bfloat16.
    """
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear and child.weight.dtype == torch.float32 and child.weight.device.type == "cpu":
                setattr(parent, name, HalfDecodeLinear(child))
                swapped += 1
    return swapped

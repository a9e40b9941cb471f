"""LLM serving: sequential vs micro-batched generation, and the OpenAI-compatible client's overhead.

    python -m benchmarks.llm_serving                      # bundled SmolLM2 GGUF on this machine
    python -m benchmarks.llm_serving --random-weights --arch qwen2.5-1.5b --concurrency 1,4,16,64

For each concurrency C, C requests arrive together and each must produce exactly ``--new-tokens``
tokens (EOS ignored, so throughput does not depend on what the weights say). (a) *sequential*: one
request at a time through the same decode loop (``max_batch=1``); (b) *micro-batched*: the batcher
gathers them (window 20 ms). Both run in the same process, one after the other, so their ratio holds
on a noisy machine. ``--random-weights`` builds the architecture from its real dimensions with
random weights, so no model files are needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from typing import Any

import numpy as np

from benchmarks.report import markdown_table, write_section

ARCHS: dict[str, dict[str, Any]] = {
    "smollm2-135m": dict(
        kind="llama",
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        tie_word_embeddings=True,
    ),
    "qwen2.5-1.5b": dict(
        kind="qwen2",
        vocab_size=151936,
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    ),
    "llama-8b": dict(
        kind="llama",
        vocab_size=128256,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        tie_word_embeddings=False,
    ),
}


OVERHEAD_REQUESTS = 300


def build_random(arch: str, device: str) -> Any:
    """The architecture with random weights (bf16 on CUDA, fp32 on CPU)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    spec = dict(ARCHS[arch])
    kind = spec.pop("kind")
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    model: Any
    with torch.device(device):
        if kind == "llama":
            model = LlamaForCausalLM(LlamaConfig(max_position_embeddings=4096, **spec))
        else:
            model = Qwen2ForCausalLM(Qwen2Config(max_position_embeddings=4096, **spec))
    return model.to(dtype).eval()


def _pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else 0.0


async def run_level(
    model: Any, prompts: list[list[int]], new_tokens: int, *, batched: bool, window_ms: float
) -> dict[str, float]:
    """Submit all prompts at once; measure throughput and latency."""
    from brain.qa.llm.batcher import MicroBatcher

    batcher = MicroBatcher(
        model,
        None,
        eos_ids=[],
        pad_id=0,
        window_ms=window_ms if batched else 0.0,
        max_batch=len(prompts) if batched else 1,
        max_queue=10_000,
    )
    started = time.perf_counter()
    requests = [batcher.submit(p, max_new_tokens=new_tokens, ignore_eos=True) for p in prompts]
    await asyncio.gather(*(batcher.wait(r) for r in requests))
    wall = time.perf_counter() - started
    await batcher.close()
    tokens = sum(len(r.token_ids) for r in requests)
    e2e = [(r.finished_at or 0) - r.created for r in requests]
    ttft = [r.ttft or 0.0 for r in requests]
    return {
        "tokens_per_s": tokens / wall,
        "ttft_p50": _pct(ttft, 50),
        "ttft_p95": _pct(ttft, 95),
        "e2e_p50": _pct(e2e, 50),
        "e2e_p95": _pct(e2e, 95),
        "wall": wall,
    }


async def run_staggered(
    model: Any, prompts: list[list[int]], lengths: list[int], gap_s: float, *, continuous: bool, window_ms: float
) -> dict[str, float]:
    """Requests arriving ``gap_s`` apart with mixed lengths: does joining a running batch pay?"""
    from brain.qa.llm.batcher import GenRequest, MicroBatcher

    batcher = MicroBatcher(
        model,
        None,
        eos_ids=[],
        pad_id=0,
        window_ms=window_ms,
        max_batch=len(prompts),
        max_queue=10_000,
        continuous=continuous,
    )
    started = time.perf_counter()
    requests: list[GenRequest] = []
    for prompt, n in zip(prompts, lengths, strict=True):
        requests.append(batcher.submit(prompt, max_new_tokens=n, ignore_eos=True))
        await asyncio.sleep(gap_s)
    await asyncio.gather(*(batcher.wait(r) for r in requests))
    wall = time.perf_counter() - started
    await batcher.close()
    e2e = [(r.finished_at or 0) - r.created for r in requests]
    ttft = [r.ttft or 0.0 for r in requests]
    return {
        "tokens_per_s": sum(len(r.token_ids) for r in requests) / wall,
        "ttft_p50": _pct(ttft, 50),
        "ttft_p95": _pct(ttft, 95),
        "e2e_p50": _pct(e2e, 50),
        "e2e_p95": _pct(e2e, 95),
    }


async def openai_overhead(requests: int = OVERHEAD_REQUESTS) -> dict[str, float]:
    """Per-request time of the OpenAI-compatible client against an instant local fake server."""
    from aiohttp import web

    from bot.config import LLMSettings
    from bot.ml import ChatMessage
    from brain.qa.llm.openai_backend import OpenAICompatibleLLM

    canned = json.dumps(
        {
            "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 1},
        }
    ).encode()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=canned, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    llm = OpenAICompatibleLLM(LLMSettings(backend="openai", base_url=f"http://127.0.0.1:{port}/v1"))
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "x" * 2000)]
    for _ in range(20):
        await llm.generate(messages, max_new_tokens=8)
    times = []
    for _ in range(requests):
        t = time.perf_counter()
        await llm.generate(messages, max_new_tokens=8)
        times.append((time.perf_counter() - t) * 1000)
    await llm.aclose()
    await runner.cleanup()
    return {"mean_ms": statistics.mean(times), "p50_ms": _pct(times, 50), "p95_ms": _pct(times, 95)}


async def main(args: argparse.Namespace) -> None:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.random_weights:
        model = build_random(args.arch, device)
        label = f"{args.arch}, random weights, {'bf16' if device == 'cuda' else 'fp32'}"
        vocab = ARCHS[args.arch]["vocab_size"]
    else:
        from bot.config import LLMSettings
        from brain.qa.llm.transformers_backend import load_model

        _, model = load_model(LLMSettings())
        label = "SmolLM2-135M-Instruct (bundled GGUF, de-quantized), " + ("bf16" if device == "cuda" else "fp32")
        vocab = model.config.vocab_size
    load_before = os.getloadavg()[0]
    rng = random.Random(0)
    levels = [int(c) for c in args.concurrency.split(",")]
    rows = []
    ratios = {}
    # Warm-up: first forward passes allocate and compile kernels.
    await run_level(model, [[rng.randrange(vocab) for _ in range(args.prompt_tokens)]], 4, batched=False, window_ms=0)
    for c in levels:
        prompts = [[rng.randrange(3, vocab) for _ in range(args.prompt_tokens)] for _ in range(c)]
        seq = await run_level(model, prompts, args.new_tokens, batched=False, window_ms=0)
        bat = await run_level(model, prompts, args.new_tokens, batched=True, window_ms=args.window_ms)
        ratios[c] = bat["tokens_per_s"] / seq["tokens_per_s"]
        for name, r in (("sequential", seq), ("micro-batched", bat)):
            rows.append(
                [
                    c,
                    name,
                    f"{r['tokens_per_s']:.1f}",
                    f"{r['ttft_p50'] * 1000:.0f}",
                    f"{r['ttft_p95'] * 1000:.0f}",
                    f"{r['e2e_p50']:.2f}",
                    f"{r['e2e_p95']:.2f}",
                ]
            )
        print(c, seq, bat, flush=True)
    # Staggered arrivals: a request every ~2 decode steps of a lone request, lengths 1-2x new-tokens.
    step_s = seq["wall"] / max(1, levels[-1] * args.new_tokens)
    count = min(8, max(levels))
    staggered_prompts = [[rng.randrange(3, vocab) for _ in range(args.prompt_tokens)] for _ in range(count)]
    lengths = [args.new_tokens * (1 + i % 2) for i in range(count)]
    staggered = {
        mode: await run_staggered(
            model, staggered_prompts, lengths, 2 * step_s, continuous=mode == "continuous", window_ms=args.window_ms
        )
        for mode in ("batch at a time", "continuous")
    }
    print("staggered", staggered, flush=True)
    stagger_rows: list[list[object]] = [
        [
            mode,
            f"{r['tokens_per_s']:.1f}",
            f"{r['ttft_p50'] * 1000:.0f}",
            f"{r['ttft_p95'] * 1000:.0f}",
            f"{r['e2e_p50']:.2f}",
            f"{r['e2e_p95']:.2f}",
        ]
        for mode, r in staggered.items()
    ]
    overhead = await openai_overhead()
    name = f"llm-serving-{device}-{args.arch if args.random_weights else 'smollm2-gguf'}"
    body = (
        f"Model: {label}; device: {device}; prompt {args.prompt_tokens} tokens, exactly {args.new_tokens} new tokens "
        f"per request (EOS ignored); batch window {args.window_ms:.0f} ms. Sequential and micro-batched ran in the "
        "same process, one after the other. 1-minute load average "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (on {os.cpu_count()} cores: a shared "
        "machine's figures move between runs; compare ratios within one run).\n\n"
        + markdown_table(
            [
                "concurrency",
                "mode",
                "aggregate tokens/s",
                "TTFT p50 ms",
                "TTFT p95 ms",
                "end-to-end p50 s",
                "end-to-end p95 s",
            ],
            rows,
        )
        + "\n\nMicro-batched / sequential aggregate throughput: "
        + ", ".join(f"x{ratios[c]:.2f} at {c}" for c in levels)
        + f".\n\nStaggered arrivals ({count} requests, one every {2 * step_s * 1000:.0f} ms, lengths "
        f"{args.new_tokens} and {2 * args.new_tokens} tokens alternating): a batch at a time (late requests wait "
        "for the running batch to finish) vs continuous (late requests join the running batch at the next step).\n\n"
        + markdown_table(
            ["scheduling", "aggregate tokens/s", "TTFT p50 ms", "TTFT p95 ms", "end-to-end p50 s", "end-to-end p95 s"],
            stagger_rows,
        )
        + "\n\nOpenAI-compatible client against an instant local fake server in the same process (so the figure "
        "includes the server's own aiohttp handling; request/response path, 2 kB prompt, "
        f"{OVERHEAD_REQUESTS} requests): mean {overhead['mean_ms']:.2f} ms, p50 {overhead['p50_ms']:.2f} ms, p95 {overhead['p95_ms']:.2f} ms per request.\n\n"
        f"Reproduce: `{' '.join(['python -m benchmarks.llm_serving', *args.argv])}`."
    )
    write_section(name, f"LLM serving ({device}, {args.arch if args.random_weights else 'bundled SmolLM2'})", body)


if __name__ == "__main__":
    import sys

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--arch", choices=sorted(ARCHS), default="smollm2-135m")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--window-ms", type=float, default=20.0)
    parsed = parser.parse_args()
    parsed.argv = sys.argv[1:]
    asyncio.run(main(parsed))

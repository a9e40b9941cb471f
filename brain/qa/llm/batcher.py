"""Micro-batched generation: concurrent requests share one forward pass per decoding step.

Requests wait at most ``window_ms`` for companions, then up to ``max_batch`` of them are left-padded
into one batch and decoded step by step over a KV cache:

* every request has its own ``max_new_tokens``, stop strings and EOS handling;
* tokens are streamed back per request as they are produced;
* a request that finishes (or whose caller gave up) leaves the batch at once: its rows are dropped
  from the input and from the KV cache (``DynamicCache.batch_select_indices``), so the remaining
  requests stop paying for it — the slot is free;
* a request that arrives while a batch decodes joins it at the next step (its prompt is prefilled
  on its own, then its KV cache is left-padded and appended to the running one), so nobody waits
  for the slowest member of an earlier batch — continuous batching over plain forward passes;
* the waiting queue is bounded: past ``max_queue`` a request fails fast with
  :class:`bot.ml.LLMBusyError` instead of growing latency without bound;
* a request decoding alone (greedy) uses prompt-lookup speculation: when the last few tokens
  occurred before in its prompt or output, the tokens that followed them there are proposed and
  verified in one forward pass, and every proposed token the model agrees with is kept. Grounded
  answers copy their sources and small models repeat themselves, so several tokens often come out
  of one step; whether that beats one-token steps depends on the hardware, so it continues only
  while it is timed to pay (``speculation_gate.py``). The output is the greedy output: a proposal
  is only kept where it equals the model's own choice;
* a prompt prefilled on its own reuses the KV cache of the longest token prefix it shares with a
  recent prompt (every QA prompt opens with the same system prompt), so only the rest is computed.

Model forward passes run in one worker thread (torch releases the GIL), so the event loop keeps
serving chat traffic while the model computes.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bot.ml import Generation, LLMBusyError
from brain.qa.llm.speculation_gate import SpeculationGate

log = logging.getLogger(__name__)

_DONE = object()
# Prompts whose leading KV cache is remembered (the QA and follow-up prompts differ from the start),
# and the fewest shared tokens worth reusing (a chat template's opening tokens are not).
_PREFIXES_KEPT = 4
_MIN_SHARED = 16


def cache_kwarg(model: Any) -> str:
    """The name ``model.forward`` takes its KV cache by.

    transformers renamed ``past_key_values`` to ``cache`` during 5.x; the old name warns now and
    goes in 5.40, while the releases before the rename only know the old one. A wrapper whose
    ``forward`` only takes ``**kwargs`` (PEFT) is looked through to the model it wraps.
    """
    for candidate in (model, _wrapped_model(model)):
        forward = getattr(candidate, "forward", None)
        if forward is None:
            continue
        try:
            params = inspect.signature(forward).parameters
        except (TypeError, ValueError):
            continue
        for name in ("cache", "past_key_values"):
            if name in params:
                return name
    return "past_key_values"


def _wrapped_model(model: Any) -> Any:
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else None


def returned_cache(out: Any) -> Any:
    """The KV cache a forward pass returned, under either name (see :func:`cache_kwarg`)."""
    # Model outputs are ordered dicts of their non-None fields; reading ``.past_key_values`` on a
    # release with the new name goes through a deprecated alias.
    for name in ("cache", "past_key_values"):
        if name in out:
            return out[name]
    return None


@dataclass(eq=False)
class GenRequest:
    """One generation request and its stream of text pieces."""

    prompt_ids: list[int]
    max_new_tokens: int
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False
    created: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    finished_at: float | None = None
    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str = ""
    cancelled: bool = False
    pieces: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ttft(self) -> float | None:
        """Seconds from submission to the first token."""
        return None if self.first_token_at is None else self.first_token_at - self.created


class MicroBatcher:
    """Gathers concurrent requests into batched decoding on a causal LM.

    Args:
        model: a transformers causal LM (``eval()`` mode).
        tokenizer: decodes token ids to text (``None`` when only ids are needed, as in benchmarks).
        eos_ids: token ids that end a sequence.
        pad_id: id used for left padding.
        window_ms: how long the first request of a batch waits for companions.
        max_batch: most requests decoded together.
        max_queue: most requests waiting; more raise :class:`LLMBusyError`.
        temperature: 0 for greedy decoding.
        continuous: let requests that arrive during a batch join it at the next step (off: they
            wait for the whole batch to finish; kept for the benchmark's comparison).
        lookahead: most tokens proposed per step by prompt lookup (0 turns speculation off).
        prefix_tokens: most leading prompt tokens whose KV cache is kept for reuse, per remembered
            prompt (0 turns prefix reuse off).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any | None,
        *,
        eos_ids: Sequence[int],
        pad_id: int,
        window_ms: float = 20.0,
        max_batch: int = 16,
        max_queue: int = 64,
        temperature: float = 0.0,
        continuous: bool = True,
        lookahead: int = 0,
        prefix_tokens: int = 0,
        adaptive_speculation: bool = True,
    ) -> None:
        self.model = model
        self._cache_kwarg = cache_kwarg(model)
        self.tokenizer = tokenizer
        self.eos_ids = set(eos_ids)
        self.pad_id = pad_id
        self.window_s = window_ms / 1000.0
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.temperature = temperature
        self.continuous = continuous
        self.lookahead = lookahead
        self.prefix_tokens = prefix_tokens
        # (leading prompt ids, their per-layer (keys, values)), most recently used first.
        self._prefixes: deque[tuple[list[int], list[tuple[Any, Any]]]] = deque(maxlen=_PREFIXES_KEPT)
        self._waiting: deque[GenRequest] = deque()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-forward")
        self.batches_run = 0
        self.largest_batch = 0
        self.admitted_mid_batch = 0
        self.finished: Counter[str] = Counter()  # requests ended, by finish reason
        self.forward_steps = 0  # decoding forward passes (prefills not counted)
        self.proposed_tokens = 0  # tokens proposed by prompt lookup
        self.accepted_tokens = 0  # of which the model agreed with
        self.reused_prompt_tokens = 0  # prompt tokens whose KV cache came from an earlier prompt
        # Speculation continues only while it is timed to pay (``speculation_gate.py``); without the
        # gate every draft is verified, which tests of the speculation mechanics rely on.
        self.speculation = SpeculationGate() if adaptive_speculation else None

    # -- submission ------------------------------------------------------------------------------
    def submit(
        self, prompt_ids: list[int], *, max_new_tokens: int, stop: Sequence[str] = (), ignore_eos: bool = False
    ) -> GenRequest:
        """Queue a request (raises :class:`LLMBusyError` when the queue is full)."""
        if not prompt_ids:
            raise ValueError("empty prompt")
        if len(self._waiting) >= self.max_queue:
            # Callers that gave up still sit in the queue: they must not make a live caller busy.
            for request in [r for r in self._waiting if r.cancelled]:
                self._waiting.remove(request)
                self._finish(request, "cancelled")
        if len(self._waiting) >= self.max_queue:
            raise LLMBusyError(f"{len(self._waiting)} requests already waiting for the model")
        request = GenRequest(list(prompt_ids), max(1, max_new_tokens), tuple(s for s in stop if s), ignore_eos)
        self._waiting.append(request)
        self._wakeup.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._loop(), name="llm-batcher")
        return request

    async def wait(self, request: GenRequest) -> GenRequest:
        """Wait for a request to finish; cancelling the caller cancels the request (frees its slot)."""
        try:
            await request.done.wait()
        except asyncio.CancelledError:
            request.cancelled = True
            raise
        return request

    @property
    def waiting(self) -> int:
        """Requests not yet in a batch."""
        return len(self._waiting)

    async def close(self) -> None:
        """Stop the worker and the forward thread."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        for request in self._waiting:
            self._finish(request, "cancelled")
        self._waiting.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- the batching loop -----------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            if not self._waiting:
                self._wakeup.clear()
                await self._wakeup.wait()
            # Let companions arrive, but never longer than the window after the first one came.
            first = self._waiting[0]
            delay = first.created + self.window_s - time.perf_counter()
            if delay > 0 and len(self._waiting) < self.max_batch:
                await asyncio.sleep(delay)
            batch = self._take(self.max_batch)
            if not batch:
                continue
            try:
                await self._run(batch)
            except asyncio.CancelledError:
                for request in batch:
                    self._finish(request, "cancelled")
                raise
            except Exception as exc:  # a model failure must answer every waiting caller
                log.exception("batched generation failed")
                for request in batch:
                    if not request.done.is_set():
                        request.finish_reason = "error"
                        request.pieces.put_nowait(exc)
                        request.done.set()

    async def _run(self, batch: list[GenRequest]) -> None:
        import torch

        self.batches_run += 1
        device = self.model.device
        active, next_ids, cache, mask, positions = await self._prefill(batch)
        while True:
            # Continuous batching: requests that arrived while this batch decodes join it at the
            # next step instead of waiting for the slowest member to finish.
            if self.continuous and self._waiting and len(active) < self.max_batch and _mergeable(cache):
                newcomers = self._take(self.max_batch - len(active))
                if newcomers:
                    batch.extend(newcomers)  # so a failure below answers them too
                    self.admitted_mid_batch += len(newcomers)
                    joined = await self._prefill(newcomers)
                    if joined[0]:
                        if active:
                            cache, mask = _merge_caches(cache, mask, joined[2], joined[3])
                            next_ids = torch.cat([next_ids, joined[1]])
                            positions = torch.cat([positions, joined[4]])
                            active = active + joined[0]
                        else:
                            active, next_ids, cache, mask, positions = joined
            if not active:
                return
            self.largest_batch = max(self.largest_batch, len(active))
            draft = self._propose(active, cache)
            started = time.perf_counter()
            if draft:
                lone = active[0]
                before = len(lone.token_ids)
                active, next_ids, mask, positions = await self._speculate(lone, draft, next_ids, cache, mask, positions)
                produced = len(lone.token_ids) - before
                if self.speculation is not None:
                    self.speculation.record(speculative=True, seconds=time.perf_counter() - started, tokens=produced)
                await asyncio.sleep(0)
                continue
            mask = torch.cat([mask, torch.ones((len(active), 1), dtype=mask.dtype, device=device)], dim=-1)
            positions = positions + 1
            logits, cache = await self._forward(next_ids.view(-1, 1), mask, positions, cache)
            self.forward_steps += 1
            next_ids = self._pick(logits)
            keep = self._accept(active, next_ids)
            if len(active) == 1 and self.speculation is not None:  # timed like a speculative step
                self.speculation.record(speculative=False, seconds=time.perf_counter() - started, tokens=1)
            if len(keep) < len(active):
                # Free the finished rows: later steps compute only for live requests.
                index = torch.tensor(keep, dtype=torch.long, device=device)
                if keep:
                    cache.batch_select_indices(index)
                next_ids, mask, positions = next_ids[index], mask[index], positions[index]
                active = [active[i] for i in keep]
                if keep and _mergeable(cache):
                    mask = _trim_left(cache, mask)
            await asyncio.sleep(0)  # let streams be read between steps

    def _propose(self, active: list[GenRequest], cache: Any) -> list[int]:
        """Tokens to verify in the next step: only for one greedy request decoding alone."""
        if self.lookahead <= 0 or self.temperature > 0 or len(active) != 1 or (self.continuous and self._waiting):
            return []
        request = active[0]
        # The last accepted token is fed with the proposal, so room is one less than what is left.
        room = min(self.lookahead, request.max_new_tokens - len(request.token_ids) - 1)
        if room <= 0 or not _mergeable(cache):  # rejected proposals are cut from plain KV caches only
            return []
        draft = prompt_lookup(request.prompt_ids + request.token_ids, room)
        if draft and self.speculation is not None and not self.speculation.should_speculate():
            return []
        return draft

    async def _speculate(
        self, request: GenRequest, draft: list[int], next_ids: Any, cache: Any, mask: Any, positions: Any
    ) -> tuple[list[GenRequest], Any, Any, Any]:
        """One forward pass over the pending token and ``draft``; keeps the tokens the model agrees with.

        Returns the new ``(active, next_ids, mask, positions)``; the cache is cut to the kept tokens.
        """
        import torch

        device = self.model.device
        fed = len(draft) + 1
        ids = torch.tensor([[int(next_ids[0]), *draft]], dtype=torch.long, device=device)
        mask = torch.cat([mask, torch.ones((1, fed), dtype=mask.dtype, device=device)], dim=-1)
        steps = positions + torch.arange(1, fed + 1, device=device).view(1, -1)
        logits, cache = await self._forward(ids, mask, steps, cache, keep=fed)
        self.forward_steps += 1
        self.proposed_tokens += len(draft)
        picks = [int(t) for t in self._pick_all(logits[0])]
        # picks[i] is the model's token after fed token i; draft[i] stands for picks[i] until they differ.
        kept = 1
        while kept < fed and picks[kept - 1] == draft[kept - 1]:
            kept += 1
        self.accepted_tokens += kept - 1
        _crop_right(cache, fed - kept)
        mask = mask[:, : mask.shape[1] - (fed - kept)]
        positions = positions + kept
        for token in picks[:kept]:
            if not self._accept([request], torch.tensor([token], device=device)):
                return [], None, mask, positions  # finished: eos, stop string, length or cancelled
        return [request], torch.tensor([picks[kept - 1]], dtype=torch.long, device=device), mask, positions

    def _take(self, room: int) -> list[GenRequest]:
        """Up to ``room`` live requests from the head of the queue."""
        taken: list[GenRequest] = []
        while self._waiting and len(taken) < room:
            request = self._waiting.popleft()
            if request.cancelled:
                self._finish(request, "cancelled")
                continue
            taken.append(request)
        return taken

    async def _prefill(self, group: list[GenRequest]) -> tuple[list[GenRequest], Any, Any, Any, Any]:
        """Left-pad ``group``'s prompts into one forward pass; returns the rows still live after their
        first token, with that token (to feed next), their KV cache, attention mask and last positions.
        """
        import torch

        device = self.model.device
        self.largest_batch = max(self.largest_batch, len(group))
        if len(group) == 1 and self.prefix_tokens > 0:
            logits, cache, mask, positions = await self._prefill_one(group[0].prompt_ids)
            return self._first_tokens(group, logits, cache, mask, positions)
        longest = max(len(r.prompt_ids) for r in group)
        ids = torch.full((len(group), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(group), longest), dtype=torch.long)
        for row, request in enumerate(group):
            n = len(request.prompt_ids)
            ids[row, longest - n :] = torch.tensor(request.prompt_ids, dtype=torch.long)
            mask[row, longest - n :] = 1
        ids, mask = ids.to(device), mask.to(device)
        # Positions count real tokens only, so a left-padded row sees the same positions as alone.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits, cache = await self._forward(ids, mask, positions, None)
        return self._first_tokens(group, logits, cache, mask, positions)

    def _first_tokens(
        self, group: list[GenRequest], logits: Any, cache: Any, mask: Any, positions: Any
    ) -> tuple[list[GenRequest], Any, Any, Any, Any]:
        import torch

        device = self.model.device
        next_ids = self._pick(logits)
        keep = self._accept(group, next_ids)
        index = torch.tensor(keep, dtype=torch.long, device=device)
        if keep and len(keep) < len(group):
            cache.batch_select_indices(index)
        return [group[i] for i in keep], next_ids[index], cache, mask[index], positions[index, -1:]

    async def _prefill_one(self, prompt: list[int]) -> tuple[Any, Any, Any, Any]:
        """Prefill one prompt, computing only what follows the longest prefix it shares with a
        remembered prompt; returns ``(logits, cache, mask, positions)`` like a batch of one.
        """
        import torch

        from brain.qa.llm.kv_cache import growing_cache

        device = self.model.device
        best, shared = -1, 0
        for i, (known, _) in enumerate(self._prefixes):
            common = _common_prefix(known, prompt)
            if common > shared:
                best, shared = i, common
        shared = min(shared, len(prompt) - 1)  # at least one token is fed, for its logits
        cache = None
        if shared >= _MIN_SHARED:
            entry = self._prefixes[best]
            del self._prefixes[best]
            # Keep only the shared part: the entry converges on what prompts have in common.
            kv = [(k[:, :, :shared].clone(), v[:, :, :shared].clone()) for k, v in entry[1]]
            self._prefixes.appendleft((prompt[:shared], kv))
            cache = growing_cache(self.model.config, kv)  # copies: the stored tensors stay untouched
            self.reused_prompt_tokens += shared
        else:
            shared = 0
        ids = torch.tensor([prompt[shared:]], dtype=torch.long, device=device)
        mask = torch.ones((1, len(prompt)), dtype=torch.long, device=device)
        positions = torch.arange(shared, len(prompt), device=device).view(1, -1)
        logits, cache = await self._forward(ids, mask, positions, cache)
        if not shared and _mergeable(cache):
            keep = min(len(prompt), self.prefix_tokens)
            kv = [(layer.keys[:, :, :keep].clone(), layer.values[:, :, :keep].clone()) for layer in cache.layers]
            self._prefixes.appendleft((prompt[:keep], kv))
        return logits, cache, mask, positions

    def _accept(self, active: list[GenRequest], next_ids: Any) -> list[int]:
        """Hand each row its new token; the indices of the rows that go on decoding."""
        now = time.perf_counter()
        keep: list[int] = []
        for row, request in enumerate(active):
            if request.cancelled:
                self._finish(request, "cancelled")
                continue
            token = int(next_ids[row])
            if request.first_token_at is None:
                request.first_token_at = now
            if token in self.eos_ids and not request.ignore_eos:
                self._finish(request, "stop")
                continue
            request.token_ids.append(token)
            if self._emit(request):
                continue
            if len(request.token_ids) >= request.max_new_tokens:
                self._finish(request, "length")
                continue
            keep.append(row)
        return keep

    def _pick(self, logits: Any) -> Any:
        return self._pick_all(logits[:, -1, :])

    def _pick_all(self, logits: Any) -> Any:
        """The next token for each row of ``logits`` (..., vocab): greedy, or sampled."""
        import torch

        if self.temperature <= 0:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        return torch.multinomial(probs, 1).squeeze(-1)

    async def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any, keep: int = 1) -> tuple[Any, Any]:
        if cache is None:
            from brain.qa.llm.kv_cache import growing_cache

            cache = growing_cache(self.model.config)  # appends in place: no whole-cache copy per step

        def step() -> tuple[Any, Any]:
            import torch

            with torch.inference_mode():
                # Only the last ``keep`` positions' logits are used: the prompt's would cost vocab x length.
                out = self.model(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=positions,
                    use_cache=True,
                    logits_to_keep=keep,
                    **{self._cache_kwarg: cache},
                )
            return out.logits, returned_cache(out)

        return await asyncio.get_running_loop().run_in_executor(self._executor, step)

    def _emit(self, request: GenRequest) -> bool:
        """Stream the new text of ``request``; True when a stop string ended it."""
        if self.tokenizer is None:
            request.pieces.put_nowait(request.token_ids[-1])
            return False
        text = self.tokenizer.decode(request.token_ids, skip_special_tokens=True)
        for stop in request.stop:
            cut = text.find(stop)
            if cut >= 0:
                text = text[:cut]
                if len(text) > len(request.text):
                    request.pieces.put_nowait(text[len(request.text) :])
                request.text = text
                self._finish(request, "stop", flush=False)
                return True
        # Hold back a possible partial multi-byte character (decoded as U+FFFD) and any tail that
        # could be the start of a stop string, until the next tokens settle it.
        safe = len(text) - _stop_prefix_overlap(text, request.stop)
        if text.endswith("\ufffd"):
            safe = min(safe, len(text) - 1)
        if safe > len(request.text):
            request.pieces.put_nowait(text[len(request.text) : safe])
            request.text = text[:safe]
        return False

    def _finish(self, request: GenRequest, reason: str, *, flush: bool = True) -> None:
        if request.done.is_set():
            return
        # Text held back (a partial character) is sent now; never after a stop string cut the text.
        if flush and self.tokenizer is not None and reason in {"stop", "length"}:
            final = self.tokenizer.decode(request.token_ids, skip_special_tokens=True)
            if len(final) > len(request.text) and final.startswith(request.text):
                request.pieces.put_nowait(final[len(request.text) :])
                request.text = final
        request.finish_reason = reason
        request.finished_at = time.perf_counter()
        self.finished[reason] += 1
        request.pieces.put_nowait(_DONE)
        request.done.set()


def _mergeable(cache: Any) -> bool:
    """Whether rows can be added to ``cache``: plain per-layer key/value tensors (no sliding window)."""
    from transformers.cache_utils import DynamicLayer

    from brain.qa.llm.kv_cache import GrowingLayer

    layers: list[Any] = list(getattr(cache, "layers", None) or ())
    return bool(layers) and all(
        type(layer) in (DynamicLayer, GrowingLayer) and layer.is_initialized for layer in layers
    )


def _merge_caches(cache: Any, mask: Any, extra: Any, extra_mask: Any) -> tuple[Any, Any]:
    """Append ``extra``'s rows to ``cache``, left-padding the shorter one so their lengths agree.

    Padded slots are masked out, and every row keeps its own position ids, so a row attends to
    exactly what it would alone.
    """
    import torch
    import torch.nn.functional as F

    length = max(mask.shape[1], extra_mask.shape[1])

    def pad(t: Any, dim_from_end: int) -> Any:
        missing = length - t.shape[-dim_from_end]
        if missing == 0:
            return t
        spec = [0, 0] * (dim_from_end - 1) + [missing, 0]
        return F.pad(t, spec)

    for layer, other in zip(cache.layers, extra.layers, strict=True):
        layer.keys = torch.cat([pad(layer.keys, 2), pad(other.keys, 2)])
        layer.values = torch.cat([pad(layer.values, 2), pad(other.values, 2)])
    return cache, torch.cat([pad(mask, 1), pad(extra_mask, 1)])


def _trim_left(cache: Any, mask: Any) -> Any:
    """Drop leading cache columns that no remaining row attends to; returns the trimmed mask.

    Without this, a batch that keeps admitting newcomers would carry the padding it once needed
    for rows long gone, and every step would attend over an ever longer cache.
    """
    live = mask.any(dim=0).nonzero()
    start = int(live[0]) if live.numel() else 0
    if start == 0:
        return mask
    for layer in cache.layers:
        layer.keys = layer.keys[:, :, start:, :]
        layer.values = layer.values[:, :, start:, :]
    return mask[:, start:]


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _crop_right(cache: Any, count: int) -> None:
    """Drop the last ``count`` positions of every layer of ``cache`` (rejected proposals)."""
    if count <= 0:
        return
    for layer in cache.layers:
        layer.keys = layer.keys[:, :, :-count, :]
        layer.values = layer.values[:, :, :-count, :]


def prompt_lookup(seq: Sequence[int], room: int, *, longest: int = 3, shortest: int = 2) -> list[int]:
    """Up to ``room`` tokens that followed the latest earlier occurrence of ``seq``'s last n-gram.

    n goes from ``longest`` down to ``shortest``; the most recent occurrence wins, since a model that
    repeats itself repeats what it said last. Empty when nothing matches.
    """
    for n in range(longest, shortest - 1, -1):
        if len(seq) <= n:
            continue
        tail = list(seq[-n:])
        first = tail[0]
        for start in range(len(seq) - n - 1, -1, -1):
            if seq[start] == first and list(seq[start : start + n]) == tail:
                return list(seq[start + n : start + n + room])
    return []


def _stop_prefix_overlap(text: str, stops: Sequence[str]) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of a stop string."""
    best = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:size]):
                best = max(best, size)
                break
    return best


def generation_of(request: GenRequest) -> Generation:
    """The finished request as a :class:`bot.ml.Generation`."""
    return Generation(
        text=request.text,
        prompt_tokens=len(request.prompt_ids),
        completion_tokens=len(request.token_ids),
        finish_reason=request.finish_reason,
    )


DONE = _DONE

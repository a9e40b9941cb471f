"""Deterministic stand-ins for the embedder and the LLM."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Callable, Sequence

import numpy as np

from bot.ml import ChatMessage, Generation, Vector

_WORD = re.compile(r"[\w']+", re.UNICODE)


class HashEmbedder:
    """Bag-of-words feature hashing: texts sharing words get similar vectors. Deterministic."""

    def __init__(self, dim: int = 256) -> None:
        self._dim = dim
        self.calls = 0
        self.texts_embedded = 0

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vector:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dim] += 1.0 if (h >> 63) == 0 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


class ScriptedLLM:
    """Answers from a script: a fixed string, a list consumed in order, or a function of the prompt.

    Every prompt is recorded in :attr:`prompts` so tests can assert what the model was shown.
    """

    def __init__(
        self,
        script: str | list[str] | Callable[[Sequence[ChatMessage]], str] = "I don't know.",
        *,
        finish_reason: str = "stop",
    ) -> None:
        self._script = script
        self._finish_reason = finish_reason  # "length" plays a model that hit max_new_tokens
        self.prompts: list[list[ChatMessage]] = []

    def _next(self, messages: Sequence[ChatMessage]) -> str:
        self.prompts.append(list(messages))
        if callable(self._script):
            return self._script(messages)
        if isinstance(self._script, list):
            return self._script.pop(0) if self._script else ""
        return self._script

    async def generate(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> Generation:
        text = self._next(messages)
        return Generation(
            text=text,
            prompt_tokens=sum(len(m.content.split()) for m in messages),
            completion_tokens=len(text.split()),
            finish_reason=self._finish_reason,
        )

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> AsyncIterator[str]:
        text = self._next(messages)
        for piece in re.findall(r"\S+\s*", text):
            yield piece

"""Contracts for the learned parts, shared by brains: embedder, LLM, retrieval units, unit index.

Brains depend on these protocols, never on a concrete model, so tests use the deterministic
fakes in :mod:`bot.testing` and deployments pick real backends in config. Shared instances live in
``ctx.services`` under the names in :data:`SERVICE_NAMES` so that, e.g., the recommender reuses the
QA index's unit embeddings instead of computing them again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]

SERVICE_NAMES = ("embedder", "unit_index", "llm")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (rows)."""

    @property
    def dim(self) -> int:
        """Vector size."""

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed a batch; CPU/GPU bound, so async callers run it in a worker thread."""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of a chat prompt."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Generation:
    """A finished generation."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


class LLMBusyError(RuntimeError):
    """The model's queue is full: tell the member to try again shortly."""


class VectorIndexUnavailable(RuntimeError):
    """The vector store cannot be reached (a Chroma server down or unreachable): a passing
    condition, unlike a bug, so callers keep their work for later and tell members plainly."""


@runtime_checkable
class LLM(Protocol):
    """A chat model behind any backend (local transformers, OpenAI-compatible server, scripted)."""

    async def generate(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> Generation:
        """Complete a chat; raises :class:`LLMBusyError` when overloaded, TimeoutError on timeout."""

    def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> AsyncIterator[str]:
        """Yield text pieces as they are generated."""


@dataclass(frozen=True, slots=True)
class Unit:
    """A retrieval unit: a thread (or a chunk of a long one), a window of an unthreaded channel,
    or a docs section. ``unit_id`` is stable for the same content source so re-indexing replaces.
    """

    unit_id: str
    platform: str
    workspace_id: str
    channel_id: str
    text: str
    message_ids: tuple[str, ...] = ()
    author_ids: tuple[str, ...] = ()
    thread_id: str | None = None
    ts_start: float = 0.0
    ts_end: float = 0.0
    visibility: str = "public"
    kind: str = "thread"  # "thread" | "window" | "doc"
    url: str = ""
    title: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScoredUnit:
    """A unit with a retrieval score (higher is better)."""

    unit: Unit
    score: float


@runtime_checkable
class UnitIndex(Protocol):
    """Vector storage for units (Chroma by default)."""

    async def upsert(self, units: Sequence[Unit], vectors: Vector) -> None:
        """Insert or replace units with their vectors."""

    async def delete(self, unit_ids: Sequence[str]) -> None:
        """Remove units."""

    async def query(
        self, vector: Vector, *, k: int, channel_ids: set[str] | None = None, workspace_id: str | None = None
    ) -> list[ScoredUnit]:
        """Nearest units, restricted to ``channel_ids`` when given (access control)."""

    async def vectors(self, unit_ids: Sequence[str]) -> dict[str, Vector]:
        """Stored vectors of the given units (for reuse by other brains)."""

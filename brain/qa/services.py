"""Shared services the QA brain provides (and the recommender reuses): embedder, unit index, LLM.

Factories are registered only when nobody registered the service before (tests register fakes),
and run lazily on first use, so a process that never answers loads no model.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from bot.brain import BrainContext
from bot.ml import Embedder


class LLMBackendMissingError(RuntimeError):
    """The LLM backend package (``brain.qa.llm``) is not installed in this build."""


def register_services(ctx: BrainContext) -> None:
    """Register factories for ``embedder``, ``unit_index`` and ``llm`` unless already present."""
    services = ctx.services
    settings = ctx.settings

    async def make_embedder() -> Embedder:
        from brain.qa.embedder import SentenceTransformerEmbedder

        e = settings.embeddings
        # Loading a model is seconds of CPU: keep the event loop responsive meanwhile.
        return await asyncio.to_thread(SentenceTransformerEmbedder, e.model, device=e.device, batch_size=e.batch_size)

    async def make_unit_index() -> Any:
        from brain.qa.embedder import model_fingerprint
        from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client

        embedder = await services.get("embedder")
        client = await asyncio.to_thread(open_chroma_client, settings.vectors)
        # One set of collections per encoder: vectors of two models must never be searched together.
        fingerprint = await asyncio.to_thread(model_fingerprint, settings.embeddings.model)
        name = f"{settings.vectors.collection}_{fingerprint}" if fingerprint else settings.vectors.collection
        return await asyncio.to_thread(
            partial(ChromaUnitIndex, client, name, int(embedder.dim), family=settings.vectors.collection)
        )

    async def make_llm() -> Any:
        try:
            from brain.qa.llm.factory import create_llm
        except ImportError as exc:
            raise LLMBackendMissingError(
                "no LLM backend: brain.qa.llm.factory is not available in this build "
                "(set llm.backend or install the LLM backend package)"
            ) from exc
        return create_llm(settings.llm)

    if not services.has("embedder"):
        services.register_factory("embedder", make_embedder)
    if not services.has("unit_index"):
        services.register_factory("unit_index", make_unit_index)
    if not services.has("llm"):
        services.register_factory("llm", make_llm)


async def ensure_services(ctx: BrainContext) -> None:
    """Register the QA services' factories (idempotent); nothing heavy is loaded here."""
    register_services(ctx)

"""Hybrid retrieval: dense (Chroma) + lexical (BM25) fused by reciprocal rank, under an access scope.

Dense vectors find paraphrases; BM25 finds exact tokens (error codes, function names) that
embeddings blur. Reciprocal-rank fusion needs no score calibration between the two. An optional
cross-encoder re-ranks the fused head when ``qa.rerank_model`` names a local model.
Access control is applied *inside* each retriever (never after fusion) so a forbidden unit cannot
even displace an allowed one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Literal

from bot.ml import Embedder, ScoredUnit, UnitIndex, Vector, VectorIndexUnavailable
from brain.qa.access import AccessScope
from brain.qa.bm25 import BM25Index
from brain.qa.indexer import Tombstones
from brain.qa.units import SOLVED_FLAG

log = logging.getLogger(__name__)

Mode = Literal["bm25", "dense", "hybrid", "rerank"]
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid", "rerank")
# Cormack et al. (2009) use k=60 to fuse many long runs. Here two lists of 50 are fused and the head
# of each matters most: on the gold sets k=10 beat k=60 by +1.3 to +2.8 points of recall@10 on each
# of the three datasets swept (k = 5, 10, 20, 30, 60; see benchmarks/qa_retrieval.py), so one
# constant serves every community.
RRF_K = 10


def reciprocal_rank_fusion(
    lists: Sequence[Sequence[ScoredUnit]], *, k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[ScoredUnit]:
    """Fuse ranked lists: score = sum over lists of ``weight / (k + rank)``; ties keep first-list order."""
    scores: dict[str, float] = {}
    units: dict[str, ScoredUnit] = {}
    for i, ranked in enumerate(lists):
        weight = 1.0 if weights is None else weights[i]
        for rank, item in enumerate(ranked, start=1):
            uid = item.unit.unit_id
            scores[uid] = scores.get(uid, 0.0) + weight / (k + rank)
            units.setdefault(uid, item)
    order = sorted(scores, key=lambda uid: -scores[uid])
    return [ScoredUnit(units[uid].unit, scores[uid]) for uid in order]


# A solved thread gains a quarter of a top rank: two to four places near the head of the list, so it
# wins among similarly relevant threads but cannot lift an off-topic one (not tuned on gold data).
SOLVED_WEIGHT = 0.25


def boost_solved(fused: Sequence[ScoredUnit], *, k: int = RRF_K) -> list[ScoredUnit]:
    """Fuse in a third ranked list: the solved threads among ``fused``, in ``fused``'s order.

    A thread whose accepted answer is known is better evidence than an open one on the same topic,
    so it gains what one more retriever ranking it would give; a solved thread far down the list
    gains little, so relevance still decides.
    """
    solved = [s for s in fused if s.unit.extra.get(SOLVED_FLAG)]
    if not solved:
        return list(fused)
    return reciprocal_rank_fusion([fused, solved], k=k, weights=(1.0, SOLVED_WEIGHT))


class CrossEncoderReranker:
    """Re-scores (query, unit) pairs with a local sentence-transformers cross-encoder."""

    def __init__(self, model_path: str) -> None:
        from sentence_transformers import CrossEncoder

        self._model: Any = CrossEncoder(model_path, local_files_only=True)

    def rerank(self, query: str, items: Sequence[ScoredUnit]) -> list[ScoredUnit]:
        """Items sorted by cross-encoder score."""
        if not items:
            return []
        scores = self._model.predict([(query, s.unit.text) for s in items], show_progress_bar=False)
        ranked = sorted(zip(items, scores, strict=True), key=lambda pair: -float(pair[1]))
        return [ScoredUnit(s.unit, float(score)) for s, score in ranked]


class Retriever:
    """Finds units for a query under an :class:`AccessScope`.

    Args:
        embedder: Query embedder (the same model as the units').
        index: Vector index; :class:`brain.qa.vector_index.ChromaUnitIndex` is queried with the
            scope directly, other indexes through ``query`` plus filtering.
        bm25: Lexical index over the same units.
        reranker: Optional cross-encoder.
        fetch_k: Candidates taken from each retriever before fusion.
        tombstones: Deleted messages, channels and forgotten members whose units a flush has not
            rebuilt yet (:class:`brain.qa.indexer.Tombstones`): those units are left out of both
            retrievers' results, so deleted text is not quoted while the vector store refuses the
            delete.
    """

    def __init__(
        self,
        embedder: Embedder,
        index: UnitIndex,
        bm25: BM25Index,
        *,
        reranker: CrossEncoderReranker | None = None,
        fetch_k: int = 50,
        rerank_k: int = 20,
        tombstones: Tombstones | None = None,
    ) -> None:
        self.tombstones = tombstones
        self.embedder = embedder
        self.index = index
        self.bm25 = bm25
        self.reranker = reranker
        self.fetch_k = fetch_k
        self.rerank_k = rerank_k

    async def search(self, query: str, scope: AccessScope, *, k: int = 10, mode: Mode = "hybrid") -> list[ScoredUnit]:
        """Top ``k`` units for ``query`` that ``scope`` allows, by ``mode``."""
        if mode == "bm25":
            return self.lexical(query, scope, k=k)
        if mode == "dense":
            return await self.dense(query, scope, k=k)
        lexical = self.lexical(query, scope, k=self.fetch_k)
        try:
            dense = await self.dense(query, scope, k=self.fetch_k)
        except VectorIndexUnavailable as exc:
            # BM25 lives in this process: answers go on, lexically, while the vector store is down.
            log.warning("qa: the vector index is unreachable (%s); searching the lexical index alone", exc)
            dense = []
        fused = boost_solved(reciprocal_rank_fusion([dense, lexical]))
        if mode == "rerank" or (mode == "hybrid" and self.reranker is not None):
            if self.reranker is None:
                raise ValueError("no re-ranking model configured (qa.rerank_model)")
            head = await asyncio.to_thread(self.reranker.rerank, query, fused[: self.rerank_k])
            fused = head + fused[self.rerank_k :]
        return fused[:k]

    def lexical(self, query: str, scope: AccessScope, *, k: int) -> list[ScoredUnit]:
        """Best units by BM25 (the units holding deleted text are left out before ranking)."""
        dead = self.tombstones
        return self.bm25.search(query, k=k, scope=scope, hidden=dead.hides if dead else None)

    async def dense(self, query: str, scope: AccessScope, *, k: int) -> list[ScoredUnit]:
        """Nearest units by embedding."""
        vector = (await asyncio.to_thread(self.embedder.embed, [query]))[0]
        dead = self.tombstones
        wanted = k * 2 + 10 if dead else k  # over-fetched while units holding deleted text are dropped
        while True:
            found, exhausted = await self._nearest(vector, scope, wanted)
            if not dead:
                return found[:k]
            visible = [s for s in found if not dead.hides(s.unit)]
            # A deleted busy channel or a forgotten prolific member can fill any fixed over-fetch:
            # twice as many are fetched until k survive or the index has no more.
            if len(visible) >= k or exhausted:
                return visible[:k]
            wanted *= 2

    async def _nearest(self, vector: Vector, scope: AccessScope, wanted: int) -> tuple[list[ScoredUnit], bool]:
        """Up to ``wanted`` nearest units ``scope`` allows, and whether the index holds no more."""
        query_scope = getattr(self.index, "query_scope", None)
        if query_scope is not None:
            found: list[ScoredUnit] = await query_scope(vector, k=wanted, scope=scope)
            return found, len(found) < wanted
        # A generic UnitIndex: over-fetch and filter here.
        hits = await self.index.query(vector, k=wanted * 4)
        return [h for h in hits if scope.allows(h.unit)][:wanted], len(hits) < wanted * 4

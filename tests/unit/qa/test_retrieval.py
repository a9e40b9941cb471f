"""Fusion, the Chroma index partitions and access scopes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.config import VectorSettings
from bot.ml import ScoredUnit, Unit
from bot.testing import HashEmbedder
from brain.qa.access import AccessScope
from brain.qa.bm25 import BM25Index
from brain.qa.retriever import MODES, RRF_K, Retriever, reciprocal_rank_fusion
from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client


def su(uid: str, score: float = 1.0) -> ScoredUnit:
    return ScoredUnit(Unit(uid, "slack", "T1", "C1", uid), score)


def test_rrf_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([[su("a"), su("b"), su("c")], [su("b"), su("c"), su("d")]])
    ids = [s.unit.unit_id for s in fused]
    assert ids[0] == "b" and set(ids) == {"a", "b", "c", "d"}
    assert fused[0].score == 1 / (RRF_K + 2) + 1 / (RRF_K + 1)
    assert ids == ["b", "c", "a", "d"]


def units() -> list[Unit]:
    return [
        Unit("pub", "slack", "T1", "C1", "how to rotate the deploy key", message_ids=("1",)),
        Unit("priv", "slack", "T1", "P1", "the deploy key is hunter2", message_ids=("2",), visibility="private"),
        Unit("dm", "slack", "T1", "D1", "deploy key for you: hunter2", message_ids=("3",), visibility="dm"),
        Unit("ws2", "slack", "T2", "C9", "deploy key elsewhere", message_ids=("4",)),
    ]


async def test_chroma_partitions_enforce_scope_and_round_trip(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path))), "t", embedder.dim)
    us = units()
    await index.upsert(us, embedder.embed([u.text for u in us]))
    q = embedder.embed(["deploy key"])[0]
    public = await index.query_scope(q, k=10, scope=AccessScope("slack", "T1"))
    assert [s.unit.unit_id for s in public] == ["pub"]
    member = await index.query_scope(q, k=10, scope=AccessScope("slack", "T1", frozenset({"P1"})))
    assert {s.unit.unit_id for s in member} == {"pub", "priv"}
    assert member[0].unit == us[1] or member[1].unit == us[1]  # metadata round-trips exactly
    by_channel = await index.query(q, k=10, channel_ids={"D1"})
    assert [s.unit.unit_id for s in by_channel] == ["dm"]
    vecs = await index.vectors(["pub", "dm", "nope"])
    assert set(vecs) == {"pub", "dm"} and vecs["pub"].shape == (embedder.dim,)
    # Visibility change moves a unit between partitions (no stale public copy).
    await index.upsert([Unit("pub", "slack", "T1", "C1", "now private", visibility="private")], embedder.embed(["x"]))
    assert await index.count() == 4
    assert [s.unit.unit_id for s in await index.query_scope(q, k=10, scope=AccessScope("slack", "T1"))] == []
    await index.delete(["pub", "priv", "dm", "ws2"])
    assert await index.count() == 0


async def test_hybrid_retriever_modes(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path))), "t", embedder.dim)
    bm25 = BM25Index()
    us = units()
    await index.upsert(us, embedder.embed([u.text for u in us]))
    bm25.add(us)
    retriever = Retriever(embedder, index, bm25)
    scope = AccessScope("slack", "T1")
    for mode in MODES[:3]:
        found = await retriever.search("rotate deploy key", scope, k=5, mode=mode)
        assert [s.unit.unit_id for s in found] == ["pub"], mode
    dm_scope = AccessScope("slack", "T1", frozenset({"D1"}))
    found = await retriever.search("hunter2", dm_scope, k=5)
    assert found[0].unit.unit_id == "dm"
    assert "priv" not in {s.unit.unit_id for s in found}


def test_hash_embedder_vectors_are_normalised() -> None:
    v = HashEmbedder().embed(["a b c"])
    assert np.isclose(np.linalg.norm(v[0]), 1.0)


class ReverseReranker:
    """Stands in for the cross-encoder: same ``rerank`` shape, deterministic order (reversed)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def rerank(self, query: str, items: list[ScoredUnit]) -> list[ScoredUnit]:
        self.seen = [s.unit.unit_id for s in items]
        return [ScoredUnit(s.unit, float(i)) for i, s in enumerate(reversed(items))]


async def test_rerank_reorders_the_fused_head_and_requires_a_model(tmp_path: Path) -> None:
    import pytest

    embedder = HashEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path))), "t", embedder.dim)
    bm25 = BM25Index()
    us = [Unit(f"u{i}", "slack", "T1", "C1", f"deploy key note {i} " + "deploy " * i) for i in range(4)]
    await index.upsert(us, embedder.embed([u.text for u in us]))
    bm25.add(us)
    scope = AccessScope("slack", "T1")
    plain = await Retriever(embedder, index, bm25).search("deploy key", scope, k=4)
    with pytest.raises(ValueError, match="rerank_model"):
        await Retriever(embedder, index, bm25).search("deploy key", scope, k=4, mode="rerank")
    reranker = ReverseReranker()
    reranked = await Retriever(embedder, index, bm25, reranker=reranker).search("deploy key", scope, k=4)  # type: ignore[arg-type]
    assert [s.unit.unit_id for s in reranked] == [s.unit.unit_id for s in reversed(plain)]
    assert reranker.seen == [s.unit.unit_id for s in plain]


def test_solved_threads_gain_a_few_places_but_relevance_still_decides() -> None:
    from dataclasses import replace

    from brain.qa.retriever import boost_solved
    from brain.qa.units import SOLVED_FLAG

    ranked = [su(f"u{i}") for i in range(1, 51)]
    assert [s.unit.unit_id for s in boost_solved(ranked)] == [s.unit.unit_id for s in ranked]

    def solved(i: int) -> ScoredUnit:
        item = ranked[i - 1]
        return ScoredUnit(replace(item.unit, extra={SOLVED_FLAG: "1"}), item.score)

    near = [*ranked[:2], solved(3), *ranked[3:]]
    assert [s.unit.unit_id for s in boost_solved(near)][:3] == ["u3", "u1", "u2"]
    far = [*ranked[:39], solved(40), *ranked[40:]]
    order = [s.unit.unit_id for s in boost_solved(far)]
    assert order.index("u40") > 10, "an off-topic solved thread is not lifted into the answer's sources"
    assert order.index("u40") < 39


async def test_cached_collection_sizes_follow_our_writes(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path))), "t", embedder.dim)
    first = Unit("a", "slack", "T1", "C1", "rotate the deploy key", message_ids=("1",))
    await index.upsert([first], embedder.embed([first.text]))
    q = embedder.embed(["deploy key"])[0]
    scope = AccessScope("slack", "T1")
    assert [s.unit.unit_id for s in await index.query_scope(q, k=10, scope=scope)] == ["a"]  # size 1 cached
    more = [Unit(f"b{i}", "slack", "T1", "C1", f"deploy key note {i}", message_ids=(f"m{i}",)) for i in range(5)]
    await index.upsert(more, embedder.embed([u.text for u in more]))
    assert len(await index.query_scope(q, k=10, scope=scope)) == 6, "a stale size must not cap the results"
    await index.delete(["a", "b0"])
    assert len(await index.query_scope(q, k=10, scope=scope)) == 4

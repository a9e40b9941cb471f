"""Tombstones hide units before ranking: a deleted busy channel or a forgotten prolific member,
however many of the best matches they hold, cannot crowd the live matches out of the results.
"""

from __future__ import annotations

from pathlib import Path

import chromadb

from bot.ml import Unit
from bot.testing.fake_models import HashEmbedder
from brain.qa.access import AccessScope
from brain.qa.bm25 import BM25Index, top_unit_ids
from brain.qa.indexer import Tombstones
from brain.qa.retriever import Retriever
from brain.qa.vector_index import ChromaUnitIndex

SCOPE = AccessScope("slack", "T1")


def _units() -> list[Unit]:
    dead = [
        Unit(f"d{i}", "slack", "T1", "DEAD", f"zebrafish zebrafish tank {i}", message_ids=(f"dm{i}",), kind="window")
        for i in range(200)
    ]
    bob = [
        Unit(f"b{i}", "slack", "T1", "C", f"zebrafish tank b{i}", author_ids=("bob",), message_ids=(f"bm{i}",))
        for i in range(100)
    ]
    live = [
        Unit(f"l{i}", "slack", "T1", "LIVE", f"zebrafish note {i} about other things", message_ids=(f"lm{i}",))
        for i in range(20)
    ]
    return dead + bob + live


def _tombstones() -> Tombstones:
    dead = Tombstones()
    dead.conversations.add(("slack", "T1", "DEAD"))
    dead.authors.add(("slack", "T1", "bob"))
    return dead


def _bm25() -> BM25Index:
    bm25 = BM25Index()
    bm25.add(_units())
    return bm25


def test_lexical_results_are_the_best_live_units_however_many_are_hidden() -> None:
    retriever = Retriever(HashEmbedder(), None, _bm25(), tombstones=_tombstones())  # type: ignore[arg-type]
    for k in (6, 50):
        got = retriever.lexical("zebrafish tank", SCOPE, k=k)
        assert len(got) == min(k, 20)
        assert all(s.unit.channel_id == "LIVE" for s in got)


def test_lexical_results_are_unchanged_when_nothing_is_hidden() -> None:
    bm25 = _bm25()
    retriever = Retriever(HashEmbedder(), None, bm25, tombstones=Tombstones())  # type: ignore[arg-type]
    for k in (6, 50, 400):
        assert top_unit_ids(retriever.lexical("zebrafish tank", SCOPE, k=k)) == top_unit_ids(
            bm25.search("zebrafish tank", k=k, scope=SCOPE)
        )


async def test_dense_results_are_fetched_until_k_live_units_survive(tmp_path: Path) -> None:
    embedder = HashEmbedder(dim=64)
    index = ChromaUnitIndex(chromadb.PersistentClient(path=str(tmp_path)), "t_model", 64, family="t")
    units = _units()
    await index.upsert(units, embedder.embed([u.text for u in units]))
    retriever = Retriever(embedder, index, BM25Index(), tombstones=_tombstones())
    got = await retriever.dense("zebrafish tank", SCOPE, k=6)
    assert len(got) == 6
    assert all(s.unit.channel_id == "LIVE" for s in got)
    assert len(await retriever.dense("zebrafish tank", SCOPE, k=50)) == 20  # every live unit, then no more

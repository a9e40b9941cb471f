"""Slack units indexed under bare ts ids move to channel-qualified ids on the next start, unembedded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.clock import SystemClock
from bot.config import VectorSettings
from bot.ml import Vector
from bot.store import ChannelRow, MessageRow, open_store
from bot.testing import HashEmbedder
from brain.qa.bm25 import BM25Index
from brain.qa.indexer import Indexer
from brain.qa.legacy_ids import is_legacy, legacy_unit_id, requalified
from brain.qa.units import build_units
from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client

CH = ChannelRow("slack", "T1", "C1", "help", "public")


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vector:
        self.texts += len(texts)
        return super().embed(texts)


def msg(mid: str, ts: float, text: str, *, thread: str | None = None) -> MessageRow:
    return MessageRow("slack", "T1", mid, "C1", "u1", ts, text, thread_id=thread)


LEGACY = [
    msg("100.1", 100, "how do I pin poetry lock files", thread="100.1"),
    msg("101.1", 101, "poetry lock --no-update keeps the pins", thread="100.1"),
    msg("500.1", 500, "anyone around for a pytest fixture question"),
    msg("501.1", 501, "fixtures with scope=session live for the whole run"),
]


async def test_units_move_to_the_ids_a_rebuild_would_give_keeping_their_vectors(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path}/store.db")
    await store.upsert_channels([CH])
    await store.upsert_messages(LEGACY)
    embedder = CountingEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path / "chroma"))), "t", embedder.dim)
    await Indexer(store, embedder, index, BM25Index(), clock=SystemClock()).index_all()
    old = {u.unit_id: u for u in await index.all_units()}
    assert old and all(is_legacy(u) for u in old.values())
    old_vectors = await index.vectors(list(old))

    # The store's migration ran (tests/unit/core/test_slack_id_migration.py); the index is next.
    await store.db.execute("DELETE FROM schema_migrations WHERE name LIKE '%slack%channel%ids'")
    await store.migrate()
    migrated = await store.channel_messages("slack", "T1", "C1")
    # A bare id stored after the migration (an event queued before an upgrade) is not the
    # migration's: its unit keeps the id the store holds.
    late = msg("900.1", 900, "a late legacy event about mypy plugins")
    await store.upsert_messages([late])
    later = build_units([late], CH)
    await index.upsert(later, embedder.embed([u.text for u in later]))
    expected = {u.unit_id: u for u in build_units(migrated, CH)}
    assert set(expected) == {"thread:slack:T1:C1:100.1#0", "win:slack:T1:C1:C1:500.1#0"}

    embedded_before = embedder.texts
    indexer = Indexer(store, embedder, index, BM25Index(), clock=SystemClock())
    assert await indexer.load() == len(expected) + 1
    assert embedder.texts == embedded_before  # moved, not embedded again
    now = {u.unit_id: u for u in await index.all_units()}
    assert now.pop("win:slack:T1:C1:900.1#0").message_ids == ("900.1",)
    assert set(now) == set(expected)
    for unit_id, unit in now.items():
        assert (unit.message_ids, unit.thread_id, unit.text) == (
            expected[unit_id].message_ids,
            expected[unit_id].thread_id,
            expected[unit_id].text,
        )
    new_vectors = await index.vectors(list(now))
    for old_id, unit in old.items():
        np.testing.assert_allclose(new_vectors[requalified(unit).unit_id], old_vectors[old_id], rtol=1e-6)
    # Edits, deletes and /forget-me find units by message id: they must find the new ones.
    assert [u.unit_id for u in indexer.units_with_message("slack", "T1", "C1:101.1")] == ["thread:slack:T1:C1:100.1#0"]
    assert indexer.units_with_message("slack", "T1", "101.1") == []
    await store.close()


def test_only_legacy_slack_units_change() -> None:
    discord = build_units(
        [MessageRow("discord", "G", "9", "55", "u", 1.0, "hi", thread_id="9")],
        ChannelRow("discord", "G", "55", "help", "public"),
    )[0]
    assert not is_legacy(discord) and requalified(discord) is discord
    fresh = build_units([msg("C1:7.1", 7, "hello", thread="C1:7.1")], CH)[0]
    assert not is_legacy(fresh) and requalified(fresh) is fresh


def test_a_moved_unit_knows_its_old_id() -> None:
    for unit in build_units(LEGACY, CH):
        assert is_legacy(unit)
        assert legacy_unit_id(requalified(unit)) == unit.unit_id
        assert legacy_unit_id(unit) is None
    discord = build_units(
        [MessageRow("discord", "G", "9", "55", "u", 1.0, "hi", thread_id="9")],
        ChannelRow("discord", "G", "55", "help", "public"),
    )[0]
    assert legacy_unit_id(discord) is None

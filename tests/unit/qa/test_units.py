"""Retrieval units: threads, windows, chunking, stable ids."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.clock import SystemClock
from bot.config import VectorSettings
from bot.ml import Unit, Vector
from bot.store import ChannelRow, MessageRow, open_store
from bot.testing import HashEmbedder
from brain.qa.bm25 import BM25Index
from brain.qa.indexer import Indexer
from brain.qa.units import CONTEXT_KEY, UnitConfig, build_units, embedding_text, group_key
from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client

CH = ChannelRow("slack", "T1", "C1", "help", "public")


def msg(mid: str, ts: float, text: str, *, thread: str | None = None, author: str = "u1", **kw: object) -> MessageRow:
    return MessageRow("slack", "T1", mid, "C1", author, ts, text, thread_id=thread, **kw)  # type: ignore[arg-type]


def test_thread_becomes_one_unit_with_its_messages() -> None:
    msgs = [msg("1", 10, "how do I use asyncio.gather?", thread="1"), msg("2", 20, "await it", thread="1", author="u2")]
    units = build_units(msgs, CH)
    assert [u.unit_id for u in units] == ["thread:slack:T1:1#0"]
    assert units[0].message_ids == ("1", "2")
    assert units[0].author_ids == ("u1", "u2")
    assert units[0].kind == "thread" and units[0].visibility == "public"
    assert units[0].ts_start == 10 and units[0].ts_end == 20


def test_root_without_thread_id_joins_its_thread_and_missing_root_is_fine() -> None:
    # Discord-style root (no thread id on itself) and a Slack-style thread whose root was deleted.
    msgs = [msg("r", 1, "root question"), msg("a", 2, "reply", thread="r"), msg("x", 3, "orphan reply", thread="gone")]
    units = {u.unit_id: u for u in build_units(msgs, CH)}
    assert units["thread:slack:T1:r#0"].message_ids == ("r", "a")
    assert units["thread:slack:T1:gone#0"].message_ids == ("x",)


def test_unthreaded_messages_form_windows_split_by_silence_and_size() -> None:
    cfg = UnitConfig(window_gap_s=60, window_max_messages=3)
    msgs = [msg(str(i), i * 10, f"line {i}") for i in range(5)] + [msg("late", 1000, "after a silence")]
    units = build_units(msgs, CH, config=cfg)
    assert [u.message_ids for u in units] == [("0", "1", "2"), ("3", "4"), ("late",)]
    assert units[0].unit_id == "win:slack:T1:C1:0#0"
    assert all(u.kind == "window" for u in units)


def test_long_thread_is_chunked_at_message_boundaries_with_stable_ids() -> None:
    cfg = UnitConfig(max_chunk_chars=100)
    msgs = [msg(str(i), i, "x" * 60, thread="0") for i in range(5)]
    units = build_units(msgs, CH, config=cfg)
    assert [u.unit_id for u in units] == [f"thread:slack:T1:0#{k}" for k in range(len(units))]
    assert len(units) == 5
    assert [m for u in units for m in u.message_ids] == ["0", "1", "2", "3", "4"]
    assert build_units(list(reversed(msgs)), CH, config=cfg) == units  # order-independent


def test_huge_single_message_is_split_by_the_text_splitter() -> None:
    text = " ".join(f"word{i}" for i in range(3000))
    units = build_units([msg("big", 1, text, thread="big")], CH)
    assert len(units) > 5
    assert all(u.message_ids == ("big",) for u in units)
    assert all(len(u.text) <= 1200 for u in units)


def test_deleted_bot_and_empty_messages_are_not_indexed() -> None:
    msgs = [
        msg("1", 1, "keep me"),
        msg("2", 2, "", deleted=True),
        msg("3", 3, "bot says", is_bot=True),
        msg("4", 4, "   "),
    ]
    units = build_units(msgs, CH)
    assert [u.message_ids for u in units] == [("1",)]


def test_odd_unicode_survives() -> None:
    text = "ｆｕｌｌｗｉｄｔｈ 🐍 e\u0301 \u202eRTL\u202c zero\u200bwidth"
    units = build_units([msg("1", 1, text)], CH)
    assert units[0].text == text


def test_group_key() -> None:
    assert group_key(msg("1", 1, "a", thread="9")) == "thread:slack:T1:9"
    assert group_key(msg("1", 1, "a")) == "chan:slack:T1:C1"


def test_later_chunks_carry_the_opening_of_the_first_for_the_encoder() -> None:
    cfg = UnitConfig(max_chunk_chars=100, context_chars=30)
    msgs = [msg("0", 0, "why does asyncio.gather hang forever here", thread="0")]
    msgs += [msg(str(i), i, f"reply {i} " + "y" * 60, thread="0", author="u2") for i in range(1, 4)]
    units = build_units(msgs, CH, config=cfg)
    assert len(units) == 4
    assert CONTEXT_KEY not in units[0].extra and embedding_text(units[0]) == units[0].text
    for u in units[1:]:
        assert u.extra[CONTEXT_KEY] == "why does asyncio.gather hang f"
        assert embedding_text(u) == f"why does asyncio.gather hang f\n{u.text}"
        assert "asyncio" not in u.text  # the shown and BM25-indexed text stays the chunk's own
    assert [CONTEXT_KEY in u.extra for u in build_units(msgs, CH, config=UnitConfig(100, context_chars=0))] == [
        False
    ] * 4


def test_embedding_text_puts_the_title_first() -> None:
    unit = Unit("u", "discord", "G", "C", "chunk", title="Forum title", extra={CONTEXT_KEY: "opening"})
    assert embedding_text(unit) == "Forum title\nopening\nchunk"
    assert embedding_text(Unit("v", "discord", "G", "C", "chunk", title="T")) == "T\nchunk"


class RecordingEmbedder(HashEmbedder):
    """Remembers every text it embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vector:
        self.seen += texts
        return super().embed(texts)


async def test_indexer_embeds_the_context_but_bm25_and_the_store_keep_the_chunk_text(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path}/store.db")
    await store.upsert_channels([CH])
    await store.upsert_messages(
        [msg("0", 0, "how do I pin poetry lock files", thread="0")]
        + [msg(str(i), i, f"answer {i} " + "z" * 1190, thread="0", author="u2") for i in range(1, 3)]
    )
    embedder = RecordingEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path / "chroma"))), "t", embedder.dim)
    bm25 = BM25Index()
    await Indexer(store, embedder, index, bm25, clock=SystemClock()).index_all()
    await store.close()
    later = [u for u in bm25.units() if not u.unit_id.endswith("#0")]
    assert later and all(u.extra[CONTEXT_KEY].startswith("how do I pin poetry") for u in later)
    assert all(embedding_text(u) in embedder.seen and u.text not in embedder.seen for u in later)
    assert [s.unit.unit_id for s in bm25.search("poetry lock", k=5)] == ["thread:slack:T1:0#0"]
    stored = {u.unit_id: u for u in await index.all_units()}
    assert all(stored[u.unit_id].extra == u.extra and stored[u.unit_id].text == u.text for u in later)


async def test_only_changed_text_is_embedded_again(tmp_path: Path) -> None:
    """A reply rebuilds every chunk of its thread, and `index all` every unit; the unchanged ones
    keep their stored vector instead of going through the encoder again (also after a restart)."""
    store = await open_store(f"sqlite:///{tmp_path}/store.db")
    await store.upsert_channels([CH])
    long = "z" * 1190
    await store.upsert_messages(
        [msg("0", 0, "how do I pin poetry lock files", thread="0")]
        + [msg(str(i), i, f"answer {i} {long}", thread="0", author="u2") for i in range(1, 4)]
    )
    embedder = RecordingEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path / "chroma"))), "t", embedder.dim)
    indexer = Indexer(store, embedder, index, BM25Index(), clock=SystemClock())
    first = await indexer.index_all()
    assert first.units_upserted == first.texts_embedded == 4  # the question, then one chunk per answer
    before = await index.vectors(["thread:slack:T1:0#0"])
    # A reply rebuilds the thread: only its own new chunk is text the encoder has not seen.
    reply = msg("4", 4, "thanks, that worked", thread="0", author="u1")
    await store.upsert_messages([reply])
    indexer.touch(reply)
    embedder.seen.clear()
    live = await indexer.flush()
    assert live.units_upserted == 5 and live.texts_embedded == 1
    assert len(embedder.seen) == 1 and "thanks, that worked" in embedder.seen[0]
    again = await indexer.index_all()
    assert again.texts_embedded == 0 and again.units_upserted == 5
    # After a restart the units come back from the vector store and still keep their vectors.
    restarted = Indexer(store, embedder, index, BM25Index(), clock=SystemClock())
    await restarted.load()
    assert (await restarted.index_all()).texts_embedded == 0
    after = await index.vectors(["thread:slack:T1:0#0"])
    assert (after["thread:slack:T1:0#0"] == before["thread:slack:T1:0#0"]).all()
    # An edit changes its chunk's text: that chunk is embedded again.
    await store.upsert_messages([msg("1", 1, f"answer one, edited {long}", thread="0", author="u2")])
    assert (await restarted.index_all()).texts_embedded >= 1
    await store.close()


async def test_touches_hours_apart_keep_the_untouched_windows_between_them(tmp_path: Path) -> None:
    """One flush carrying an edit at 09:00 and a new message at 11:00 rebuilds those two windows;
    the 10:00 conversation between them stays indexed (it was dropped without a rebuild)."""
    store = await open_store(f"sqlite:///{tmp_path}/store.db")
    await store.upsert_channels([CH])
    hour = 3600.0
    first, middle = msg("a", 9 * hour, "the cache key is the commit sha"), msg("b", 10 * hour, "use ruff for lint")
    await store.upsert_messages([first, middle])
    embedder = HashEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path / "chroma"))), "t", embedder.dim)
    bm25 = BM25Index()
    indexer = Indexer(store, embedder, index, bm25, clock=SystemClock())
    await indexer.index_all()
    edited = msg("a", 9 * hour, "the cache key is the lockfile hash", edited_ts=11 * hour)
    late = msg("c", 11 * hour, "pin the python version too")
    await store.upsert_messages([edited, late])
    indexer.touch(edited)
    indexer.touch(late)
    try:
        await indexer.flush()
    finally:
        await store.close()
    texts = sorted(u.text for u in bm25.units())
    assert texts == ["pin the python version too", "the cache key is the lockfile hash", "use ruff for lint"]
    assert sorted(u.text for u in await index.all_units()) == texts

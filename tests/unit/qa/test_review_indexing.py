"""Review of the indexing path: a channel made private while it is re-embedded, a message moved to
another thread, blank messages, plural and singular words, and docs whose blocks ran together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.config import VectorSettings
from bot.ml import Unit, Vector
from bot.store import ChannelRow, MessageRow, Store, open_store
from bot.testing import HashEmbedder
from brain.qa.access import AccessScope
from brain.qa.bm25 import BM25Index
from brain.qa.docs import DocSource, doc_units, html_to_markdown
from brain.qa.indexer import Indexer
from brain.qa.retriever import Retriever
from brain.qa.tokenize import tokenize
from brain.qa.units import build_units
from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client

OPS = ChannelRow("slack", "T1", "C1", "ops", "public")
PUBLIC = AccessScope("slack", "T1")
OPS_MEMBERS = AccessScope("slack", "T1", frozenset({"C1"}))


def msg(mid: str, ts: float, text: str, *, thread: str | None = None, channel: str = "C1") -> MessageRow:
    return MessageRow("slack", "T1", mid, channel, "u1", ts, text, thread_id=thread)


class GatedIndex(ChromaUnitIndex):
    """A Chroma index whose writes, once ``hold`` is set, wait for ``release`` (re-embedding and
    writing a busy channel takes minutes; questions are answered meanwhile)."""

    hold = False

    def open_gate(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def upsert(self, units: Sequence[Unit], vectors: Vector) -> None:
        if self.hold:
            self.entered.set()
            await self.release.wait()
        await super().upsert(units, vectors)


@dataclass
class Setup:
    store: Store
    index: GatedIndex
    indexer: Indexer
    retriever: Retriever


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    store = await open_store(f"sqlite:///{tmp_path}/store.db")
    embedder = HashEmbedder()
    index = GatedIndex(open_chroma_client(VectorSettings(path=str(tmp_path / "chroma"))), "t", embedder.dim)
    index.open_gate()
    bm25 = BM25Index()
    indexer = Indexer(store, embedder, index, bm25, clock=SystemClock())
    retriever = Retriever(embedder, index, bm25, tombstones=indexer.tombstones)
    yield Setup(store, index, indexer, retriever)
    await store.close()


async def found(setup: Setup, query: str, scope: AccessScope) -> set[str]:
    """Texts of the units both retrievers return for ``query`` under ``scope``."""
    lexical = setup.retriever.lexical(query, scope, k=10)
    dense = await setup.retriever.dense(query, scope, k=10)
    return {s.unit.text for s in [*lexical, *dense]}


async def test_a_channel_made_private_leaves_public_answers_while_its_units_are_rebuilt(setup: Setup) -> None:
    """Its units carry the old visibility until re-embedded: questions asked meanwhile must not
    see them (ChannelSeen and the policy sync rebuild through ``index_all``)."""
    await setup.store.upsert_channels([OPS])
    await setup.store.upsert_messages([msg("1", 1, "the vault root token is in the ops safe", thread="1")])
    await setup.indexer.index_all()
    assert any("vault root token" in t for t in await found(setup, "vault root token", PUBLIC))
    private = replace(OPS, visibility="private")
    await setup.store.upsert_channels([private])
    setup.index.hold = True
    rebuild = asyncio.create_task(setup.indexer.index_all(channels=[private]))
    await asyncio.wait_for(setup.index.entered.wait(), 30)
    assert not any("vault" in t for t in await found(setup, "vault root token", PUBLIC))
    setup.index.release.set()
    await rebuild
    assert not any("vault" in t for t in await found(setup, "vault root token", PUBLIC))
    assert any("vault root token" in t for t in await found(setup, "vault root token", OPS_MEMBERS))


async def test_a_channel_made_private_leaves_public_answers_while_a_flush_rebuilds_it(setup: Setup) -> None:
    """The first message carrying the new visibility makes its flush rebuild the channel whole:
    its older units are hidden from that moment, not once the rebuild is written."""
    await setup.store.upsert_channels([OPS])
    await setup.store.upsert_messages([msg("1", 1, "the vault root token is in the ops safe", thread="1")])
    await setup.indexer.index_all()
    await setup.store.upsert_channels([replace(OPS, visibility="private")])
    late = msg("2", 5000, "standup moved to ten")
    await setup.store.upsert_messages([late])
    setup.indexer.touch(late)
    setup.index.hold = True
    flush = asyncio.create_task(setup.indexer.flush())
    await asyncio.wait_for(setup.index.entered.wait(), 30)
    assert not any("vault" in t for t in await found(setup, "vault root token", PUBLIC))
    setup.index.release.set()
    await flush
    assert not any("vault" in t for t in await found(setup, "vault root token", PUBLIC))
    assert any("vault root token" in t for t in await found(setup, "vault root token", OPS_MEMBERS))
    assert not setup.indexer.tombstones  # shown again to those who may read it


async def test_a_message_moved_to_another_thread_leaves_its_old_threads_unit(setup: Setup) -> None:
    await setup.store.upsert_channels([OPS])
    await setup.store.upsert_messages(
        [
            msg("t1", 1, "kafka consumer lag question", thread="t1"),
            msg("m", 2, "restart the broker with the swordfish flag", thread="t1"),
            msg("t2", 3, "redis eviction question", thread="t2"),
        ]
    )
    await setup.indexer.index_all()
    moved = msg("m", 2, "restart the broker with the swordfish flag", thread="t2")
    await setup.store.upsert_messages([moved])  # the store follows the message to its new thread
    setup.indexer.touch(moved)
    await setup.indexer.flush()
    holding = {u.unit_id for u in setup.indexer.bm25.units() if "m" in u.message_ids}
    assert holding == {"thread:slack:T1:t2#0"}
    stored = {u.unit_id for u in await setup.index.all_units() if "swordfish" in u.text}
    assert stored == {"thread:slack:T1:t2#0"}


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200c\u2060", "\ufeff", "\u200f\u202e", " \u200b\n"])
def test_a_message_of_only_invisible_characters_makes_no_unit(text: str) -> None:
    assert build_units([msg("1", 1, text)], OPS) == []
    [unit] = build_units([msg("1", 1, "real question", thread="1"), msg("2", 2, text, thread="1")], OPS)
    assert unit.message_ids == ("1",)


def test_emoji_and_right_to_left_messages_still_make_units() -> None:
    units = build_units([msg("1", 1, "🎉🎉"), msg("2", 5000, "\u200fשלום עולם")], OPS)
    assert [u.text for u in units] == ["🎉🎉", "\u200fשלום עולם"]


@pytest.mark.parametrize(
    ("singular", "plural"),
    [
        ("setting", "settings"),
        ("warning", "warnings"),
        ("string", "strings"),
        ("database", "databases"),
        ("release", "releases"),
        ("response", "responses"),
        ("class", "classes"),
        ("process", "processes"),
        ("cache", "caches"),
        ("status", "statuses"),
        ("cause", "causes"),
        ("excuse", "excuses"),
        ("error", "errors"),
        ("file", "files"),
        ("match", "matches"),
        ("box", "boxes"),
        ("query", "queries"),
    ],
)
def test_a_plural_is_tokenized_as_its_singular(singular: str, plural: str) -> None:
    assert tokenize(plural) == tokenize(singular)


@pytest.mark.parametrize(
    ("one", "other"), [("state", "stats"), ("plane", "plan"), ("scrape", "scrap"), ("spine", "spin")]
)
def test_a_final_e_after_consonant_vowel_consonant_keeps_words_apart(one: str, other: str) -> None:
    assert tokenize(one) != tokenize(other)


@pytest.mark.parametrize(
    "forms",
    [
        ("cache", "cached", "caching", "caches"),
        ("release", "released", "releases"),
        ("delete", "deleted", "deletes"),
        ("store", "stored", "stores"),
        ("close", "closed", "closing", "closes"),
        ("state", "stated", "states"),
        ("update", "updated", "updates"),
        ("refuse", "refused", "refuses"),
        ("write", "writing", "writes"),
        ("code", "coded", "codes"),
        ("visit", "visited", "visits"),
        ("edit", "edited", "edits"),
    ],
)
def test_verb_forms_meet_their_word(forms: tuple[str, ...]) -> None:
    assert len({tuple(tokenize(f)) for f in forms}) == 1, [tokenize(f) for f in forms]


def test_a_singular_query_finds_the_plural_in_the_index() -> None:
    bm25 = BM25Index()
    bm25.add(
        [
            Unit("a", "slack", "T1", "C1", "which databases support jsonb columns"),
            Unit("b", "slack", "T1", "C1", "the settings page lives under admin"),
            Unit("c", "slack", "T1", "C1", "unrelated chatter about lunch"),
        ]
    )
    assert [s.unit.unit_id for s in bm25.search("database", k=3)] == ["a"]
    assert [s.unit.unit_id for s in bm25.search("setting", k=3)] == ["b"]


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<dl><dt>timeout</dt><dd>Seconds to wait</dd></dl>", "timeout\nSeconds to wait"),
        ("<dl><dt>timeout<dd>Seconds<dt>retries<dd>Count</dl>", "timeout\nSeconds\nretries\nCount"),
        ("<section>one</section><section>two</section>", "one\ntwo"),
        ("<blockquote>quoted</blockquote>after", "quoted\nafter"),
        ("<header>Docs</header><main>Body</main>", "Docs\nBody"),
        ("<details><summary>Why</summary>Because</details>", "Why\nBecause"),
        ("before<hr>after", "before\nafter"),
        ("<head><title>Install</title></head><body>Run pip</body>", "Install\nRun pip"),
        ("<p>Use <code>pip</code> <b>now</b></p>", "Use pip now"),
    ],
)
def test_html_blocks_do_not_run_into_each_other(html: str, text: str) -> None:
    assert html_to_markdown(html) == text


def test_a_definition_list_term_is_searchable_in_docs() -> None:
    page = "<h1>Settings</h1><dl><dt>max_retries</dt><dd>How often a request is tried again</dd></dl>"
    [unit] = doc_units(DocSource("config.html", "/docs/config.html", page, "html"))
    assert "max_retries" in tokenize(unit.text)  # not "max_retrieshow"
    bm25 = BM25Index()
    bm25.add([unit])
    assert len(bm25.search("how many retries", k=3)) == 1

"""Technical tokenization and the BM25 index."""

from __future__ import annotations

from bot.ml import Unit
from brain.qa.access import AccessScope
from brain.qa.bm25 import BM25Index, top_unit_ids
from brain.qa.tokenize import tokenize


def unit(uid: str, text: str, *, channel: str = "C1", visibility: str = "public", ws: str = "T1") -> Unit:
    return Unit(uid, "slack", ws, channel, text, visibility=visibility)


def test_identifiers_survive_tokenization() -> None:
    tokens = tokenize("Why does asyncio.gather raise ERR_CONNECTION_REFUSED after `poetry lock`?")
    assert "asyncio.gather" in tokens and "asyncio" in tokens and "gather" in tokens
    assert "err_connection_refused" in tokens
    assert "poetry" in tokens and "lock" in tokens
    assert "why" not in tokens and "does" not in tokens


def test_light_stemming_joins_plurals_and_keeps_identifiers() -> None:
    assert tokenize("errors") == tokenize("error")
    assert tokenize("installing") == tokenize("install")
    assert "requests.get" in tokenize("requests.get")


def test_exact_error_code_ranks_first() -> None:
    index = BM25Index()
    index.add(
        [
            unit("a", "the connection was refused by the server, check the firewall"),
            unit("b", "got ERR_CONNECTION_REFUSED from chrome when the dev server is down"),
            unit("c", "use asyncio.gather to run coroutines concurrently"),
        ]
    )
    assert top_unit_ids(index.search("ERR_CONNECTION_REFUSED", k=3))[0] == "b"
    assert top_unit_ids(index.search("how to run asyncio.gather", k=1)) == ["c"]


def test_replace_and_remove() -> None:
    index = BM25Index()
    index.add([unit("a", "old secret text")])
    index.add([unit("a", "new public text")])
    assert index.search("secret") == []
    assert top_unit_ids(index.search("public")) == ["a"]
    assert index.remove(["a", "missing"]) == 1
    assert index.search("public") == [] and len(index) == 0


def test_scope_masks_units_before_ranking() -> None:
    index = BM25Index()
    index.add(
        [
            unit("pub", "deploy key rotation how-to"),
            unit("priv", "deploy key rotation deploy key rotation", channel="P1", visibility="private"),
            unit("other", "deploy key rotation", ws="T2"),
        ]
    )
    assert top_unit_ids(index.search("deploy key", scope=AccessScope("slack", "T1"))) == ["pub"]
    both = top_unit_ids(index.search("deploy key", scope=AccessScope("slack", "T1", frozenset({"P1"}))))
    assert both == ["priv", "pub"]
    # Cached masks are invalidated when the index changes.
    index.add([unit("pub2", "deploy key again")])
    assert "pub2" in top_unit_ids(index.search("deploy key", scope=AccessScope("slack", "T1")))


def test_compaction_keeps_results() -> None:
    index = BM25Index()
    index.add([unit(f"u{i}", f"common word{i}") for i in range(3000)])
    index.remove([f"u{i}" for i in range(2500)])
    assert index.stats()["tombstones"] == 0  # compacted
    assert top_unit_ids(index.search("word2999", k=1)) == ["u2999"]
    assert len(index.search("common", k=1000)) == 500


def test_empty_and_garbage_queries() -> None:
    index = BM25Index()
    assert index.search("anything") == []
    index.add([unit("a", "text")])
    assert index.search("") == [] and index.search("?!… 🙂") == []


def test_words_of_other_scripts_are_searchable() -> None:
    # The ASCII token pattern saw nothing of Russian or Chinese: such a community had no lexical search.
    assert tokenize("ошибка импорта") == ["ошибка", "импорта"]
    assert tokenize("构建失败") == ["构建", "建失", "失败"]  # unspaced scripts: character pairs
    assert tokenize("asyncio.gather fails") == ["asyncio.gather", "asyncio", "gather", "fail"]  # English unchanged
    index = BM25Index()
    index.add(
        [
            unit("ru", "ошибка импорта модуля requests после обновления"),
            unit("zh", "构建失败是因为缓存太旧"),
            unit("en", "the build failed because the cache was stale"),
        ]
    )
    assert top_unit_ids(index.search("ошибка импорта", k=1)) == ["ru"]
    assert top_unit_ids(index.search("为什么构建失败", k=1)) == ["zh"]

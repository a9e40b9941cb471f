"""Docs sources: decoding, URL lists, HTML conversion, and re-indexing that leaves no stale section."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.config import VectorSettings
from bot.ml import Unit
from bot.store import open_store
from bot.testing import HashEmbedder
from brain.qa.bm25 import BM25Index
from brain.qa.docs import (
    DocReadError,
    DocSource,
    doc_units,
    html_to_markdown,
    index_docs,
    read_doc_paths,
    read_source,
)
from brain.qa.indexer import Indexer
from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client

THREE_SECTIONS = "# FAQ\n## Proxy\nSet HTTPS_PROXY.\n## Cache\nClear ~/.cache.\n## Wheels\nUse --only-binary.\n"


@pytest.fixture
async def indexer(tmp_path: Path) -> AsyncIterator[Indexer]:
    store = await open_store(f"sqlite:///{tmp_path}/store.db")
    embedder = HashEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path / "chroma"))), "t", embedder.dim)
    yield Indexer(store, embedder, index, BM25Index(), clock=SystemClock())
    await store.close()


async def stored_doc_texts(indexer: Indexer) -> list[str]:
    """Docs texts in the vector store (what survives a restart), not just the in-memory BM25."""
    return sorted(" ".join(u.text.split()) for u in await indexer.index.all_units() if u.kind == "doc")  # type: ignore[attr-defined]


async def test_a_shortened_document_loses_its_surplus_sections(indexer: Indexer, tmp_path: Path) -> None:
    faq = tmp_path / "docs" / "faq.md"
    faq.parent.mkdir()
    faq.write_text(THREE_SECTIONS)
    first = await index_docs(indexer, [faq])
    assert first.sections == 3 and len(await stored_doc_texts(indexer)) == 3
    faq.write_text("# FAQ\n## Proxy\nSet HTTPS_PROXY.\n")
    second = await index_docs(indexer, [faq])
    assert second.sections == 1 and second.stats.units_deleted == 2
    assert await stored_doc_texts(indexer) == ["# FAQ ## Proxy Set HTTPS_PROXY."]
    assert len([u for u in indexer.bm25.units() if u.kind == "doc"]) == 1


async def test_add_units_also_drops_a_shortened_documents_old_chunks(indexer: Indexer, tmp_path: Path) -> None:
    faq = tmp_path / "faq.md"
    faq.write_text(THREE_SECTIONS)
    await indexer.add_units(doc_units(read_source(faq)))
    faq.write_text("# FAQ\n## Wheels\nUse --only-binary.\n")
    await indexer.add_units(doc_units(read_source(faq)))
    assert await stored_doc_texts(indexer) == ["# FAQ ## Wheels Use --only-binary."]


async def test_emptied_and_deleted_files_lose_all_their_sections(indexer: Indexer, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "keep.md").write_text("# Keep\nstays\n")
    (folder / "empty.md").write_text("# Empty\nsoon empty\n")
    (folder / "gone.md").write_text("# Gone\nsoon deleted\n")
    (folder / "single.md").write_text("# Single\ndeleted, then named alone\n")
    await index_docs(indexer, [folder])
    assert len(await stored_doc_texts(indexer)) == 4
    (folder / "empty.md").write_text("")
    (folder / "gone.md").unlink()
    report = await index_docs(indexer, [folder])
    assert report.errors == [] and report.removed == [str((folder / "gone.md").resolve())]
    assert await stored_doc_texts(indexer) == ["# Keep stays", "# Single deleted, then named alone"]
    # A deleted file named on its own: its sections go, and that is not an error.
    (folder / "single.md").unlink()
    alone = await index_docs(indexer, [folder / "single.md"])
    assert alone.errors == [] and alone.removed == [str((folder / "single.md").resolve())]
    assert await stored_doc_texts(indexer) == ["# Keep stays"]
    # A path that never held docs is still reported.
    assert (await index_docs(indexer, [tmp_path / "nope.md"])).errors == [f"not found: {tmp_path / 'nope.md'}"]


def test_bad_url_lines_are_reported_per_line_not_raised(tmp_path: Path) -> None:
    urls = tmp_path / "more.urls"
    urls.write_bytes(b"# docs\nhttps://docs.python.org/3/ a b\nhttps://ex\xe9mple.invalid/\nhttp://[::1\nftp://x/y\n")
    sources, errors = read_doc_paths([urls])
    assert sources == [] and len(errors) == 4
    assert errors[0].startswith(f"{urls}:2: not a valid URL") and "a b" in errors[0]
    assert errors[1].startswith(f"{urls}:3: could not fetch https://ex\ufffdmple.invalid/")
    assert (
        errors[2].startswith(f"{urls}:4: could not fetch") and errors[3] == f"{urls}:5: not an http(s) URL: ftp://x/y"
    )


def test_binary_files_are_skipped_and_bom_utf16_is_decoded(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "utf16.md").write_bytes(codecs.BOM_UTF16_LE + "# Título\nnaïve café\n".encode("utf-16-le"))
    (folder / "utf16be.txt").write_bytes(codecs.BOM_UTF16_BE + "big endian".encode("utf-16-be"))
    (folder / "bom8.md").write_bytes(codecs.BOM_UTF8 + b"# Heading\ntext\n")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "noise.md").write_bytes(bytes(range(128, 256)) * 4)
    (folder / "latin1.md").write_bytes(b"# Notes\n" + "one café in Latin-1, the rest is ASCII text".encode("latin-1"))
    sources, errors = read_doc_paths([folder])
    texts = {s.name: s.text for s in sources}
    assert texts["utf16.md"] == "# Título\nnaïve café\n" and texts["utf16be.txt"] == "big endian"
    assert texts["bom8.md"].startswith("# Heading")
    assert texts["latin1.md"] == "# Notes\none café in Latin-1, the rest is ASCII text"  # not UTF-8: Windows-1252
    assert sorted(errors) == [
        f"skipped {folder / 'image.txt'}: binary file (NUL bytes), not text",
        f"skipped {folder / 'noise.md'}: not UTF-8 (nor Windows-1252) text",
    ]
    with pytest.raises(DocReadError, match="binary"):
        read_source(folder / "image.txt")


def test_html_skipped_parts_emit_nothing_and_pre_is_fenced() -> None:
    html = (
        "<html><body><nav><h2>Menu</h2><a>Home</a></nav>"
        "<script>var x = '<h1>';</script>"
        "<h1>Install</h1><p>Run pip.</p>"
        "<pre># a shell comment\npip install guildhall</pre>"
        "<footer><h3>Contact</h3></footer><p>after footer</p></body></html>"
    )
    md = html_to_markdown(html)
    assert md == ("# Install\n\nRun pip.\n```\n# a shell comment\npip install guildhall\n```\n\nafter footer"), md
    units = doc_units_of_html(html)
    assert [u.title for u in units] == ["page.html › Install"]


def test_an_unclosed_nav_does_not_hide_the_page() -> None:
    # The nav ends with its parent...
    md = html_to_markdown("<body><div><nav><a>Home</a><a>Docs</div><h1>Guide</h1><p>Read me.</p></body>")
    assert md == "# Guide\n\nRead me."
    # ... or where the page's content starts.
    md = html_to_markdown("<body><nav><ul><li>Home<li>Docs<main><h2>Setup</h2><p>Step one.</p></main></body>")
    assert md == "## Setup\n\nStep one."


def doc_units_of_html(html: str) -> list[Unit]:
    return doc_units(DocSource("page.html", "/docs/page.html", html, "html"))


def test_text_that_is_not_utf8_is_never_read_with_replacement_characters(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "latin1.txt").write_bytes("Café au lait, crème brûlée".encode("latin-1"))
    (folder / "cp1252.md").write_bytes("# Prices\n“quoted” – €5".encode("cp1252"))
    # UTF-8 with one stray Windows-1252 byte: the UTF-8 stays UTF-8.
    (folder / "mixed.md").write_bytes("naïve in UTF-8, ".encode() + b"caf\xe9 in Windows-1252")
    # A local page is read in the charset it declares (Greek here, which Windows-1252 would garble).
    (folder / "greek.html").write_bytes(
        b'<html><head><meta charset="iso-8859-7"></head><body><h1>' + "Καλημέρα".encode("iso-8859-7") + b"</h1></body>"
    )
    (folder / "latin.htm").write_bytes(
        b"<html><head><meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'></head>"
        b"<body><p>Caf\xe9</p></body></html>"
    )
    sources, errors = read_doc_paths([folder])
    texts = {s.name: s.text for s in sources}
    assert errors == [] and not any("\ufffd" in t for t in texts.values())
    assert texts["latin1.txt"] == "Café au lait, crème brûlée"
    assert texts["cp1252.md"] == "# Prices\n“quoted” – €5"
    assert texts["mixed.md"] == "naïve in UTF-8, café in Windows-1252"
    assert "<h1>Καλημέρα</h1>" in texts["greek.html"] and "<p>Café</p>" in texts["latin.htm"]

"""Docs sources as an operator points at them: real folder trees and pages served over HTTP."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.config import VectorSettings
from bot.store import open_store
from bot.testing import HashEmbedder
from brain.qa import docs
from brain.qa.bm25 import BM25Index
from brain.qa.docs import DocFetchError, fetch_url, index_docs, read_doc_paths
from brain.qa.indexer import Indexer
from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client


@pytest.fixture
async def indexer(tmp_path: Path) -> AsyncIterator[Indexer]:
    store = await open_store(f"sqlite:///{tmp_path}/store.db")
    embedder = HashEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path / "chroma"))), "t", embedder.dim)
    yield Indexer(store, embedder, index, BM25Index(), clock=SystemClock())
    await store.close()


async def test_a_document_named_twice_is_indexed_once(indexer: Indexer, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "faq.md").write_text("# FAQ\n## Proxy\nSet HTTPS_PROXY.\n")
    (folder / "alias.md").symlink_to(folder / "faq.md")
    # The folder and a file in it, plus a symlink to that file: one document, not three copies
    # of the same unit ids (which the vector store refuses, failing the whole run).
    report = await index_docs(indexer, [folder, folder / "faq.md"])
    assert report.errors == [] and report.documents == 1 and report.sections == 1
    assert len([u for u in indexer.bm25.units() if u.kind == "doc"]) == 1


def test_hidden_and_package_folders_are_not_walked_and_link_loops_end(tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    (folder / "guide").mkdir(parents=True)
    (folder / "guide" / "setup.md").write_text("# Setup\nours\n")
    (folder / "node_modules" / "left-pad").mkdir(parents=True)
    (folder / "node_modules" / "left-pad" / "README.md").write_text("# left-pad\nthird party\n")
    (folder / ".git" / "hooks").mkdir(parents=True)
    (folder / ".git" / "hooks" / "README.txt").write_text("git internals\n")
    (folder / ".notes.md").write_text("an editor's scratch file\n")
    (folder / "guide" / "loop").symlink_to(folder)
    sources, errors = read_doc_paths([folder])
    assert errors == [] and [s.name for s in sources] == ["setup.md"]


def test_a_huge_file_is_skipped_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docs, "MAX_DOC_BYTES", 1000)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "small.md").write_text("# Small\nfine\n")
    (folder / "dump.txt").write_text("log line\n" * 200)
    sources, errors = read_doc_paths([folder])
    assert [s.name for s in sources] == ["small.md"]
    assert errors == [f"skipped {folder / 'dump.txt'}: too large (1,800 bytes; the limit is 1,000)"]


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html"
    status: int = 200
    # Set: after the body, the response stays open until the test ends (an endless stream).
    hold: bool = False


@dataclass
class DocsServer:
    """Pages served by a real ``http.server`` on port 0, with the requests it received."""

    url: str
    pages: dict[str, Page]
    requests: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def server() -> Iterator[DocsServer]:
    pages: dict[str, Page] = {}
    state: list[DocsServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state[0].requests.append(self.path)
            page = pages.get(self.path, Page(b"not found", "text/plain", 404))
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            if not page.hold:
                self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            self.wfile.write(page.body)
            self.wfile.flush()
            if page.hold:
                state[0].release.wait()
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    srv = DocsServer(f"http://127.0.0.1:{httpd.server_address[1]}", pages)
    state.append(srv)
    yield srv
    srv.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_a_page_is_decoded_with_its_declared_charset(server: DocsServer) -> None:
    server.pages["/latin1.txt"] = Page("Café crème, naïve".encode("latin-1"), "text/plain; charset=ISO-8859-1")
    server.pages["/meta.html"] = Page(
        b'<html><head><meta charset="windows-1252"></head><body><h1>R\xe9sum\xe9</h1><p>\x93quoted\x94</p></body>'
    )
    assert fetch_url(server.url + "/latin1.txt").text == "Café crème, naïve"
    page = fetch_url(server.url + "/meta.html")
    assert page.kind == "html" and "<h1>Résumé</h1><p>“quoted”</p>" in page.text


def test_pages_that_are_not_text_are_refused(server: DocsServer) -> None:
    server.pages["/manual.pdf"] = Page(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nstream", "application/pdf")
    with pytest.raises(DocFetchError, match=r"not a text page \(Content-Type application/pdf\)"):
        fetch_url(server.url + "/manual.pdf")


def test_the_size_cap_applies_while_streaming(server: DocsServer) -> None:
    # The server never ends this response: only a cap checked as bytes arrive returns.
    server.pages["/endless"] = Page(b"x" * 5000, "text/plain", hold=True)
    with pytest.raises(DocFetchError, match="larger than 1,000 bytes"):
        fetch_url(server.url + "/endless", max_bytes=1000)


def test_a_page_that_drips_in_past_the_timeout_fails(server: DocsServer) -> None:
    server.pages["/slow"] = Page(b"# Slow\ntext\n", "text/markdown")
    ticks = iter([0.0, 11.0, 12.0])  # the first read comes back after the 10 s allowed in all
    with pytest.raises(DocFetchError, match="timed out after 10 s"):
        fetch_url(server.url + "/slow", timeout=10.0, clock=lambda: next(ticks))


def test_a_url_listed_twice_is_fetched_once_and_errors_name_their_line(server: DocsServer, tmp_path: Path) -> None:
    server.pages["/faq"] = Page(b"# FAQ\nanswers\n", "text/markdown; charset=utf-8")
    urls = tmp_path / "site.urls"
    urls.write_text(f"# our docs\n\n{server.url}/faq\n{server.url}/faq\n{server.url}/gone\n")
    sources, errors = read_doc_paths([urls])
    assert [s.text for s in sources] == ["# FAQ\nanswers\n"] and server.requests == ["/faq", "/gone"]
    assert errors == [f"{urls}:5: could not fetch {server.url}/gone: HTTP Error 404: Not Found"]


async def test_a_url_taken_off_its_list_loses_its_sections(
    indexer: Indexer, server: DocsServer, tmp_path: Path
) -> None:
    server.pages["/faq"] = Page(b"# FAQ\nanswers\n", "text/markdown")
    server.pages["/old"] = Page(b"# Old\nretired page\n", "text/markdown")
    urls = tmp_path / "site.urls"
    urls.write_text(f"{server.url}/faq\n{server.url}/old\n")
    await index_docs(indexer, [urls])
    assert indexer.doc_locations() == {f"{server.url}/faq", f"{server.url}/old"}
    # /faq is down this time: still listed, so it keeps its sections; /old is off the list.
    del server.pages["/faq"]
    urls.write_text(f"{server.url}/faq\n")
    report = await index_docs(indexer, [urls])
    assert report.removed == [f"{server.url}/old"] and len(report.errors) == 1
    assert indexer.doc_locations() == {f"{server.url}/faq"}
    assert {u.url for u in await indexer.index.all_units() if u.kind == "doc"} == {f"{server.url}/faq"}  # type: ignore[attr-defined]


async def test_a_deleted_url_list_loses_its_pages(indexer: Indexer, server: DocsServer, tmp_path: Path) -> None:
    server.pages["/faq"] = Page(b"# FAQ\nanswers\n", "text/markdown")
    urls = tmp_path / "site.urls"
    urls.write_text(f"{server.url}/faq\n")
    await index_docs(indexer, [urls])
    assert indexer.doc_locations() == {f"{server.url}/faq"}
    # A list that is gone is an empty list: its pages go, and that is not an error.
    urls.unlink()
    report = await index_docs(indexer, [urls])
    assert report.errors == [] and report.removed == [f"{server.url}/faq"]
    assert indexer.doc_locations() == set()
    assert [u for u in await indexer.index.all_units() if u.kind == "doc"] == []  # type: ignore[attr-defined]
    # Named again, it never held pages now: not found.
    assert (await index_docs(indexer, [urls])).errors == [f"not found: {urls}"]


async def test_a_symlink_loop_named_is_one_error_and_the_rest_is_indexed(indexer: Indexer, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "loop1.md").symlink_to(folder / "loop2.md")
    (folder / "loop2.md").symlink_to(folder / "loop1.md")
    (folder / "faq.md").write_text("# FAQ\n## Reset\nHold the button.\n")
    report = await index_docs(indexer, [folder / "loop1.md", folder / "faq.md"])
    assert report.errors == [f"symlink loop: {folder / 'loop1.md'}"]
    assert report.documents == 1 and indexer.doc_locations() == {str(folder / "faq.md")}


async def test_a_doc_linked_from_outside_the_folder_can_be_removed(indexer: Indexer, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Readme\nold install steps\n")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "faq.md").write_text("# FAQ\nanswers\n")
    link = folder / "index.md"
    link.symlink_to(tmp_path / "README.md")
    await index_docs(indexer, [folder])
    # Located where the folder has it (the link), not where the link points.
    assert indexer.doc_locations() == {str(folder / "faq.md"), str(link)}
    link.unlink()
    report = await index_docs(indexer, [folder])
    assert report.errors == [] and report.removed == [str(link)]
    assert indexer.doc_locations() == {str(folder / "faq.md")}
    # The deleted link named alone is removed too.
    link.symlink_to(tmp_path / "README.md")
    await index_docs(indexer, [folder])
    link.unlink()
    alone = await index_docs(indexer, [link])
    assert alone.errors == [] and alone.removed == [str(link)]
    assert {u.url for u in await indexer.index.all_units() if u.kind == "doc"} == {str(folder / "faq.md")}  # type: ignore[attr-defined]


def test_a_page_not_in_its_declared_charset_is_not_garbled(server: DocsServer) -> None:
    # Declared UTF-8, saved by a Latin-1 editor: read as such, never with U+FFFD in place of letters.
    server.pages["/wrong.txt"] = Page("Café crème".encode("latin-1"), "text/plain; charset=utf-8")
    assert fetch_url(server.url + "/wrong.txt").text == "Café crème"

"""Docs input that once stopped ``guildhall index docs``: a charset Python names but cannot decode
with, a page of unclosed table rows (whose end tags each searched every row left open), a named
pipe, a file name too long to look up. Each is one error line or read as text; the rest is indexed."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from brain.qa import docs
from brain.qa.docs import (
    _HTMLToMarkdown,
    decode_declared,
    fetch_url,
    html_to_markdown,
    index_docs,
    read_doc_paths,
    read_source,
)
from brain.qa.indexer import Indexer
from tests.unit.qa.test_docs import indexer
from tests.unit.qa.test_docs_sources import DocsServer, Page, server

__all__ = ["indexer", "server"]  # fixtures shared with the modules that define them

FAQ = "<h1>FAQ</h1><p>How do I connect the bot to Slack? Set SLACK_BOT_TOKEN.</p>"


@pytest.mark.parametrize("charset", ["undefined", "punycode", "bogus", "hex"])
def test_a_charset_python_cannot_decode_with_falls_back_to_detection(charset: str) -> None:
    # "undefined" and "punycode" raise a plain UnicodeError, which is no UnicodeDecodeError.
    data = f'<html><head><meta charset="{charset}"></head><body>{FAQ}</body></html>'.encode()
    assert decode_declared(data, charset, "faq.html") == data.decode()


async def test_a_page_declaring_the_undefined_charset_is_indexed_with_its_folder(
    indexer: Indexer, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "faq.html").write_text(f'<html><head><meta charset="undefined"></head><body>{FAQ}</body></html>')
    (folder / "punycode.html").write_text('<meta charset="punycode"><h1>Install</h1><p>run <b>pip</b></p>')
    (folder / "good.md").write_text("# Good\nstill indexed\n")
    report = await index_docs(indexer, [folder])
    assert report.errors == [] and report.documents == 3
    assert {s.name for s in read_doc_paths([folder])[0]} == {"faq.html", "punycode.html", "good.md"}
    assert "<p>run <b>pip</b></p>" in read_source(folder / "punycode.html").text


@pytest.mark.parametrize("charset", ["undefined", "punycode"])
def test_a_fetched_page_with_such_a_charset_is_read_as_text(server: DocsServer, charset: str) -> None:
    server.pages["/faq.html"] = Page(f"<html><body>{FAQ}</body></html>".encode(), f"text/html; charset={charset}")
    assert FAQ in fetch_url(server.url + "/faq.html").text


def test_a_file_that_fails_unforeseen_is_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\nfine\n")
    (folder / "b.md").write_text("# B\nbreaks the reader\n")
    (folder / "c.md").write_text("# C\nfine too\n")
    real = docs.decode_text

    def decode(data: bytes, name: str) -> str:
        if name.endswith("b.md"):
            raise RuntimeError("a reader bug")
        return real(data, name)

    monkeypatch.setattr(docs, "decode_text", decode)
    sources, errors = read_doc_paths([folder])
    assert [s.name for s in sources] == ["a.md", "c.md"]
    assert errors == [f"skipped {folder / 'b.md'}: RuntimeError: a reader bug"]


async def test_a_page_that_fails_to_split_is_one_error_line(
    indexer: Indexer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.html").write_text("<h1>A</h1><p>fine</p>")
    (folder / "b.html").write_text("<h1>B</h1><p>breaks the converter</p>")
    real = docs.html_to_markdown

    def convert(html: str) -> str:
        if "breaks" in html:
            raise RecursionError("a converter bug")
        return real(html)

    monkeypatch.setattr(docs, "html_to_markdown", convert)
    report = await index_docs(indexer, [folder])
    assert report.errors == [f"skipped {folder / 'b.html'}: RecursionError: a converter bug"]
    assert report.documents == 1 and indexer.doc_locations() == {str(folder / "a.html")}


def _rows(n: int) -> str:
    # Legal HTML: </tr> and </td> may be omitted.
    return "".join(f"<tr><td><b>v{i}</b><td>fixed bug {i}" for i in range(n))


class _DepthProbe(_HTMLToMarkdown):
    """The parser, recording the most elements it held open at once."""

    deepest = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        super().handle_starttag(tag, attrs)
        self.deepest = max(self.deepest, len(self._open))


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (f"<html><body><h1>Changelog</h1><table>{_rows(20_000)}</table></body></html>", 6),
        ("<ul>" + "".join(f"<li>item {i}" for i in range(20_000)) + "</ul>", 2),
        ("<div>" + "".join(f"<p>para {i}" for i in range(20_000)) + "</div>", 2),
        ("<dl>" + "".join(f"<dt>term {i}<dd>meaning {i}" for i in range(20_000)) + "</dl>", 2),
        ("<select>" + "".join(f"<option>choice {i}" for i in range(20_000)) + "</select>", 2),
        ("<table>" + "".join(f"<tbody><tr><th>h{i}<td>d{i}" for i in range(20_000)) + "</table>", 4),
    ],
    ids=["tr-td", "li", "p", "dt-dd", "option", "tbody-th"],
)
def test_elements_whose_end_tag_may_be_omitted_are_ended_by_their_next_sibling(page: str, expected: int) -> None:
    # Each of them left open kept every row on the stack, which each later end tag searched:
    # 20,000 rows took 13 s, a 10 MB page half an hour.
    parser = _DepthProbe()
    parser.feed(page)
    parser.close()
    assert parser.deepest == expected


def test_a_table_of_unclosed_rows_keeps_all_its_text() -> None:
    md = html_to_markdown(f"<html><body><h1>Changelog</h1><table>{_rows(20_000)}</table><p>end</p></body></html>")
    lines = md.split("\n")
    assert lines[:3] == ["# Changelog", "", "v0 | fixed bug 0"]
    assert lines[-3:] == ["v19999 | fixed bug 19999", "", "end"]
    assert len(lines) == 20_000 + 4


@pytest.mark.parametrize(
    ("html", "md"),
    [
        # A sibling never ends what it is not a sibling of: a list item inside a <pre>, a heading,
        # a nav, or a nested list.
        ("<ul><li>one<pre># code<li>not an item</pre>after</ul>", "one\n```\n# code\nnot an item\n```\nafter"),
        ("<ul><li>a<h2>Title<li>b</h2><p>text</ul>", "a\n\n## Title\nb\n\ntext"),
        ("<ul><li>Home<nav>menu<li>Docs</nav><li>Guide</ul>", "Home\nGuide"),
        ("<ul><li>a<ul><li>a1<li>a2</ul><li>b</ul>", "a\na1\na2\nb"),
        ("<table><tr><td>x<table><tr><td>in<tr><td>in2</table>out<tr><td>y</table>", "x\nin\nin2\nout\ny"),
        ("<p>one<div>two</div><p>three<h1>Four</h1>five", "one\ntwo\nthree\n\n# Four\nfive"),
    ],
)
def test_implied_ends_keep_the_text_as_it_was(html: str, md: str) -> None:
    assert html_to_markdown(html) == md


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("name", ["pipe.md", "pipe.urls"])
def test_a_named_pipe_is_refused_not_waited_on(tmp_path: Path, name: str) -> None:
    pipe = tmp_path / name
    os.mkfifo(pipe)
    (tmp_path / "good.md").write_text("# Good\ntext\n")
    done: list[tuple[list[str], list[str]]] = []

    def read() -> None:
        sources, errors = read_doc_paths([pipe, tmp_path / "good.md"])
        done.append(([s.name for s in sources], errors))

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=30)
    if worker.is_alive():
        # Opened for reading, a pipe waits for a writer: give it one (at end of input) so the
        # thread ends, and fail.
        with pipe.open("wb"):
            pass
        worker.join()
        pytest.fail("reading a named pipe waited for a writer")
    assert done == [(["good.md"], [f"skipped {pipe}: not a regular file"])]


async def test_a_file_name_too_long_is_one_error_line(indexer: Indexer, tmp_path: Path) -> None:
    long = tmp_path / ("x" * 300 + ".md")
    (tmp_path / "good.md").write_text("# Good\ntext\n")
    report = await index_docs(indexer, [long, tmp_path / "good.md"])
    assert report.documents == 1 and len(report.errors) == 1
    assert report.errors[0].startswith(f"could not read {long}: ") and "too long" in report.errors[0]

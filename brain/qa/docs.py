"""Docs sources (FAQ, READMEs) as retrieval units: Markdown, HTML and plain text, split by headings.

Docs units are public to every workspace (``platform="docs"``). URLs are accepted in a URL-list
file but only fetched when the network allows; offline, each URL fails with a clear error.
"""

from __future__ import annotations

import hashlib
import re
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from bot.conversations import chunk_unit_id
from bot.ml import Unit
from brain.qa.access import DOCS_PLATFORM
from brain.qa.units import MAX_CHUNK_CHARS

DOC_SUFFIXES = {".md", ".markdown", ".html", ".htm", ".txt", ".rst"}
_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


class DocFetchError(RuntimeError):
    """A docs URL could not be fetched (offline, HTTP error...)."""


@dataclass(frozen=True, slots=True)
class DocSource:
    """Text of one document and where it came from."""

    name: str  # file name or URL
    location: str  # path or URL (the citation link)
    text: str
    kind: str  # "markdown" | "html" | "text"


class _HTMLToMarkdown(HTMLParser):
    """Just enough HTML: headings become Markdown headings, scripts/styles vanish, text is kept."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "nav", "footer"}:
            self._skip += 1
        elif tag in {"h1", "h2", "h3"}:
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in {"p", "li", "br", "div", "pre", "tr", "h4", "h5", "h6"}:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "nav", "footer"} and self._skip:
            self._skip -= 1
        elif tag in {"h1", "h2", "h3"}:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_markdown(html: str) -> str:
    """Visible text of an HTML page with its h1-h3 headings as Markdown headings."""
    parser = _HTMLToMarkdown()
    parser.feed(html)
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


def read_source(path: Path) -> DocSource:
    """Read a docs file; the suffix decides the format."""
    text = path.read_text(encoding="utf-8", errors="replace")
    suffix = path.suffix.lower()
    kind = "html" if suffix in {".html", ".htm"} else "markdown" if suffix in {".md", ".markdown"} else "text"
    return DocSource(path.name, str(path.resolve()), text, kind)


def fetch_url(url: str, timeout: float = 10.0) -> DocSource:
    """Fetch a docs page.

    Raises:
        DocFetchError: with the reason (this fails offline, by design of the deployment).
    """
    if not url.startswith(("http://", "https://")):
        raise DocFetchError(f"not an http(s) URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # scheme checked above
            body = resp.read(5_000_000).decode("utf-8", errors="replace")
            ctype = resp.headers.get("content-type", "")
    except (OSError, ValueError) as exc:
        raise DocFetchError(f"could not fetch {url}: {exc}") from exc
    kind = "html" if "html" in ctype or body.lstrip().lower().startswith(("<!doctype html", "<html")) else "markdown"
    return DocSource(url, url, body, kind)


def read_url_list(path: Path) -> list[str]:
    """URLs from a list file (one per line; blank lines and ``#`` comments ignored)."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def read_doc_paths(paths: Sequence[Path]) -> tuple[list[DocSource], list[str]]:
    """Documents from files, folders (recursively) and ``*.urls`` / ``*.list`` files.

    Returns:
        The sources read and one readable error per path or URL that could not be used; a bad
        path never stops the others.
    """
    sources: list[DocSource] = []
    errors: list[str] = []
    for path in paths:
        if not path.exists():
            errors.append(f"not found: {path}")
        elif path.is_dir():
            sources += [
                read_source(p) for p in sorted(path.rglob("*")) if p.suffix.lower() in DOC_SUFFIXES and p.is_file()
            ]
        elif path.suffix.lower() in {".urls", ".list"}:
            for url in read_url_list(path):
                try:
                    sources.append(fetch_url(url))
                except DocFetchError as exc:
                    errors.append(str(exc))
        elif path.suffix.lower() in DOC_SUFFIXES:
            sources.append(read_source(path))
        else:
            errors.append(f"unsupported file type: {path} (use {', '.join(sorted(DOC_SUFFIXES))} or a .urls list)")
    return sources, errors


def doc_units(source: DocSource, *, max_chars: int = MAX_CHUNK_CHARS) -> list[Unit]:
    """Split a document by headings (then by size) into docs units with stable ids."""
    markdown = html_to_markdown(source.text) if source.kind == "html" else source.text
    base = "doc:" + hashlib.sha1(source.location.encode("utf-8")).hexdigest()[:16]
    sections: list[tuple[str, str]] = []
    if source.kind == "text":
        sections = [("", markdown)]
    else:
        for part in MarkdownHeaderTextSplitter(_HEADERS, strip_headers=False).split_text(markdown):
            heading = " › ".join(str(part.metadata[h]) for _, h in _HEADERS if h in part.metadata)
            sections.append((heading, part.page_content))
    splitter = RecursiveCharacterTextSplitter(chunk_size=max_chars, chunk_overlap=100)
    units: list[Unit] = []
    for heading, body in sections:
        for chunk in splitter.split_text(body):
            if not chunk.strip():
                continue
            k = len(units)
            title = f"{source.name} › {heading}" if heading else source.name
            units.append(
                Unit(
                    unit_id=chunk_unit_id(base, k),
                    platform=DOCS_PLATFORM,
                    workspace_id=DOCS_PLATFORM,
                    channel_id=DOCS_PLATFORM,
                    text=chunk,
                    kind="doc",
                    url=source.location,
                    title=title,
                    extra={"source": source.name},
                )
            )
    return units

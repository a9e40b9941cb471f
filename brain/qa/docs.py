"""Docs sources (FAQ, READMEs) as retrieval units: Markdown, HTML and plain text, split by headings.

Docs units are public to every workspace (``platform="docs"``). URLs are accepted in a URL-list
file but only fetched when the network allows; offline, each URL fails with a clear error.

Indexing a document replaces all of its earlier sections (:func:`index_docs`); indexing a folder
also drops the sections of its files that are gone. A file's location is the path it is reached by
(a symlink's own path, not its target's), so a link removed from a docs folder takes its sections
with it.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import hashlib
import http.client
import logging
import os
import re
import stat
import time
import unicodedata
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from bot.conversations import chunk_unit_id
from bot.ml import Unit
from brain.qa.access import DOCS_PLATFORM
from brain.qa.units import MAX_CHUNK_CHARS

if TYPE_CHECKING:
    from brain.qa.indexer import Indexer, IndexStats

log = logging.getLogger(__name__)

DOC_SUFFIXES = {".md", ".markdown", ".html", ".htm", ".txt", ".rst"}
LIST_SUFFIXES = {".urls", ".list"}
_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
# Bytes that are not UTF-8 are read as Windows-1252 (what a Latin-1 editor wrote). Text in that
# charset is mostly ASCII; a file that is more than this share of such bytes is binary or in a
# charset we cannot guess, and is skipped rather than indexed as mojibake.
MAX_FALLBACK_SHARE = 0.3
# ... as is one where more than this share of the characters read are control characters.
MAX_CONTROL_SHARE = 0.05
# Larger docs are a log or a data dump named .txt: hours of embedding for nothing anyone asks.
MAX_DOC_BYTES = 10_000_000
# Folders a docs tree never holds docs in: VCS and tool state, and third-party packages, whose
# thousands of READMEs would drown the community's own docs. Hidden (dot) folders are skipped too.
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages"})
# Content types that are a page's text; anything else (PDF, images, archives) is not indexed.
_TEXT_TYPES = ("text/", "application/xhtml+xml", "application/xml", "application/json", "application/markdown")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)

_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript"})
_CHROME_TAGS = frozenset({"nav", "footer"})
# Page content does not live in a nav or footer: one of these there means the nav was left unclosed.
_CONTENT_TAGS = frozenset({"main", "article"})
_BLOCK_TAGS = frozenset({"p", "li", "br", "div", "tr", "h4", "h5", "h6"})
# Blocks whose text starts and ends a line: without a break, a definition list's term ran into its
# meaning ("timeoutSeconds to wait") and sections into each other, one word that no query matches.
_LINE_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dl", "dt", "fieldset",
        "figcaption", "figure", "form", "head", "header", "hgroup", "hr", "legend", "main", "section", "summary",
        "title",
    }
)  # fmt: skip
# Put between two cells of a row: glued, "max_retries" and "3" read as one word, "max_retries3".
CELL_SEPARATOR = " | "
# Elements whose end ends a line (their start is ended by their first row's break): the text after
# a table is not part of its last cell.
_ENDS_LINE = _LINE_TAGS | {"table"}


class DocFetchError(RuntimeError):
    """A docs URL could not be fetched (offline, HTTP error...)."""


class DocReadError(RuntimeError):
    """A docs file is not usable text (binary, unreadable); ``str()`` names it and says why."""


@dataclass(frozen=True, slots=True)
class DocSource:
    """Text of one document and where it came from."""

    name: str  # file name or URL
    location: str  # path or URL (the citation link)
    text: str
    kind: str  # "markdown" | "html" | "text"
    listed_in: str = ""  # for a URL: the resolved path of the list file that named it


_HEADINGS = frozenset({"h1", "h2", "h3"})

# Elements whose end tag a page may leave out are ended by their next sibling (a <p> by the next
# block too), as the HTML standard's tree builder ends them, within the "scope" that encloses such
# siblings: a list item never ends one of an outer list, a cell one of an outer table. Left open, a
# changelog table of 20,000 unclosed rows kept them all open, and every end tag searched them.
#
# The HTML standard's "special" elements (the void ones are never open, so they are left out).
_SPECIAL = frozenset(
    {
        "address", "applet", "article", "aside", "blockquote", "body", "button", "caption", "center", "colgroup",
        "dd", "details", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "frameset",
        "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup", "html", "iframe", "li", "listing", "main",
        "marquee", "menu", "nav", "noembed", "noframes", "object", "ol", "p", "plaintext", "pre", "script", "search",
        "section", "select", "style", "summary", "table", "tbody", "td", "template", "textarea", "tfoot", "th",
        "thead", "title", "tr", "ul", "xmp",
    }
)  # fmt: skip
# Never ended by a sibling's start: their end is what the text shows (a fence, a heading's line,
# the end of a part left out), so only their own end tag or their parent's ends them, as before.
_KEPT = _HEADINGS | {"h4", "h5", "h6", "pre", "listing"} | _HIDDEN_TAGS | _CHROME_TAGS
_SCOPES: dict[str, frozenset[str]] = {
    "button": frozenset({"applet", "button", "caption", "html", "marquee", "object", "table", "td", "template", "th"})
    | _KEPT,
    "list item": (_SPECIAL - {"address", "div", "p", "li"}) | _KEPT,
    "definition": (_SPECIAL - {"address", "div", "p", "dd", "dt"}) | _KEPT,
    "table": frozenset({"html", "table", "template"}) | _KEPT,
    "select": frozenset({"select", "datalist"}) | _KEPT,
}
# The scopes each element bounds, looked up when it opens and closes.
_SCOPES_OF = {
    tag: tuple(name for name, tags in _SCOPES.items() if tag in tags) for tag in set().union(*_SCOPES.values())
}
# Elements whose start ends an open <p>.
_ENDS_P = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "details", "dialog", "dir", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup",
        "hr", "li", "listing", "main", "menu", "nav", "ol", "p", "plaintext", "pre", "search", "section", "summary",
        "table", "ul", "xmp",
    }
)  # fmt: skip
_PARAGRAPH = frozenset({"p"})
_CELLS = frozenset({"td", "th"})
_SECTIONS = frozenset({"tbody", "thead", "tfoot"})
# What a start tag ends: the innermost open element of the first group that has one within the scope.
_ENDS: dict[str, tuple[tuple[frozenset[str], str], ...]] = {
    "li": ((frozenset({"li"}), "list item"),),
    "dd": ((frozenset({"dd", "dt"}), "definition"),),
    "dt": ((frozenset({"dd", "dt"}), "definition"),),
    "td": ((_CELLS, "table"),),
    "th": ((_CELLS, "table"),),
    "tr": ((frozenset({"tr"}), "table"), (_CELLS, "table")),
    **dict.fromkeys(_SECTIONS, ((_SECTIONS, "table"), (frozenset({"tr"}), "table"), (_CELLS, "table"))),
    "option": ((frozenset({"option"}), "select"),),
    "optgroup": ((frozenset({"optgroup"}), "select"), (frozenset({"option"}), "select")),
}


class _HTMLToMarkdown(HTMLParser):
    """Just enough HTML: headings become Markdown headings, ``<pre>`` a fenced block, scripts,
    styles, navs and footers vanish (nothing of them is emitted), other text is kept.

    Open elements are tracked so that an end tag closes the elements left open inside it, as
    browsers do: an unclosed ``<nav>`` ends with its parent (or where the page's content starts)
    instead of hiding the rest of the page. Elements whose end tag may be left out (``<p>``,
    ``<li>``, ``<td>``, ``<tr>``...) end where the HTML standard ends them (:data:`_ENDS`), so
    legal pages keep few elements open; each element's open positions are indexed by tag, so an
    end tag finds its element without a search, and parsing takes time linear in the page.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._open: list[str] = []
        self._where: dict[str, list[int]] = {}  # tag -> its positions in _open, innermost last
        self._bounds: dict[str, list[int]] = {name: [] for name in _SCOPES}  # scope -> positions of its bounds
        self._skip_from: int | None = None  # index in _open of the element being left out

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_from is not None and tag in _CONTENT_TAGS and self._open[self._skip_from] in _CHROME_TAGS:
            self._close(self._skip_from)
        for group, scope in _ENDS.get(tag, ()):
            if self._end_within(group, scope):
                break
        if tag in _ENDS_P:
            self._end_within(_PARAGRAPH, "button")
        if tag not in _VOID_TAGS:
            self._push(tag)
        if self._skip_from is not None:
            return
        if tag in _HIDDEN_TAGS or tag in _CHROME_TAGS:
            self._skip_from = len(self._open) - 1
        elif tag in _HEADINGS:
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "pre" and len(self._where["pre"]) == 1:
            # Fenced, so that "# comment" lines of code are not read as headings.
            self.parts.append("\n```\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _LINE_TAGS:
            self._end_line()
        elif tag in _CELLS and self.parts and not self.parts[-1][-1:].isspace():
            # Only the last part is looked at (constant time per cell); text that ends in a
            # space or a line break is already apart from this cell's.
            self.parts.append(CELL_SEPARATOR)

    def handle_endtag(self, tag: str) -> None:
        where = self._where.get(tag)
        if where:
            self._close(where[-1])

    def _push(self, tag: str) -> None:
        index = len(self._open)
        self._open.append(tag)
        self._where.setdefault(tag, []).append(index)
        for scope in _SCOPES_OF.get(tag, ()):
            self._bounds[scope].append(index)

    def _end_within(self, tags: frozenset[str], scope: str) -> bool:
        """Close the innermost open element of ``tags`` unless an element bounding ``scope`` is
        open inside it; whether one was closed."""
        index = max((where[-1] for t in tags if (where := self._where.get(t))), default=-1)
        bounds = self._bounds[scope]
        if index < 0 or (bounds and bounds[-1] > index):
            return False
        self._close(index)
        return True

    def _close(self, index: int) -> None:
        """Close the open element at ``index`` and every element opened inside it."""
        closing = self._open[index:]
        del self._open[index:]
        for tag in closing:  # positions are listed in order, so the closed ones are the last
            self._where[tag].pop()
            for scope in _SCOPES_OF.get(tag, ()):
                self._bounds[scope].pop()
        if self._skip_from is not None:
            if index <= self._skip_from:
                self._skip_from = None
            return
        if "pre" in closing and not self._where["pre"]:
            self.parts.append("\n```\n")
        if any(t in _HEADINGS for t in closing):
            self.parts.append("\n")
        elif any(t in _ENDS_LINE for t in closing):
            self._end_line()

    def _end_line(self) -> None:
        """End the current line, unless it is ended already."""
        if self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_from is None:
            self.parts.append(data)

    def close(self) -> None:
        """Finish the page (a ``<pre>`` left open is fenced off)."""
        super().close()
        if self._open:
            self._close(0)


def html_to_markdown(html: str) -> str:
    """Visible text of an HTML page with its h1-h3 headings as Markdown headings."""
    parser = _HTMLToMarkdown()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


def decode_text(data: bytes, name: str) -> str:
    """A docs file's text: UTF-8 (with or without BOM) or BOM'd UTF-16/32; bytes that are not
    UTF-8 are read as Windows-1252 (a superset of Latin-1), never replaced by U+FFFD.

    Raises:
        DocReadError: the bytes are not text (NUL bytes, mostly not UTF-8, control characters).
    """
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM it starts with
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise DocReadError(f"skipped {name}: not valid {encoding.upper()} ({exc.reason})") from exc
    if b"\x00" in data:
        raise DocReadError(f"skipped {name}: binary file (NUL bytes), not text")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Each sequence that is not UTF-8 is read as Windows-1252, and the UTF-8 around it stays UTF-8:
    # a file saved by a Latin-1 editor, or UTF-8 with a pasted Windows-1252 line. "ignore" drops
    # exactly those sequences, so the bytes it keeps tell how many were not UTF-8.
    fallback = len(data) - len(data.decode("utf-8", errors="ignore").encode("utf-8"))
    text = decode_utf8_or_cp1252(data)
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v")
    if fallback > MAX_FALLBACK_SHARE * len(data) or controls > MAX_CONTROL_SHARE * len(text):
        raise DocReadError(f"skipped {name}: not UTF-8 (nor Windows-1252) text")
    return text


def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)  # the five bytes Windows-1252 leaves undefined: C1 controls, as in Latin-1


_CP1252 = tuple(_cp1252_char(b) for b in range(256))
_CP1252_FALLBACK = "guildhall-cp1252-fallback"


def _decode_as_cp1252(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the bytes that are not UTF-8, read as Windows-1252."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(_CP1252[b] for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error(_CP1252_FALLBACK, _decode_as_cp1252)


def decode_utf8_or_cp1252(data: bytes) -> str:
    """``data`` as UTF-8, each sequence in it that is not UTF-8 read as Windows-1252 (never U+FFFD)."""
    return data.decode("utf-8", errors=_CP1252_FALLBACK)


def decode_declared(data: bytes, charset: str | None, name: str) -> str:
    """Text in its declared charset (a header or ``<meta charset>``); a BOM wins over the
    declaration, and an unknown charset or bytes that are not in it fall back to :func:`decode_text`."""
    if charset and not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode(charset)
        # LookupError: a charset Python does not know; UnicodeError (a ValueError): bytes not in it,
        # or a codec that decodes no page ("undefined" always fails, "punycode" on anything but a
        # domain name label) and says so with a plain UnicodeError. Either way: detect as for files.
        except (LookupError, ValueError):
            pass
        else:
            if "\x00" not in text:
                return text
    return decode_text(data, name)


def html_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in a ``<meta>`` tag near its start, if any."""
    meta = _META_CHARSET.search(data[:4096])
    if meta is None:
        return None
    charset = meta.group(1).decode("ascii")
    # A <meta> readable as ASCII cannot be in UTF-16/32: browsers read such a page as UTF-8.
    return None if charset.lower().startswith(("utf-16", "utf_16", "utf-32", "utf_32")) else charset


def location_of(path: Path) -> str:
    """A docs file's location: its absolute path with the folders above it resolved but the file
    itself not, so a symlink is located where it is (and goes when it goes), not at its target.
    A missing path or a symlink loop has a location all the same."""
    absolute = Path(os.path.abspath(path))
    return str(absolute.parent.resolve() / absolute.name)


def unusable_path(path: Path) -> str | None:
    """Why ``path`` cannot even be looked up (a symlink loop, a name too long...), as an error
    line; ``None`` when it can, whether or not something is there."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"symlink loop: {path}"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None  # nothing there: "not found", or a deleted document's docs to remove
        return f"could not read {path}: {exc.strerror or exc}"
    except ValueError as exc:  # a NUL byte in the name
        return f"could not read {path}: {exc}"
    return None


def _read_file(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_DOC_BYTES`.

    Opened without waiting: a named pipe (or a device) named like a doc is refused instead of
    waiting forever for a writer. What is checked is the open file, not the name, so what is read
    is what was measured.

    Raises:
        DocReadError: not a regular file, too large, or unreadable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise DocReadError(f"skipped {path}: not a regular file")
            if info.st_size > MAX_DOC_BYTES:
                raise DocReadError(
                    f"skipped {path}: too large ({info.st_size:,} bytes; the limit is {MAX_DOC_BYTES:,})"
                )
            data = f.read(MAX_DOC_BYTES + 1)
    except OSError as exc:
        raise DocReadError(f"could not read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_DOC_BYTES:  # grew while being read
        raise DocReadError(f"skipped {path}: too large (over {MAX_DOC_BYTES:,} bytes)")
    return data


def read_source(path: Path) -> DocSource:
    """Read a docs file; the suffix decides the format.

    Raises:
        DocReadError: the file can't be read or is not text (see :func:`decode_text`).
    """
    data = _read_file(path)
    suffix = path.suffix.lower()
    kind = "html" if suffix in {".html", ".htm"} else "markdown" if suffix in {".md", ".markdown"} else "text"
    # A page saved to disk keeps the charset its <meta> declares, as a fetched page does.
    text = decode_declared(data, html_charset(data), str(path)) if kind == "html" else decode_text(data, str(path))
    return DocSource(path.name, location_of(path), text, kind)


def fetch_url(
    url: str, timeout: float = 10.0, *, max_bytes: int = MAX_DOC_BYTES, clock: Callable[[], float] = time.monotonic
) -> DocSource:
    """Fetch a docs page: a text page of at most ``max_bytes``, within ``timeout`` seconds in all.

    The text is decoded with the charset of the Content-Type header, else of an HTML page's
    ``<meta charset>``, else as :func:`decode_text` reads files.

    Raises:
        DocFetchError: with the reason (this fails offline, by design of the deployment).
    """
    if not url.startswith(("http://", "https://")):
        raise DocFetchError(f"not an http(s) URL: {url}")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise DocFetchError(f"not a valid URL (it contains a space or control character): {url!r}")
    # The socket timeout bounds each read; a server that drips a byte at a time needs a deadline.
    deadline = clock() + timeout
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # scheme checked above
            final = resp.geturl()
            if not final.startswith(("http://", "https://")):
                raise DocFetchError(f"could not fetch {url}: redirected to a non-http(s) URL {final}")
            ctype = resp.headers.get("content-type", "")
            media = ctype.split(";")[0].strip().lower()
            if media and not media.startswith(_TEXT_TYPES):
                raise DocFetchError(f"could not fetch {url}: not a text page (Content-Type {media})")
            charset = resp.headers.get_content_charset()
            chunks: list[bytes] = []
            size = 0
            while chunk := resp.read1(65536):
                size += len(chunk)
                if size > max_bytes:
                    raise DocFetchError(f"could not fetch {url}: larger than {max_bytes:,} bytes")
                if clock() > deadline:
                    raise DocFetchError(f"could not fetch {url}: timed out after {timeout:g} s")
                chunks.append(chunk)
    # HTTPException: a URL http.client refuses (InvalidURL) or a broken response (IncompleteRead).
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise DocFetchError(f"could not fetch {url}: {exc}") from exc
    data = b"".join(chunks)
    is_html = "html" in media or data.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))
    if charset is None and is_html:
        charset = html_charset(data)
    try:
        body = decode_declared(data, charset, url)
    except DocReadError as exc:
        raise DocFetchError(f"could not fetch {url}: {str(exc).removeprefix(f'skipped {url}: ')}") from exc
    return DocSource(url, url, body, "html" if is_html else "markdown")


def read_url_list(path: Path) -> list[str]:
    """URLs from a list file (one per line; blank lines and ``#`` comments ignored)."""
    return [url for _, url in _url_lines(path)]


def _url_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, URL)`` of a list file; bytes that are not UTF-8 become U+FFFD (the URL
    then fails to fetch and is reported with its line) instead of failing the whole file.

    Raises:
        DocReadError: the list is no regular file, too large, or unreadable.
    """
    text = _read_file(path).decode("utf-8-sig", errors="replace")
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    return [(n, line) for n, line in lines if line and not line.startswith("#")]


def read_doc_paths(paths: Sequence[Path]) -> tuple[list[DocSource], list[str]]:
    """Documents from files, folders (recursively) and ``*.urls`` / ``*.list`` files.

    Returns:
        The sources read and one readable error per path or URL that could not be used; a bad
        path never stops the others.
    """
    sources: list[DocSource] = []
    errors: list[str] = []
    # A document named twice (a folder and a file in it, a symlink to a file, a URL listed twice)
    # is read once: its content would otherwise be indexed twice. Files are one document when
    # they are one file (a link and its target); the first path read locates it.
    seen: set[str] = set()
    files: set[str] = set()

    def add(source: DocSource) -> None:
        if source.location not in seen:
            seen.add(source.location)
            sources.append(source)

    def read(file: Path) -> None:
        target = str(file.resolve())
        if target in files:
            return
        try:
            add(read_source(file))
        except DocReadError as exc:
            errors.append(str(exc))
        except Exception as exc:
            # One file must never stop the others: a failure the checks above did not foresee is
            # this file's error line (the traceback is logged at debug level).
            log.debug("docs: reading %s failed", file, exc_info=True)
            errors.append(f"skipped {file}: {type(exc).__name__}: {exc}")
        else:
            files.add(target)

    for path in paths:
        if unusable := unusable_path(path):
            errors.append(unusable)
        elif not path.exists():
            errors.append(f"not found: {path}")
        elif path.is_dir():
            for file in _doc_files(path):
                read(file)
        elif path.suffix.lower() in LIST_SUFFIXES:
            try:
                urls = _url_lines(path)
            except DocReadError as exc:
                errors.append(str(exc))
                continue
            for line, url in urls:
                if url in seen:
                    continue
                try:
                    add(replace(fetch_url(url), listed_in=location_of(path)))
                except DocFetchError as exc:
                    errors.append(f"{path}:{line}: {exc}")
        elif path.suffix.lower() in DOC_SUFFIXES:
            read(path)
        else:
            errors.append(f"unsupported file type: {path} (use {', '.join(sorted(DOC_SUFFIXES))} or a .urls list)")
    return sources, errors


def _doc_files(root: Path) -> Iterator[Path]:
    """Docs files under a folder, sorted, without descending into hidden folders or
    :data:`SKIPPED_DIRS` (pruned, so a huge ``node_modules`` is not even walked); symlinked
    folders are not followed (a link to an ancestor would loop). In each folder the files come
    before the symlinks, so a file linked beside itself is located at the file."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(files, key=lambda n: (os.path.islink(os.path.join(folder, n)), n)):
            file = Path(folder, name)
            if not name.startswith(".") and file.suffix.lower() in DOC_SUFFIXES and file.is_file():
                yield file


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
                    extra={"source": source.name, **({"list": source.listed_in} if source.listed_in else {})},
                )
            )
    return units


@dataclass
class DocsIndexReport:
    """What :func:`index_docs` did."""

    stats: IndexStats
    documents: int = 0
    sections: int = 0
    removed: list[str] = field(default_factory=list)  # locations whose sections were all dropped
    errors: list[str] = field(default_factory=list)


async def index_docs(indexer: Indexer, paths: Sequence[Path]) -> DocsIndexReport:
    """Index docs paths (as :func:`read_doc_paths` reads them) as their documents' current content.

    Every document read replaces all of its earlier sections, so a shortened or emptied document
    leaves no old section behind. Given a folder, indexed docs of files under it that are no
    longer read (deleted, renamed, now skipped) are removed; given a file that no longer exists,
    its indexed docs are removed (and that is not an error); given a URL list, the pages of URLs
    taken off it are removed, and all of its pages when the list itself is gone. A symlink loop is
    an error that leaves what was indexed from that path as it is.
    """
    sources, errors = await asyncio.to_thread(read_doc_paths, paths)
    units: list[Unit] = []
    for source in list(sources):
        try:
            units += doc_units(source)
        except Exception as exc:
            # As for reading: one document that cannot be split is its error line, not the end
            # of the run (the traceback is logged at debug level); it is skipped like an unreadable file.
            log.debug("docs: splitting %s failed", source.location, exc_info=True)
            errors.append(f"skipped {source.location}: {type(exc).__name__}: {exc}")
            sources.remove(source)
    read = {s.location for s in sources}
    gone: set[str] = set()
    # What is indexed is read from this process's lexical copy: first take in the docs other
    # processes indexed since it loaded (a long-running bot), or their old sections would stay.
    await indexer.apply_changes()
    indexed = indexer.doc_locations()
    for path in paths:
        if unusable_path(path):
            continue  # reported; like an unreadable file, it keeps what was indexed from it
        if path.suffix.lower() in LIST_SUFFIXES and not path.is_dir():
            # A URL taken off its list loses its sections; one still listed keeps them even when
            # its fetch failed this time (a server down is no reason to forget a page). A deleted
            # list is an empty one.
            try:
                listed = {url for _, url in _url_lines(path)} if path.exists() else set()
            except DocReadError:
                continue
            key = location_of(path)
            dropped = {
                u.url
                for u in indexer.bm25.units()
                if u.kind == "doc" and u.extra.get("list") == key and u.url not in listed
            }
            gone |= dropped
        elif not path.exists() or path.is_dir():
            # Files are located by the path they were read by (location_of), under the folder's
            # resolved path; a missing path is located the same way.
            root = Path(location_of(path)) if not path.exists() else path.resolve()
            dropped = {loc for loc in indexed if loc not in read and _is_under(loc, root)}
            gone |= dropped
        else:
            continue
        if dropped and not path.exists():
            errors.remove(f"not found: {path}")  # it held docs: removing them is what was asked
    stats = await indexer.replace_docs(units, sources=read | gone)
    return DocsIndexReport(stats, len(sources), len(units), sorted(gone), errors)


def _is_under(location: str, root: Path) -> bool:
    """Whether a docs location is the file ``root`` or lies under the folder ``root``."""
    if location.startswith(("http://", "https://")):
        return False
    return Path(location).is_relative_to(root)

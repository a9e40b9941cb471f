"""Reading console input without blocking the loop: over-long lines, EOF, async readers."""

from __future__ import annotations

import asyncio
import io

from adapters.console.line_reader import ThreadedLineReader, as_line_source


async def test_lines_then_eof() -> None:
    reader = ThreadedLineReader(io.StringIO("one\ntwo"))
    assert [await reader.readline() for _ in range(4)] == ["one\n", "two", "", ""]


async def test_over_long_lines_are_cut_and_the_rest_discarded() -> None:
    reader = ThreadedLineReader(io.StringIO("x" * 120 + "\nnext\n" + "y" * 50), max_line_chars=50)
    assert await reader.readline() == "x" * 50 + "\n"
    assert await reader.readline() == "next\n"
    assert await reader.readline() == "y" * 50 + "\n"  # cut at EOF without a newline
    assert await reader.readline() == ""


async def test_async_readers_are_used_directly_and_bytes_decoded() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data("héllo\n".encode() + b"\xff\n")
    stream.feed_eof()
    source = as_line_source(stream)
    assert not isinstance(source, ThreadedLineReader)
    assert await source.readline() == "héllo\n"
    assert await source.readline() == "\ufffd\n"
    assert await source.readline() == ""

"""Reading lines from a blocking text stream (stdin, a file, an in-memory buffer) without blocking
the event loop.

A daemon thread reads one line per request. Not the loop's default executor: its threads are
joined at interpreter exit, so a thread stuck in ``stdin.readline()`` after ``/quit`` or Ctrl-C
would hang the process until the operator pressed Enter.
"""

from __future__ import annotations

import asyncio
import inspect
import queue
import threading
from typing import Any, Protocol, TextIO

# A single pasted line longer than this is cut; the rest of it is read and thrown away so the
# next line starts where the operator expects.
MAX_LINE_CHARS = 1_000_000

_Request = tuple[asyncio.AbstractEventLoop, "asyncio.Future[str]"]


class LineSource(Protocol):
    """Anything the REPL can read lines from; ``""`` means end of input."""

    async def readline(self) -> str:
        """The next line (with its newline), or ``""`` at end of input."""


class ThreadedLineReader:
    """Reads ``stream`` line by line in a daemon thread, one line per :meth:`readline` call.

    Args:
        stream: A text stream with ``readline(limit)``; decoding errors surface from :meth:`readline`.
        max_line_chars: Longer lines are cut to this many characters.
    """

    def __init__(self, stream: TextIO, *, max_line_chars: int = MAX_LINE_CHARS) -> None:
        self._stream = stream
        self._limit = max_line_chars
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def readline(self) -> str:
        """The next line, or ``""`` at end of input."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="console-stdin", daemon=True)
            self._thread.start()
        self._requests.put((loop, future))
        return await future

    def _serve(self) -> None:
        while True:
            loop, future = self._requests.get()
            try:
                result: str | BaseException = self._read_one()
            except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                result = exc
            try:
                loop.call_soon_threadsafe(_settle, future, result)
            except RuntimeError:  # the loop closed while we were reading: nobody is waiting
                return

    def _read_one(self) -> str:
        line = self._stream.readline(self._limit)
        if len(line) >= self._limit and not line.endswith("\n"):
            while True:  # discard the rest of an over-long line
                more = self._stream.readline(self._limit)
                if not more or more.endswith("\n"):
                    break
            line += "\n"
        return line


def _settle(future: asyncio.Future[str], result: str | BaseException) -> None:
    if future.done():  # the reader was cancelled (Ctrl-C) while the thread was blocked
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class _AsyncStreamSource:
    """Adapts an object with ``async readline()`` returning ``str`` or ``bytes``."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    async def readline(self) -> str:
        line = await self._reader.readline()
        if isinstance(line, bytes):
            return line.decode("utf-8", errors="replace")
        return str(line)


def as_line_source(reader: Any) -> LineSource:
    """Wrap ``reader``: an async reader (``asyncio.StreamReader``) or a blocking text stream."""
    if inspect.iscoroutinefunction(getattr(reader, "readline", None)):
        return _AsyncStreamSource(reader)
    return ThreadedLineReader(reader)

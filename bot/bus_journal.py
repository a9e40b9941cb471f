"""Files that keep events the Redis bus could not hand to Redis yet, so no process death loses them.

Two kinds of file live beside each other (JSON lines of ``{"stream": ..., "event": ...}``):

* the **spill file** (``spill_path``): what a process still held when it closed cleanly;
* one **journal per process** (``<spill_path>.<owner>.journal``): every event from the moment it is
  buffered, written before ``publish`` returns, and deleted once Redis has taken the whole buffer.
  The owner holds an exclusive ``flock`` on it for as long as it lives; the kernel drops the lock
  when the process dies, even by SIGKILL, which is how a later start tells an orphan from a live
  neighbour's journal.

A journal is flushed to the OS on every write but not fsynced: it survives the process being
killed, not the machine losing power. Replaying a journal may send again an event that reached
Redis just before the process died; consumers are idempotent by ``event_id``, so that is a repeat,
never a loss.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

Entry = tuple[str, bytes]
"""One buffered event: its stream and its JSON payload."""


def _line(stream: str, payload: bytes) -> str:
    return json.dumps({"stream": stream, "event": payload.decode()}) + "\n"


def read_entries(path: Path) -> list[Entry]:
    """The entries of a spill file or journal; unreadable lines (a torn last write) are logged and skipped."""
    entries: list[Entry] = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        try:
            row = json.loads(line)
            entries.append((str(row["stream"]), str(row["event"]).encode()))
        except (ValueError, KeyError, TypeError):
            log.error("skipping unreadable line %d of buffered redis events %s", n, path)
    return entries


def append_entries(path: Path, entries: Iterable[Entry]) -> None:
    """Append ``entries`` to the file at ``path`` (raises OSError)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.writelines(_line(stream, payload) for stream, payload in entries)


def journal_path(spill_path: Path, owner: str) -> Path:
    """Where the process named ``owner`` journals its buffer."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in owner)
    return spill_path.with_name(f"{spill_path.name}.{safe}.journal")


class BufferJournal:
    """This process's journal: opened (and locked) on the first buffered event, deleted when the buffer empties."""

    def __init__(self, spill_path: Path, owner: str) -> None:
        self.path = journal_path(spill_path, owner)
        self._file: IO[str] | None = None
        self._failed = False

    def append(self, entries: Iterable[Entry]) -> None:
        """Write ``entries`` through to the OS. A failure is logged once; the events stay buffered in memory."""
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                file = self.path.open("a", encoding="utf-8")
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._file = file
            self._file.writelines(_line(stream, payload) for stream, payload in entries)
            self._file.flush()
            self._failed = False
        except OSError as exc:
            if not self._failed:
                log.error(
                    "could not journal buffered redis events to %s (%s); a crash now would lose them", self.path, exc
                )
            self._failed = True

    def drop(self) -> None:
        """Delete the journal: Redis has every event it held."""
        if self._file is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove the redis bus journal %s: %s", self.path, exc)
        self._close()

    def release(self) -> None:
        """Close the journal but keep the file, for the next start to send (the spill failed)."""
        self._close()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file drops the lock
            self._file = None


def claim_orphans(spill_path: Path, own: Path) -> Iterable[tuple[Path, list[Entry]]]:
    """Journals of processes that died with events buffered, oldest first, with their entries.

    Each file is yielded while this process holds its lock; the caller must keep the entries
    (journal them itself) before resuming the iterator, which then deletes the file. A journal
    whose owner is alive is left alone.
    """
    folder = spill_path.parent
    if not folder.is_dir():
        return
    found = [p for p in folder.glob(f"{spill_path.name}.*.journal") if p != own]
    for path in sorted(found, key=_mtime):
        try:
            file = path.open("r+", encoding="utf-8")
        except OSError:
            continue  # claimed and removed by another starting process meanwhile
        with file:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its owner is alive
            # Another start may have claimed and deleted it between our open and our lock.
            if not _same_file(file, path):
                continue
            yield path, read_entries(path)
            path.unlink(missing_ok=True)  # still locked: a start that opened it meanwhile sees it gone


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _same_file(file: IO[str], path: Path) -> bool:
    try:
        return os.fstat(file.fileno()).st_ino == path.stat().st_ino
    except OSError:
        return False

"""A log in the store of the index units each process wrote, so every process's lexical index follows.

The vector store is shared (a Chroma server, or the embedded one beside a CLI), but each process
holds its own BM25 copy of the units, filled from the vector store when its index loads. With
several workers on one consumer group each live change is indexed by one of them: the others
missed its units (no exact-token hits on them) and kept units it deleted or rebuilt (quoting
deleted text). Every write of units to the vector store is followed by rows here (unit id,
upsert or delete); before it searches, a process reads the rows past the last one it applied
(:meth:`UnitLog.head`: one primary-key read when nothing changed) and re-reads those units from
the vector store (:class:`brain.qa.indexer.Indexer` does).

Sequence numbers come from a one-row counter that each append updates in its own transaction:
the row stays locked until that transaction commits, so appends commit in the order of their
numbers and a reader never sees a later number before an earlier one (a PostgreSQL sequence
hands out numbers that may commit in any order, so a reader would have to re-read a window of
recent rows on every question to catch late ones). Rows older than :data:`KEEP_S` are pruned by
the writers; a process that falls further behind sees a gap in the numbers and reloads its whole
lexical index instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.store import Store
from bot.store.schema import Migration, register

log = logging.getLogger(__name__)

register(
    Migration(
        "qa-0005-unit-log",
        (
            """CREATE TABLE IF NOT EXISTS qa_unit_log (
                seq BIGINT NOT NULL PRIMARY KEY, platform TEXT NOT NULL, workspace_id TEXT NOT NULL,
                unit_id TEXT NOT NULL, op TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL)""",
            # One row: the last number handed out (never reset, so pruning all rows loses no order).
            """CREATE TABLE IF NOT EXISTS qa_unit_log_head (
                id INTEGER NOT NULL PRIMARY KEY, seq BIGINT NOT NULL)""",
            "INSERT INTO qa_unit_log_head (id, seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
        ),
    )
)

Op = Literal["upsert", "delete"]
UPSERT: Op = "upsert"
DELETE: Op = "delete"
# How long rows are kept: a process that has not read the log for longer reloads everything.
KEEP_S = 24 * 3600.0
# How often one process prunes (on its appends): a scan of a day's rows, so not on every flush.
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class UnitChange:
    """One logged write of a unit to the vector store."""

    seq: int
    unit_id: str
    op: Op


@dataclass(frozen=True, slots=True)
class LoggedUnit:
    """What an append records about one unit."""

    platform: str
    workspace_id: str
    unit_id: str
    op: Op


class UnitLog:
    """Reads and writes ``qa_unit_log``.

    Args:
        store: The shared store.
        keep_s: Rows older than this are pruned.
        prune_every_s: At most one prune per this many seconds per process.
    """

    def __init__(self, store: Store, *, keep_s: float = KEEP_S, prune_every_s: float = PRUNE_EVERY_S) -> None:
        self.store = store
        self.keep_s = keep_s
        self.prune_every_s = prune_every_s
        self._pruned_at = -math.inf

    async def head(self) -> int:
        """The number of the latest row appended (0 before any)."""
        row = await self.store.db.fetchone("SELECT seq FROM qa_unit_log_head WHERE id = 1")
        return int(row[0]) if row else 0

    async def append(self, changes: Sequence[LoggedUnit], *, now: float) -> tuple[int, int] | None:
        """Record ``changes`` (call after the vector store holds them).

        Returns:
            The first and last number given to them, or None when there were none.
        """
        if not changes:
            return None
        async with self.store.db.transaction() as tx:
            # Locks the counter until COMMIT: the next append waits, so numbers commit in order.
            row = await tx.fetchone(
                "UPDATE qa_unit_log_head SET seq = seq + ? WHERE id = 1 RETURNING seq", (len(changes),)
            )
            if row is None:  # the migration inserts it; only a hand-edited database lacks it
                raise RuntimeError("qa_unit_log_head has no row; run the migrations again")
            last = int(row[0])
            first = last - len(changes) + 1
            await tx.executemany(
                "INSERT INTO qa_unit_log (seq, platform, workspace_id, unit_id, op, ts) VALUES (?, ?, ?, ?, ?, ?)",
                [(first + i, c.platform, c.workspace_id, c.unit_id, c.op, now) for i, c in enumerate(changes)],
            )
        if now - self._pruned_at >= self.prune_every_s:
            self._pruned_at = now
            await self.prune(before_ts=now - self.keep_s)
        return first, last

    async def since(self, seq: int, *, limit: int) -> list[UnitChange]:
        """Rows numbered after ``seq``, oldest first, at most ``limit``."""
        rows = await self.store.db.fetchall(
            "SELECT seq, unit_id, op FROM qa_unit_log WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [UnitChange(int(r[0]), str(r[1]), DELETE if r[2] == DELETE else UPSERT) for r in rows]

    async def prune(self, *, before_ts: float) -> int:
        """Delete rows written before ``before_ts``; returns how many."""
        return await self.store.db.execute("DELETE FROM qa_unit_log WHERE ts < ?", (before_ts,))

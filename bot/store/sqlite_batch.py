"""Statement batches that run on SQLite's connection thread in one call.

Two costs of the plain aiosqlite path showed up in bulk writes (imports, live bursts):

* **One thread hop per statement.** Each ``await`` on aiosqlite queues a call to the connection's
  thread and comes back through the event loop. A recorder transaction of ~8 statements waited
  for the loop after each one, and the loop was busy parsing the next files of an import, so the
  writer sat idle between statements. A transaction's result-less writes are therefore queued and
  sent together with the next statement that returns something, or with ``COMMIT``
  (:func:`run_ops` executes the queue).
* **The GIL per row.** ``sqlite3``'s ``executemany`` releases the GIL around every row's
  ``sqlite3_step`` and must take it back before binding the next row. While the main thread runs
  Python, each take-back waits for the interpreter's switch interval, so a 400-row upsert took
  90 ms instead of 2 ms. :func:`run_many` rewrites ``INSERT ... VALUES (?, ...)`` into multi-row
  ``VALUES (...), (...), ...`` statements: one bind pass and one GIL-free step per chunk. SQLite
  applies the rows of one statement in order, each ``ON CONFLICT`` clause seeing the rows before
  it, so the table ends up exactly as with ``executemany``.

String parameters with a lone UTF-16 surrogate (``"C\\ud83d1"``, half an emoji in an id from a bad
export) are bound with U+FFFD in its place (:func:`bot.valid_text.valid_text`), as the PostgreSQL
executor does: ``sqlite3`` cannot encode them and raised ``UnicodeEncodeError``, which rolled back
the whole batch of messages. Lookups get the same replacement, so a later edit or delete with the
same id finds the row. The common case pays nothing: a statement is first bound as it is and
cleaned only when that fails (binding happens before any step, so nothing was applied);
``executemany``, which steps each row before binding the next, gets its rows cleaned beforehand.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from bot.valid_text import valid_text

# The VALUES group may hold placeholders and plain literals (NULL, 0, ''), not nested parentheses.
_INSERT_VALUES = re.compile(r"^(\s*INSERT\b.*?\bVALUES\s*)(\((?:[^()'?]|'[^']*'|\?)*\))(.*)$", re.S | re.I)

# Chunk sizes, largest first. Powers of four bound the distinct statements per INSERT to five (each is
# compiled once and kept in the connection's statement cache) and leave at most three rows for
# ``executemany``.
CHUNK_SIZES = (1024, 256, 64, 16, 4)


@dataclass(frozen=True, slots=True)
class _InsertPlan:
    head: str  # "INSERT INTO t (a, b) VALUES "
    group: str  # "(?, ?)"
    tail: str  # " ON CONFLICT ... DO ..."
    width: int  # placeholders per row


_PLANS: dict[str, _InsertPlan | None] = {}
_STATEMENTS: dict[tuple[str, int], str] = {}


def insert_plan(sql: str) -> _InsertPlan | None:
    """How to turn ``sql`` into a multi-row insert, or None when it is not a plain one-row
    ``INSERT ... VALUES (...)`` (an UPDATE, ``INSERT ... SELECT``, placeholders after VALUES)."""
    if sql in _PLANS:
        return _PLANS[sql]
    plan = None
    match = _INSERT_VALUES.match(sql)
    if match and "?" not in match.group(3) and "RETURNING" not in match.group(3).upper():
        plan = _InsertPlan(match.group(1), match.group(2), match.group(3), match.group(2).count("?"))
    _PLANS[sql] = plan
    return plan


def _multi_row_sql(sql: str, plan: _InsertPlan, rows: int) -> str:
    key = (sql, rows)
    text = _STATEMENTS.get(key)
    if text is None:
        text = _STATEMENTS[key] = plan.head + ",".join([plan.group] * rows) + plan.tail
    return text


def bindable(params: Sequence[Any]) -> Sequence[Any]:
    """``params`` with lone surrogates in its strings replaced by U+FFFD (``params`` itself when
    there is none: the check is ``str.isascii``, O(1) on CPython, for ASCII strings)."""
    for value in params:
        if value.__class__ is str and not value.isascii() and valid_text(value) is not value:
            return [valid_text(v) if v.__class__ is str else v for v in params]
    return params


def _execute(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
    """``conn.execute(sql, params)``, bound again with :func:`bindable` parameters when a string
    cannot be encoded."""
    try:
        return conn.execute(sql, params)
    except UnicodeEncodeError:
        cleaned = bindable(params)
        if cleaned is params:
            raise
        return conn.execute(sql, cleaned)


def _executemany(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    # Rows are cleaned first: a retry after a failure would apply the rows before it twice.
    conn.executemany(sql, [bindable(r) for r in rows])


def run_many(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """``conn.executemany(sql, rows)``, with plain inserts sent as multi-row statements.

    Runs on the connection's thread. Rows whose width does not match the statement go through
    ``executemany``, which raises the usual error.
    """
    plan = insert_plan(sql) if len(rows) >= CHUNK_SIZES[-1] else None
    if plan is None or plan.width == 0 or any(len(r) != plan.width for r in rows):
        _executemany(conn, sql, rows)
        return
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    start, total = 0, len(rows)
    for size in CHUNK_SIZES:
        if size * plan.width > limit:
            continue
        statement = ""
        while total - start >= size:
            statement = statement or _multi_row_sql(sql, plan, size)
            _execute(conn, statement, list(chain.from_iterable(rows[start : start + size])))
            start += size
    if start < total:
        _executemany(conn, sql, rows[start:])


# One queued operation: (kind, sql, payload). Kinds: "many" (payload: rows), "exec" and "fetch"
# (payload: parameters), "plain" (no parameters: BEGIN, COMMIT).
Op = tuple[str, str, Any]


def run_ops(conn: sqlite3.Connection, ops: Sequence[Op]) -> Any:
    """Execute ``ops`` in order on ``conn`` (on its thread); returns the last "exec" row count or
    "fetch" rows, else None. An error stops the batch and propagates; the caller rolls back."""
    result: Any = None
    for kind, sql, payload in ops:
        if kind == "many":
            run_many(conn, sql, payload)
        elif kind == "plain":
            conn.execute(sql)
        else:
            cursor = _execute(conn, sql, payload)
            try:
                result = [tuple(r) for r in cursor.fetchall()] if kind == "fetch" else int(cursor.rowcount)
            finally:
                cursor.close()
    return result


def rollback_if_open(conn: sqlite3.Connection) -> None:
    """Roll back when a transaction is open (a failed batch may have stopped before or after BEGIN)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")

"""The QA brain's own table: answers it gave (for follow-ups, feedback and ``eval feedback``)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from bot.store import Store, slack_ids
from bot.store.schema import Migration, register

register(
    Migration(
        "qa-0001-answers",
        (
            """CREATE TABLE IF NOT EXISTS qa_answers (
                answer_id TEXT NOT NULL PRIMARY KEY, platform TEXT NOT NULL, workspace_id TEXT NOT NULL,
                channel_id TEXT NOT NULL, thread_id TEXT, asker_id TEXT NOT NULL, question TEXT NOT NULL,
                answer TEXT NOT NULL, cited TEXT NOT NULL DEFAULT '[]', abstained INTEGER NOT NULL DEFAULT 0,
                ts DOUBLE PRECISION NOT NULL)""",
            """CREATE INDEX IF NOT EXISTS qa_answers_thread ON qa_answers (platform, workspace_id, thread_id)""",
            """CREATE INDEX IF NOT EXISTS qa_answers_asker ON qa_answers (platform, workspace_id, asker_id)""",
        ),
    )
)
# Slack thread ids became "<channel>:<ts>" (bot.message_ids).
register(Migration("qa-0002-slack-channel-ids", (slack_ids.by_channel_column("qa_answers", "thread_id"),)))
# Who wrote the cited sources, kept with the answer: a forgotten member's words may be quoted in it
# even after their messages left the index (an opt-out, a delete or an edit came first). NULL for
# answers logged before this column: unknown, so they go by cited units as before.
register(Migration("qa-0003-cited-authors", ("ALTER TABLE qa_answers ADD COLUMN cited_authors TEXT",)))


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One answer the bot posted."""

    answer_id: str
    platform: str
    workspace_id: str
    channel_id: str
    thread_id: str | None
    asker_id: str
    question: str
    answer: str
    cited: tuple[str, ...]
    abstained: bool
    ts: float
    cited_authors: tuple[str, ...] = ()


class AnswerLog:
    """Reads and writes ``qa_answers``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, record: AnswerRecord) -> None:
        """Store an answer (idempotent on ``answer_id``)."""
        await self.store.db.execute(
            "INSERT INTO qa_answers (answer_id, platform, workspace_id, channel_id, thread_id, asker_id, question, "
            "answer, cited, abstained, ts, cited_authors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (answer_id) DO NOTHING",
            (
                record.answer_id,
                record.platform,
                record.workspace_id,
                record.channel_id,
                record.thread_id,
                record.asker_id,
                record.question,
                record.answer,
                json.dumps(list(record.cited)),
                int(record.abstained),
                record.ts or time.time(),
                json.dumps(sorted(set(record.cited_authors))),
            ),
        )

    async def in_thread(self, platform: str, workspace_id: str, thread_id: str) -> list[AnswerRecord]:
        """Answers posted in a thread, oldest first."""
        rows = await self.store.db.fetchall(
            f"SELECT {_COLUMNS} FROM qa_answers WHERE platform = ? AND workspace_id = ? AND thread_id = ? ORDER BY ts",
            (platform, workspace_id, thread_id),
        )
        return [_record(r) for r in rows]

    async def get(self, answer_id: str) -> AnswerRecord | None:
        """One answer by id."""
        row = await self.store.db.fetchone(f"SELECT {_COLUMNS} FROM qa_answers WHERE answer_id = ?", (answer_id,))
        return _record(row) if row else None

    async def all(self, limit: int = 1000) -> list[AnswerRecord]:
        """Newest answers first."""
        rows = await self.store.db.fetchall(f"SELECT {_COLUMNS} FROM qa_answers ORDER BY ts DESC LIMIT ?", (limit,))
        return [_record(r) for r in rows]

    async def forget_asker(self, platform: str, workspace_id: str, user_id: str) -> int:
        """Delete a member's questions and the answers to them."""
        return await self.store.db.execute(
            "DELETE FROM qa_answers WHERE platform = ? AND workspace_id = ? AND asker_id = ?",
            (platform, workspace_id, user_id),
        )

    async def forget_citing(self, platform: str, workspace_id: str, unit_ids: set[str]) -> int:
        """Delete answers that cited any of ``unit_ids`` (their text may quote those units)."""
        if not unit_ids:
            return 0
        rows = await self.store.db.fetchall(
            "SELECT answer_id, cited FROM qa_answers WHERE platform = ? AND workspace_id = ?", (platform, workspace_id)
        )
        doomed = [str(r[0]) for r in rows if unit_ids.intersection(json.loads(r[1] or "[]"))]
        for start in range(0, len(doomed), 500):
            part = doomed[start : start + 500]
            await self.store.db.execute(
                f"DELETE FROM qa_answers WHERE answer_id IN ({', '.join('?' * len(part))})", part
            )
        return len(doomed)

    async def forget_quoting(self, platform: str, workspace_id: str, user_id: str) -> int:
        """Delete answers whose cited sources ``user_id`` wrote (recorded when they were logged)."""
        rows = await self.store.db.fetchall(
            "SELECT answer_id, cited_authors FROM qa_answers WHERE platform = ? AND workspace_id = ? "
            "AND cited_authors IS NOT NULL",
            (platform, workspace_id),
        )
        doomed = [str(r[0]) for r in rows if user_id in json.loads(r[1] or "[]")]
        for start in range(0, len(doomed), 500):
            part = doomed[start : start + 500]
            await self.store.db.execute(
                f"DELETE FROM qa_answers WHERE answer_id IN ({', '.join('?' * len(part))})", part
            )
        return len(doomed)

    async def of_asker(self, platform: str, workspace_id: str, user_id: str) -> list[dict[str, Any]]:
        """A member's questions and answers (data access request)."""
        rows = await self.store.db.fetchall(
            f"SELECT {_COLUMNS} FROM qa_answers WHERE platform = ? AND workspace_id = ? AND asker_id = ? ORDER BY ts",
            (platform, workspace_id, user_id),
        )
        return [{"question": r.question, "answer": r.answer, "ts": r.ts} for r in map(_record, rows)]


_COLUMNS = "answer_id, platform, workspace_id, channel_id, thread_id, asker_id, question, answer, cited, abstained, ts"


def _record(row: Any) -> AnswerRecord:
    return AnswerRecord(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        tuple(json.loads(row[8])),
        bool(row[9]),
        float(row[10]),
    )

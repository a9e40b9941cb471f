"""The QA brain's own table: answers it gave (for follow-ups, feedback and ``eval feedback``)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from bot.events import (
    CommandReply,
    Event,
    MessageEdited,
    MessagePosted,
    SendEphemeral,
    SendMessage,
)
from bot.store import Store, slack_ids
from bot.store.db import like_escaped
from bot.store.schema import Migration, register
from brain.qa.shown import MIN_SHOWN_WORDS, REMOVED_COPY, shows, words

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
# Which messages the cited sources held, kept with the answer: a deleted message leaves the answers
# that may quote it (AnswerLog.scrub_quoting) by its id, from the store alone (the vector index may
# be down), and whatever rebuilt or renumbered the units since. NULL for answers logged before this
# column: they go by the cited units' ids.
register(Migration("qa-0004-cited-messages", ("ALTER TABLE qa_answers ADD COLUMN cited_messages TEXT",)))

# Whether any of these members of a workspace asked to be forgotten: ``(platform, workspace_id, user_ids)``.
Forgotten = Callable[[str, str, Sequence[str]], Awaitable[bool]]

# What a scrubbed answer's text becomes (see AnswerLog.scrub_quoting); no real answer is empty.
SCRUBBED = ""


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
    # The messages the cited units held; None: unknown (the log matches the unit ids instead).
    cited_message_ids: tuple[str, ...] | None = None

    @property
    def scrubbed(self) -> bool:
        """Whether the answer's text was blanked because a message it cited was deleted."""
        return self.answer == SCRUBBED


# An event log's eraser of copies (``RedisStreamsBus.forget_copies``): ``(times, within_s, match)``.
EventLogCopies = Callable[[Sequence[float], float, Callable[[Event], bool]], Awaitable[int]]


class AnswerLog:
    """Reads and writes ``qa_answers``.

    ``event_log``: where the bus keeps what it carried (the Redis streams), so that an answer's
    copies there go with its stored copies: the action that posted it and the platform's echo."""

    def __init__(self, store: Store, *, event_log: EventLogCopies | None = None) -> None:
        self.store = store
        self.event_log = event_log

    async def add(self, record: AnswerRecord, *, forgotten: Forgotten | None = None) -> bool:
        """Store an answer (idempotent on ``answer_id``); False when it was not kept.

        ``forgotten(platform, workspace_id, user_ids)``: whether any of those members asked to be
        forgotten. An answer takes seconds to generate, and ``/forget-me`` may erase its asker, or
        the author of a source it cites, meanwhile (``forget_asker``, ``forget_quoting`` and
        ``forget_citing`` have then run already): such an answer is not kept, nor its stored copy
        (the answer may be posted already; the store must not keep it). Checked again once it is
        written, as the erasure marks the member before it deletes: whichever comes second sees it.
        Feedback on an answer not kept finds no answer, as on one erased after it was logged."""
        members = (record.asker_id, *record.cited_authors)
        if forgotten is not None and await forgotten(record.platform, record.workspace_id, members):
            await self._remove_copies(
                record.platform, record.workspace_id, [(record.channel_id, record.ts or time.time(), record.answer)]
            )
            # A retry of an add whose row went in before the erasure marked the member (and whose
            # delete below then failed) finds the row here: it goes too (deleting none is no-op).
            await self._delete(record.platform, record.workspace_id, [record.answer_id])
            return False
        await self.store.db.execute(
            "INSERT INTO qa_answers (answer_id, platform, workspace_id, channel_id, thread_id, asker_id, question, "
            "answer, cited, abstained, ts, cited_authors, cited_messages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
                None if record.cited_message_ids is None else json.dumps(sorted(set(record.cited_message_ids))),
            ),
        )
        if forgotten is not None and await forgotten(record.platform, record.workspace_id, members):
            await self._delete(record.platform, record.workspace_id, [record.answer_id])
            return False
        return True

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

    async def _remove_posted_copies(self, platform: str, workspace_id: str, answer_ids: Sequence[str]) -> None:
        """Replace the stored copies of these answers as the bot posted them (its own messages, which
        the adapters record: Discord's echo, Slack's ``chat.postMessage`` answer) by REMOVED_COPY,
        before the answers go: a copy quotes what the answer did. A copy is a bot message in the
        answer's channel, posted within minutes of it being logged, showing its words."""
        db = self.store.db
        for start in range(0, len(answer_ids), 500):
            part = list(answer_ids[start : start + 500])
            rows = await db.fetchall(
                f"SELECT channel_id, ts, answer FROM qa_answers WHERE answer_id IN ({', '.join('?' * len(part))}) "
                "AND answer <> ?",
                [*part, SCRUBBED],
            )
            await self._remove_copies(platform, workspace_id, [(str(c), float(t), str(a)) for c, t, a in rows])

    async def _remove_copies(self, platform: str, workspace_id: str, answers: Sequence[tuple[str, float, str]]) -> None:
        """:meth:`_remove_posted_copies` for answers given as ``(channel_id, ts, text)``.

        The event log's copies go first: if it is unreachable this raises before anything is
        deleted, and the caller's retry finds the answers again."""
        if self.event_log is not None and answers:
            await self.event_log(
                [ts for _, ts, _ in answers], _COPY_WITHIN_S, _copy_of(platform, workspace_id, answers)
            )
        db = self.store.db
        for channel_id, ts, answer in answers:
            said = words(answer)
            copies = await db.fetchall(
                "SELECT message_id, text FROM messages WHERE platform = ? AND workspace_id = ? AND channel_id = ? "
                "AND ts >= ? AND ts <= ? AND is_bot = 1 AND deleted = 0",
                (platform, workspace_id, channel_id, ts - _COPY_WITHIN_S, ts + _COPY_WITHIN_S),
            )
            for message_id, text in copies:
                if text != REMOVED_COPY and shows(words(str(text)), said):
                    await db.execute(
                        "UPDATE messages SET text = ? WHERE platform = ? AND workspace_id = ? AND message_id = ?",
                        (REMOVED_COPY, platform, workspace_id, message_id),
                    )

    async def _delete(self, platform: str, workspace_id: str, answer_ids: list[str]) -> int:
        """Delete ``answer_ids`` and their stored copies' words (:meth:`_remove_posted_copies`);
        returns how many."""
        await self._remove_posted_copies(platform, workspace_id, answer_ids)
        for start in range(0, len(answer_ids), 500):
            part = answer_ids[start : start + 500]
            await self.store.db.execute(
                f"DELETE FROM qa_answers WHERE answer_id IN ({', '.join('?' * len(part))})", part
            )
        return len(answer_ids)

    async def forget_citing(self, platform: str, workspace_id: str, unit_ids: set[str]) -> int:
        """Delete answers that cited any of ``unit_ids`` (their text may quote those units)."""
        if not unit_ids:
            return 0
        rows = await self.store.db.fetchall(
            "SELECT answer_id, cited FROM qa_answers WHERE platform = ? AND workspace_id = ?", (platform, workspace_id)
        )
        doomed = [str(r[0]) for r in rows if unit_ids.intersection(json.loads(r[1] or "[]"))]
        return await self._delete(platform, workspace_id, doomed)

    async def forget_quoting(self, platform: str, workspace_id: str, user_id: str) -> int:
        """Delete answers whose cited sources ``user_id`` wrote (recorded when they were logged)."""
        rows = await self.store.db.fetchall(
            "SELECT answer_id, cited_authors FROM qa_answers WHERE platform = ? AND workspace_id = ? "
            "AND cited_authors IS NOT NULL",
            (platform, workspace_id),
        )
        doomed = [str(r[0]) for r in rows if user_id in json.loads(r[1] or "[]")]
        return await self._delete(platform, workspace_id, doomed)

    async def scrub_quoting(
        self, platform: str, workspace_id: str, message_ids: Collection[str], *, unit_bases: Collection[str] = ()
    ) -> int:
        """Blank the text of answers whose cited sources held any of ``message_ids`` (deleted, or in a
        deleted channel): the answer may quote them. Returns how many answers changed.

        Scrubbed, not dropped: the question, asker, time, abstention and the feedback on the answer
        stay, so ``/guildhall status``, ``guildhall eval feedback`` and the activity brain still count
        an answered question, and the help-channel timer does not answer it a second time.

        Answers logged before their cited messages were recorded (``cited_messages`` NULL) match
        when a cited unit id is a chunk of one of ``unit_bases`` (the conversations that held the
        messages: ``thread:<p>:<ws>:<thread>``, ``win:<p>:<ws>:<channel>:<first message>``), whatever
        chunk number a rebuild gave the message since.
        """
        wanted, bases = set(message_ids), set(unit_bases)
        if not wanted and not bases:
            return 0
        sql = (
            "SELECT answer_id, cited, cited_messages FROM qa_answers WHERE platform = ? AND workspace_id = ? "
            "AND answer <> ?"
        )
        params: list[Any] = [platform, workspace_id, SCRUBBED]
        if len(wanted) <= _LIKE_MAX:
            # A message delete (the common case) reads only the answers that may cite it, and the
            # older ones without cited_messages; the JSON is checked exactly below.
            likes = " OR ".join("cited_messages LIKE ? ESCAPE '!'" for _ in wanted)
            sql += f" AND (cited_messages IS NULL{' OR ' + likes if likes else ''})"
            params += [f"%{like_escaped(json.dumps(m))}%" for m in sorted(wanted)]
        hit: list[str] = []
        for answer_id, cited, cited_messages in await self.store.db.fetchall(sql, params):
            if cited_messages is not None:
                quoting = not wanted.isdisjoint(json.loads(cited_messages))
            else:
                quoting = any(u.rpartition("#")[0] in bases for u in json.loads(cited or "[]"))
            if quoting:
                hit.append(str(answer_id))
        await self._remove_posted_copies(platform, workspace_id, hit)
        for start in range(0, len(hit), 500):
            part = hit[start : start + 500]
            await self.store.db.execute(
                f"UPDATE qa_answers SET answer = ? WHERE answer_id IN ({', '.join('?' * len(part))})",
                [SCRUBBED, *part],
            )
        return len(hit)

    async def quoting(self, platform: str, workspace_id: str, user_id: str) -> list[dict[str, Any]]:
        """Answers to other members whose cited sources ``user_id`` wrote (data access request): when
        and where, without the text, which is another member's question and the bot's answer to it.
        The member learns they exist; /forget-me deletes them (:meth:`forget_quoting`)."""
        rows = await self.store.db.fetchall(
            "SELECT answer_id, channel_id, ts, cited_authors FROM qa_answers WHERE platform = ? AND workspace_id = ? "
            "AND asker_id <> ? AND cited_authors IS NOT NULL ORDER BY ts, answer_id",
            (platform, workspace_id, user_id),
        )
        return [
            {"answer_id": r[0], "channel_id": r[1], "ts": r[2]}
            for r in rows
            if user_id in json.loads(str(r[3]) or "[]")
        ]

    async def of_asker(self, platform: str, workspace_id: str, user_id: str) -> list[dict[str, Any]]:
        """A member's questions and answers (data access request)."""
        rows = await self.store.db.fetchall(
            f"SELECT {_COLUMNS} FROM qa_answers WHERE platform = ? AND workspace_id = ? AND asker_id = ? ORDER BY ts",
            (platform, workspace_id, user_id),
        )
        out: list[dict[str, Any]] = []
        for r in map(_record, rows):
            item: dict[str, Any] = {"question": r.question, "answer": r.answer, "ts": r.ts}
            if r.scrubbed:
                item["answer_removed"] = "it quoted a message that was deleted"
            out.append(item)
        return out


# A posted answer's copy is stored within this long of the answer being logged (it is logged right
# after it is sent; a slow platform or a bus backlog delays the copy).
_COPY_WITHIN_S = 600.0


def _copy_of(platform: str, workspace_id: str, answers: Sequence[tuple[str, float, str]]) -> Callable[[Event], bool]:
    """Whether an event of the bus shows one of ``answers`` (``(channel_id, ts, text)``) in its
    channel: an action that posted it, or the bot's own message or edit as the platform echoed it.
    Members' messages are never copies (one quoting an answer is theirs to keep or delete), and an
    action must show a run of at least :data:`MIN_SHOWN_WORDS` of the answer's words (or all of a
    short one): another reply in that channel, "Done." under an answer ending "then you are done",
    may not have been sent yet, and deleting it would lose it."""
    said: dict[str, list[list[str]]] = {}
    for channel_id, _, text in answers:
        if text and text != SCRUBBED:
            said.setdefault(channel_id, []).append(words(text))

    def match(event: Event) -> bool:
        if isinstance(event, MessagePosted | MessageEdited):
            if event.author is None or not event.author.is_bot:
                return False
            place, action = event.channel, False
        elif isinstance(event, SendMessage | SendEphemeral):
            place, action = event.channel, True
        elif isinstance(event, CommandReply):
            place, action = event.command.channel, True
        else:
            return False
        if place.platform.value != platform or place.workspace_id != workspace_id:
            return False
        shown = words(event.text)
        for one in said.get(place.channel_id, ()):
            if action and len(shown) < min(len(one), MIN_SHOWN_WORDS):
                continue
            if shows(shown, one):
                return True
        return False

    return match


# Up to this many deleted messages, scrub_quoting lets the database pick the candidate answers.
_LIKE_MAX = 20
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

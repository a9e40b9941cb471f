"""Incremental helpfulness counters: events in, member x channel x local-day rollups out.

Every message gets a row in ``activity_contrib`` recording what it added to the rollups (and what
it later received: reactions, the helpful mark, the thread credit). That row makes the counters
exact under the three things chats do to them:

* **redelivery**: a message or reaction already recorded is skipped;
* **deletes**: the message's row is subtracted from its rollup row and kept as a tombstone (a
  delete that arrives before its message also leaves a tombstone, so the late original is ignored);
* **edits**: only re-evaluate the minimum-length rule, and with it what goes only to messages that
  count (reactions, the reply and thread-started credits, the asker's marks: a reply edited down to
  "." keeps what gave its marks, and gets back those still standing when edited back); an edit never
  adds a second message.

What the asker's word gave is recorded with its source (``helpful_src`` on the reply, ``answer_src``
on the question: ``reaction``, ``thanks:<message id>``, ``said:<message id>``), so undoing one of them
(the ✅ removed, the thanks deleted or edited away) takes a credit back only when no other mark
still gives it.

Every credit goes to the rollup row of the *message that earned it* (its channel and day), so a
delete subtracts exactly what the message contributed. Events are applied in batches inside one
transaction: a handful of statements per batch keeps live ingest far above 10,000 events/s.
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from zoneinfo import ZoneInfo

from bot.events import (
    Event,
    EventSource,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ThreadCreated,
)
from bot.store import Store
from bot.store.db import Executor
from brain.activity import schema as _schema  # noqa: F401  (registers the tables)
from brain.activity.scoring import (
    ASKER_THREADS_PER_DAY,
    COUNTERS,
    REPLY_THREADS_PER_DAY,
    STARTED_THREADS_PER_DAY,
    is_helpful_emoji,
    is_question,
    is_rejection,
    is_thanks,
    local_day,
    word_count,
)

COUNTER_EVENTS: tuple[type[Event], ...] = (
    MessagePosted,
    MessageEdited,
    MessageDeleted,
    ReactionAdded,
    ReactionRemoved,
    ThreadCreated,
)

Key = tuple[str, str, str]
# (platform, workspace, member, local day): the key of the daily caps on replies and threads started.
MemberDay = tuple[str, str, str, str]
AskerDay = tuple[str, str, str, str]
RollupKey = tuple[str, str, str, str, str]

# SQLite allows 999 bound parameters per statement in old builds; stay below with room for the scope.
_IN_CHUNK = 900
# Minutes of one batch further apart than this are read in separate ranges (an import's batch may
# span months: one range would read every row between).
_MINUTE_GAP = 60
_CAP_MEMORY = 200_000
_ANALYZE_AFTER_ROWS = 1_000
# How long an edit or a reaction removal that overtook its post or add waits for it (the recorder's
# PENDING_CHANGES_KEPT), and how often a worker purges those older (at most once an hour).
_PENDING_KEPT_S = 2 * 86400
_PENDING_PURGE_EVERY_S = 3600
# Discord ids are snowflakes: milliseconds since this epoch, shifted 22 bits. A thread opened from
# a message has that message's id, older than the thread; one opened without a starter message got
# its id when opened: within this many seconds of its creation time (both are Discord's clock).
_DISCORD_EPOCH_MS = 1_420_070_400_000
_THREAD_ID_SLACK_S = 5.0


@dataclass(slots=True)
class Contribution:
    """What one message added to the rollups (one ``activity_contrib`` row)."""

    platform: str
    workspace_id: str
    message_id: str
    channel_id: str
    author_id: str
    thread_id: str | None
    day: str
    ts: float
    words: int = 0
    is_question: int = 0
    deleted: int = 0
    messages: int = 0
    replies: int = 0
    threads: int = 0
    reactions: int = 0
    helpful: int = 0
    answered: int = 0
    helpful_src: str = ""
    capped: int = 0
    answer_id: str = ""
    # Posted while its author had opted out: counted in the anonymous totals (user id ""), never
    # under their name, even after they opt back in.
    anonymous: int = 0
    # On a question: what gives ``answer_id`` its answer (see :func:`_sources`). On a reply that held
    # the answer and then stopped counting (edited down to "."): what gave it, kept so that an edit
    # back gives the answer back while those still stand (see :meth:`ActivityCounters._suspend_marks`).
    answer_src: str = ""
    # Stands in for the missing root of a thread opened without a starter message (see
    # :meth:`ActivityCounters._thread_created`): 1 until the thread's author first writes in it,
    # 2 after. Never counts as a message.
    standin: int = 0

    # Identity never changes after construction: both keys are computed once (hot path).
    key: Key = field(init=False, repr=False, compare=False)
    rollup_key: RollupKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = (self.platform, self.workspace_id, self.message_id)
        who = "" if self.anonymous else self.author_id
        self.rollup_key = (self.platform, self.workspace_id, self.day, self.channel_id, who)

    @property
    def is_reply(self) -> bool:
        return self.thread_id is not None and self.thread_id != self.message_id


_COLUMNS = [f.name for f in fields(Contribution) if f.init]
# A message's identity (channel, author, thread, day, ts) never changes once recorded: the upsert
# only rewrites the columns that do, so SQLite leaves the thread and ts indexes untouched.
_MUTABLE = [
    c
    for c in _COLUMNS
    if c not in ("platform", "workspace_id", "message_id", "channel_id", "author_id", "thread_id", "day", "ts")
]
_ROW_VALUES = attrgetter(*_COLUMNS)  # one C call per row instead of a getattr per column
_COUNTER_INDEX = {name: i for i, name in enumerate(COUNTERS)}
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM activity_contrib"
_CONFLICT_CONTRIB = "ON CONFLICT (platform, workspace_id, message_id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in _MUTABLE
)
_REACTION_COLUMNS = ["platform", "workspace_id", "message_id", "user_id", "emoji", "ts"]
_ROLLUP_COLUMNS = ["platform", "workspace_id", "day", "channel_id", "user_id", *COUNTERS]
_CONFLICT_ROLLUP = "ON CONFLICT (platform, workspace_id, day, channel_id, user_id) DO UPDATE SET " + ", ".join(
    f"{c} = activity_rollup.{c} + excluded.{c}" for c in COUNTERS
)
_PG_TYPES = {
    "ts": "double precision",
    "noted_ts": "double precision",
    **{c: "integer" for c in (*COUNTERS, "words", "is_question", "deleted", "capped", "anonymous", "standin")},
}
_REMOVAL_COLUMNS = ["platform", "workspace_id", "message_id", "user_id", "emoji", "ts", "noted_ts"]
_CONFLICT_REMOVAL = (
    "ON CONFLICT (platform, workspace_id, message_id, user_id, emoji) DO UPDATE SET ts = excluded.ts, "
    "noted_ts = excluded.noted_ts WHERE excluded.ts > activity_reaction_removals.ts"
)
_PENDING_COLUMNS = ["platform", "workspace_id", "message_id", "author_id", "text", "ts", "noted_ts"]
_CONFLICT_PENDING = (
    "ON CONFLICT (platform, workspace_id, message_id) DO UPDATE SET author_id = CASE WHEN "
    "excluded.author_id <> '' THEN excluded.author_id ELSE activity_pending_edits.author_id END, "
    "text = excluded.text, ts = excluded.ts, noted_ts = excluded.noted_ts "
    "WHERE excluded.ts >= activity_pending_edits.ts"
)


def _upsert_sql(dialect: str, table: str, columns: Sequence[str], conflict: str) -> str:
    """One upsert statement for many rows.

    SQLite runs it per row through ``executemany`` (cheap: no round trips). On PostgreSQL a
    per-row ``executemany`` costs ~40 us a row even pipelined, so the batch is sent as one array per
    column and unnested server-side: a single statement per batch.
    """
    names = ", ".join(columns)
    if dialect == "postgresql":
        arrays = ", ".join(f"?::{_PG_TYPES.get(c, 'text')}[]" for c in columns)
        return f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {conflict}"
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)}) {conflict}"


async def _upsert(tx: Executor, dialect: str, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
    if dialect == "postgresql":
        await tx.execute(sql, [list(column) for column in zip(*rows, strict=True)])
    else:
        await tx.executemany(sql, rows)


def _sources(text: str) -> set[str]:
    """The sources in a ``helpful_src`` or ``answer_src`` value: space-separated ``reaction`` (the
    asker's ✅), ``thanks:<id>`` (the asker's thanks ``<id>``), ``said:<id>`` (the asker's follow-up
    ``<id>`` took the reply up) or ``said`` (a follow-up recorded before sources were: never undone).
    Message ids hold no spaces on any platform."""
    return set(text.split())


def _with_source(text: str, source: str) -> str:
    return " ".join(sorted(_sources(text) | {source}))


def _row_to_contrib(row: Sequence[object]) -> Contribution:
    c = Contribution(*row)  # type: ignore[arg-type]
    c.ts = float(c.ts)
    return c


class _Batch:
    """Working state of one batch: loaded rows, pending reaction changes and rollup deltas."""

    def __init__(self) -> None:
        self.rows: dict[Key, Contribution] = {}
        self.dirty: set[Key] = set()
        self.reactions: dict[Key, set[tuple[str, str]]] = {}
        # Final state of each reaction touched in the batch: its timestamp, or None once removed.
        # Netted rather than logged, so "add, remove" in one batch writes nothing that a later
        # batch would mistake for a live reaction.
        self.reaction_ops: dict[tuple[str, str, str, str, str], float | None] = {}
        # Removal times known for the batch's reactions (stored in activity_reaction_removals, or
        # seen in the batch): an add from before one is not counted, whatever the order of delivery.
        self.removals: dict[tuple[str, str, str, str, str], float] = {}
        # The removals of the batch, to note.
        self.removal_ops: dict[tuple[str, str, str, str, str], float] = {}
        # Edits of messages without a row yet (their post overtaken): (author, text, edit time), to keep.
        self.pending_edits: dict[Key, tuple[str, str, float]] = {}
        # Messages whose kept edits are done with: applied after their post, or deleted.
        self.pending_done: set[Key] = set()
        # Threads of the batch's ThreadCreated that a message is known to have the id of (the
        # recorder's, or a bot's post in the batch): they have a starter, and get no stand-in root.
        self.known_starters: set[Key] = set()
        # Stand-in roots their starter message took over (its author, channel, day, time): the
        # stored row is written again whole (_flush), as the upsert keeps a row's identity.
        self.replaced: set[Key] = set()
        # The per-minute cap of messages edited to qualify (_edit_over_cap): per (platform, workspace,
        # author, minute) wanted, the ids of the author's messages of that minute (stored, and the
        # batch's posts), and whether each stored one counts.
        self.minute_ids: dict[tuple[str, str, str, int], set[str]] = {}
        self.minute_counted: dict[Key, bool] = {}
        self.deltas: dict[RollupKey, list[int]] = {}
        # The messages of each thread touched by the batch that hold a reply or helpful credit, plus
        # the batch's own replies: "one credit per member per thread" is decided from these.
        self.thread_rows: dict[Key, list[Key]] = {}
        # Reply credits per (platform, workspace, member, local day), across channels: the daily cap.
        self.day_replies: dict[MemberDay, int] = {}
        # Thread-started credits per (platform, workspace, root's author, root's local day): the
        # STARTED_THREADS_PER_DAY cap. Only the keys _load_threads loaded are kept up to date.
        self.day_threads: dict[MemberDay, int] = {}
        # Keys of day_threads credited in the batch without being loaded (a root edited into one
        # that counts, then answered, in the same batch): forgotten after it, so the next batch
        # reads them from the rollups again.
        self.unloaded_threads: set[MemberDay] = set()
        # The ASKER_THREADS_PER_DAY cap: per (platform, workspace, asker, question's local day),
        # the questions each answerer holds a mark or the answer in (see _load_asker_threads).
        self.asker_threads: dict[AskerDay, dict[str, set[str]]] = {}
        # Questions that may have lost a mark or their answer in the batch (re-checked after it).
        self.recheck: set[Key] = set()
        # (platform, workspace, member) of the batch's authors who opted out.
        self.opted_out: set[tuple[str, str, str]] = set()
        # Every message id already looked up, found or not: a thread root the store does not hold
        # (its thread started before tracking) is asked for once per batch, not once per loader.
        self.fetched: set[Key] = set()
        # Roots whose thread's answering replies by other members were loaded (enough of them to
        # tell whether one remains after the batch's edits and deletes; see _counting_limits): only
        # for these may an edit or a delete decide the thread-started credit again.
        self.replies_loaded: set[Key] = set()

    def add_to_thread(self, row: Contribution) -> None:
        """Track ``row`` among its thread's messages."""
        if row.is_reply and row.thread_id:
            keys = self.thread_rows.setdefault((row.platform, row.workspace_id, row.thread_id), [])
            if row.key not in keys:
                keys.append(row.key)

    def in_thread(self, root: Contribution) -> list[Contribution]:
        """The tracked messages of ``root``'s thread."""
        return [self.rows[k] for k in self.thread_rows.get(root.key, ())]

    def credit(self, row: Contribution, counter: str, amount: int) -> None:
        """Change one counter of ``row`` and the matching rollup row by ``amount``."""
        if counter == "replies":
            day = (row.platform, row.workspace_id, row.author_id, row.day)
            self.day_replies[day] = self.day_replies.get(day, 0) + amount
        elif counter == "threads" and not row.anonymous:
            day = (row.platform, row.workspace_id, row.author_id, row.day)
            # A key that was not loaded is not tracked: a partial count kept as the committed one
            # would let the member past the cap later.
            if day in self.day_threads:
                self.day_threads[day] += amount
            else:
                self.unloaded_threads.add(day)
        setattr(row, counter, getattr(row, counter) + amount)
        rollup_key = row.rollup_key
        delta = self.deltas.get(rollup_key)
        if delta is None:
            delta = self.deltas[rollup_key] = [0] * len(COUNTERS)
        delta[_COUNTER_INDEX[counter]] += amount
        self.dirty.add(row.key)


class ActivityCounters:
    """Applies counter events to the store; safe to call with redelivered or out-of-order events.

    Args:
        store: the shared store (its tables must be migrated).
        tz: the community's time zone; rollup days are local days.
        min_words: messages with fewer words count for nothing.
        per_minute_cap: a member's messages beyond this many in one minute count for nothing.
        reply_threads_per_day: a member's reply credits per local day (one per thread); more
            replies still count as messages, never as help.
        asker_threads_per_day: questions of one asker's local day whose helpful mark and answered
            credit one answerer can earn (two accounts marking each other's answers farm no more).
        started_threads_per_day: a member's "thread started" credits per local day (of the root);
            more threads still count as messages, and their replies still earn their repliers.
        shared_writers: other processes apply counter events to the same store (the workers of a
            Redis bus's consumer group): the caps' counts are read from the store in every batch
            instead of kept here between batches, as a member's events are spread over the workers
            and each would otherwise allow the full cap.
    """

    def __init__(
        self,
        store: Store,
        tz: ZoneInfo,
        *,
        min_words: int = 4,
        per_minute_cap: int = 5,
        reply_threads_per_day: int = REPLY_THREADS_PER_DAY,
        asker_threads_per_day: int = ASKER_THREADS_PER_DAY,
        started_threads_per_day: int = STARTED_THREADS_PER_DAY,
        shared_writers: bool = False,
    ) -> None:
        self.store = store
        self.tz = tz
        self.min_words = min_words
        self.per_minute_cap = per_minute_cap
        self.reply_threads_per_day = reply_threads_per_day
        self.asker_threads_per_day = asker_threads_per_day
        self.started_threads_per_day = started_threads_per_day
        self.shared_writers = shared_writers
        # Committed state of the asker cap (see _load_asker_threads), like _day_replies.
        self._asker_threads: dict[AskerDay, dict[str, set[str]]] = {}
        # Reply credits per (platform, workspace, member, local day): see _load_threads.
        self._day_replies: dict[MemberDay, int] = {}
        # Thread-started credits per (platform, workspace, member, local day), kept the same way.
        self._day_threads: dict[MemberDay, int] = {}
        # Per-minute counts only matter for the current minute; a bounded dict is enough.
        self._minute_counts: dict[tuple[str, str, str, int], int] = {}
        self._days: dict[int, str] = {}
        # PostgreSQL: rows written since start, until the tables are known to have planner statistics.
        self._unanalyzed_rows: int | None = 0 if store.db.dialect == "postgresql" else None
        # When this worker last purged the kept edits and removals (see purge_pending).
        self._pending_purged_at = 0.0

    async def apply(self, events: Iterable[Event]) -> None:
        """Apply a batch of counter events in order, in one transaction."""
        batch_events = [e for e in events if isinstance(e, COUNTER_EVENTS)]
        if not batch_events:
            return
        if self.shared_writers:
            # What another worker committed since is not in these: read every count again.
            self._day_replies.clear()
            self._day_threads.clear()
            self._asker_threads.clear()
            self._minute_counts.clear()
        async with self.store.db.transaction() as tx:
            if self.shared_writers and self.store.db.dialect == "postgresql":
                # Read-then-write of the caps' counts: two workers' batches of one workspace must
                # take turns, or each reads the counts before the other commits and both pass a cap
                # (SQLite's BEGIN IMMEDIATE already serialises writers). Sorted: no deadlock.
                scopes = {_scope(e) for e in batch_events}
                for platform, ws in sorted(scopes):
                    await tx.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (f"activity:{platform}:{ws}",)
                    )
            batch = _Batch()
            batch_events = await self._with_overtaken_edits(tx, batch, batch_events)
            await self._load(tx, batch, batch_events)
            if self.shared_writers:
                await self._load_minute_counts(tx, batch, batch_events)
            await self._load_edit_minutes(tx, batch, batch_events)
            await self._load_asker_threads(tx, batch, batch_events)
            batch.opted_out = await _opted_out(tx, batch_events)
            for event in batch_events:
                if isinstance(event, MessagePosted):
                    await self._posted(tx, batch, event)
                elif isinstance(event, MessageEdited):
                    self._edited(batch, event)
                elif isinstance(event, MessageDeleted):
                    self._deleted(batch, event)
                elif isinstance(event, ReactionAdded):
                    self._reaction_added(batch, event)
                elif isinstance(event, ReactionRemoved):
                    self._reaction_removed(batch, event)
                elif isinstance(event, ThreadCreated):
                    self._thread_created(batch, event)
            await self._flush(tx, batch)
        self._day_replies.update(batch.day_replies)  # committed
        self._day_threads.update(batch.day_threads)
        for key in batch.unloaded_threads:
            self._day_threads.pop(key, None)
        self._keep_asker_threads(batch)
        if self._unanalyzed_rows is not None:
            self._unanalyzed_rows += len(batch.dirty)
            if self._unanalyzed_rows >= _ANALYZE_AFTER_ROWS:
                await self._bootstrap_statistics()
        now = _time.time()
        if now - self._pending_purged_at >= _PENDING_PURGE_EVERY_S:
            self._pending_purged_at = now
            await self.purge_pending(now - _PENDING_KEPT_S)

    async def purge_pending(self, before_ts: float) -> int:
        """Delete the kept edits and reaction removals (``activity_pending_edits``,
        ``activity_reaction_removals``) written before ``before_ts``: a post or an add delivered
        later than that is not expected. Returns how many."""
        total = 0
        for table in ("activity_pending_edits", "activity_reaction_removals"):
            total += await self.store.db.execute(f"DELETE FROM {table} WHERE noted_ts < ?", (before_ts,))
        return total

    async def _with_overtaken_edits(self, tx: Executor, batch: _Batch, events: list[Event]) -> list[Event]:
        """``events`` with the edits that overtook their post applied after it: an edit the batch
        holds before its message's post moves right after that post, and one kept from an earlier
        batch (``activity_pending_edits``, see :meth:`_edited`) follows the post as if delivered
        then, newest last. The message is then counted as posted and edited, in order (its per-minute
        cap verdict from the post, its credits from the edited text). A redelivered post changes
        nothing, so an edit moved after one is applied as it would have been."""
        first_post: dict[Key, int] = {}
        for i, e in enumerate(events):
            if isinstance(e, MessagePosted) and not e.is_bot:
                first_post.setdefault((*_scope(e), e.message_id), i)
        if not first_post:
            return events
        kept: dict[Key, tuple[str, float]] = {}
        # One cheap look in the usual case: an edit rarely overtakes its post.
        if await tx.fetchone("SELECT 1 FROM activity_pending_edits LIMIT 1") is not None:
            by_scope: dict[tuple[str, str], set[str]] = {}
            for platform, ws, mid in first_post:
                by_scope.setdefault((platform, ws), set()).add(mid)
            for (platform, ws), ids in by_scope.items():
                columns = ("message_id", "text", "ts")
                for sql, params in _by_ids(self.store.db.dialect, "activity_pending_edits", columns, platform, ws, ids):
                    for mid, text, ts in await tx.fetchall(sql, params):
                        kept[(platform, ws, str(mid))] = (str(text), float(ts))
        held: dict[int, list[MessageEdited]] = {}
        out: list[Event] = []
        for i, e in enumerate(events):
            if isinstance(e, MessageEdited):
                at = first_post.get((*_scope(e), e.message_id))
                if at is not None and at > i:
                    held.setdefault(at, []).append(e)
                    continue
            out.append(e)
            if not isinstance(e, MessagePosted):
                continue
            key = (*_scope(e), e.message_id)
            edits = held.pop(i, [])
            if first_post.get(key) == i and key in kept:
                text, ts = kept[key]
                edits.append(
                    MessageEdited(
                        channel=e.channel,
                        message_id=e.message_id,
                        text=text,
                        edited_at=datetime.fromtimestamp(ts, UTC),
                        author=e.author,
                        thread_id=e.thread_id,
                    )
                )
                batch.pending_done.add(key)
            out.extend(sorted(edits, key=attrgetter("edited_at")))
        return out

    async def erase_reactions_by(self, platform: str, workspace_id: str, user_id: str) -> int:
        """Delete every reaction ``user_id`` gave (``/forget-me``) and recount the messages they were
        on, in one transaction: their authors lose those reaction points, and a later removal of
        someone else's reaction stays exact. Returns the reactions deleted (none on a retry)."""
        scope = (platform, workspace_id, user_id)
        async with self.store.db.transaction() as tx:
            reacted = await tx.fetchall(
                "SELECT DISTINCT message_id FROM activity_reactions WHERE platform = ? AND workspace_id = ? "
                "AND user_id = ?",
                scope,
            )
            erased = await tx.execute(
                "DELETE FROM activity_reactions WHERE platform = ? AND workspace_id = ? AND user_id = ?", scope
            )
            await self._recount_reactions(tx, platform, workspace_id, {str(r[0]) for r in reacted})
        return int(erased)

    async def _recount_reactions(self, tx: Executor, platform: str, workspace_id: str, ids: set[str]) -> None:
        """Set the reaction credit of ``ids`` (and their rollups) to what their stored reactions are
        worth now (:meth:`_sync_reactions`): a message whose reactions did not change writes nothing."""
        if not ids:
            return
        dialect = self.store.db.dialect
        batch = _Batch()
        await _fetch_rows(tx, dialect, batch, platform, workspace_id, ids)
        for mid in ids:
            batch.reactions[(platform, workspace_id, mid)] = set()
        columns = ("message_id", "user_id", "emoji")
        for sql, params in _by_ids(dialect, "activity_reactions", columns, platform, workspace_id, ids):
            for mid, uid, emoji in await tx.fetchall(sql, params):
                batch.reactions[(platform, workspace_id, str(mid))].add((str(uid), str(emoji)))
        for key, row in list(batch.rows.items()):
            if key in batch.reactions and not row.deleted:
                self._sync_reactions(batch, row)
        await self._flush(tx, batch)

    async def _bootstrap_statistics(self) -> None:
        """Give PostgreSQL's planner statistics for fresh activity tables (once per process).

        Without column statistics every ``platform = ? AND workspace_id = ?`` looks like one row, and
        the planner probes the wrong index: per-batch lookups that take 1 ms become a scan of the
        whole workspace (seconds at 30k rows). Autovacuum fixes that within a minute or so; a live
        import fills the tables faster than that, so the first thousand rows trigger one ANALYZE
        unless one has already run.
        """
        self._unanalyzed_rows = None
        row = await self.store.db.fetchone(
            "SELECT COUNT(*) FROM pg_stat_user_tables WHERE relname = 'activity_contrib' "
            "AND COALESCE(last_analyze, last_autoanalyze) IS NOT NULL"
        )
        if row is None or int(row[0]) == 0:
            for table in ("activity_contrib", "activity_reactions", "activity_rollup"):
                await self.store.db.execute(f"ANALYZE {table}")

    def _new_row(
        self,
        batch: _Batch,
        key: tuple[str, str, str],
        channel_id: str,
        author_id: str,
        thread_id: str | None,
        when: datetime,
        *,
        standin: int = 0,
    ) -> Contribution:
        """A contribution row for message ``key`` (``(platform, workspace, message id)``) posted at
        ``when``: its local day, and anonymous when its author opted out."""
        platform, ws, message_id = key
        ts = when.timestamp()
        return Contribution(
            platform,
            ws,
            message_id,
            channel_id,
            author_id,
            thread_id,
            self._day(when, ts),
            ts,
            anonymous=int((platform, ws, author_id) in batch.opted_out),
            standin=standin,
        )

    def _day(self, when: datetime, ts: float) -> str:
        """The local day of ``when``, cached per quarter hour of UTC: every offset and transition in
        use since the 1970s falls on a quarter hour, so a bucket never straddles local midnight."""
        bucket = int(ts // 900)
        day = self._days.get(bucket)
        if day is None:
            if len(self._days) > _CAP_MEMORY:
                self._days.clear()
            day = self._days[bucket] = local_day(when, self.tz)
        return day

    def _author_day(self, e: MessagePosted) -> tuple[str, str]:
        """The author of ``e`` and its local day: the key of their cap on started threads."""
        return e.author.user_id, self._day(e.ts, e.ts.timestamp())

    # -- loading -------------------------------------------------------------------------------
    async def _load(self, tx: Executor, batch: _Batch, events: list[Event]) -> None:
        wanted: dict[tuple[str, str], set[str]] = {}
        reacted: dict[tuple[str, str], set[str]] = {}
        # Messages whose reactions are needed: reacted to, or edited (an edit decides whether the
        # reactions a message holds count).
        with_reactions: dict[tuple[str, str], set[str]] = {}
        for e in events:
            scope = _scope(e)
            mid: str = e.thread_id if isinstance(e, ThreadCreated) else e.message_id  # type: ignore[attr-defined]
            wanted.setdefault(scope, set()).add(mid)
            if isinstance(e, MessagePosted):
                # The thread, and the message replied to: a Discord reply's thread is its target's.
                wanted[scope].update(t for t in (e.thread_id, e.reply_to) if t)
            if isinstance(e, (ReactionAdded, ReactionRemoved)):
                reacted.setdefault(scope, set()).add(mid)
            if isinstance(e, (ReactionAdded, ReactionRemoved, MessageEdited)):
                with_reactions.setdefault(scope, set()).add(mid)
        dialect = self.store.db.dialect
        for (platform, ws), ids in wanted.items():
            await _fetch_rows(tx, dialect, batch, platform, ws, ids)
        await self._load_known_starters(tx, batch, events)
        # Whether a ✅ marks a reply helpful depends on who asked the thread, and live the mark comes
        # in a later batch than the thread: load the roots of reacted-to replies as well.
        for (platform, ws), ids in reacted.items():
            targets = (batch.rows.get((platform, ws, mid)) for mid in ids)
            roots = {t.thread_id for t in targets if t is not None and t.is_reply and t.thread_id}
            missing = {r for r in roots if (platform, ws, r) not in batch.fetched}
            if missing:
                await _fetch_rows(tx, dialect, batch, platform, ws, missing)
        await self._load_threads(tx, batch, events)
        for (platform, ws), ids in with_reactions.items():
            for mid in ids:
                batch.reactions[(platform, ws, mid)] = set()
            for sql, params in _by_ids(
                dialect, "activity_reactions", ("message_id", "user_id", "emoji"), platform, ws, ids
            ):
                rows = await tx.fetchall(sql, params)
                for mid, uid, emoji in rows:
                    batch.reactions[(platform, ws, mid)].add((uid, emoji))
        # The removals noted on the reacted-to messages: an add from before one is not counted.
        for (platform, ws), ids in reacted.items():
            columns = ("message_id", "user_id", "emoji", "ts")
            for sql, params in _by_ids(dialect, "activity_reaction_removals", columns, platform, ws, ids):
                for mid, uid, emoji, ts in await tx.fetchall(sql, params):
                    batch.removals[(platform, ws, str(mid), str(uid), str(emoji))] = float(ts)

    async def _load_known_starters(self, tx: Executor, batch: _Batch, events: list[Event]) -> None:
        """For the batch's ThreadCreated whose thread's id says nothing of a starter message
        (:func:`_has_starter`) and that no counted row has: whether a message has the thread's id
        anyway, a bot's (never counted) or one the counters have not had yet. The recorder's
        ``messages`` table (it runs on a queue of its own, so this may be too early: the starter
        then takes the stand-in's place when it comes, :meth:`_posted`) and the batch's bot posts."""
        unknown: dict[tuple[str, str], set[str]] = {}
        for e in events:
            if isinstance(e, MessagePosted) and e.is_bot:
                batch.known_starters.add((*_scope(e), e.message_id))
            elif isinstance(e, ThreadCreated) and not e.author.is_bot and not e.is_forum_post:
                scope = _scope(e)
                if (*scope, e.thread_id) not in batch.rows and _has_starter(e) is None:
                    unknown.setdefault(scope, set()).add(e.thread_id)
        for (platform, ws), ids in unknown.items():
            for sql, params in _by_ids(self.store.db.dialect, "messages", ("message_id",), platform, ws, ids):
                for (mid,) in await tx.fetchall(sql, params):
                    batch.known_starters.add((platform, ws, str(mid)))

    async def _load_edit_minutes(self, tx: Executor, batch: _Batch, events: list[Event]) -> None:
        """What the per-minute cap of a message edited to qualify needs (:meth:`_edit_over_cap`):
        for each edit that may make a short message long enough, its author's messages of the
        message's minute, with their words (the batch's own posts join in :meth:`_posted`). Edits
        of messages already long enough need nothing (a typo fixed), unless the batch edits them
        again (short, then long)."""
        posts: dict[Key, MessagePosted] = {}
        edits: dict[Key, int] = {}
        for e in events:
            if isinstance(e, MessagePosted):
                posts.setdefault((*_scope(e), e.message_id), e)
            elif isinstance(e, MessageEdited):
                key = (*_scope(e), e.message_id)
                edits[key] = edits.get(key, 0) + 1
        wanted: dict[tuple[str, str], set[tuple[str, int]]] = {}
        for e in events:
            if not isinstance(e, MessageEdited) or word_count(e.text) < self.min_words:
                continue
            key = (*_scope(e), e.message_id)
            row = batch.rows.get(key)
            post = posts.get(key)
            if row is not None and not row.standin and not row.deleted and not row.capped:
                if row.words < self.min_words or edits[key] > 1:
                    wanted.setdefault(key[:2], set()).add((row.author_id, int(row.ts // 60)))
            elif row is None and post is not None and not post.is_bot:
                wanted.setdefault(key[:2], set()).add((post.author.user_id, int(post.ts.timestamp() // 60)))
        for (platform, ws), pairs in wanted.items():
            for author, minute in pairs:
                batch.minute_ids[(platform, ws, author, minute)] = set()
            for lo, hi in _minute_clusters(sorted({minute for _, minute in pairs})):
                rows = await tx.fetchall(
                    "SELECT message_id, author_id, ts, words, capped, deleted FROM activity_contrib "
                    "WHERE platform = ? AND workspace_id = ? AND ts >= ? AND ts < ? AND standin = 0",
                    (platform, ws, lo * 60.0, (hi + 1) * 60.0),
                )
                for mid, author, ts, words, capped, deleted in rows:
                    ids = batch.minute_ids.get((platform, ws, str(author), int(float(ts) // 60)))
                    if ids is not None:
                        ids.add(str(mid))
                        counted = int(words) >= self.min_words and not int(capped) and not int(deleted)
                        batch.minute_counted[(platform, ws, str(mid))] = counted

    async def _load_minute_counts(self, tx: Executor, batch: _Batch, events: list[Event]) -> None:
        """Seed the per-minute cap with what the store holds (other workers' messages included) for
        each new message's author and minute. The count is what :meth:`_over_cap` keeps: the
        author's messages long enough to count, capped or not, deleted or not (a short message edited
        long later was checked against its minute then: :meth:`_edit_over_cap`).

        Read by time, not by author: one range read on the ``ts`` index per cluster of the batch's
        minutes (live traffic: one), counted here. A read per author and minute went through the
        author's index and every row of theirs: 2.7x slower on the Redis bus benchmark."""
        wanted: dict[tuple[str, str], set[tuple[str, int]]] = {}
        for e in events:
            if isinstance(e, MessagePosted) and not e.is_bot:
                key = (e.channel.platform.value, e.channel.workspace_id, e.message_id)
                known = batch.rows.get(key)
                if known is None or known.standin:  # a redelivery is not counted again
                    wanted.setdefault(key[:2], set()).add((e.author.user_id, int(e.ts.timestamp() // 60)))
        for (platform, ws), pairs in wanted.items():
            counts = dict.fromkeys(pairs, 0)
            for lo, hi in _minute_clusters(sorted({minute for _, minute in pairs})):
                rows = await tx.fetchall(
                    "SELECT author_id, ts FROM activity_contrib WHERE platform = ? AND workspace_id = ? "
                    "AND ts >= ? AND ts < ? AND words >= ? AND standin = 0",
                    (platform, ws, lo * 60.0, (hi + 1) * 60.0, self.min_words),
                )
                for author, ts in rows:
                    pair = (str(author), int(float(ts) // 60))
                    if pair in counts:
                        counts[pair] += 1
            for (author, minute), count in counts.items():
                self._minute_counts[(platform, ws, author, minute)] = count

    async def _load_threads(self, tx: Executor, batch: _Batch, events: list[Event]) -> None:
        """Load what the one-credit-per-thread and daily-cap rules need: the roots of every thread
        the batch touches, their helpful replies and the batch's repliers' reply credits in them,
        those repliers' reply credits per day, and the thread-started credits per day of those
        roots' authors (and of roots the batch deletes). For the threads whose started credit an
        edit or delete may decide again (a reply that answers edited under min_words or deleted, a
        root edited across min_words: :meth:`_recheck_started`), also enough of their replies that
        answer to tell whether one still stands after it (:meth:`_counting_limits`)."""
        threads: dict[tuple[str, str], set[str]] = {}
        days: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        # The thread each of the batch's messages will get (see _thread_of), for the replies to them.
        batch_threads: dict[Key, str] = {}
        # The batch's own messages (the first post of each): a thread's root may be posted in the same
        # batch, and a message edited or deleted after its post.
        posted: dict[Key, MessagePosted] = {}
        # Per scope, the (author, day) whose thread-started credits the batch may change.
        started: dict[tuple[str, str], set[tuple[str, str]]] = {}
        # Per root whose thread's started credit an edit or delete may decide again: how many of the
        # batch's edits and deletes may make one of its replies stop answering (each at most one).
        recount: dict[Key, int] = {}
        # Per message the batch edits or deletes, whether it counts at this point of the batch (a
        # reply: answers, _answers; a root: _qualifies; None: deleted), whether it can count at all,
        # and its possible threads (see _may_recount).
        tracked: dict[Key, tuple[bool | None, bool, list[str]]] = {}
        opened = {(*_scope(e), e.thread_id) for e in events if isinstance(e, ThreadCreated)}
        for e in events:
            scope = _scope(e)
            if isinstance(e, ThreadCreated):
                # A stand-in root may be made (_thread_created): its author's day of started threads.
                started.setdefault(scope, set()).add((e.author.user_id, self._day(e.ts, e.ts.timestamp())))
                continue
            if isinstance(e, MessagePosted):
                post_key: Key = (*scope, e.message_id)
                posted.setdefault(post_key, e)
                known = batch.rows.get(post_key)
                if post_key in opened or (known is not None and known.standin):
                    # A starter message may take over a stand-in root and its started credit.
                    started.setdefault(scope, set()).add(self._author_day(e))
                possible = self._possible_threads(batch, batch_threads, e)
                if e.thread_id or e.reply_to:
                    batch_threads[post_key] = possible[0]
                possible = [t for t in possible if t != e.message_id]
                if possible:
                    threads.setdefault(scope, set()).update(possible)
                    authors, stamps = days.setdefault(scope, (set(), set()))
                    authors.add(e.author.user_id)
                    stamps.add(self._day(e.ts, e.ts.timestamp()))
                continue
            message_key: Key = (*scope, e.message_id)  # type: ignore[attr-defined]
            row = batch.rows.get(message_key)
            if isinstance(e, (MessageEdited, MessageDeleted)):
                self._may_recount(batch, e, message_key, posted, batch_threads, tracked, recount)
            if isinstance(e, MessageDeleted) and row is not None and row.threads:
                started.setdefault(scope, set()).add((row.author_id, row.day))  # frees its place
            if row is not None and row.is_reply and row.thread_id:
                threads.setdefault(scope, set()).add(row.thread_id)
                if isinstance(e, (MessageEdited, MessageDeleted)):  # a reaction never moves a reply credit
                    authors, stamps = days.setdefault(scope, (set(), set()))
                    authors.add(row.author_id)
                    stamps.add(row.day)
        # The roots whose started credit may be decided again are loaded with their threads (a root
        # edited across min_words may have no other event in the batch).
        for platform, ws, tid in recount:
            threads.setdefault((platform, ws), set()).add(tid)
        dialect = self.store.db.dialect
        for (platform, ws), ids in threads.items():
            missing = {t for t in ids if (platform, ws, t) not in batch.fetched}
            if missing:
                await _fetch_rows(tx, dialect, batch, platform, ws, missing)
            repliers = days[(platform, ws)][0] if (platform, ws) in days else set()
            limits = self._counting_limits(batch, platform, ws, recount, posted, started) if recount else []
            for sql, params in _by_threads(dialect, platform, ws, ids, repliers, self.min_words, limits):
                for raw in await tx.fetchall(sql, params):
                    c = _row_to_contrib(raw)
                    batch.rows.setdefault(c.key, c)
        for row in batch.rows.values():
            batch.add_to_thread(row)
        # The roots that may earn a thread-started credit in this batch: those without one yet.
        for (platform, ws), ids in threads.items():
            for tid in ids:
                root = batch.rows.get((platform, ws, tid))
                if root is None:
                    post = posted.get((platform, ws, tid))
                    if post is not None:
                        started.setdefault((platform, ws), set()).add(self._author_day(post))
                elif not root.threads and not root.deleted and not root.anonymous:  # may be edited to count
                    started.setdefault((platform, ws), set()).add((root.author_id, root.day))
        # Daily reply and thread-started credits: read from the rollups once per member and day,
        # then kept here (the rollups are only written through this instance; another worker's
        # credits for the same member and day are seen after this process restarts, so the caps
        # hold per worker). One query per scope serves both.
        if len(self._day_replies) > _CAP_MEMORY:
            self._day_replies.clear()
        if len(self._day_threads) > _CAP_MEMORY:
            self._day_threads.clear()
        for scope in days.keys() | started.keys():
            platform, ws = scope
            authors, stamps = days.get(scope, (set(), set()))
            want_replies = {(platform, ws, a, d) for a in authors for d in stamps}
            want_threads = {(platform, ws, a, d) for a, d in started.get(scope, ())}
            unknown_replies = want_replies - self._day_replies.keys()
            unknown_threads = want_threads - self._day_threads.keys()
            for key in want_replies - unknown_replies:
                batch.day_replies[key] = self._day_replies[key]
            for key in want_threads - unknown_threads:
                batch.day_threads[key] = self._day_threads[key]
            if not unknown_replies and not unknown_threads:
                continue
            found_replies: dict[MemberDay, int] = dict.fromkeys(unknown_replies, 0)
            found_threads: dict[MemberDay, int] = dict.fromkeys(unknown_threads, 0)
            need_authors = sorted({k[2] for k in unknown_replies | unknown_threads})
            need_days = sorted({k[3] for k in unknown_replies | unknown_threads})
            marks = ", ".join("?" for _ in need_days)
            for start in range(0, len(need_authors), _IN_CHUNK):
                chunk = need_authors[start : start + _IN_CHUNK]
                rows = await tx.fetchall(
                    f"SELECT user_id, day, SUM(replies), SUM(threads) FROM activity_rollup WHERE platform = ? "
                    f"AND workspace_id = ? AND day IN ({marks}) AND user_id IN ({', '.join('?' for _ in chunk)}) "
                    "GROUP BY user_id, day",
                    (platform, ws, *need_days, *chunk),
                )
                for user_id, day, replies, started_count in rows:
                    key = (platform, ws, str(user_id), str(day))
                    if key in found_replies:
                        found_replies[key] = int(replies or 0)
                    if key in found_threads:
                        found_threads[key] = int(started_count or 0)
            batch.day_replies.update(found_replies)
            batch.day_threads.update(found_threads)

    def _may_recount(
        self,
        batch: _Batch,
        e: MessageEdited | MessageDeleted,
        key: Key,
        posted: dict[Key, MessagePosted],
        batch_threads: dict[Key, str],
        tracked: dict[Key, tuple[bool | None, bool, list[str]]],
        recount: dict[Key, int],
    ) -> None:
        """Note in ``recount`` the root whose started credit the edit or delete ``e`` of message
        ``key`` may decide again when it is applied (:meth:`_edited`, :meth:`_deleted`): a reply that
        answers edited under min_words or deleted (its root is counted once more: one more reply may
        stop answering), a root edited across min_words (counted with none). Any other edit or delete
        changes no started credit, and costs no load: most edits fix a typo.

        The text of every edit is known here, so whether each message counts is followed through the
        batch (``tracked``) from its stored row, or from its post in the batch (taken as under the
        per-minute cap, whose verdict is not known yet: at worst a thread loaded for nothing)."""
        state = tracked.get(key)
        if state is None:
            row = batch.rows.get(key)
            if row is not None:
                threads = [row.thread_id] if row.is_reply and row.thread_id else []
                # A forgotten member's reply answers whatever its cap (see _answers).
                can = not row.capped or bool(threads and not row.author_id)
                state = (None if row.deleted else can and row.words >= self.min_words, can, threads)
            elif key in posted:
                post = posted[key]
                # The threads _possible_threads gave it: the one it resolved to, or the message replied to.
                resolved = batch_threads.get(key)
                other = post.reply_to if not post.thread_id and post.reply_to != resolved else None
                threads = [t for t in (resolved, other) if t and t != key[2]]
                state = (word_count(post.text) >= self.min_words, True, threads)
            else:
                return  # never posted as far as this batch knows: the edit or delete changes nothing
        counts, can, threads = state
        if counts is None:
            return  # deleted earlier: edits and deletes of it are ignored
        if isinstance(e, MessageDeleted):
            now: bool | None = None
            if counts:
                for thread in threads:
                    root_key = (*key[:2], thread)
                    recount[root_key] = recount.get(root_key, 0) + 1
        else:
            now = can and word_count(e.text) >= self.min_words
            if threads and counts and not now:
                for thread in threads:
                    root_key = (*key[:2], thread)
                    recount[root_key] = recount.get(root_key, 0) + 1
            elif not threads and now != counts:
                recount.setdefault(key, 0)
        tracked[key] = (now, can, threads)

    def _counting_limits(
        self,
        batch: _Batch,
        platform: str,
        ws: str,
        recount: dict[Key, int],
        posted: dict[Key, MessagePosted],
        started: dict[tuple[str, str], set[tuple[str, str]]],
    ) -> list[tuple[str, str, int]]:
        """For the roots of ``recount`` in the workspace, what to load of their threads'
        replies: ``(thread, root's author, n)``, the earliest ``n = recount[root] + 1`` stored replies
        that answer it (:meth:`_answers`) and are not by its root's author (:func:`_by_threads` loads
        them with the thread's marked rows, in the same statement). The batch's edits and deletes make
        at most ``recount[root]`` of them stop answering, so whether one still stands is known from
        these and the batch's own rows; all of a busy thread's replies would be hundreds of rows for
        one edit. Notes each root in ``batch.replies_loaded``, and its author's day in ``started``
        (the cap on thread credits)."""
        limits: list[tuple[str, str, int]] = []
        for root_key, changed in recount.items():
            if root_key[0] != platform or root_key[1] != ws:
                continue
            root = batch.rows.get(root_key)
            if root is not None:
                if root.deleted:
                    continue  # holds no thread credit, and gets none
                author, day = root.author_id, root.day
            elif root_key in posted:
                author, day = self._author_day(posted[root_key])
            else:
                continue  # a thread started before tracking: no credit of its root's to decide
            limits.append((root_key[2], author, changed + 1))
            batch.replies_loaded.add(root_key)
            started.setdefault((platform, ws), set()).add((author, day))
        return limits

    async def _load_asker_threads(self, tx: Executor, batch: _Batch, events: list[Event]) -> None:
        """Load what the ASKER_THREADS_PER_DAY cap needs: for every asker who writes in their own
        thread or ✅'s a reply in it in this batch, and the local day of that question, which
        answerer holds a mark or the answer in which of that asker's questions of the day.

        Read from ``activity_contrib`` once per asker and day (one scan of the day on the ``ts``
        index), then kept here with what each batch commits, as the daily reply credits are: the
        cap holds per worker. Only askers who act in their own threads cost anything."""
        # Per scope and question day: the askers.
        wanted: dict[tuple[str, str], dict[str, set[str]]] = {}
        # The batch's own messages, as (author, day, ts, thread), for questions asked in the batch.
        posted: dict[Key, tuple[str, str, float, str | None]] = {}

        def info(key: Key) -> tuple[str, str, float, str | None] | None:
            row = batch.rows.get(key)
            if row is not None:
                return None if row.deleted else (row.author_id, row.day, row.ts, row.thread_id)
            return posted.get(key)

        for e in events:
            if isinstance(e, ThreadCreated):  # a stand-in root asked in the batch (_thread_created)
                ts = e.ts.timestamp()
                posted.setdefault((*_scope(e), e.thread_id), (e.author.user_id, self._day(e.ts, ts), ts, None))
                continue
            if not isinstance(e, (MessagePosted, ReactionAdded, MessageEdited)):
                continue
            scope = (e.channel.platform.value, e.channel.workspace_id)
            root: tuple[str, str, float, str | None] | None = None
            if isinstance(e, MessagePosted):
                if e.is_bot:
                    continue
                thread = e.thread_id
                if not thread and e.reply_to:
                    target = info((*scope, e.reply_to))
                    thread = target[3] if target is not None and target[3] else e.reply_to
                ts = e.ts.timestamp()
                posted.setdefault((*scope, e.message_id), (e.author.user_id, self._day(e.ts, ts), ts, thread))
                root = info((*scope, thread)) if thread and thread != e.message_id else None
                actor = e.author.user_id
            elif isinstance(e, MessageEdited):
                # A reply edited back into one that counts gets back the marks it kept, under the
                # cap like any mark (_restore_marks): the asker is its root's author.
                edited = batch.rows.get((*scope, e.message_id))
                if edited is None or edited.deleted or not edited.is_reply or not edited.thread_id:
                    continue
                if not (edited.helpful_src or edited.answer_src) or word_count(e.text) < self.min_words:
                    continue
                root = info((*scope, edited.thread_id))
                if root is None:
                    continue
                actor = root[0]
            else:
                if e.user.is_bot or not is_helpful_emoji(e.emoji):
                    continue
                target = info((*scope, e.message_id))
                if target is None or not target[3] or target[3] == e.message_id:
                    continue
                root = info((*scope, target[3]))
                actor = e.user.user_id
            if root is not None and root[0] == actor:
                wanted.setdefault(scope, {}).setdefault(root[1], set()).add(actor)
        if len(self._asker_threads) > _CAP_MEMORY:
            self._asker_threads.clear()
        for (platform, ws), by_day in wanted.items():
            for day, askers in sorted(by_day.items()):
                unknown = []
                for asker in sorted(askers):
                    cached = self._asker_threads.get((platform, ws, asker, day))
                    if cached is None:
                        unknown.append(asker)
                        batch.asker_threads[(platform, ws, asker, day)] = {}
                    else:
                        batch.asker_threads[(platform, ws, asker, day)] = {a: set(r) for a, r in cached.items()}
                if not unknown:
                    continue
                # The day's bounds, an hour wider (the ts index narrows the scan; ``day`` decides).
                first = datetime.combine(date.fromisoformat(day), time(), self.tz)
                low = first.timestamp() - 3600
                high = datetime.combine(first.date() + timedelta(days=1), time(), self.tz).timestamp() + 3600
                for start in range(0, len(unknown), _IN_CHUNK):
                    chunk = unknown[start : start + _IN_CHUNK]
                    rows = await tx.fetchall(
                        "SELECT q.author_id, r.author_id, q.message_id FROM activity_contrib q "
                        "JOIN activity_contrib r ON r.platform = q.platform AND r.workspace_id = q.workspace_id "
                        "AND r.thread_id = q.message_id "
                        "WHERE q.platform = ? AND q.workspace_id = ? AND q.ts >= ? AND q.ts < ? AND q.day = ? "
                        f"AND q.author_id IN ({', '.join('?' for _ in chunk)}) "
                        "AND (q.thread_id IS NULL OR q.thread_id = q.message_id) AND r.message_id <> q.message_id "
                        "AND r.deleted = 0 AND (r.helpful > 0 OR r.answered > 0)",
                        (platform, ws, low, high, day, *chunk),
                    )
                    for asker, answerer, root_id in rows:
                        held = batch.asker_threads[(platform, ws, str(asker), day)]
                        held.setdefault(str(answerer), set()).add(str(root_id))

    def _keep_asker_threads(self, batch: _Batch) -> None:
        """Keep the batch's committed asker-cap state, less the questions in which an answerer no
        longer holds a mark or the answer (deleted, unmarked, the answer moved on).

        A deleted *question* keeps its place while its answerer keeps the credit: freeing it let an
        alt ask, have its friend's answer ✅'d, delete the question and ask again, past the cap."""
        self._asker_threads.update(batch.asker_threads)
        for root_key in batch.recheck:
            root = batch.rows.get(root_key)
            if root is None:
                continue
            # What this worker remembers, whether or not the batch loaded it (a delete alone does not).
            by_answerer = self._asker_threads.get((root.platform, root.workspace_id, root.author_id, root.day))
            if not by_answerer or root.deleted:
                # A deleted question takes no reply's credit, so no holder changed; the batch that
                # deleted it need not have loaded its replies (holders would look empty).
                continue
            holders = {
                r.author_id for r in batch.in_thread(root) if not r.deleted and (r.helpful > 0 or r.answered > 0)
            }
            for answerer, roots in by_answerer.items():
                if answerer not in holders:
                    roots.discard(root.message_id)

    def _asker_allows(self, batch: _Batch, root: Contribution, reply: Contribution) -> bool:
        """Whether ``reply``'s author may earn a mark or the answer in ``root``'s question: they
        already hold one there, or hold them in fewer than ``asker_threads_per_day`` questions of
        the same asker and local day. Taking one counts the question."""
        by_answerer = batch.asker_threads.get((root.platform, root.workspace_id, root.author_id, root.day))
        if by_answerer is None:
            return True  # an asker's act _load_asker_threads did not foresee: never block on a guess
        held = by_answerer.setdefault(reply.author_id, set())
        if root.message_id not in held and len(held) >= self.asker_threads_per_day:
            return False
        held.add(root.message_id)
        return True

    @staticmethod
    def _possible_threads(batch: _Batch, batch_threads: dict[Key, str], e: MessagePosted) -> list[str]:
        """The thread :meth:`_thread_of` will give ``e`` when it is applied, first, and any other it
        may give (the target of a Discord reply may still be deleted before ``e`` is applied in the
        batch): loading a thread too many costs a lookup, one too few would lose its credits."""
        if e.thread_id or not e.reply_to:
            return [e.thread_id] if e.thread_id else []
        scope = (e.channel.platform.value, e.channel.workspace_id)
        target = batch.rows.get((*scope, e.reply_to))
        resolved = target.thread_id if target is not None else batch_threads.get((*scope, e.reply_to))
        return [resolved, e.reply_to] if resolved and resolved != e.reply_to else [e.reply_to]

    def _thread_of(self, batch: _Batch, e: MessagePosted) -> str | None:
        """The root of the thread ``e`` belongs to.

        Slack and Discord threads name it (``thread_id``). A Discord channel without threads has
        only the Reply button (``reply_to``): the answer replies to the question, and the asker's
        "thanks, that worked!" replies to the answer. That thanks belongs to the question's
        conversation, not to a new one rooted at the answer, so a reply to a message that is itself
        in a thread goes to that thread (stored thread ids are already roots: one hop suffices).
        """
        if e.thread_id or not e.reply_to:
            return e.thread_id
        target = batch.rows.get((e.channel.platform.value, e.channel.workspace_id, e.reply_to))
        if target is not None and target.thread_id:
            return target.thread_id
        return e.reply_to

    def _qualifies(self, row: Contribution) -> bool:
        """Whether ``row`` counts at all: long enough and under the per-minute cap. Reactions, the
        asker's marks and thread credits go only to messages that do, or one-word spam would
        collect them."""
        return row.words >= self.min_words and not row.capped

    def _answers(self, row: Contribution) -> bool:
        """Whether reply ``row`` answers its thread, for the thread-started credit: it stands and
        counts, or it is a forgotten member's long enough (``/forget-me`` blanks the author and caps
        the row so that it counts for nothing again, but the help happened: their replies still
        answer questions, as ``scan.open_questions`` says too)."""
        return not row.deleted and row.words >= self.min_words and (not row.capped or not row.author_id)

    # -- messages ------------------------------------------------------------------------------
    def _over_cap(self, platform: str, ws: str, author: str, ts: float) -> bool:
        if len(self._minute_counts) > _CAP_MEMORY:
            self._minute_counts.clear()
        key = (platform, ws, author, int(ts // 60))
        count = self._minute_counts.get(key, 0) + 1
        self._minute_counts[key] = count
        return count > self.per_minute_cap

    def _edit_over_cap(self, batch: _Batch, row: Contribution) -> bool:
        """Whether ``row``, a message too short to count until this edit, is over the per-minute
        cap of the minute it was posted in: with it, more of its author's messages of that minute
        would count than the cap allows, whatever order they were posted or edited in ("ok" x 8
        edited long, first to last or last to first: five count; the cap never lets more count,
        where counting only those posted before it would let the last "ok" edited first count too).
        The verdict is kept (``capped``). Its minute is loaded by :meth:`_load_edit_minutes`."""
        minute = (row.platform, row.workspace_id, row.author_id, int(row.ts // 60))
        ids = batch.minute_ids.get(minute)
        if ids is None:
            return False
        count = 1
        for mid in ids:
            if mid == row.message_id:
                continue
            key = (row.platform, row.workspace_id, mid)
            other = batch.rows.get(key)
            if other is not None:
                count += int(self._qualifies(other) and not other.deleted and not other.standin)
            else:
                count += int(batch.minute_counted.get(key, False))
        # What the per-minute counts of later posts of that minute start from.
        self._minute_counts[minute] = max(self._minute_counts.get(minute, 0), count)
        return count > self.per_minute_cap

    async def _posted(self, tx: Executor, batch: _Batch, e: MessagePosted) -> None:
        if e.is_bot:
            return
        platform, ws = e.channel.platform.value, e.channel.workspace_id
        key = (platform, ws, e.message_id)
        existing = batch.rows.get(key)
        standin = existing if existing is not None and existing.standin and not existing.deleted else None
        if existing is not None and standin is None:  # redelivery, or a delete that arrived first (tombstone)
            return
        thread = self._thread_of(batch, e)
        words = word_count(e.text)
        ts = e.ts.timestamp()
        row = self._new_row(batch, key, e.channel.channel_id, e.author.user_id, thread, e.ts)
        row.words = words
        row.is_question = int(thread in (None, e.message_id) and is_question(e.text))
        if standin is not None:
            # The thread's answer is the thread's, whoever its root turns out to be.
            row.answer_id, row.answer_src = standin.answer_id, standin.answer_src
            batch.replaced.add(key)
        batch.rows[key] = row
        batch.dirty.add(key)
        batch.add_to_thread(row)
        if batch.minute_ids:  # an edit of the batch may need this minute's messages (_edit_over_cap)
            ids = batch.minute_ids.get((platform, ws, e.author.user_id, int(ts // 60)))
            if ids is not None:
                ids.add(e.message_id)
        # Only messages that count go toward the per-minute cap ("ok", "+1" and then an answer: the
        # answer counts); one edited long later is checked against its minute then (_edit_over_cap).
        if words >= self.min_words and self._over_cap(platform, ws, e.author.user_id, ts):
            row.capped = 1
        qualifies = self._qualifies(row)
        if qualifies:
            batch.credit(row, "messages", 1)
        if standin is not None:
            self._take_standin(batch, standin, row)
            return
        if not row.is_reply:
            return
        root = batch.rows.get((platform, ws, thread or ""))
        if root is None or root.deleted:
            return
        if root.standin == 1 and root.author_id == row.author_id:
            # The thread's author first writes in a thread opened without a starter message: what
            # they write is the question the stand-in root asks (with the thread's title).
            root.standin = 2
            root.words = max(root.words, words)
            root.is_question = int(bool(root.is_question) or is_question(e.text))
            batch.dirty.add(root.key)
            return
        if root.author_id == row.author_id:
            # The asker came back: their thanks marks the reply that helped; any later word of
            # theirs shows which reply they took up (the question's "answered" credit).
            await self._asker_spoke(tx, batch, root, row, e)
            return
        if qualifies:
            self._credit_thread(batch, root)
            self._credit_reply(batch, root, row)

    def _thread_created(self, batch: _Batch, e: ThreadCreated) -> None:
        """A stand-in root for a Discord thread opened without a starter message (a private thread,
        "Create Thread" in a channel): its messages name the thread (``thread_id``) as their root,
        which no message has the id of, so without one its replies would earn no credit and its
        question never be seen. The row is the thread's: its author, parent channel, time and
        title (then, see :meth:`_posted`, what its author first writes in it); it never counts as a
        message, and takes the thread-started credit and the answer as a root does.

        A thread opened from a message (anyone's: thread id == message id) gets none: the message
        is its root, counted when it comes (the thread's replies before it earn nothing, as under a
        root not tracked yet), and a thread opened on a bot's message, or on one purged or posted
        before tracking, has no root that counts, as before. Which it is: :func:`_has_starter`, else
        whether a message with the thread's id is known (:meth:`_load_known_starters`); a stand-in
        made where that could not be told is taken over whole by a starter message that comes later
        (:meth:`_take_standin`)."""
        if e.author.is_bot or e.is_forum_post:
            return
        platform, ws = _scope(e)
        key = (platform, ws, e.thread_id)
        if key in batch.rows:  # the starter message, a tombstone, or a redelivery
            return
        starter = _has_starter(e)
        if starter or (starter is None and key in batch.known_starters):
            return
        row = self._new_row(batch, key, e.parent.channel_id, e.author.user_id, None, e.ts, standin=1)
        row.words = word_count(e.title)
        row.is_question = int(is_question(e.title))
        batch.rows[key] = row
        batch.dirty.add(key)

    def _take_standin(self, batch: _Batch, standin: Contribution, row: Contribution) -> None:
        """``row``, the thread's starter message, came after its ThreadCreated made ``standin`` (the
        thread's id could not tell it had one): it is the root, with its own author, channel, day
        and time. What the stand-in got moves with the rollups (as an edit or a delete moves them,
        :meth:`_Batch.credit`): taken off the thread's opener, and given to the message's author
        under the rules that give it to a root (the started credit: a root that counts, the daily
        cap; reactions: a message that counts)."""
        for counter in COUNTERS:
            amount = getattr(standin, counter)
            if not amount:
                continue
            batch.credit(standin, counter, -amount)
            if counter == "threads":
                self._credit_thread(batch, row)
            elif counter != "messages" and self._qualifies(row):
                batch.credit(row, counter, amount)

    def _credit_thread(self, batch: _Batch, root: Contribution) -> None:
        """A "thread started" credit for ``root``, which got a reply that counts from someone else:
        once, only for a root that counts itself ("hmm" answered by an alt's "k" is no thread), and
        at most ``started_threads_per_day`` per member and local day of the root (an account
        posting thirty questions a day would otherwise outscore members who answered some).
        Anonymous roots rank nowhere and are not capped."""
        if root.threads or not self._qualifies(root):
            return
        day = (root.platform, root.workspace_id, root.author_id, root.day)
        if not root.anonymous and batch.day_threads.get(day, 0) >= self.started_threads_per_day:
            return
        batch.credit(root, "threads", 1)

    def _credit_reply(self, batch: _Batch, root: Contribution, row: Contribution) -> None:
        """A reply credit for ``row`` unless its author already has one in the thread or has used
        the day's: replying everywhere, or many times in one thread, is volume, not help."""
        if row.replies or any(
            r.replies and r.author_id == row.author_id and not r.deleted and r.key != row.key
            for r in batch.in_thread(root)
        ):
            return
        if batch.day_replies.get((row.platform, row.workspace_id, row.author_id, row.day), 0) >= (
            self.reply_threads_per_day
        ):
            return
        batch.credit(row, "replies", 1)

    async def _asker_spoke(
        self, tx: Executor, batch: _Batch, root: Contribution, said: Contribution, e: MessagePosted
    ) -> None:
        """The asker wrote in their own thread: a thanks marks the reply that helped (helpful) and
        takes it up (answered); any other word of theirs takes up the reply it follows, unless it
        says that reply did not help ("no, that did not help, same error")."""
        rejected = is_rejection(e.text)
        thanks = is_thanks(e.text) and not rejected
        if not thanks and (not root.is_question or root.answer_id or rejected):
            return
        reply, aimed = await self._reply_taken_up(tx, batch, root, said, e, thanks=thanks)
        if reply is None:
            return
        # The answer follows the asker's explicit word: a thanks aimed at a reply (by the Reply
        # button or by naming its author) moves it there, and so does any thanks while the answer
        # is only a reply the asker's follow-up came after. An unaimed thanks never moves it off a
        # reply the asker already marked: it may well be for that one.
        # A thanks for the reply that already holds the answer is one more source of it.
        source = f"{'thanks' if thanks else 'said'}:{said.message_id}"
        if root.is_question and (
            not root.answer_id
            or root.answer_id == reply.message_id
            or (thanks and (aimed or not self._answer_marked(batch, root)))
        ):
            self._move_answer(batch, root, reply, source)
        if thanks:
            self._credit_helpful(batch, root, reply, source)

    async def _reply_taken_up(
        self, tx: Executor, batch: _Batch, root: Contribution, said: Contribution, e: MessagePosted, *, thanks: bool
    ) -> tuple[Contribution | None, bool]:
        """The reply the asker's message ``said`` answers, and whether ``said`` is aimed at it.

        Aimed: the reply ``said`` replies to (Discord's Reply button), else the latest earlier one by
        that reply's author or by a member ``said`` mentions ("thanks @ana"). Otherwise a thanks
        answers the latest earlier reply by anyone else, and any other message the latest one since
        the asker last spoke: replies the asker already answered (or turned down) are not taken up
        by their next message. Only replies that count (long enough, under the rate cap) are
        candidates, so a "+1 same here" after the answer does not take its credit.
        """
        candidates = {r.key: r for r in batch.in_thread(root)}
        candidates |= {
            k: r
            for k, r in batch.rows.items()
            if r.thread_id == root.message_id and r.platform == root.platform and r.workspace_id == root.workspace_id
        }
        rows = await tx.fetchall(
            f"{_SELECT} WHERE platform = ? AND workspace_id = ? AND thread_id = ? AND ts <= ? ORDER BY ts DESC LIMIT 20",
            (root.platform, root.workspace_id, root.message_id, said.ts),
        )
        for raw in rows:
            c = _row_to_contrib(raw)
            candidates.setdefault(c.key, c)
        earlier = [r for r in candidates.values() if not r.deleted and r.ts <= said.ts and r.key != said.key]
        replies = sorted(
            (r for r in earlier if r.author_id != root.author_id and r.author_id and self._qualifies(r)),
            key=lambda r: r.ts,
            reverse=True,
        )
        target = batch.rows.get((root.platform, root.workspace_id, e.reply_to)) if e.reply_to else None
        aimed_at = set(e.mentioned_user_ids)
        if target is not None and target.thread_id == root.message_id and target.author_id != root.author_id:
            aimed_at.add(target.author_id)
        aimed = sorted(
            (r for r in replies if r.author_id in aimed_at), key=lambda r: target is None or r.key != target.key
        )
        if aimed:
            chosen, is_aimed = aimed[0], True
        else:
            if not thanks:
                spoke = [r.ts for r in earlier if r.author_id == root.author_id and r.key != root.key]
                replies = [r for r in replies if r.ts > max(spoke, default=float("-inf"))]
            if not replies:
                return None, False
            chosen, is_aimed = replies[0], False
        row = batch.rows.setdefault(chosen.key, chosen)
        batch.add_to_thread(row)
        return row, is_aimed

    def _answer_marked(self, batch: _Batch, root: Contribution) -> bool:
        """Whether the asker marked the reply that holds ``root``'s answer (✅ or thanks)."""
        current = batch.rows.get((root.platform, root.workspace_id, root.answer_id))
        return current is not None and current.helpful > 0

    def _move_answer(self, batch: _Batch, root: Contribution, reply: Contribution, source: str) -> None:
        """Make ``reply`` the one answer of ``root`` because of ``source``, taking the credit from
        the reply that held it (always loaded: _load_threads loads the answered rows of the batch's
        threads). Another source for the reply that already holds it is recorded beside the first."""
        if root.answer_id == reply.message_id:
            if source not in _sources(root.answer_src):
                root.answer_src = _with_source(root.answer_src, source)
                batch.dirty.add(root.key)
            return
        if not self._asker_allows(batch, root, reply):
            return
        previous = batch.rows.get((root.platform, root.workspace_id, root.answer_id)) if root.answer_id else None
        if previous is not None and previous.answered:
            batch.credit(previous, "answered", -previous.answered)
            batch.recheck.add(root.key)
        root.answer_id = reply.message_id
        root.answer_src = source
        batch.dirty.add(root.key)
        batch.credit(reply, "answered", 1)

    def _free_answer(self, batch: _Batch, root: Contribution) -> None:
        """Take ``root``'s answer back: the next reply the asker takes up gets it."""
        answer = batch.rows.get((root.platform, root.workspace_id, root.answer_id)) if root.answer_id else None
        if answer is not None and answer.answered:
            batch.credit(answer, "answered", -answer.answered)
        root.answer_id = root.answer_src = ""
        batch.dirty.add(root.key)
        batch.recheck.add(root.key)

    def _undo(
        self, batch: _Batch, root: Contribution, source: str, replies: Iterable[Contribution], *, answer: bool = True
    ) -> None:
        """``source`` no longer stands (a ✅ removed, a thanks deleted or edited away): the marks of
        ``replies`` and, with ``answer``, ``root``'s answer it gave go, unless another source still
        gives them. (``reaction`` names the ✅ on whichever reply holds the answer: the caller says
        whether the ✅ removed was on that one.)

        A function of what the sources are now, so a redelivered undo changes nothing."""
        for reply in replies:
            # A reply that stopped counting keeps the answer's sources it held (_suspend_marks):
            # one undone now must not give the answer back when it counts again.
            kept = _sources(reply.answer_src)
            if source in kept:
                kept.discard(source)
                reply.answer_src = " ".join(sorted(kept))
                batch.dirty.add(reply.key)
            held = _sources(reply.helpful_src)
            if source not in held:
                continue
            held.discard(source)
            reply.helpful_src = " ".join(sorted(held))
            batch.dirty.add(reply.key)
            if not held and reply.helpful:
                batch.credit(reply, "helpful", -reply.helpful)
                batch.recheck.add(root.key)
        given = _sources(root.answer_src)
        if answer and root.answer_id and source in given:
            given.discard(source)
            root.answer_src = " ".join(sorted(given))
            batch.dirty.add(root.key)
            if not given:
                self._free_answer(batch, root)

    def _credit_helpful(self, batch: _Batch, root: Contribution, reply: Contribution, source: str) -> None:
        """The asker's mark on ``reply``: one per answerer per thread, so marking every message of a
        friend's ten does not make ten answers."""
        if reply.helpful:
            # Marked already (✅ and thanks): both are recorded, so undoing one leaves the mark.
            if source not in _sources(reply.helpful_src):
                reply.helpful_src = _with_source(reply.helpful_src, source)
                batch.dirty.add(reply.key)
            return
        if any(r.helpful and r.author_id == reply.author_id and not r.deleted for r in batch.in_thread(root)):
            return
        if not self._asker_allows(batch, root, reply):
            return
        reply.helpful_src = source
        batch.credit(reply, "helpful", 1)

    def _edited(self, batch: _Batch, e: MessageEdited) -> None:
        """Re-apply the rules that depend on the text: whether the message counts (and with it its
        reactions, reply credit, marks and its thread's started credit), whether a root asks a
        question, and what an asker's thanks or follow-up still says. A function of the message's
        state and the new text, so a redelivered edit changes nothing more."""
        key = (e.channel.platform.value, e.channel.workspace_id, e.message_id)
        row = batch.rows.get(key)
        if row is None:
            # Its post is still on the bus (another worker has it, or a dead worker's post is
            # reclaimed later): the edit waits for it (_with_overtaken_edits), the newest kept.
            if e.author is None or not e.author.is_bot:
                ts = e.edited_at.timestamp()
                kept = batch.pending_edits.get(key)
                if kept is None or ts >= kept[2]:
                    author = e.author.user_id if e.author is not None else ""
                    batch.pending_edits[key] = (author, e.text.replace("\x00", ""), ts)
            return
        if row.deleted or row.standin:
            return
        # Whether it counted before this edit: only an edit that makes it start or stop counting
        # moves what goes only to messages that count (a typo fixed decides nothing again).
        counted = self._answers(row) if row.is_reply else self._qualifies(row)
        was_short = row.words < self.min_words
        row.words = word_count(e.text)
        if was_short and row.words >= self.min_words and not row.capped and self._edit_over_cap(batch, row):
            row.capped = 1  # kept: edited short and long again, it stays capped
        if not row.is_reply:
            row.is_question = int(is_question(e.text))
        should = int(self._qualifies(row))
        if should != row.messages:
            batch.credit(row, "messages", should - row.messages)
        # The reactions it holds count while it does (they were loaded with the edit).
        self._sync_reactions(batch, row)
        root = batch.rows.get((row.platform, row.workspace_id, row.thread_id or "")) if row.is_reply else None
        if root is not None and root.author_id != row.author_id and not row.author_id:
            # A forgotten member's reply (an edit without an author passes the forgotten-member
            # gate): its counters are zeroed, and the question it answered stays answered. Edited
            # under min_words it answers no more, so its thread may be no thread started.
            if counted and not self._answers(row):
                self._recheck_started(batch, root, may_give=False)
        elif root is not None and root.author_id != row.author_id:
            # A reply edited down to "." loses its reply credit and its marks, and its thread is no
            # thread if no other reply counts; "one sec" edited into an answer earns the first two
            # and starts the thread, and one edited back gets the marks whose sources still stand.
            # Under a deleted question it keeps its reply credit and earns none, but its marks
            # follow whether it counts (the question keeps its place under the asker's cap).
            if should:
                if not row.replies and not root.deleted:
                    self._credit_thread(batch, root)
                    self._credit_reply(batch, root, row)
                self._restore_marks(batch, root, row)
            elif counted:
                if row.replies and not root.deleted:
                    batch.credit(row, "replies", -row.replies)
                self._suspend_marks(batch, root, row)
                self._recheck_started(batch, root, may_give=False)
        elif root is not None and root.author_id and root.author_id == row.author_id:
            # The asker's own word edited: a thanks edited away takes back what it gave; a follow-up
            # edited into "nope, same error" no longer takes the reply up. (An edit never adds a
            # mark: the reply it would aim at is judged when the asker speaks.)
            rejected = is_rejection(e.text)
            if rejected or not is_thanks(e.text):
                self._undo(batch, root, f"thanks:{row.message_id}", batch.in_thread(root))
            if rejected:
                self._undo(batch, root, f"said:{row.message_id}", batch.in_thread(root))
        elif not row.is_reply and counted != should:
            # A root edited under min_words is no thread ("x" answered is no more one than "hmm"
            # is); edited back, or from "hmm" into a question, it is one if a reply counts. (An edit
            # that leaves it counting, a typo fixed, decides nothing again.)
            self._recheck_started(batch, row, may_give=True)
        batch.dirty.add(row.key)

    def _suspend_marks(self, batch: _Batch, root: Contribution, reply: Contribution) -> None:
        """``reply`` stopped counting (edited down to "."): marks go only to messages that count, so
        its helpful mark goes, and so does ``root``'s answer if it held it (free for the next reply
        the asker takes up). What gave them is kept: ``helpful_src``, and the answer's sources in
        the reply's ``answer_src``, so that :meth:`_restore_marks` gives back those still standing
        (:meth:`_undo` removes from both a source undone meanwhile)."""
        if reply.helpful:
            batch.credit(reply, "helpful", -reply.helpful)
            batch.recheck.add(root.key)
        if root.answer_id == reply.message_id:
            reply.answer_src = root.answer_src
            batch.dirty.add(reply.key)
            self._free_answer(batch, root)

    def _restore_marks(self, batch: _Batch, root: Contribution, reply: Contribution) -> None:
        """``reply`` counts (again): the marks it kept when it stopped (:meth:`_suspend_marks`) come
        back, under the rules that gave them: one helpful mark per answerer per thread, the asker's
        daily cap, and the answer only while no other reply has taken it up meanwhile. Under a
        deleted question the cap is not asked again: the question keeps its place under it."""
        if reply.helpful_src and not reply.helpful:
            if not any(
                r.helpful and r.author_id == reply.author_id and not r.deleted for r in batch.in_thread(root)
            ) and (root.deleted or self._asker_allows(batch, root, reply)):
                batch.credit(reply, "helpful", 1)
            else:
                # Refused, as a new mark would be: nothing left to keep (only a reply under min_words
                # keeps sources without their credit, and _by_threads loads only those).
                reply.helpful_src = ""
                batch.dirty.add(reply.key)
        if reply.answer_src:
            if not root.answer_id and (root.deleted or self._asker_allows(batch, root, reply)):
                root.answer_id = reply.message_id
                root.answer_src = reply.answer_src
                batch.dirty.add(root.key)
                batch.credit(reply, "answered", 1)
            # Given back, or the asker's later word took the answer elsewhere: nothing left to keep.
            reply.answer_src = ""
            batch.dirty.add(reply.key)

    def _recheck_started(self, batch: _Batch, root: Contribution, *, may_give: bool) -> None:
        """Decide ``root``'s thread-started credit again after an edit or delete changed whether it
        counts or whether one of its replies answers: a thread is a root that counts with a reply
        that answers from someone else (:meth:`_credit_thread`, :meth:`_answers`). A credit that no
        longer holds is taken back through :meth:`_Batch.credit` (the daily count of started threads
        follows); with ``may_give`` one that holds now is given (the cap applies). Only for roots
        whose answering replies the batch loaded (:meth:`_counting_limits`): elsewhere the credit is
        left as it is, as a partial view of the thread would take back credits that still stand."""
        if root.deleted or root.key not in batch.replies_loaded:
            return
        replied = any(r.author_id != root.author_id and self._answers(r) for r in batch.in_thread(root))
        if replied and self._qualifies(root):
            if may_give:
                self._credit_thread(batch, root)
        elif root.threads:
            batch.credit(root, "threads", -root.threads)

    def _deleted(self, batch: _Batch, e: MessageDeleted) -> None:
        platform, ws = e.channel.platform.value, e.channel.workspace_id
        key = (platform, ws, e.message_id)
        row = batch.rows.get(key)
        if row is None:
            # An edit that overtook the post goes with it.
            batch.pending_edits.pop(key, None)
            batch.pending_done.add(key)
            # Tombstone: a late delivery of the original must not count.
            row = Contribution(
                platform,
                ws,
                e.message_id,
                e.channel.channel_id,
                "",
                None,
                local_day(e.deleted_at, self.tz),
                e.deleted_at.timestamp(),
                deleted=1,
            )
            batch.rows[key] = row
            batch.dirty.add(key)
            return
        if row.deleted:
            return
        answering = self._answers(row)  # before the delete: whether its thread loses a reply that answers
        for counter in COUNTERS:
            amount = getattr(row, counter)
            if amount:
                batch.credit(row, counter, -amount)
        row.deleted = 1
        batch.dirty.add(key)
        root = batch.rows.get((platform, ws, row.thread_id or "")) if row.is_reply else None
        batch.recheck.add(root.key if root is not None else key)
        if root is None:
            return
        if root.answer_id == row.message_id:
            root.answer_id = root.answer_src = ""  # the next reply the asker takes up gets the credit
            batch.dirty.add(root.key)
        # A deleted thanks or follow-up takes back the mark and the answer it gave, unless another
        # mark (a ✅) still gives them.
        self._undo(batch, root, f"thanks:{row.message_id}", batch.in_thread(root))
        self._undo(batch, root, f"said:{row.message_id}", batch.in_thread(root))
        # A thread whose last reply that answers from someone else is gone is no thread started.
        if answering and root.author_id != row.author_id:
            self._recheck_started(batch, root, may_give=False)

    # -- reactions -----------------------------------------------------------------------------
    def _reaction_target(self, batch: _Batch, e: ReactionAdded | ReactionRemoved) -> Contribution | None:
        if e.user.is_bot:
            return None
        row = batch.rows.get((e.channel.platform.value, e.channel.workspace_id, e.message_id))
        if row is None or row.deleted or row.author_id == e.user.user_id:
            return None  # unknown message, deleted, or a self-reaction
        return row

    def _asker(self, batch: _Batch, row: Contribution) -> str | None:
        if not row.is_reply:
            return None
        root = batch.rows.get((row.platform, row.workspace_id, row.thread_id or ""))
        return root.author_id if root is not None else None

    def _sync_reactions(self, batch: _Batch, row: Contribution) -> None:
        """Set ``row``'s reaction credit to what its reactions are worth now: one per member who
        reacted, if the message counts (long enough, under the rate cap), else none.

        A function of the stored reactions and the message, never of the order they came in, so a
        removal or an edit changes the rollups by exactly what it should under any batching or
        redelivery. (The daily cap on reaction points is applied when the board is read:
        :func:`brain.activity.scoring.capped_reactions_sql`.)"""
        reactions = batch.reactions.get(row.key)
        if reactions is None:  # not loaded: the batch does not touch this message's reactions
            return
        should = len({uid for uid, _ in reactions}) if self._qualifies(row) else 0
        if should != row.reactions:
            batch.credit(row, "reactions", should - row.reactions)

    def _reaction_added(self, batch: _Batch, e: ReactionAdded) -> None:
        row = self._reaction_target(batch, e)
        if row is None:
            return
        removed = batch.removals.get((row.platform, row.workspace_id, row.message_id, e.user.user_id, e.emoji))
        if removed is not None and removed >= e.ts.timestamp():
            return  # taken back already: the removal overtook this add
        existing = batch.reactions.setdefault(row.key, set())
        if (e.user.user_id, e.emoji) in existing:
            return  # redelivery
        existing.add((e.user.user_id, e.emoji))
        batch.reaction_ops[(row.platform, row.workspace_id, row.message_id, e.user.user_id, e.emoji)] = e.ts.timestamp()
        self._sync_reactions(batch, row)
        if not (is_helpful_emoji(e.emoji) and self._qualifies(row) and self._asker(batch, row) == e.user.user_id):
            return
        # The asker's ✅ on a reply: helpful (one per answerer per thread), and the reply takes the
        # question's answer, from wherever it was.
        root = batch.rows[(row.platform, row.workspace_id, row.thread_id or "")]
        self._credit_helpful(batch, root, row, "reaction")
        if root.is_question:
            self._move_answer(batch, root, row, "reaction")

    def _reaction_removed(self, batch: _Batch, e: ReactionRemoved) -> None:
        if not e.user.is_bot:
            # Noted whatever this removal finds: its add may still be on the bus (another worker has
            # it, or a dead worker's add is reclaimed later), and must not count when it comes.
            platform, ws = e.channel.platform.value, e.channel.workspace_id
            noted = (platform, ws, e.message_id, e.user.user_id, e.emoji)
            ts = e.ts.timestamp()
            if ts > batch.removals.get(noted, float("-inf")):
                batch.removals[noted] = batch.removal_ops[noted] = ts
        row = self._reaction_target(batch, e)
        if row is None:
            return
        existing = batch.reactions.setdefault(row.key, set())
        if (e.user.user_id, e.emoji) not in existing:
            return  # redelivery, or a reaction we never counted
        existing.discard((e.user.user_id, e.emoji))
        batch.reaction_ops[(row.platform, row.workspace_id, row.message_id, e.user.user_id, e.emoji)] = None
        self._sync_reactions(batch, row)
        if not is_helpful_emoji(e.emoji) or self._asker(batch, row) != e.user.user_id:
            return
        if any(uid == e.user.user_id and is_helpful_emoji(emoji) for uid, emoji in existing):
            return  # another ✅/👍 of the asker's still marks it
        batch.recheck.add((row.platform, row.workspace_id, row.thread_id or ""))
        # The mark and the answer the ✅ gave go with it (what the asker's thanks or follow-up gave
        # stays); the next reply the asker takes up gets the answer. _asker found the root loaded.
        root = batch.rows[(row.platform, row.workspace_id, row.thread_id or "")]
        self._undo(batch, root, "reaction", (row,), answer=root.answer_id == row.message_id)

    # -- writing -------------------------------------------------------------------------------
    async def _flush(self, tx: Executor, batch: _Batch) -> None:
        dialect = self.store.db.dialect
        if batch.replaced:  # a stand-in root taken over: the upsert would keep its author and day
            await tx.executemany(
                "DELETE FROM activity_contrib WHERE platform = ? AND workspace_id = ? AND message_id = ?",
                sorted(batch.replaced),
            )
        if batch.dirty:
            sql = _upsert_sql(dialect, "activity_contrib", _COLUMNS, _CONFLICT_CONTRIB)
            await _upsert(tx, dialect, sql, [_ROW_VALUES(batch.rows[k]) for k in batch.dirty])
        removed = [k for k, ts in batch.reaction_ops.items() if ts is None]
        if removed:
            await tx.executemany(
                "DELETE FROM activity_reactions WHERE platform = ? AND workspace_id = ? AND message_id = ? "
                "AND user_id = ? AND emoji = ?",
                removed,
            )
        added = [(*k, ts) for k, ts in batch.reaction_ops.items() if ts is not None]
        if added:
            sql = _upsert_sql(dialect, "activity_reactions", _REACTION_COLUMNS, "ON CONFLICT DO NOTHING")
            await _upsert(tx, dialect, sql, added)
        rows = [(*k, *d) for k, d in batch.deltas.items() if any(d)]
        if rows:
            await _upsert(tx, dialect, _upsert_sql(dialect, "activity_rollup", _ROLLUP_COLUMNS, _CONFLICT_ROLLUP), rows)
        noted = _time.time()
        if batch.removal_ops:
            sql = _upsert_sql(dialect, "activity_reaction_removals", _REMOVAL_COLUMNS, _CONFLICT_REMOVAL)
            await _upsert(tx, dialect, sql, [(*k, ts, noted) for k, ts in sorted(batch.removal_ops.items())])
        if batch.pending_done:
            await tx.executemany(
                "DELETE FROM activity_pending_edits WHERE platform = ? AND workspace_id = ? AND message_id = ?",
                sorted(batch.pending_done),
            )
        pending = [(*k, *v, noted) for k, v in sorted(batch.pending_edits.items()) if k not in batch.pending_done]
        if pending:
            sql = _upsert_sql(dialect, "activity_pending_edits", _PENDING_COLUMNS, _CONFLICT_PENDING)
            await _upsert(tx, dialect, sql, pending)


async def _opted_out(tx: Executor, events: Sequence[Event]) -> set[tuple[str, str, str]]:
    """The batch's message authors who opted out (their new messages count anonymously)."""
    authors = {(*_scope(e), e.author.user_id) for e in events if isinstance(e, (MessagePosted, ThreadCreated))}
    opted: set[tuple[str, str, str]] = set()
    for platform, ws in {(p, w) for p, w, _ in authors}:  # the settings' key leads with the workspace
        rows = await tx.fetchall(
            "SELECT user_id FROM member_settings WHERE platform = ? AND workspace_id = ? "
            "AND key = 'opted_out' AND value = 'true'",
            (platform, ws),
        )
        opted |= {(platform, ws, str(r[0])) for r in rows}
    return opted & authors


async def _fetch_rows(tx: Executor, dialect: str, batch: _Batch, platform: str, ws: str, ids: set[str]) -> None:
    """Load the ``activity_contrib`` rows of ``ids`` into ``batch.rows`` (and note them as looked up)."""
    batch.fetched.update((platform, ws, i) for i in ids)
    for sql, params in _by_ids(dialect, "activity_contrib", _COLUMNS, platform, ws, ids):
        rows = await tx.fetchall(sql, params)
        for row in rows:
            c = _row_to_contrib(row)
            batch.rows[c.key] = c


# The rows of a thread that hold a mark or the answer (integer tests first: most rows fail them all).
_MARKED = "t.helpful > 0 OR t.answered > 0"
# The live rows that keep what gave the marks they lost by no longer counting (_suspend_marks): only
# a reply edited under min_words keeps any (_restore_marks drops what it does not give back), so
# the sources are read only for the few rows that short.
_KEPT = "(t.words < ? AND t.deleted = 0 AND (t.helpful_src <> '' OR t.answer_src <> ''))"
# A reply that answers its thread (ActivityCounters._answers), as a condition on ``t``.
_ANSWERS = "t.deleted = 0 AND t.words >= ? AND (t.capped = 0 OR t.author_id = '')"
# SQLite's bound parameters per statement in old builds.
_SQLITE_MAX_PARAMS = 999


def _by_threads(
    dialect: str,
    platform: str,
    ws: str,
    threads: set[str],
    authors: set[str],
    min_words: int,
    limits: Sequence[tuple[str, str, int]] = (),
) -> Iterator[tuple[str, tuple[object, ...]]]:
    """Queries selecting the ``activity_contrib`` rows of ``threads`` that the credit rules need:
    every helpful one (few: one per answerer), the answer (one: a new mark moves its credit), the
    live ones that keep the sources of marks they lost by no longer counting (a source undone while
    they do not must be undone in them too), and the reply credits of ``authors`` (the batch's
    repliers); a thread's other messages are not loaded. (Partial indexes on exactly these rows made
    ingest a third slower on SQLite: every credit change rewrote them.)

    With them, for each ``(thread, root's author, n)`` of ``limits`` (threads among ``threads``),
    the earliest ``n`` rows of the thread that answer it and are not by its root's author
    (:meth:`ActivityCounters._counting_limits`): in the same statement (``UNION ALL``; a row may
    come twice), as a statement of its own costs a round trip per batch. PostgreSQL: a ``LATERAL``
    ``LIMIT`` per thread over array parameters. SQLite: the threads as a ``VALUES`` list, numbered
    per thread by ``ROW_NUMBER()`` (3.25+), in statements of their own past the parameter limit."""
    if not threads:
        return
    ordered, who = sorted(threads), sorted(authors)
    cols = ", ".join(f"t.{c}" for c in _COLUMNS)
    if dialect == "postgresql":
        sql = (
            f"SELECT {cols} FROM unnest(?::text[]) AS ids(id) JOIN activity_contrib t "
            "ON t.platform = ? AND t.workspace_id = ? AND t.thread_id = ids.id "
            f"WHERE {_MARKED} OR (t.replies > 0 AND t.author_id = ANY(?::text[])) OR {_KEPT}"
        )
        params: tuple[object, ...] = (ordered, platform, ws, who, min_words)
        if limits:
            tids, owners, counts = (list(column) for column in zip(*limits, strict=True))
            sql += (
                f" UNION ALL SELECT {', '.join(f'r.{c}' for c in _COLUMNS)} "
                "FROM unnest(?::text[], ?::text[], ?::integer[]) AS w(tid, author, lim) "
                f"CROSS JOIN LATERAL (SELECT {cols} FROM activity_contrib t WHERE t.platform = ? "
                "AND t.workspace_id = ? AND t.thread_id = w.tid AND t.author_id <> w.author "
                f"AND {_ANSWERS} ORDER BY t.ts LIMIT w.lim) r"
            )
            params += (tids, owners, counts, platform, ws, min_words)
        yield sql, params
        return
    answering = list(_answering_sqlite(platform, ws, limits, min_words))
    half = _IN_CHUNK // 2
    for i in range(0, len(ordered), half):
        chunk = ordered[i : i + half]
        for j in range(0, max(len(who), 1), half):
            people = who[j : j + half] or [""]
            sql = (
                f"SELECT {cols} FROM activity_contrib t WHERE t.platform = ? AND t.workspace_id = ? "
                f"AND t.thread_id IN ({', '.join('?' for _ in chunk)}) AND ({_MARKED} OR "
                f"(t.replies > 0 AND t.author_id IN ({', '.join('?' for _ in people)})) OR {_KEPT})"
            )
            params = (platform, ws, *chunk, *people, min_words)
            if answering and len(params) + len(answering[0][1]) + len(answering[0][3]) <= _SQLITE_MAX_PARAMS:
                with_clause, with_params, select, select_params = answering.pop(0)
                sql = f"{with_clause} {sql} UNION ALL {select}"
                params = (*with_params, *params, *select_params)
            yield sql, params
    for with_clause, with_params, select, select_params in answering:
        yield f"{with_clause} {select}", (*with_params, *select_params)


def _answering_sqlite(
    platform: str, ws: str, limits: Sequence[tuple[str, str, int]], min_words: int
) -> Iterator[tuple[str, tuple[object, ...], str, tuple[object, ...]]]:
    """The SQLite part of :func:`_by_threads` that selects the replies of ``limits``, in chunks: a
    ``WITH`` clause (it must open the statement) and its parameters, then a ``SELECT`` and its."""
    step = _IN_CHUNK // 3
    for i in range(0, len(limits), step):
        chunk = limits[i : i + step]
        yield (
            f"WITH w(tid, author, lim) AS (VALUES {', '.join('(?, ?, ?)' for _ in chunk)})",
            tuple(v for item in chunk for v in item),
            f"SELECT {', '.join(_COLUMNS)} FROM (SELECT {', '.join(f't.{c}' for c in _COLUMNS)}, w.lim AS lim, "
            "ROW_NUMBER() OVER (PARTITION BY t.thread_id ORDER BY t.ts) AS n "
            "FROM w JOIN activity_contrib t ON t.platform = ? AND t.workspace_id = ? AND t.thread_id = w.tid "
            f"WHERE t.author_id <> w.author AND {_ANSWERS}) WHERE n <= lim",
            (platform, ws, min_words),
        )


def _by_ids(
    dialect: str, table: str, columns: Sequence[str], platform: str, ws: str, ids: set[str]
) -> Iterator[tuple[str, tuple[object, ...]]]:
    """Queries selecting ``columns`` of the ``table`` rows whose ``message_id`` is in ``ids``.

    PostgreSQL gets one query joining an array parameter: an ``IN``/``= ANY`` list becomes a
    per-row filter in its generic plans (~100 ms a batch at 10k rows, growing with the table),
    while the join probes the primary key. SQLite gets ``IN`` lists in chunks.
    """
    if not ids:
        return
    ordered = sorted(ids)
    cols = ", ".join(f"t.{c}" for c in columns)
    if dialect == "postgresql":
        yield (
            f"SELECT {cols} FROM unnest(?::text[]) AS ids(id) JOIN {table} t "
            "ON t.platform = ? AND t.workspace_id = ? AND t.message_id = ids.id",
            (ordered, platform, ws),
        )
        return
    for i in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[i : i + _IN_CHUNK]
        yield (
            f"SELECT {cols} FROM {table} t WHERE t.platform = ? AND t.workspace_id = ? "
            f"AND t.message_id IN ({', '.join('?' for _ in chunk)})",
            (platform, ws, *chunk),
        )


def _scope(e: Event) -> tuple[str, str]:
    """The ``(platform, workspace_id)`` of a counter event."""
    channel = e.parent if isinstance(e, ThreadCreated) else e.channel  # type: ignore[attr-defined]
    return channel.platform.value, channel.workspace_id


def _has_starter(e: ThreadCreated) -> bool | None:
    """Whether the thread ``e`` opened has a starter message (one with the thread's id), as far as
    the event tells: a private thread never has one (it is a channel of its own: its "parent" is
    itself, see ``adapters/discord/normalize.py``); a live Discord thread has one when its id is
    older than the thread (the id of the message it was opened from, a bot's, a purged one or
    anyone's) and none when the id was made when the thread was. ``None`` when it cannot be told: an
    import's ThreadCreated has its first message's time, other platforms' ids are no snowflakes."""
    if e.parent.channel_id == e.thread_id:
        return False
    if e.parent.platform is not Platform.DISCORD or e.source is EventSource.IMPORT or not e.thread_id.isdigit():
        return None
    made = ((int(e.thread_id) >> 22) + _DISCORD_EPOCH_MS) / 1000
    return e.ts.timestamp() - made > _THREAD_ID_SLACK_S


def _minute_clusters(minutes: list[int]) -> list[tuple[int, int]]:
    """Sorted minutes as ``(first, last)`` runs, a new run after a gap over :data:`_MINUTE_GAP`."""
    runs: list[tuple[int, int]] = []
    for minute in minutes:
        if runs and minute - runs[-1][1] <= _MINUTE_GAP:
            runs[-1] = (runs[-1][0], minute)
        else:
            runs.append((minute, minute))
    return runs

"""Keeps the dense (Chroma) and lexical (BM25) indexes in step with the store.

Live traffic marks *groups* dirty (a thread, or a stretch of an unthreaded channel) and the indexer
rebuilds only those, in batches: many messages in one thread cost one embedding of its units, not
one per message. Deletions and edits are applied at once (privacy: the brain flushes them), posts
after a short debounce or before the next query, whichever comes first. Until the vector store takes a
delete, :class:`Tombstones` keep the deleted text out of retrieval. ``index_all`` rebuilds everything after an import.

Windows of unthreaded channels depend on their neighbours (a silence ends a window, and windows
are capped in size), so a touched message rebuilds the whole *run* of messages without a long
silence around it. Runs longer than :data:`RUN_LOOKAROUND_S` either side are rebuilt in part.

Every process (each worker of a Redis bus, a CLI beside the bot) writes the shared vector store
but holds its own BM25 copy: each write is recorded in the store's unit log
(:mod:`brain.qa.unit_log`), and :meth:`Indexer.apply_changes` brings this process's copy up to
what the others wrote.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.clock import Clock
from bot.ml import Embedder, Unit, UnitIndex, Vector
from bot.store import ChannelRow, MessageRow, Store
from bot.store.db import fetch_in
from bot.store.schema import Migration, register
from brain.qa.bm25 import BM25Index
from brain.qa.legacy_ids import requalify_index
from brain.qa.unit_log import DELETE, UPSERT, LoggedUnit, UnitLog
from brain.qa.units import (
    DEFAULT_CONFIG,
    SOLVED_FLAG,
    UnitConfig,
    build_units,
    embedding_text,
    is_indexable,
    split_windows,
)

log = logging.getLogger(__name__)

RUN_LOOKAROUND_S = 24 * 3600
ChannelPolicy = Callable[[ChannelRow], Awaitable[bool]]
_EMBED_BATCH = 256
# More logged changes than this since the last look (an `index all` in another process): the
# whole lexical index is reloaded from the vector store, as at start, instead of unit by unit.
FULL_RELOAD_CHANGES = 20_000
# How many times in a row a flush rebuilds groups another process changed while it wrote them.
_RACE_ROUNDS = 3

register(
    Migration(
        "qa-0006-index-encoders",
        (
            # Per encoder's collections (ChromaUnitIndex.encoder_key): the unit log's number of the
            # last write made to them. Collections of an encoder configured again are stale when
            # another encoder's were written later (Indexer.load).
            """CREATE TABLE IF NOT EXISTS qa_index_encoders (
                family TEXT NOT NULL, name TEXT NOT NULL, log_seq BIGINT NOT NULL,
                PRIMARY KEY (family, name))""",
        ),
    )
)


@dataclass
class IndexStats:
    """What an indexing pass did."""

    units_upserted: int = 0
    units_deleted: int = 0
    groups: int = 0
    seconds: float = 0.0
    texts_embedded: int = 0  # upserted units whose text changed (the others kept their vector)

    def as_dict(self) -> dict[str, float]:
        """Plain dict for CLI / JSON output."""
        return {
            "units_upserted": self.units_upserted,
            "units_deleted": self.units_deleted,
            "texts_embedded": self.texts_embedded,
            "groups": self.groups,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Pending:
    threads: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (p, ws, thread) -> channel
    stretches: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)  # (p, ws, channel) -> ts
    since: float | None = None

    def __len__(self) -> int:
        return len(self.threads) + sum(len(v) for v in self.stretches.values())

    def merged_with(self, newer: _Pending) -> _Pending:
        """These changes and ``newer`` ones (touched while these were being applied) together."""
        stretches = {key: list(stamps) for key, stamps in self.stretches.items()}
        for key, stamps in newer.stretches.items():
            stretches.setdefault(key, []).extend(stamps)
        since = min((t for t in (self.since, newer.since) if t is not None), default=None)
        return _Pending({**self.threads, **newer.threads}, stretches, since)


@dataclass
class Tombstones:
    """What must not be retrieved although an index may still hold it: deleted messages, deleted
    channels or threads, forgotten members (``(platform, workspace, id)`` each).

    A delete reaches the vector store only when it is up; until a flush has rebuilt the units
    concerned (in both indexes), the retriever drops every unit these match, from the lexical and
    the dense results alike, so deleted text is never quoted meanwhile.
    """

    messages: set[tuple[str, str, str]] = field(default_factory=set)
    conversations: set[tuple[str, str, str]] = field(default_factory=set)  # channel or thread ids
    authors: set[tuple[str, str, str]] = field(default_factory=set)
    # Channels whose visibility changed, while their units are rebuilt with the new one: a channel
    # made private must leave public answers at once, not once its last unit is embedded again.
    # A mark goes once the channel's indexed units all carry its stored visibility
    # (:meth:`Indexer._settle_relabelled`), not with a flush's other tombstones: neither copied nor
    # discarded with them.
    relabelling: set[tuple[str, str, str]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.messages or self.conversations or self.authors or self.relabelling)

    def hides(self, unit: Unit) -> bool:
        """Whether ``unit`` holds something deleted or forgotten, or is of a channel whose
        visibility changed and whose units are being rebuilt."""
        if not self or unit.kind == "doc":
            return False
        p, ws = unit.platform, unit.workspace_id
        return (
            (p, ws, unit.channel_id) in self.conversations
            or (p, ws, unit.channel_id) in self.relabelling
            or (unit.thread_id is not None and (p, ws, unit.thread_id) in self.conversations)
            or any((p, ws, m) in self.messages for m in unit.message_ids)
            or any((p, ws, a) in self.authors for a in unit.author_ids)
        )

    def copy(self) -> Tombstones:
        return Tombstones(set(self.messages), set(self.conversations), set(self.authors))

    def discard(self, done: Tombstones) -> None:
        """Forget ``done``'s entries (a flush rebuilt every unit they concern)."""
        self.messages -= done.messages
        self.conversations -= done.conversations
        self.authors -= done.authors


class Indexer:
    """Incremental and bulk indexing of store messages into a :class:`UnitIndex` and a BM25 index.

    Args:
        store: Where messages live (the source of truth).
        embedder: Text to vectors.
        index: Vector storage.
        bm25: Lexical index over the same units.
        clock: For the debounce.
        config: Unit sizes.
        debounce_s: Pending live changes are flushed after this many seconds (or before a query).
        max_pending: ... or as soon as this many groups/messages are pending.
        may_index: Channel policy (``bot.privacy.policy.may_index`` in the brain); channels it
            refuses produce no units, and their old units are removed on the next rebuild.
        unit_log: Record each write in the store's unit log (:mod:`brain.qa.unit_log`) and follow
            the other processes' records; off for a private index (an evaluation's copy).
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        index: UnitIndex,
        bm25: BM25Index,
        *,
        clock: Clock,
        config: UnitConfig = DEFAULT_CONFIG,
        debounce_s: float = 5.0,
        max_pending: int = 200,
        may_index: ChannelPolicy | None = None,
        unit_log: bool = True,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.index = index
        self.bm25 = bm25
        self.clock = clock
        self.config = config
        self.debounce_s = debounce_s
        self.max_pending = max_pending
        self.may_index = may_index
        self._pending = _Pending()
        self._lock = asyncio.Lock()
        # unit ids per thread, and (unit id -> time span) per channel for windows: which old units
        # a rebuild replaces.
        self._thread_units: dict[tuple[str, str, str], set[str]] = {}
        self._window_units: dict[tuple[str, str, str], dict[str, tuple[float, float]]] = {}
        # message -> units quoting it (deletes); channel -> how many of its units carry each
        # visibility (a channel whose units do not all carry its stored visibility is rebuilt whole)
        self._message_units: dict[tuple[str, str, str], set[str]] = {}
        self._channel_visibilities: dict[tuple[str, str, str], Counter[str]] = {}
        # Deleted or forgotten things some units may still hold until a flush rebuilds them: the
        # retriever leaves those units out meanwhile (a vector store down refuses the deletes).
        self.tombstones = Tombstones()
        self.unit_log = UnitLog(store) if unit_log else None
        # The unit log's number up to which this process's BM25 reflects every write (None until
        # loaded: an indexer that never loads has nothing to keep in step), and the numbers of its
        # own appends past it (already in its BM25: skipped when read back).
        self._log_seen: int | None = None
        self._own_appends: list[tuple[int, int]] = []
        # What the rows the units being written were built from said (edit stamp, text hash), per
        # message; and the groups a write found changed in the store meanwhile (another process
        # deleted or edited a message between this one's read and its write): rebuilt at once.
        self._read: dict[tuple[str, str, str], tuple[float | None, int]] = {}
        self._raced = _Pending()
        # Set by load(): the vector store's collections for this encoder were last written before
        # another encoder's (``embeddings.model`` switched back): they miss every change made
        # since, deletes and edits included, and must be rebuilt (QABrain does, at once).
        self.stale_encoder = False
        # Messages the store had erased when the index was loaded (:meth:`_sweep_deleted`).
        self.erased_at_load: set[tuple[str, str, str]] | None = None

    # -- startup -----------------------------------------------------------------------------
    async def load(self) -> int:
        """Rebuild the in-memory BM25 index from the vector store (units are persisted there)."""
        all_units = getattr(self.index, "all_units", None)
        if all_units is None or len(self.bm25):
            return len(self.bm25)
        # Read before the units: units written in between are read again from the log (harmless).
        log_head = await self.unit_log.head() if self.unit_log is not None else None
        units: list[Unit] = await requalify_index(self.index, await all_units(), self.store)
        self._add_local(units)
        self._log_seen = log_head
        await self._sweep_deleted()
        self.stale_encoder = bool(units) and await self._written_by_another_encoder()
        return len(units)

    async def _written_by_another_encoder(self) -> bool:
        """Whether another encoder's collections were written after this one's last write (an
        earlier ``embeddings.model`` configured again). Deletes and edits reach the other encoders'
        collections only as erasures (they cannot be re-embedded there), and new messages not at
        all, so such collections are out of date: searched as they are, they would miss everything
        since, and quote edited text. Collections never recorded (written before the record was
        kept) are stale only when another encoder's are recorded."""
        key = getattr(self.index, "encoder_key", None)
        if key is None or self.unit_log is None:
            return False
        family, name = key
        rows = await self.store.db.fetchall("SELECT name, log_seq FROM qa_index_encoders WHERE family = ?", (family,))
        marks = {str(n): int(seq) for n, seq in rows}
        own = marks.pop(name, None)
        newest_other = max(marks.values(), default=None)
        if newest_other is None:
            return False
        return own is None or newest_other > own

    async def _mark_encoder(self, seq: int) -> None:
        """Record that this encoder's collections hold every write up to the unit log's ``seq``."""
        key = getattr(self.index, "encoder_key", None)
        if key is None:
            return
        await self.store.db.execute(
            "INSERT INTO qa_index_encoders (family, name, log_seq) VALUES (?, ?, ?) ON CONFLICT (family, name) "
            "DO UPDATE SET log_seq = CASE WHEN excluded.log_seq > qa_index_encoders.log_seq "
            "THEN excluded.log_seq ELSE qa_index_encoders.log_seq END",
            (*key, seq),
        )

    async def _sweep_deleted(self) -> None:
        """Queue a rebuild of every loaded unit holding a message the store has erased (deleted, or
        its channel deleted), hidden until then: a delete the vector store refused (down, or the
        process stopped before the retry) is finished from the store, not from memory."""
        rows = await self.store.db.fetchall("SELECT platform, workspace_id, message_id FROM messages WHERE deleted = 1")
        # Kept for the start's erasure from other encoders' collections (QABrain._after_start), which
        # needs the same rows: taken once there, and not held longer.
        self.erased_at_load = {(str(p), str(ws), str(mid)) for p, ws, mid in rows}
        if not self._message_units:
            return
        stale: set[str] = set()
        for key in self.erased_at_load:
            if key in self._message_units:
                self.tombstones.messages.add(key)
                stale |= self._message_units[key]
        units = [u for u in (self.bm25.get(i) for i in sorted(stale)) if u is not None]
        for unit in units:
            self.touch_unit(unit)
        if units:
            log.warning("qa: %d index units still held deleted messages; rebuilding them", len(units))

    async def apply_changes(self) -> int:
        """Bring the lexical index up to the units other processes wrote (the unit log): their new
        and rebuilt units are read from the vector store, their deleted ones dropped. One store
        read when nothing changed. Raises :class:`~bot.ml.VectorIndexUnavailable` while the vector
        store is unreachable (nothing is lost: the next call applies the same changes).

        Returns:
            How many logged changes were applied (a full reload counts the units loaded).
        """
        if self.unit_log is None or self._log_seen is None:
            return 0
        if await self.unit_log.head() == self._log_seen:
            return 0
        async with self._lock:
            return await self._apply_logged()

    async def _apply_logged(self) -> int:
        """:meth:`apply_changes`, under the lock (no flush of this process runs meanwhile)."""
        if self.unit_log is None or self._log_seen is None:
            return 0
        seen = self._log_seen
        head = await self.unit_log.head()
        if head == seen:
            return 0
        if head < seen or head - seen > FULL_RELOAD_CHANGES:
            return await self._reload(head)  # a replaced database, or too much to apply one by one
        changes = await self.unit_log.since(seen, limit=FULL_RELOAD_CHANGES)
        if not changes or any(c.seq != seen + 1 + i for i, c in enumerate(changes)):
            # Appends commit in the order of their numbers (brain.qa.unit_log), so a gap means
            # rows pruned before this process read them: it fell too far behind.
            return await self._reload(head)
        last = changes[-1].seq
        own = self._own_appends
        ids = list(dict.fromkeys(c.unit_id for c in changes if not any(first <= c.seq <= end for first, end in own)))
        if ids:
            # Whatever the logged operation, the vector store's current state is what this copy
            # must hold: two processes' writes of one unit may be logged in the other order.
            stored = {u.unit_id: u for u in await self._stored_units(ids)}
            self._remove_local([i for i in ids if i not in stored])
            self._add_local(list(stored.values()))
            await self._hide_deleted(list(stored.values()))
        self._log_seen = last
        self._own_appends = [(first, end) for first, end in own if end > last]
        return len(changes)

    async def _hide_deleted(self, units: Sequence[Unit]) -> None:
        """Hide, and queue a rebuild of, the units another process wrote that hold a message the
        store has deleted: that process read it before the delete (it rebuilds them itself once its
        write is done, :meth:`_recheck`, but this copy must not quote them meanwhile, nor keep them
        if it stopped first). One query per applied batch of changes."""
        wanted: dict[tuple[str, str], set[str]] = {}
        for u in units:
            if u.kind != "doc":
                wanted.setdefault((u.platform, u.workspace_id), set()).update(u.message_ids)
        gone: set[tuple[str, str, str]] = set()
        for (p, ws), mids in wanted.items():
            rows = await fetch_in(
                self.store.db,
                "SELECT message_id FROM messages WHERE platform = ? AND workspace_id = ? AND deleted = 1 "
                "AND message_id IN",
                (p, ws),
                sorted(mids),
            )
            gone |= {(p, ws, str(r[0])) for r in rows}
        if not gone:
            return
        self.tombstones.messages |= gone
        for u in units:
            if any((u.platform, u.workspace_id, mid) in gone for mid in u.message_ids):
                self.touch_unit(u)

    async def _reload(self, head: int) -> int:
        """Replace the lexical index with every unit in the vector store (``head``: the log's number
        read before them)."""
        all_units = getattr(self.index, "all_units", None)
        if all_units is None:
            return 0
        log.info("qa: reloading the lexical index from the vector store (unit log changes not applicable one by one)")
        units: list[Unit] = await all_units()
        ids = {u.unit_id for u in units}
        self._remove_local([u.unit_id for u in self.bm25.units() if u.unit_id not in ids])
        self._add_local(units)
        self._log_seen = head
        self._own_appends = []
        return len(units)

    async def _stored_units(self, unit_ids: Sequence[str]) -> list[Unit]:
        """The units among ``unit_ids`` the vector store holds."""
        units_by_ids = getattr(self.index, "units_by_ids", None)
        if units_by_ids is not None:
            return list(await units_by_ids(unit_ids))
        all_units = getattr(self.index, "all_units", None)
        if all_units is None:  # never loaded either (see load): nothing is read back from the log
            return []
        wanted = set(unit_ids)
        return [u for u in await all_units() if u.unit_id in wanted]

    async def _log_writes(self, upserted: Sequence[Unit], deleted: Sequence[Unit | str]) -> None:
        """Record writes the vector store now holds, for the other processes' lexical indexes."""
        if self.unit_log is None or not (upserted or deleted):
            return
        changes = [
            LoggedUnit(u.platform, u.workspace_id, u.unit_id, DELETE)
            if isinstance(u, Unit)
            else LoggedUnit("", "", u, DELETE)
            for u in deleted
        ]
        changes += [LoggedUnit(u.platform, u.workspace_id, u.unit_id, UPSERT) for u in upserted]
        span = await self.unit_log.append(changes, now=_epoch(self.clock))
        if span is not None and not self.stale_encoder:  # a stale index is current once rebuilt whole
            await self._mark_encoder(span[1])
        if span is None or self._log_seen is None:
            return
        if span[0] == self._log_seen + 1:
            self._log_seen = span[1]  # nobody wrote in between: nothing to read back
        else:
            self._own_appends.append(span)

    # -- live changes ------------------------------------------------------------------------
    def touch(self, message: MessageRow) -> None:
        """Mark the unit(s) holding ``message`` for rebuild at the next flush."""
        p, ws = message.platform, message.workspace_id
        if message.thread_id:
            self._pending.threads[(p, ws, message.thread_id)] = message.channel_id
        else:
            self._pending.stretches.setdefault((p, ws, message.channel_id), []).append(message.ts)
            if (p, ws, message.message_id) in self._thread_units:
                # A thread root stored before its first reply carries no thread id itself.
                self._pending.threads[(p, ws, message.message_id)] = message.channel_id
        # The units quoting it now may be of another group: a message moved to another thread (or
        # channel) must leave its old one, which a rebuild of its new group alone would keep.
        for unit in self.units_with_message(p, ws, message.message_id):
            _mark(self._pending, unit, _epoch(self.clock))
        if self._pending.since is None:
            self._pending.since = _epoch(self.clock)

    def due(self) -> bool:
        """Whether pending changes should be flushed now (size or age)."""
        if not len(self._pending) or self._pending.since is None:
            return False
        return len(self._pending) >= self.max_pending or _epoch(self.clock) - self._pending.since >= self.debounce_s

    @property
    def pending(self) -> int:
        """Number of pending touches."""
        return len(self._pending)

    async def flush(self) -> IndexStats:
        """Rebuild every pending thread and channel stretch."""
        async with self._lock:
            pending, self._pending = self._pending, _Pending()
            # Whatever was deleted up to now is touched in ``pending``: once it is applied, no unit
            # holds it any more.
            rebuilt = self.tombstones.copy()
            if not len(pending):
                self.tombstones.discard(rebuilt)
                return IndexStats()
            try:
                # Units other processes built or removed since: what a rebuild here replaces (a
                # thread they indexed, a window holding a deleted message) must be known first.
                await self._apply_logged()
                stats = await self._flush(pending)
                self.tombstones.discard(rebuilt)
            except BaseException:
                # Nothing is lost when the vector store is down (or the flush is cancelled): the
                # same groups are rebuilt from the store on the next flush, which is idempotent.
                self._pending = pending.merged_with(self._pending)
                raise
            await self._settle_races(stats)
            return stats

    async def _settle_races(self, stats: IndexStats) -> None:
        """Rebuild at once the groups whose messages another process deleted or edited while this
        one was writing them (see :meth:`_recheck`); under the lock."""
        for _ in range(_RACE_ROUNDS):
            if not len(self._raced):
                return
            # With everything touched so far: the tombstones discarded below are all rebuilt then.
            again, self._raced, self._pending = self._raced.merged_with(self._pending), _Pending(), _Pending()
            rebuilt = self.tombstones.copy()
            try:
                more = await self._flush(again)
            except BaseException:
                self._pending = again.merged_with(self._pending)
                raise
            self.tombstones.discard(rebuilt)
            stats.units_upserted += more.units_upserted
            stats.units_deleted += more.units_deleted
            stats.texts_embedded += more.texts_embedded
        if len(self._raced):
            # Still changing under every rebuild: left to the next flush (hidden until then).
            log.warning("qa: index groups kept changing while being rebuilt; they are rebuilt at the next flush")
            self._pending, self._raced = self._raced.merged_with(self._pending), _Pending()

    async def _flush(self, pending: _Pending) -> IndexStats:
        started = time.perf_counter()
        stats = IndexStats()
        self._read = {}
        opted = _OptOutCache(self.store)
        new_units: list[Unit] = []
        stale: set[str] = set()
        for (p, ws, tid), channel_id in pending.threads.items():
            units, old = await self._rebuild_thread(p, ws, tid, channel_id, opted)
            new_units += units
            stale |= old
            stats.groups += 1
        for (p, ws, cid), stamps in pending.stretches.items():
            units, old = await self._rebuild_stretch(p, ws, cid, stamps, opted)
            new_units += units
            stale |= old
            stats.groups += 1
        # A channel whose indexed units do not all carry its stored visibility (made private, and
        # this message is the first to carry it; a restart dropped the ChannelSeen; another worker
        # indexed it) is rebuilt whole: a rebuild of the touched groups alone would leave its other
        # units readable under the old visibility.
        channels = {(p, ws, cid) for p, ws, cid in pending.stretches} | {
            (p, ws, cid) for (p, ws, _), cid in pending.threads.items()
        }
        for key in sorted(channels):
            if key not in self._channel_visibilities:
                continue
            channel = await _channel(self.store, *key)
            if not self.visibility_differs(*key, channel.visibility):
                continue
            self.tombstones.relabelling.add(key)  # out of answers until rebuilt (_settle_relabelled)
            units, old = await self._rebuild_channel(channel, opted)
            new_units = [u for u in new_units if (u.platform, u.workspace_id, u.channel_id) != key] + units
            stale |= old
        # A thread's rebuild also rebuilds the stretch around its root, so a window can be built twice
        # in one flush (from the same stored messages). The vector store refuses an upsert naming a
        # unit twice, and a refused flush is retried, and refused, on every later one.
        new_units = list({u.unit_id: u for u in new_units}.values())
        stale -= {u.unit_id for u in new_units}
        try:
            await self._apply(new_units, stale, stats)
        finally:
            self._read = {}
        await self._settle_relabelled()
        stats.seconds = time.perf_counter() - started
        return stats

    def _hide_relabelled(self, channels: Iterable[ChannelRow]) -> set[tuple[str, str, str]]:
        """Hide (:attr:`Tombstones.relabelling`) the ``channels`` whose indexed units carry another
        visibility than theirs; returns their keys."""
        keys = {
            (c.platform, c.workspace_id, c.channel_id)
            for c in channels
            if self.visibility_differs(c.platform, c.workspace_id, c.channel_id, c.visibility)
        }
        self.tombstones.relabelling |= keys
        return keys

    def _retry_relabelled(self, keys: Iterable[tuple[str, str, str]]) -> None:
        """Queue the rebuild of hidden channels whose rebuild failed (the vector store down)."""
        for key in keys:
            for unit in self.units_in_channel(*key):
                self.touch_unit(unit)

    async def _settle_relabelled(self) -> None:
        """Show again the hidden channels whose indexed units all carry their stored visibility."""
        for key in sorted(self.tombstones.relabelling):
            channel = await _channel(self.store, *key)
            if not self.visibility_differs(*key, channel.visibility):
                self.tombstones.relabelling.discard(key)

    async def remove_units(self, unit_ids: Sequence[str]) -> None:
        """Drop units from both indexes."""
        ids = list(unit_ids)
        if ids:
            async with self._lock:
                await self.index.delete(ids)
                gone = [self.bm25.get(i) or i for i in ids]
                self._remove_local(ids)
                await self._log_writes([], gone)

    # -- bulk ----------------------------------------------------------------------------------
    async def index_all(self, *, channels: Sequence[ChannelRow] | None = None) -> IndexStats:
        """(Re)build units for every channel in the store (or ``channels``), replacing stale ones.

        A channel whose indexed units carry another visibility than its row's (made private) is
        left out of answers from this call on, before the lock is waited for, until its units
        carry the new one: re-embedding a busy channel takes minutes, and questions go on meanwhile.
        """
        relabelled = self._hide_relabelled(channels or ())
        try:
            return await self._index_all(channels, relabelled)
        except BaseException:
            # Still hidden: the next flush rebuilds them (and shows them again once it has).
            self._retry_relabelled(relabelled)
            raise

    async def _index_all(
        self, channels: Sequence[ChannelRow] | None, relabelled: set[tuple[str, str, str]]
    ) -> IndexStats:
        async with self._lock:
            started = time.perf_counter()
            stats = IndexStats()
            await self._apply_logged()  # the stale units below include those other processes built
            rows = channels if channels is not None else await _all_channels(self.store)
            relabelled |= self._hide_relabelled(rows)
            seen: set[str] = set()
            async for channel, messages in self._histories(rows):
                self._read = {}
                self._note_read(messages)
                facts = await _thread_facts(self.store, channel)
                units = _with_facts(build_units(messages, channel, config=self.config), facts)
                seen |= {u.unit_id for u in units}
                stats.groups += 1
                for start in range(0, len(units), 2000):
                    await self._apply(units[start : start + 2000], set(), stats)
            self._read = {}
            scope = {(c.platform, c.workspace_id, c.channel_id) for c in rows}
            stale = [
                u.unit_id
                for u in self.bm25.units()
                if (u.platform, u.workspace_id, u.channel_id) in scope and u.unit_id not in seen and u.kind != "doc"
            ]
            await self._apply([], set(stale), stats)
            await self._settle_races(stats)
            await self._settle_relabelled()
            if channels is None and self.stale_encoder and self.unit_log is not None:
                self.stale_encoder = False  # every channel rebuilt: current again
                await self._mark_encoder(await self.unit_log.head())
            stats.seconds = time.perf_counter() - started
            return stats

    async def public_history(self) -> tuple[list[MessageRow], dict[tuple[str, str, str], ChannelRow]]:
        """Messages of the public channels the index may use, without opted-out members' messages.

        What encoder fine-tuning (:mod:`brain.qa.tuning`) may learn from: never private channels,
        DMs, excluded channels or members who opted out.
        """
        messages: list[MessageRow] = []
        channels: dict[tuple[str, str, str], ChannelRow] = {}
        public = [c for c in await _all_channels(self.store) if c.visibility == "public"]
        async for channel, rows in self._histories(public):
            channels[(channel.platform, channel.workspace_id, channel.channel_id)] = channel
            messages += rows
        return messages, channels

    async def _histories(self, channels: Sequence[ChannelRow]) -> AsyncIterator[tuple[ChannelRow, list[MessageRow]]]:
        """Each channel the index may use, with its messages minus those of opted-out members."""
        opted = _OptOutCache(self.store)
        for channel in channels:
            if not await self._allowed(channel):
                continue
            rows = await self.store.channel_messages(channel.platform, channel.workspace_id, channel.channel_id)
            yield channel, await opted.filter(rows)

    async def add_units(self, units: Sequence[Unit]) -> IndexStats:
        """Index ready-made units (docs sections), replacing same ids.

        Docs chunks are numbered per document: the old chunks of each document in ``units`` that
        the new ones do not replace (the document got shorter) are removed too.
        """
        return await self.replace_docs(units, sources=())

    def doc_locations(self) -> set[str]:
        """Where the indexed docs units come from (their ``url``: a resolved file path or a URL)."""
        return {u.url for u in self.bm25.units() if u.kind == "doc" and u.url}

    async def replace_docs(self, units: Sequence[Unit], *, sources: Iterable[str]) -> IndexStats:
        """Index docs units as the whole current content of their documents.

        Args:
            units: the new docs units (upserted, same ids replaced).
            sources: locations (``Unit.url``) whose documents were read again or are gone; their
                indexed chunks that ``units`` do not replace are removed. Documents of ``units``
                are included anyway, so a shortened document loses its surplus chunks; a source
                with no units left (emptied or deleted) loses all of them.
        """
        async with self._lock:
            stats = IndexStats()
            fresh = list(units)
            # Ids are location + chunk number (brain.qa.docs): replacing ids alone would keep the
            # chunks beyond a shortened document's new count, and every chunk of a deleted one.
            replaced = set(sources) | {u.url for u in fresh if u.kind == "doc"}
            keep = {u.unit_id for u in fresh}
            stale = {
                u.unit_id for u in self.bm25.units() if u.kind == "doc" and u.url in replaced and u.unit_id not in keep
            }
            await self._apply(fresh, stale, stats)  # logged: every process's lexical copy follows
            return stats

    # -- internals -------------------------------------------------------------------------
    async def _rebuild_thread(
        self, p: str, ws: str, tid: str, channel_id: str, opted: _OptOutCache
    ) -> tuple[list[Unit], set[str]]:
        old = set(self._thread_units.get((p, ws, tid), set()))
        messages = await opted.filter(await self.store.thread_messages(p, ws, tid))
        self._note_read(messages)
        if not messages:
            return [], old
        channel = await _channel(self.store, p, ws, messages[0].channel_id or channel_id)
        if not await self._allowed(channel):
            return [], old
        facts = await _thread_facts(self.store, channel, tid)
        # A thread's messages may also sit in the channel's windows (a root posted before its
        # first reply was a loose message then): rebuild that stretch too.
        units = _with_facts(
            [u for u in build_units(messages, channel, config=self.config) if u.kind == "thread"], facts
        )
        root_ts = messages[0].ts
        spans = self._window_units.get((p, ws, channel.channel_id), {}).values()
        if any(start <= root_ts <= end for start, end in spans):
            extra_units, extra_old = await self._rebuild_stretch(p, ws, channel.channel_id, [root_ts], opted)
            return units + extra_units, old | extra_old
        return units, old

    async def _rebuild_stretch(
        self, p: str, ws: str, cid: str, stamps: list[float], opted: _OptOutCache
    ) -> tuple[list[Unit], set[str]]:
        lo, hi = min(stamps), max(stamps)
        channel = await _channel(self.store, p, ws, cid)
        allowed = await self._allowed(channel)
        # A run longer than the look-around is cut; where a cut falls inside an indexed window, the
        # load reaches that window's edge: the split starts on an existing window boundary (the
        # windows before it are kept as they are) and every window replaced below is loaded whole.
        # Cut mid-window, the rebuild replaced that window with one missing its earlier messages.
        since, until = lo - RUN_LOOKAROUND_S, hi + RUN_LOOKAROUND_S
        for start, end in self._window_units.get((p, ws, cid), {}).values():
            if start < since <= end:
                since = start
            if start <= until < end:
                until = end
        around = await self.store.channel_messages(p, ws, cid, since=since, until=until + 1)
        around = await opted.filter(around)
        self._note_read(around)
        thread_ids = {m.thread_id for m in around if m.thread_id}
        # A loose message answered in a thread later than the look-around is a thread root too: its
        # replies are not among the loaded messages, so the store says (as a full index would find).
        thread_ids |= await _thread_roots(
            self.store, p, ws, cid, [m.message_id for m in around if not m.thread_id and m.message_id not in thread_ids]
        )
        loose = [m for m in around if not m.thread_id and m.message_id not in thread_ids and is_indexable(m)]
        gap = self.config.window_gap_s
        # Runs: maximal sequences without a silence longer than the gap; affected runs are those
        # within one gap of a touched time (a deleted message may have been the bridge).
        runs: list[list[MessageRow]] = []
        for m in loose:
            if runs and m.ts - runs[-1][-1].ts <= gap:
                runs[-1].append(m)
            else:
                runs.append([m])
        affected = [r for r in runs if any(r[0].ts - gap <= t <= r[-1].ts + gap for t in stamps)]
        # Replaced: the units within one gap of a touch (a deleted or opted-out message's unit) and
        # those of the affected runs. Not everything between the earliest and latest touch: two
        # touches hours apart would drop the untouched runs between them without rebuilding them.
        spans = _merged([(t - gap, t + gap) for t in stamps] + [(r[0].ts, r[-1].ts) for r in affected])
        old = {
            uid
            for uid, (start, end) in self._window_units.get((p, ws, cid), {}).items()
            if _overlaps(spans, start, end)
        }
        units: list[Unit] = []
        if not allowed:
            return units, old
        for run in affected:
            for window in split_windows(run, self.config):
                units += [u for u in build_units(window, channel, config=self.config) if u.kind == "window"]
        return units, old

    async def _rebuild_channel(self, channel: ChannelRow, opted: _OptOutCache) -> tuple[list[Unit], set[str]]:
        """Every unit of ``channel`` from its stored messages, and the ids of those indexed now."""
        p, ws, cid = channel.platform, channel.workspace_id, channel.channel_id
        old = {u.unit_id for u in self.units_in_channel(p, ws, cid)}
        if not await self._allowed(channel):
            return [], old
        messages = await opted.filter(await self.store.channel_messages(p, ws, cid))
        self._note_read(messages)
        facts = await _thread_facts(self.store, channel)
        return _with_facts(build_units(messages, channel, config=self.config), facts), old

    async def _allowed(self, channel: ChannelRow) -> bool:
        return True if self.may_index is None else await self.may_index(channel)

    async def _apply(self, units: list[Unit], stale: set[str], stats: IndexStats) -> None:
        deleted: list[Unit | str] = []
        upserted: list[Unit] = []
        try:
            if stale:
                await self.index.delete(sorted(stale))
                deleted = [self.bm25.get(i) or i for i in sorted(stale)]
                self._remove_local(stale)
                stats.units_deleted += len(stale)
            for start in range(0, len(units), _EMBED_BATCH * 8):
                part = units[start : start + _EMBED_BATCH * 8]
                texts = [embedding_text(u) for u in part]
                vectors = await self._vectors(part, texts)
                stats.texts_embedded += sum(1 for u in part if u.unit_id not in vectors)
                if len(vectors) < len(part):
                    missing = [i for i, u in enumerate(part) if u.unit_id not in vectors]
                    fresh = await asyncio.to_thread(self.embedder.embed, [texts[i] for i in missing])
                    vectors.update({part[i].unit_id: fresh[n] for n, i in enumerate(missing)})
                await self.index.upsert(part, np.stack([vectors[u.unit_id] for u in part]))
                # Known here as soon as the vector store holds them: a later part's failure must not
                # leave units there that no rebuild of this process knows to replace or delete.
                self._add_local(part)
                upserted += part
                stats.units_upserted += len(part)
                await self._recheck(part)
        finally:
            # Also after a failure half-way: what the vector store took (a delete above all) must
            # reach the other processes' lexical indexes.
            await self._log_writes(upserted, deleted)

    def _note_read(self, rows: Iterable[MessageRow]) -> None:
        """Remember what ``rows`` (read to build units now) said, for :meth:`_recheck`."""
        for m in rows:
            self._read[(m.platform, m.workspace_id, m.message_id)] = (m.edited_ts, hash(m.text))

    async def _recheck(self, units: Sequence[Unit]) -> None:
        """After an upsert: whether another process deleted or edited a message of ``units`` since
        this one read it. Both read the store and write the vector store, so a rebuild that read a
        conversation before a delete and writes after the deleting process's own rebuild put the
        deleted text back (last write wins), and the unit log spread it to every worker. Each
        changed group is rebuilt at once (:meth:`_settle_races`) and a deleted message hidden until
        then. A write that comes after this check cannot be overtaken: the other process changed
        the store after it, so its own rebuild, which reads the store after its change, is later.

        One primary-key query per written part (per workspace, 500 ids each).
        """
        wanted: dict[tuple[str, str], list[str]] = {}
        for u in units:
            for mid in u.message_ids:
                if (u.platform, u.workspace_id, mid) in self._read:
                    wanted.setdefault((u.platform, u.workspace_id), []).append(mid)
        changed: set[tuple[str, str, str]] = set()
        for (p, ws), ids in wanted.items():
            ids = list(dict.fromkeys(ids))
            now: dict[str, tuple[float | None, int] | None] = {mid: None for mid in ids}
            rows = await fetch_in(
                self.store.db,
                "SELECT message_id, deleted, edited_ts, text FROM messages WHERE platform = ? "
                "AND workspace_id = ? AND message_id IN",
                (p, ws),
                ids,
            )
            for mid, deleted, edited_ts, text in rows:
                if not deleted:
                    now[str(mid)] = (None if edited_ts is None else float(edited_ts), hash(str(text or "")))
            for mid, state in now.items():
                if state != self._read[(p, ws, mid)]:
                    changed.add((p, ws, mid))
                    if state is None:  # deleted (or erased with its channel) meanwhile
                        self.tombstones.messages.add((p, ws, mid))
        if not changed:
            return
        for u in units:
            if any((u.platform, u.workspace_id, mid) in changed for mid in u.message_ids):
                _mark(self._raced, u, _epoch(self.clock))
        log.info("qa: %d messages changed while their units were written; rebuilding those", len(changed))

    async def _vectors(self, units: Sequence[Unit], texts: Sequence[str]) -> dict[str, Vector]:
        """Stored vectors of the units whose embedded text is unchanged: a reply rebuilds every
        chunk of its thread, and ``index all`` every unit, but only changed text needs the encoder."""
        same = [
            u.unit_id
            for u, text in zip(units, texts, strict=True)
            if (old := self.bm25.get(u.unit_id)) is not None and embedding_text(old) == text
        ]
        if not same:
            return {}
        try:
            return dict(await self.index.vectors(same))
        except Exception:  # a store without stored vectors (or a failed read) costs only the encoder's time
            log.warning("qa: stored vectors unavailable; embedding %d unchanged units again", len(same), exc_info=True)
            return {}

    def _add_local(self, units: Sequence[Unit]) -> None:
        # One entry per unit id, the last one (BM25 keeps it): an id stored in both partitions of the
        # vector store is read twice, and counted twice its visibility differs for ever.
        units = list({u.unit_id: u for u in units}.values())
        self._remove_local([u.unit_id for u in units if u.unit_id in self.bm25])
        self.bm25.add(units)
        for u in units:
            self._channel_visibilities.setdefault((u.platform, u.workspace_id, u.channel_id), Counter())[
                u.visibility
            ] += 1
            for mid in u.message_ids:
                self._message_units.setdefault((u.platform, u.workspace_id, mid), set()).add(u.unit_id)
            if u.kind == "thread" and u.thread_id:
                self._thread_units.setdefault((u.platform, u.workspace_id, u.thread_id), set()).add(u.unit_id)
            elif u.kind == "window":
                self._window_units.setdefault((u.platform, u.workspace_id, u.channel_id), {})[u.unit_id] = (
                    u.ts_start,
                    u.ts_end,
                )

    def _remove_local(self, unit_ids: Iterable[str]) -> None:
        unit_ids = list(dict.fromkeys(unit_ids))  # each unit's counts go once
        for uid in unit_ids:
            unit = self.bm25.get(uid)
            if unit is None:
                continue
            channel = (unit.platform, unit.workspace_id, unit.channel_id)
            seen = self._channel_visibilities.get(channel)
            if seen is not None:
                seen[unit.visibility] -= 1
                if seen[unit.visibility] <= 0:
                    del seen[unit.visibility]
                if not seen:
                    del self._channel_visibilities[channel]
            for mid in unit.message_ids:
                holders = self._message_units.get((unit.platform, unit.workspace_id, mid))
                if holders is not None:
                    holders.discard(uid)
                    if not holders:
                        del self._message_units[(unit.platform, unit.workspace_id, mid)]
            # Emptied entries go too: a long-running bot sees many threads deleted or made unindexable.
            if unit.kind == "thread" and unit.thread_id:
                key = (unit.platform, unit.workspace_id, unit.thread_id)
                units = self._thread_units.get(key)
                if units is not None:
                    units.discard(uid)
                    if not units:
                        del self._thread_units[key]
            elif unit.kind == "window":
                key = (unit.platform, unit.workspace_id, unit.channel_id)
                spans = self._window_units.get(key)
                if spans is not None:
                    spans.pop(uid, None)
                    if not spans:
                        del self._window_units[key]
        self.bm25.remove(unit_ids)

    def units_with_message(self, platform: str, workspace_id: str, message_id: str) -> list[Unit]:
        """Indexed units that quote a message."""
        ids = self._message_units.get((platform, workspace_id, message_id), set())
        return [u for u in (self.bm25.get(i) for i in ids) if u is not None]

    def visibility_differs(self, platform: str, workspace_id: str, channel_id: str, visibility: str) -> bool:
        """Whether any indexed unit of the channel carries another visibility than ``visibility``
        (its stored one): then the whole channel must be rebuilt. Every unit counts, not the last
        one written: a message of a channel just made private, indexed before its older units were
        rebuilt, must not hide those older, still public, units."""
        seen = self._channel_visibilities.get((platform, workspace_id, channel_id))
        return seen is not None and any(v != visibility for v in seen)

    def units_with_author(self, platform: str, workspace_id: str, user_id: str) -> list[Unit]:
        """Indexed units holding messages by a member (``/forget-me`` rebuilds them)."""
        return [
            u
            for u in self.bm25.units()
            if u.platform == platform and u.workspace_id == workspace_id and user_id in u.author_ids
        ]

    def units_in_channel(self, platform: str, workspace_id: str, channel_id: str) -> list[Unit]:
        """Indexed units of one channel (a channel the policy now denies is rebuilt to nothing)."""
        return [
            u
            for u in self.bm25.units()
            if u.platform == platform and u.workspace_id == workspace_id and u.channel_id == channel_id
        ]

    def units_in_channel_or_thread(self, platform: str, workspace_id: str, channel_id: str) -> list[Unit]:
        """Indexed units of a channel, or of a thread with that id (a Discord thread is a channel of
        its own, its messages stored under the parent)."""
        return [
            u
            for u in self.bm25.units()
            if u.platform == platform
            and u.workspace_id == workspace_id
            and (u.channel_id == channel_id or u.thread_id == channel_id)
        ]

    def touch_thread(self, platform: str, workspace_id: str, thread_id: str, channel_id: str) -> None:
        """Mark a thread for rebuild (its messages or facts, such as being solved, changed)."""
        self._pending.threads[(platform, workspace_id, thread_id)] = channel_id
        if self._pending.since is None:
            self._pending.since = _epoch(self.clock)

    def touch_unit(self, unit: Unit) -> None:
        """Mark the source of an indexed unit for rebuild."""
        _mark(self._pending, unit, _epoch(self.clock))


def _mark(pending: _Pending, unit: Unit, now: float) -> None:
    """Add the group ``unit`` was built from (its thread, or its stretch of channel) to ``pending``."""
    if unit.kind == "thread" and unit.thread_id:
        pending.threads[(unit.platform, unit.workspace_id, unit.thread_id)] = unit.channel_id
    elif unit.kind == "window":
        pending.stretches.setdefault((unit.platform, unit.workspace_id, unit.channel_id), []).extend(
            [unit.ts_start, unit.ts_end]
        )
    if pending.since is None:
        pending.since = now


class _OptOutCache:
    """Opted-out members per workspace, read once per indexing pass (the flag changes rarely)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._sets: dict[tuple[str, str], set[str]] = {}

    async def filter(self, messages: list[MessageRow]) -> list[MessageRow]:
        out = []
        for m in messages:
            key = (m.platform, m.workspace_id)
            if key not in self._sets:
                self._sets[key] = await self._store.members_with_setting(m.platform, m.workspace_id, "opted_out", True)
            if m.author_id not in self._sets[key]:
                out.append(m)
        return out


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``spans`` as sorted, disjoint intervals (a flush may carry thousands of touches)."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _overlaps(spans: list[tuple[float, float]], start: float, end: float) -> bool:
    """Whether ``[start, end]`` meets any of the sorted, disjoint ``spans``."""
    i = bisect.bisect_right(spans, (end, math.inf))  # spans starting at or before ``end``
    return i > 0 and spans[i - 1][1] >= start


def _epoch(clock: Clock) -> float:
    return clock.now().timestamp()


async def _channel(store: Store, p: str, ws: str, cid: str) -> ChannelRow:
    row = await store.get_channel(p, ws, cid)
    # Unknown channels are treated as private: never leak a channel we know nothing about.
    return row or ChannelRow(p, ws, cid, cid, "private")


async def _thread_roots(store: Store, p: str, ws: str, cid: str, message_ids: Sequence[str]) -> set[str]:
    """Those of ``message_ids`` that live messages of the channel reply to in a thread."""
    rows = await fetch_in(
        store.db,
        "SELECT DISTINCT thread_id FROM messages WHERE platform = ? AND workspace_id = ? AND channel_id = ? "
        "AND deleted = 0 AND thread_id IN",
        (p, ws, cid),
        message_ids,
    )
    return {str(r[0]) for r in rows}


async def _all_channels(store: Store) -> list[ChannelRow]:
    rows = await store.db.fetchall(
        "SELECT platform, workspace_id, channel_id, name, visibility, is_forum FROM channels ORDER BY platform, workspace_id, channel_id"
    )
    return [ChannelRow(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]


async def _thread_facts(store: Store, channel: ChannelRow, thread_id: str | None = None) -> dict[str, tuple[str, bool]]:
    """``thread_id -> (title, solved)`` for the channel's threads (or one thread) that have either."""
    sql = (
        "SELECT thread_id, title, solved_message_id FROM threads WHERE platform = ? AND workspace_id = ? "
        "AND (title <> '' OR solved_message_id IS NOT NULL)"
    )
    params: list[Any] = [channel.platform, channel.workspace_id]
    if thread_id is not None:
        sql += " AND thread_id = ?"
        params.append(thread_id)
    else:
        sql += " AND channel_id = ?"
        params.append(channel.channel_id)
    return {r[0]: (r[1] or "", bool(r[2])) for r in await store.db.fetchall(sql, params)}


def _with_facts(units: list[Unit], facts: dict[str, tuple[str, bool]]) -> list[Unit]:
    if not facts:
        return units
    from dataclasses import replace

    out = []
    for u in units:
        title, solved = facts.get(u.thread_id or "", ("", False))
        if title:
            u = replace(u, title=title)
        if solved:
            u = replace(u, extra={**u.extra, SOLVED_FLAG: "1"})
        out.append(u)
    return out

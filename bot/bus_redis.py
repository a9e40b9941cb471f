"""Redis Streams implementation of :class:`bot.bus.EventBus`, for running Guildhall on many processes.

Wire layout (``prefix`` defaults to ``guildhall``):

* one stream per event family, ``{prefix}:ev:{family}`` (``messages``, ``reactions``, ``members``,
  ``commands``, ``actions``...), each entry ``{"type": ..., "json": <bot.events.to_json>}``;
* one **consumer group per subscription** (e.g. ``activity.counters``): every subscription sees each
  event once, and N worker processes running the same subscription share the load;
* ``XACK`` only after the handler returns; entries left pending by a dead worker are taken over with
  ``XAUTOCLAIM`` once idle for ``claim_idle_ms``;
* an entry delivered ``max_deliveries`` times without success is a poison event: it is copied with the
  error to the dead-letter stream ``{prefix}:dlq`` and acknowledged (``guildhall dlq list|replay``).
  The error is the exception's type, where it was raised and its message with the event's texts,
  names and member ids masked (:mod:`bot.dead_letters`), never ``repr(exc)``, which may quote them;
  ``/forget-me`` (:meth:`RedisStreamsBus.forget_author`) deletes the member's dead letters and masks
  them in the errors of the others;
* streams are capped with ``MAXLEN ~ maxlen`` (approximate trimming is O(1) amortised). With the default
  1,000,000 entries per family, retention is "the last million events of each family": a worker group
  that falls further behind than that loses the oldest entries, so size it above the longest outage
  you want to survive;
* inbound events are de-duplicated across processes with ``SET NX`` on ``{prefix}:seen:{event_id}``
  (7-day expiry), so a Slack retry hitting another gateway process is still dropped;
* when Redis is unreachable, ``publish`` keeps events in a bounded local buffer and a flusher task
  re-sends them in order once Redis is back: at-least-once delivery plus ``event_id`` idempotency
  means nothing is lost and nothing is applied twice. Events still buffered when the process stops
  are written to a spill file (JSON lines, ``spill_path``) and sent first by the next start; while
  buffered they are also journaled beside it, so a process killed outright (SIGKILL, OOM) leaves
  them for the next start too (:mod:`bot.bus_journal`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.bus import BatchHandler, BusStats, Handler, is_transient_failure, retry_in_halves
from bot.bus_journal import BufferJournal, Entry, append_entries, claim_orphans, read_entries
from bot.dead_letters import Gram, describe_failure, failure_report, grams_of, member_strings, redact
from bot.events import (
    Action,
    ButtonClicked,
    ChannelDeleted,
    ChannelSeen,
    CommandInvoked,
    Event,
    EventDecodeError,
    InboundEvent,
    MemberJoined,
    MemberLeft,
    MemberLeftChannel,
    MemberUpdated,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    ReactionAdded,
    ReactionRemoved,
    ThreadCreated,
    UserRef,
    WorkspaceInstalled,
    WorkspaceRemoved,
    WorkspacesConnected,
    from_json,
    to_json,
)
from bot.message_ids import upgraded
from bot.privacy.forgotten import subject_of
from bot.tasks import cancel_until_done
from bot.url_secrets import without_password
from bot.words import nfc

log = logging.getLogger(__name__)

FAMILIES: dict[type[Event], str] = {
    MessagePosted: "messages",
    MessageEdited: "messages",
    MessageDeleted: "messages",
    ThreadCreated: "messages",
    # With the messages: a channel's deletion is read after the posts that came before it.
    ChannelDeleted: "messages",
    ReactionAdded: "reactions",
    ReactionRemoved: "reactions",
    MemberJoined: "members",
    MemberLeft: "members",
    # With the joins and the member lists: a leave, a re-join and a re-read are read in that order.
    MemberLeftChannel: "members",
    MemberUpdated: "members",
    ChannelSeen: "members",
    # With ChannelSeen: a Discord server left and joined again is read in that order.
    WorkspaceRemoved: "members",
    # With the removal: an uninstall and the reinstall after it are read in that order.
    WorkspaceInstalled: "members",
    # With them: a guild missing at connect, then joined again (ChannelSeen), is read in that order.
    WorkspacesConnected: "members",
    CommandInvoked: "commands",
    ButtonClicked: "commands",
}
_TRANSIENT = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
# Redis is up but refuses writes for now: a replica not yet promoted during a failover (READONLY),
# or maxmemory reached (OOM). Publishing buffers and retries these like an outage: raised, the
# event would be lost to the caller (and the flusher would die with the buffer unsent).
_UNWRITABLE = (*_TRANSIENT, ReadOnlyError, OutOfMemoryError)
# The same refusals that redis-py raises as a plain ResponseError, told apart by the reply's first
# word: a failed RDB save with stop-writes-on-bgsave-error (a full disk), too few replicas for
# min-replicas-to-write, a replica whose master is down, a cluster slot in migration.
_REFUSALS = frozenset({"MISCONF", "NOREPLICAS", "MASTERDOWN", "TRYAGAIN", "READONLY", "OOM", "LOADING", "BUSY"})

# A handler failing because a service it needs is down for now (PostgreSQL restarting or failing
# over, a dropped connection, the store's own timeout) is not a poison event: counted as a failed
# delivery, every event read during a 2.5-minute restart went to the dead-letter stream, its
# message missing from the store until someone replayed it. Such a failure is retried in place
# (the entry kept claimed, this worker reading nothing else meanwhile), with a capped backoff and
# no delivery counted, for up to OUTAGE_RETRY_S; past that it counts as a failure like any other.
OUTAGE_RETRY_S = 900.0
_OUTAGE_BACKOFF_MAX_S = 30.0


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says a service is unreachable for now rather than that
    the event is wrong: the in-process bus's rule (:func:`bot.bus.is_transient_failure`: connection
    and socket errors, the store's timeout, SQLite's "database is locked", PostgreSQL refusing or
    dropping connections), and redis-py's connection errors and time-outs."""
    if is_transient_failure(exc):
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (RedisConnectionError, RedisTimeoutError)):
            return True
        current = current.__cause__ or current.__context__
    return False


def _refuses_writes(exc: BaseException) -> bool:
    """Whether ``exc`` means Redis cannot take writes for now (buffer and retry) rather than that
    this write is wrong."""
    if isinstance(exc, _UNWRITABLE):
        return True
    return isinstance(exc, ResponseError) and str(exc).split(" ", 1)[0].upper() in _REFUSALS


# One atomic step per event: the de-duplication key is set only together with the XADD. With two
# round trips (SET NX, then XADD) a publish that failed, was cancelled or crashed in between left
# the key set and no event: every retry (a platform redelivery, the import run again) was then
# dropped as a duplicate for the key's whole TTL.
# KEYS: per event its dedupe key (when ARGV's flag says so), then its stream.
# ARGV: ttl, maxlen, then per event a flag ("1" checks for duplicates) and the payload.
# Returns {added flags...} or, when a write fails, {"error", events decided, events added, message}:
# what came before stays added, the failed event's dedupe key is removed again.
_PUBLISH_LUA = """
local k = 1
local added = {}
local count = 0
for i = 3, #ARGV, 2 do
  local seen = nil
  local fresh = true
  if ARGV[i] == '1' then
    seen = KEYS[k]
    k = k + 1
    local r = redis.pcall('SET', seen, '1', 'NX', 'EX', ARGV[1])
    if type(r) == 'table' and r.err then return {'error', #added, count, r.err} end
    fresh = r ~= false
  end
  if fresh then
    local r = redis.pcall('XADD', KEYS[k], 'MAXLEN', '~', ARGV[2], '*', 'json', ARGV[i + 1])
    if type(r) == 'table' and r.err then
      if seen then redis.pcall('DEL', seen) end
      return {'error', #added, count, r.err}
    end
    count = count + 1
  end
  k = k + 1
  added[#added + 1] = fresh and 1 or 0
end
return added
"""
# Events per script call: one call blocks Redis while it runs, so a 20,000-event import batch goes
# as several calls in one pipeline.
_PUBLISH_CHUNK = 256
# Defaults of drain()'s deadline and close()'s wait for the buffer, module-level so that a test of a
# command (which builds its bus from settings) can shorten them.
DRAIN_TIMEOUT_S = 30.0
CLOSE_FLUSH_S = 5.0
_FORGET_PAGE = 1000
# Most words a forget's scrub looks for in each dead letter's text before splitting it into words.
_SCRUB_PREFILTER_WORDS = 64
# The dead-letter stream's cap, and the bytes of a failure's description a dead letter keeps.
_DLQ_MAXLEN = 100_000
_DLQ_ERROR_BYTES = 2000
# Write a dead letter again with another error (forget_author's scrub) and delete the old one, in one
# step: a crash in between must neither lose the other member's event nor keep both copies. Left
# alone (0) when the letter is gone (replayed) or its error is no longer the one read.
# KEYS: the dead-letter stream. ARGV: the letter's id, the error read, the new error, the cap.
_SCRUB_LUA = """
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #rows == 0 then return 0 end
local fields = rows[1][2]
local args = {KEYS[1], 'MAXLEN', '~', ARGV[4], '*'}
local found = false
for i = 1, #fields, 2 do
  local value = fields[i + 1]
  if fields[i] == 'error' then
    if value ~= ARGV[2] then return 0 end
    value = ARGV[3]
    found = true
  end
  args[#args + 1] = fields[i]
  args[#args + 1] = value
end
if not found then return 0 end
redis.call('XADD', unpack(args))
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
"""
# Take a dead letter out and re-publish its event (``dlq replay``), in one step: a forget_author
# between a read and separate writes rewrote the letter under a new id, and the replay then deleted
# only the old one, so the scrubbed copy was replayed again. Now a letter is replayed or scrubbed,
# never both. 0 when the letter is gone (replayed, or moved by a scrub) or is not for that stream.
# KEYS: the dead-letter stream, the event's stream. ARGV: the letter's id, the stream's cap.
_REPLAY_LUA = """
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #rows == 0 then return 0 end
local fields = rows[1][2]
local payload, stream = nil, nil
for i = 1, #fields, 2 do
  if fields[i] == 'json' then payload = fields[i + 1] end
  if fields[i] == 'stream' then stream = fields[i + 1] end
end
if not payload or payload == '' or stream ~= KEYS[2] then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'json', payload)
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
"""

# Claim a key for one process (claim_once), or take over the claim of a process that is gone.
# Every process holding claims keeps ``{prefix}:alive:{consumer}`` set with a short expiry (half of
# claim_idle_ms, renewed every sixth); a claim whose holder's key has expired was left by a process
# killed outright (SIGKILL, OOM, a lost node) and is taken over. Without that, a mention whose
# answer died with its worker stayed claimed for minutes: the worker that took over the pending
# entry after claim_idle_ms found the question claimed, returned, and the member got no answer.
# KEYS: the claim, this process's liveness key. ARGV: this consumer, the claim's ttl (s), the
# liveness keys' prefix, the liveness ttl (ms). Returns 1 (claimed), 2 (taken over) or 0.
_CLAIM_LUA = """
redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. holder) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 2
end
return 0
"""


def family_of(event_type: type[Event]) -> str:
    """The stream family an event class travels on."""
    for cls in event_type.__mro__:
        if cls in FAMILIES:
            return FAMILIES[cls]
    if issubclass(event_type, Action):
        return "actions"
    return "other"


def families_for(event_types: Sequence[type[Event]]) -> list[str]:
    """Every family that may carry instances of ``event_types`` (base classes fan out)."""
    found: list[str] = []
    for wanted in event_types:
        if wanted in (Event, InboundEvent):
            candidates = [*sorted(set(FAMILIES.values())), "actions"]
        elif wanted is Action:
            candidates = ["actions"]
        else:
            candidates = [family_of(wanted)]
        for fam in candidates:
            if fam not in found:
                found.append(fam)
    return found


@dataclass(slots=True)
class _RedisSubscription:
    name: str
    event_types: tuple[type[Event], ...]
    handler: Any
    batch: bool
    max_batch: int
    concurrency: int
    streams: list[str]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class RedisStreamsBus:
    """Event bus on Redis Streams consumer groups.

    Args:
        url: Redis URL.
        prefix: key prefix for streams, groups and dedupe keys.
        maxlen: approximate cap of each stream.
        claim_idle_ms: pending entries idle this long are reclaimed from dead consumers.
        max_deliveries: deliveries before an entry goes to the dead-letter stream.
        consumer: this process's consumer name (unique per process by default).
        block_ms: how long a read blocks waiting for new entries.
        buffer_size: events kept locally while Redis is unreachable; ``publish`` waits when full.
        spill_path: where events still buffered at :meth:`close` are written, to be sent by the
            next :meth:`start` (``None``: they are logged as lost).
        close_flush_s: how long :meth:`close` waits for Redis to take the buffer before spilling it
            (default :data:`CLOSE_FLUSH_S`).
        drain_timeout_s: how long :meth:`close` lets the handlers already running finish before it
            cancels them (default :data:`DRAIN_TIMEOUT_S`, as the in-process bus).
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "guildhall",
        maxlen: int = 1_000_000,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
        consumer: str | None = None,
        block_ms: int = 200,
        buffer_size: int = 100_000,
        dedupe_ttl_s: int = 7 * 24 * 3600,
        spill_path: Path | None = None,
        close_flush_s: float | None = None,
        drain_timeout_s: float | None = None,
    ) -> None:
        self._url = url
        self.prefix = prefix
        self._maxlen = maxlen
        self._claim_idle_ms = claim_idle_ms
        self._max_deliveries = max_deliveries
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._block_ms = block_ms
        self._dedupe_ttl_s = dedupe_ttl_s
        # Bounded socket waits: a Redis that dies mid-command (or a half-open connection) must end
        # in an error the workers retry, not a read that waits forever. The read timeout leaves room
        # for XREADGROUP's own BLOCK.
        self._redis: aioredis.Redis = aioredis.from_url(
            url, decode_responses=False, socket_connect_timeout=5, socket_timeout=block_ms / 1000 + 10
        )
        self._subs: list[_RedisSubscription] = []
        self._buffer: deque[tuple[str, bytes]] = deque()
        self._buffer_size = buffer_size
        self._spill_path = spill_path
        self._journal = BufferJournal(spill_path, self.consumer) if spill_path is not None else None
        self._close_flush_s = CLOSE_FLUSH_S if close_flush_s is None else close_flush_s
        self._drain_timeout_s = DRAIN_TIMEOUT_S if drain_timeout_s is None else drain_timeout_s
        self._buffer_has_room = asyncio.Event()
        self._buffer_has_room.set()
        self._flusher: asyncio.Task[None] | None = None
        # This process's liveness key, kept while it may hold claims (see _CLAIM_LUA): it expires
        # before a dead worker's pending entries are reclaimed (claim_idle_ms), so the worker
        # taking them over may also take over the claims of the attempt that died.
        self._alive_ms = max(claim_idle_ms // 2, 100)
        self._heartbeat: asyncio.Task[None] | None = None
        self._started = False
        self._closed = False
        # Set by close(): workers read nothing more, the handlers already running may finish.
        self._stop_requested = asyncio.Event()
        self._inflight = 0
        self._no_handlers = asyncio.Event()
        self._no_handlers.set()
        # When this process's workers last found Redis unreachable (None: reading fine). One warning
        # per outage, not one per worker every half second (680 lines in 10 s from one worker).
        self._read_down_since: float | None = None
        self.stats = BusStats()

    # -- keys ------------------------------------------------------------------------------------
    def stream(self, family: str) -> str:
        """Stream key of a family."""
        return f"{self.prefix}:ev:{family}"

    @property
    def dlq_stream(self) -> str:
        """Dead-letter stream key."""
        return f"{self.prefix}:dlq"

    # -- subscription ----------------------------------------------------------------------------
    def subscribe(self, event_type: type[Event], handler: Handler, *, name: str, concurrency: int = 1) -> None:
        """Join consumer group ``name`` on the streams carrying ``event_type``."""
        self._add(_RedisSubscription(name, (event_type,), handler, False, 1, max(1, concurrency), []))

    def subscribe_batch(
        self, event_types: tuple[type[Event], ...], handler: BatchHandler, *, name: str, max_batch: int = 500
    ) -> None:
        """Join consumer group ``name``; the handler receives up to ``max_batch`` events per call."""
        self._add(_RedisSubscription(name, event_types, handler, True, max_batch, 1, []))

    def _add(self, sub: _RedisSubscription) -> None:
        if any(s.name == sub.name for s in self._subs):
            raise ValueError(f"duplicate subscription name: {sub.name}")
        sub.streams = [self.stream(f) for f in families_for(sub.event_types)]
        self._subs.append(sub)
        if self._started:
            asyncio.get_running_loop().create_task(self._start_sub(sub))

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Create groups (from the stream start, so history published before is not missed) and workers."""
        if self._started:
            return
        self._started = True
        self._unspill()
        for sub in self._subs:
            await self._start_sub(sub)

    async def _start_sub(self, sub: _RedisSubscription) -> None:
        try:
            for stream in sub.streams:
                await self._ensure_group(stream, sub.name)
        except _TRANSIENT as exc:
            # Start anyway: events published meanwhile are buffered (a gateway keeps taking platform
            # traffic), and the workers create the groups once Redis answers (the NOGROUP path).
            self._note_read_failure(exc)
        for i in range(sub.concurrency):
            consumer = self.consumer if sub.concurrency == 1 else f"{self.consumer}#{i}"
            sub.tasks.append(asyncio.create_task(self._worker(sub, consumer), name=f"redis-bus:{sub.name}:{i}"))

    async def _ensure_group(self, stream: str, group: str) -> None:
        try:
            await self._redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def publish(self, event: Event) -> bool:
        """XADD the event to its family's stream (buffering locally while Redis is down)."""
        return await self.publish_many((event,)) == 1

    async def publish_many(self, events: Sequence[Event]) -> int:
        """Add ``events`` to their families' streams in one round trip: a script per chunk checks each
        inbound event's de-duplication key (one seen within the TTL is dropped) and appends it in
        one atomic step. While Redis is down or refuses writes, events are buffered locally and
        flushed in order when it is back. Returns how many were published (duplicates not counted).

        If Redis fails part-way, the events it had not taken are buffered and re-sent; none is
        lost. A write that is itself wrong (a key of another type) raises, after the events before
        it were added and with the failed one's de-duplication key removed, so a retry is taken.
        """
        if self._closed:
            raise RuntimeError("bus is closed")
        if not events:
            return 0
        out = [
            (
                # With events already buffered, Redis was unreachable a moment ago and these must
                # queue behind them anyway (order): the flusher checks their de-duplication keys.
                self._seen_key(e) if not self._buffer else None,
                self.stream(family_of(type(e))),
                # "replace": a lone surrogate that reached here (the privacy gate makes text valid)
                # must cost one character, not the publish.
                to_json(e).encode(errors="replace"),
            )
            for e in events
        ]
        left = list(range(len(out)))  # events Redis has not taken: buffered, in order
        added = 0
        if not self._buffer:
            error: BaseException | None = None
            try:
                added, left, error = await self._publish_atomically(out)
            except Exception as exc:  # the round trip itself failed (connection lost, timeout)
                if not _refuses_writes(exc):
                    raise
                error = exc
            if error is not None:
                if not _refuses_writes(error):
                    raise error
                log.warning("redis cannot take events (%s); buffering them until it can", error)
        self.stats.duplicates += len(out) - added - len(left)
        for i in left:
            await self._enqueue(out[i][1], out[i][2])
        published = added + len(left)
        self.stats.published += published
        return published

    async def _publish_atomically(
        self, out: list[tuple[str | None, str, bytes]]
    ) -> tuple[int, list[int], BaseException | None]:
        """Run the publish script over ``out`` in chunks, in one pipeline. Returns how many events
        were added, the indexes of those Redis did not take, and the first error it gave."""
        pipe = self._redis.pipeline(transaction=False)
        for start in range(0, len(out), _PUBLISH_CHUNK):
            keys: list[str] = []
            args: list[Any] = [self._dedupe_ttl_s, self._maxlen]
            for seen, stream, payload in out[start : start + _PUBLISH_CHUNK]:
                if seen is not None:
                    keys.append(seen)
                keys.append(stream)
                args += [b"1" if seen is not None else b"0", payload]
            pipe.eval(_PUBLISH_LUA, len(keys), *keys, *args)
        replies = await pipe.execute(raise_on_error=False)
        added = 0
        left: list[int] = []
        error: BaseException | None = None
        for n, reply in enumerate(replies):
            start, end = n * _PUBLISH_CHUNK, min((n + 1) * _PUBLISH_CHUNK, len(out))
            if isinstance(reply, Exception):  # the chunk failed as a whole (the script never ran)
                left.extend(range(start, end))
                error = error or reply
            elif reply and _s(reply[0]) == "error":
                added += int(reply[2])
                left.extend(range(start + int(reply[1]), end))
                error = error or ResponseError(_s(reply[3]))
            else:
                added += sum(int(flag) for flag in reply)
        return added, left, error

    def _seen_key(self, event: Event) -> str | None:
        """The de-duplication key of an inbound event (None: an action, never de-duplicated)."""
        return f"{self.prefix}:seen:{event.event_id}" if isinstance(event, InboundEvent) else None

    async def _flush_one(self, stream: str, payload: bytes) -> None:
        """Send one buffered event through the publish script: its de-duplication key is checked
        and set with the XADD, as a direct publish does. Unchecked, a platform's redelivery of an
        event buffered during an outage (the gateway's retry, another gateway process) was added
        twice once Redis was back, and a mention was answered twice. The key is read from the
        payload, so events spilled or journaled by an earlier process are checked too."""
        try:
            seen = self._seen_key(from_json(payload))
        except Exception:  # noqa: BLE001 - an entry that does not decode is sent unchecked, as it came
            seen = None
        keys = [seen, stream] if seen is not None else [stream]
        flag = b"1" if seen is not None else b"0"
        reply: Any = await self._redis.eval(
            _PUBLISH_LUA, len(keys), *keys, self._dedupe_ttl_s, self._maxlen, flag, payload
        )
        if reply and _s(reply[0]) == "error":
            raise ResponseError(_s(reply[3]))
        if reply and int(reply[0]) == 0:
            self.stats.duplicates += 1

    async def _enqueue(self, stream: str, payload: bytes) -> None:
        # A publish that was still trying Redis, or waiting for room, when close() spilled the
        # buffer goes straight to the spill file: buffered now, it would never be flushed or spilled.
        while not self._closed and len(self._buffer) >= self._buffer_size:
            self._buffer_has_room.clear()
            await self._buffer_has_room.wait()
        if self._closed:
            if not self._write_spill([(stream, payload)]):
                raise RuntimeError("bus is closed")
            return
        self._buffer.append((stream, payload))
        if self._journal is not None:
            self._journal.append([(stream, payload)])
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="redis-bus:flush")

    async def _flush(self) -> None:
        delay = 0.05
        while self._buffer and not self._closed:
            item = self._buffer[0]
            try:
                await self._flush_one(*item)
            except Exception as exc:  # noqa: BLE001 - any error: see below
                # Kept and retried whatever the error: a flusher that died would strand the buffer.
                if not _refuses_writes(exc) and delay < 2.0:
                    log.error("redis refuses a buffered event (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if self._buffer and self._buffer[0] is item:  # close() may have spilled the buffer meanwhile
                self._buffer.popleft()
            delay = 0.05
            self._buffer_has_room.set()
        if not self._buffer:
            if self._journal is not None:
                self._journal.drop()
            log.info("redis reachable again; buffered events flushed")

    def _spill(self) -> None:
        """Append the events still buffered to the spill file, for the next start to send."""
        if self._buffer and self._write_spill(self._buffer):
            log.warning(
                "redis still unreachable: %d buffered events written to %s", len(self._buffer), self._spill_path
            )
            self._buffer.clear()
        if self._journal is not None:
            if self._buffer:  # the spill failed: the journal keeps them for the next start
                self._journal.release()
            else:
                self._journal.drop()
        self._buffer_has_room.set()  # a publish waiting for room learns that the bus closed

    def _write_spill(self, items: Iterable[Entry]) -> bool:
        """Append ``items`` to the spill file; False (logged) when there is none or it cannot be written."""
        items = list(items)
        if self._spill_path is None:
            log.error("closing with %d events still buffered for redis; they are lost", len(items))
            return False
        try:
            append_entries(self._spill_path, items)
        except OSError as exc:
            log.error("could not spill %d buffered events to %s: %s", len(items), self._spill_path, exc)
            return False
        return True

    def _unspill(self) -> None:
        """Queue the events earlier processes spilled at close or left journaled when they died,
        ahead of anything published from now on."""
        path = self._spill_path
        if path is None or self._journal is None:
            return
        count = 0
        # Claimed by rename, so two processes sharing the folder never both send one file.
        claimed = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:6]}")
        try:
            os.replace(path, claimed)
        except FileNotFoundError:
            pass
        else:
            count += self._adopt(read_entries(claimed))
            claimed.unlink()
        for orphan, entries in claim_orphans(path, self._journal.path):
            log.warning("a process died with %d events buffered for redis; sending them from %s", len(entries), orphan)
            count += self._adopt(entries)
        if count:
            log.info("sending %d events spilled by an earlier process", count)
            if self._flusher is None or self._flusher.done():  # two flushers would send each event twice
                self._flusher = asyncio.create_task(self._flush(), name="redis-bus:flush")

    def _adopt(self, entries: list[Entry]) -> int:
        """Buffer (and journal) ``entries`` another process left; its file may be deleted after this."""
        self._buffer.extend(entries)
        if entries and self._journal is not None:
            self._journal.append(entries)
        return len(entries)

    @property
    def buffered(self) -> int:
        """Events waiting locally for Redis."""
        return len(self._buffer)

    async def health(self, timeout_s: float = 1.0) -> dict[str, Any]:
        """Redis reachability (a ``PING`` bounded by ``timeout_s``) and the local buffer, for ``/healthz``.

        Never raises: an unreachable or slow Redis is reported as ``"redis": "down"``. ``buffer_full``
        means publishers are waiting for room, i.e. this process has stopped taking events.
        """
        try:
            await asyncio.wait_for(self._redis.ping(), timeout_s)
            redis = "up"
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - any failure to answer a PING means "down" to a probe
            redis = "down"
        return {
            "bus": "redis",
            "redis": redis,
            "buffered": len(self._buffer),
            "buffer_full": len(self._buffer) >= self._buffer_size,
        }

    @property
    def spill_path(self) -> Path | None:
        """Where :meth:`close` writes the events Redis has not taken (``None``: nowhere)."""
        return self._spill_path

    async def drain(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - a test-facing deadline
        """Wait until the local buffer is flushed and every group has read and acked everything.

        Raises:
            TimeoutError: not done within ``timeout`` seconds (default :data:`DRAIN_TIMEOUT_S`), e.g.
                because Redis is unreachable; the events are not lost (see :attr:`buffered`).
        """
        timeout = DRAIN_TIMEOUT_S if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._buffer and self._inflight == 0 and await self._groups_idle():
                return
            await asyncio.sleep(0.01)
        raise TimeoutError(f"redis bus did not drain in time ({timeout:g} s; {len(self._buffer)} events buffered)")

    async def _groups_idle(self) -> bool:
        for sub in self._subs:
            for stream in sub.streams:
                try:
                    groups = await self._redis.xinfo_groups(stream)
                except ResponseError:
                    continue
                except _TRANSIENT:
                    return False  # Redis went away: not idle; drain() waits for it until its deadline
                for g in groups:
                    if _s(g.get("name")) != sub.name:
                        continue
                    if int(g.get("pending", 0)) > 0 or int(g.get("lag") or 0) > 0:
                        return False
                    if g.get("lag") is None and await self._unread_after(stream, g.get("last-delivered-id")):
                        return False
        return True

    async def _unread_after(self, stream: str, last_delivered: Any) -> bool:
        """Whether ``stream`` holds an entry after ``last_delivered``. Redis reports a group's lag as
        unknown (nil) once entries were deleted from the stream (``/forget-me``, trimming): counted
        as 0, drain() returned with entries still unread."""
        try:
            rows = await self._redis.xrange(stream, min=f"({_s(last_delivered or b'0-0')}", max="+", count=1)
        except (ResponseError, *_TRANSIENT):
            return True  # cannot tell: not idle (drain() waits until its deadline)
        return bool(rows)

    @property
    def _stopping(self) -> bool:
        """Whether close() has begun: workers read nothing more (see :attr:`_stop_requested`)."""
        return self._stop_requested.is_set()

    async def close(self) -> None:
        """Stop reading, let the handlers already running finish (up to ``drain_timeout_s``: the
        entries they hold are acked, and their replies published), flush the buffer (briefly), stop
        workers and close the connection.

        A handler still running at the deadline is cancelled: its entry stays pending and a live
        consumer takes it over after ``claim_idle_ms``.
        """
        if self._closed:
            return
        self._stop_requested.set()
        if self._inflight:
            try:
                await asyncio.wait_for(self._no_handlers.wait(), self._drain_timeout_s)
            except TimeoutError:
                log.warning(
                    "redis bus: %d handlers still running after %g s; cancelling them (their events are "
                    "retried by another worker)",
                    self._inflight,
                    self._drain_timeout_s,
                )
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            await asyncio.wait({flusher}, timeout=self._close_flush_s)
        self._closed = True
        if flusher is not None:
            await cancel_until_done([flusher], within_s=self._block_ms / 1000 + 5)
        self._spill()
        # A cancel can be lost (see cancel_until_done): about one in a hundred of a looping
        # XREADGROUP was, and close() then waited forever. So workers are cancelled until they
        # stop, and they also stop on ``_closed`` after their current read.
        stuck = await cancel_until_done([t for s in self._subs for t in s.tasks], within_s=self._block_ms / 1000 + 5)
        if stuck:
            log.error("%d redis bus workers did not stop; closing the connection under them", len(stuck))
        if self._heartbeat is not None:
            await cancel_until_done([self._heartbeat], within_s=5)
            try:
                # Gone: what this process still holds (a run it finished, an answer it logged) may
                # be taken over now; the store's records keep such work from being done twice.
                await self._redis.delete(self._alive_key)
            except Exception as exc:  # noqa: BLE001 - it expires by itself
                log.debug("redis bus: could not drop the liveness key: %s", exc)
        await self._redis.aclose()

    # -- consuming -------------------------------------------------------------------------------
    async def _worker(self, sub: _RedisSubscription, consumer: str) -> None:
        streams = {s: ">" for s in sub.streams}
        last_claim = 0.0
        # Set on NOGROUP (Redis restarted empty, a failover to a fresh replica, a flushed db): the
        # groups are re-created inside the guarded block below, because an error raised from an
        # ``except`` clause would escape the loop and end this worker, stalling the group for good.
        recreate_groups = False
        while not self._closed and not self._stopping:
            try:
                if recreate_groups:
                    for stream in sub.streams:
                        await self._ensure_group(stream, sub.name)
                    recreate_groups = False
                now = time.monotonic()
                if now - last_claim > self._claim_idle_ms / 1000 / 2:
                    last_claim = now
                    for stream in sub.streams:
                        await self._reclaim(sub, stream, consumer)
                reply: Any = await self._redis.xreadgroup(
                    sub.name,
                    consumer,
                    streams,  # type: ignore[arg-type]
                    count=sub.max_batch if sub.batch else 16,
                    block=self._block_ms,
                )
                if self._read_down_since is not None:
                    down_s = time.monotonic() - self._read_down_since
                    self._read_down_since = None
                    log.info("redis reachable again after %.0f s; reading resumes", down_s)
                if self._closed or self._stopping:
                    return  # entries read now stay pending and are reclaimed by a live consumer
                for stream_key, entries in reply or []:
                    if self._stopping:
                        return
                    await self._deliver(sub, _s(stream_key), entries, consumer)
            except asyncio.CancelledError:
                raise
            except _TRANSIENT as exc:
                self._note_read_failure(exc)
                # Back off while it stays down: every worker retrying twice a second helps nobody.
                down_s = time.monotonic() - (self._read_down_since or time.monotonic())
                await asyncio.sleep(min(0.5 + down_s / 10, 5.0))
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    recreate_groups = True
                    continue
                log.exception("redis error in %s", sub.name)
                await asyncio.sleep(0.5)
            except Exception:
                # A bug must not end the worker: its group would stall for good, with every
                # entry after this one unread. What was read stays pending and is retried.
                log.exception("redis bus worker %s failed; retrying", sub.name)
                await asyncio.sleep(0.5)

    @property
    def safe_url(self) -> str:
        """The Redis URL without its password, for logs."""
        return without_password(self._url)

    def _note_read_failure(self, exc: BaseException) -> None:
        """Log the first failed read of an outage as a warning (with where Redis was expected)."""
        if self._read_down_since is None:
            self._read_down_since = time.monotonic()
            log.warning("redis unreachable at %s (%s); workers retry until it is back", self.safe_url, exc)
        else:
            log.debug("redis still unreachable: %s", exc)

    async def _reclaim(self, sub: _RedisSubscription, stream: str, consumer: str) -> None:
        """Take over entries a dead (or slow) consumer left pending; send poison ones to the DLQ."""
        start = "0-0"
        while True:
            result: Any = await self._redis.xautoclaim(
                stream, sub.name, consumer, min_idle_time=self._claim_idle_ms, start_id=start, count=100
            )
            start, entries = _s(result[0]), list(result[1])
            if entries:
                await self._deliver(sub, stream, entries, consumer, reclaimed=True)
            if start == "0-0" or not entries or self._stopping:
                return

    async def _deliver(
        self, sub: _RedisSubscription, stream: str, entries: list[Any], consumer: str, *, reclaimed: bool = False
    ) -> None:
        decoded: list[tuple[str, Event]] = []
        for entry_id, fields in entries:
            eid = _s(entry_id)
            if fields is None:  # trimmed away while pending
                await self._redis.xack(stream, sub.name, eid)
                continue
            try:
                # upgraded(): an entry an earlier version wrote may carry bare Slack ts ids.
                event = upgraded(from_json(fields[b"json"]))
            except (EventDecodeError, KeyError) as exc:
                await self._dead_letter(sub, stream, eid, fields, f"undecodable: {exc}")
                continue
            except Exception as exc:  # an entry nothing can decode must not stop the group
                log.exception("undecodable entry %s on %s", eid, stream)
                await self._dead_letter(sub, stream, eid, fields, f"undecodable: {type(exc).__name__}: {exc}")
                continue
            if not isinstance(event, sub.event_types):
                await self._redis.xack(stream, sub.name, eid)  # another subscription's type in this family
                continue
            if reclaimed and await self._deliveries(stream, sub.name, eid) > self._max_deliveries:
                await self._dead_letter(sub, stream, eid, fields, "too many failed deliveries")
                continue
            decoded.append((eid, event))
        if not decoded:
            return
        self._inflight += 1
        self._no_handlers.clear()
        # A handler may outlast claim_idle_ms (an index rebuild, an answer on a busy CPU): its entries
        # are claimed again meanwhile, so no other consumer (this process's other slots included)
        # takes them for a dead one's and runs them a second time.
        beats = [asyncio.create_task(self._keep_claimed(stream, sub.name, consumer, [i for i, _ in decoded]))]
        try:
            if sub.batch:
                failure = await self._through_outages(sub, lambda: sub.handler([e for _, e in decoded]))
                if failure is None:
                    await self._redis.xack(stream, sub.name, *[i for i, _ in decoded])
                    self.stats.handled += len(decoded)
                    return
                if self._stopping and is_outage(failure):
                    return  # left pending, no delivery counted: a live worker retries it
                # Any other failure: retry in halves to isolate the poison.

                async def run(part: Sequence[tuple[str, Event]]) -> None:
                    await sub.handler([e for _, e in part])
                    await self._redis.xack(stream, sub.name, *[i for i, _ in part])
                    self.stats.handled += len(part)

                async def single(item: tuple[str, Event]) -> None:
                    await self._handle_one(sub, stream, item[0], item[1], lambda e: sub.handler([e]))

                await retry_in_halves(decoded, run, single)
            else:
                for eid, event in decoded:
                    if self._stopping:
                        break  # closing: the rest stay pending for a live consumer
                    await self._handle_one(sub, stream, eid, event, sub.handler)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._no_handlers.set()
            await cancel_until_done(beats, within_s=5)

    async def _keep_claimed(self, stream: str, group: str, consumer: str, ids: list[Any]) -> None:
        """Reset the idle time of ``ids`` every third of ``claim_idle_ms`` while they are handled
        (XCLAIM ... JUSTID by their own consumer: no delivery is counted; acked ids are skipped)."""
        while True:
            await asyncio.sleep(self._claim_idle_ms / 1000 / 3)
            try:
                await self._redis.xclaim(stream, group, consumer, min_idle_time=0, message_ids=ids, justid=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a missed beat risks a second run, never a lost event
                log.debug("redis bus: could not refresh %d in-flight entries on %s: %s", len(ids), stream, exc)

    async def _through_outages(self, sub: _RedisSubscription, attempt: Callable[[], Any]) -> Exception | None:
        """Run ``attempt()``; while it fails with an outage (:func:`is_outage`), wait (capped
        backoff) and run it again, for up to :data:`OUTAGE_RETRY_S` or until the bus closes.
        Returns the last failure (None: it succeeded)."""
        started = time.monotonic()
        delay = 0.5
        while True:
            failure: Exception | None = None
            try:
                await attempt()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                failure = exc
            if failure is None or not is_outage(failure) or self._stopping:
                return failure
            waited = time.monotonic() - started
            if waited >= OUTAGE_RETRY_S:
                log.error("%s: still failing after %.0f s of retries; counted as a failed delivery", sub.name, waited)
                return failure
            if delay == 0.5:
                # The type only: the message of a store's error may quote the event.
                log.warning(
                    "%s: a service is unreachable (%s); retrying without counting a failed delivery",
                    sub.name,
                    type(failure).__name__,
                )
            try:
                await asyncio.wait_for(self._stop_requested.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, _OUTAGE_BACKOFF_MAX_S)

    async def _handle_one(self, sub: _RedisSubscription, stream: str, eid: str, event: Event, call: Any) -> None:
        failure = await self._through_outages(sub, lambda: call(event))
        if failure is not None and self._stopping and is_outage(failure):
            return  # left pending, no delivery counted: a live worker retries it after claim_idle_ms
        # Outside an except block: a Redis error below must not chain the handler's failure, whose
        # message may quote the member, into the worker's traceback of that Redis error.
        if failure is not None:
            self.stats.failed += 1
            if len(self.stats.failures) < 1000:
                self.stats.failures.append((sub.name, type(event).__name__, describe_failure(failure, event)))
            log.error(
                "handler %s failed on %s (%s): %s",
                sub.name,
                type(event).__name__,
                event.event_id,
                failure_report(failure, event),
            )
            if await self._deliveries(stream, sub.name, eid) >= self._max_deliveries:
                # Not repr(exc): it may quote the member's message, which the letter must not keep
                # where /forget-me cannot find it (see bot.dead_letters).
                error = describe_failure(failure, event)
                await self._dead_letter(sub, stream, eid, {b"json": to_json(event).encode()}, error)
            return
        await self._redis.xack(stream, sub.name, eid)
        self.stats.handled += 1

    async def _deliveries(self, stream: str, group: str, entry_id: str) -> int:
        info = await self._redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
        return int(info[0]["times_delivered"]) if info else 0

    async def _dead_letter(self, sub: _RedisSubscription, stream: str, entry_id: str, fields: Any, error: str) -> None:
        """Copy the entry to the dead-letter stream with ``error`` (its first
        :data:`_DLQ_ERROR_BYTES` bytes) and ack it. A handler's failure comes here as
        :func:`bot.dead_letters.describe_failure` puts it (type, location, and the message without
        the event's personal strings), never as ``repr(exc)``; an undecodable entry's error is the
        decoder's, about the entry the letter keeps anyway."""
        payload = fields.get(b"json", b"") if isinstance(fields, dict) else b""
        letter: dict[bytes, bytes] = {
            b"json": payload,
            b"group": sub.name.encode(),
            b"stream": stream.encode(),
            b"entry": entry_id.encode(),
            b"error": error.encode()[:_DLQ_ERROR_BYTES],
            b"ts": str(time.time()).encode(),
        }
        if isinstance(fields, dict) and b"json" not in fields:
            # An entry of another shape (a foreign producer, an older layout): the dead letter is
            # the only copy left once the entry is acked, so it keeps what the entry held.
            letter[b"fields"] = json.dumps({_s(k): _s(v) for k, v in fields.items()}).encode()
        await self._redis.xadd(self.dlq_stream, letter, maxlen=_DLQ_MAXLEN, approximate=True)  # type: ignore[arg-type]
        await self._redis.xack(stream, sub.name, entry_id)
        log.error("event %s moved to dead-letter stream after failing in %s: %s", entry_id, sub.name, error)

    # -- privacy ---------------------------------------------------------------------------------
    async def forget_author(self, user: UserRef) -> int:
        """Delete every event carrying ``user``'s words or acts from the streams, the dead-letter
        stream, this process's local buffer and journal, and the spill file and dead processes'
        journals beside it (``/forget-me``): the event log must not keep, or replay, what the store
        erased. Returns how many were deleted.

        Other members' dead letters stay (their events must not be lost), but their ``error`` is
        scrubbed of ``user``: their id and name, and words of any text of theirs the bus still holds
        (in a stream, a dead letter or the local buffer; see :mod:`bot.dead_letters`) become
        ``[redacted]``. A stream entry cannot be changed in place, so a scrubbed letter is written
        again and the old one deleted in one step: it moves to the end of the dead-letter stream with
        a new id (its ``ts``, the failure's time, stays) and a ``dlq replay`` of the old id finds
        nothing. Scrubbed letters are not counted in the result. The event a letter holds is left as
        it is, as in the streams: another member's message that only names ``user`` stays.

        Streams are scanned in pages (a forget is rare; a stream holds up to ``maxlen`` entries). A
        group that had not read a deleted entry never sees it; one that had it pending acks it.
        """
        removed = 0
        theirs: list[Event] = []  # the events deleted: what other dead letters' errors may quote
        # What a sibling process sharing the data folder spilled at close, or left journaled when it
        # died, is on disk until some start sends it: take it into this buffer, so that the filter
        # below erases it from the files too (the next start would otherwise publish it again).
        if not self._closed:
            self._unspill()
        # The buffer first: it holds events only while Redis is down, when the scan below fails,
        # and they would reach the streams once it is back.
        kept: list[tuple[str, bytes]] = []
        for entry in self._buffer:
            event = _event_about({b"json": entry[1]}, user)
            if event is None:
                kept.append(entry)
            else:
                theirs.append(event)
        if len(kept) != len(self._buffer):
            removed += len(self._buffer) - len(kept)
            self._buffer.clear()
            self._buffer.extend(kept)
            if self._journal is not None:  # rewrite it without them
                self._journal.drop()
                if kept:
                    self._journal.append(kept)
        # The member's own dead letters first, then the streams: what they deleted is what the other
        # letters' errors may quote. Those errors are then redacted against the member's word runs,
        # in a second pass: indexing every run of every other letter's error (a full queue holds
        # 100,000) cost a gigabyte, where the member's runs are few.
        others = False  # whether any other letter has an error to scrub

        def other_letter(fields: Any) -> None:
            nonlocal others
            others = others or bool(isinstance(fields, dict) and fields.get(b"error"))

        deleted, read_to = await self._delete_about(self.dlq_stream, user, theirs.append, other_letter)
        removed += deleted
        grams: set[Gram] = grams_of([user.user_id, user.name]) if others else set()

        # Without another letter to scrub, the member's strings are only kept (no grams built): a
        # letter of another member may still come during the forget (the pass after the streams').
        held: list[str] = []

        def note(event: Event) -> None:
            if others:
                grams.update(grams_of(member_strings(event, user)))
            else:
                held.extend(member_strings(event, user))

        for event in theirs:
            note(event)
        theirs.clear()
        # Every stream: the actions stream holds replies to the member's commands (question and
        # answer) and what the bot sent them alone.
        for family in sorted({*FAMILIES.values(), "actions", "other"}):
            removed += (await self._delete_about(self.stream(family), user, note))[0]

        def late_letter(fields: Any) -> None:
            # Another member's letter, come during the forget, when none was there to scrub.
            nonlocal others
            if not others and isinstance(fields, dict) and fields.get(b"error"):
                others = True
                grams.update(grams_of([user.user_id, user.name, *held]))
                held.clear()

        # Letters written meanwhile: a worker handling one of the member's events while the streams
        # were scanned dead-letters it from memory, the event inside, after the first pass read the
        # stream. Only the letters past that pass are read again.
        removed += (await self._delete_about(self.dlq_stream, user, note, late_letter, start=read_to))[0]
        if grams:
            await self._scrub_dead_letters(grams)
        return removed

    async def _delete_about(
        self,
        stream: str,
        user: UserRef,
        found: Callable[[Event], None],
        other: Callable[[Any], None] | None = None,
        *,
        start: str = "-",
    ) -> tuple[int, str]:
        """Delete ``stream``'s entries about ``user`` (:func:`_event_about`) from ``start`` on,
        page by page, handing each one's event to ``found`` and every other entry's fields to
        ``other``. Returns how many were deleted and the XRANGE bound just past the last entry read
        (``start`` when there was none)."""
        deleted = 0
        async for rows in self._pages(stream, start=start):
            doomed: list[Any] = []
            for entry_id, fields in rows:
                event = _event_about(fields, user)
                if event is not None:
                    doomed.append(entry_id)
                    found(event)
                elif other is not None:
                    other(fields)
            if doomed:
                deleted += int(await self._redis.xdel(stream, *doomed))
            start = "(" + _s(rows[-1][0])
        return deleted, start

    async def forget_copies(self, near: Sequence[float], within_s: float, match: Callable[[Event], bool]) -> int:
        """Delete the entries of the actions, messages and dead-letter streams written within
        ``within_s`` seconds of any of the times ``near`` (epoch seconds) whose event ``match``
        accepts; returns how many were deleted.

        For what quotes an erased member without being theirs (:meth:`forget_author` goes by whose
        event it is): a bot answer to another member that quoted them, as the action that posted it
        and the platform's echo of the bot's message. An entry's id is the millisecond it was
        written, so only those few minutes of each stream are read. A local buffer holds events only
        while Redis is down, when this raises (the caller keeps what it would retry from)."""
        deleted = 0
        # Answers minutes apart share their windows: each entry is read once.
        spans: list[list[float]] = []
        for low, high in sorted((max(0.0, t - within_s), t + within_s) for t in near):
            if spans and low <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], high)
            else:
                spans.append([low, high])
        for stream in (self.stream("actions"), self.stream("messages"), self.dlq_stream):
            for low, high in spans:
                async for rows in self._pages(stream, start=f"{int(low * 1000)}-0", end=f"{int(high * 1000)}"):
                    doomed = [entry_id for entry_id, fields in rows if _decoded_matches(fields, match)]
                    if doomed:
                        deleted += int(await self._redis.xdel(stream, *doomed))
        return deleted

    async def _pages(self, stream: str, *, start: str = "-", end: str = "+") -> AsyncIterator[list[Any]]:
        """``stream``'s entries from ``start`` to ``end`` (XRANGE bounds), oldest first,
        :data:`_FORGET_PAGE` at a time (the caller may delete those of a page before taking the next)."""
        while True:
            rows: Any = await self._redis.xrange(stream, min=start, max=end, count=_FORGET_PAGE)
            if rows:
                yield list(rows)
            if len(rows) < _FORGET_PAGE:
                return
            start = "(" + _s(rows[-1][0])

    async def _scrub_dead_letters(self, grams: set[Gram]) -> None:
        """Write every dead letter whose ``error`` quotes one of ``grams`` again with them masked, in
        their order (see :meth:`forget_author`). Only the letters there when it starts are read: the
        rewritten ones, moved to the end, are not read twice. A letter replayed or changed since it
        was read is left alone (the script checks it still holds the error that was masked)."""
        last: Any = await self._redis.xrevrange(self.dlq_stream, count=1)
        if not last:
            return
        end = last[0][0]
        # Words the grams hold: an error containing none of them (as text, case-folded) holds no
        # gram, and most do not, so the costly word split of redact() is skipped for them. Only
        # for a few words: checking thousands one by one costs more than the split.
        words = {word for gram in grams for word in gram}
        prefilter = len(words) <= _SCRUB_PREFILTER_WORDS
        start: Any = "-"
        while True:
            rows: Any = await self._redis.xrange(self.dlq_stream, min=start, max=end, count=_FORGET_PAGE)
            pipe = self._redis.pipeline(transaction=False)
            for entry_id, fields in rows:
                error = fields.get(b"error", b"") if isinstance(fields, dict) else b""
                if not error:
                    continue
                text = nfc(_s(error))  # redact() normalizes: unchanged otherwise
                folded = text.casefold()
                if prefilter and not any(word in folded for word in words):
                    continue
                scrubbed = redact(text, grams)
                if scrubbed != text:
                    args = (entry_id, error, scrubbed.encode()[:_DLQ_ERROR_BYTES], _DLQ_MAXLEN)
                    pipe.eval(_SCRUB_LUA, 1, self.dlq_stream, *args)
            if len(pipe):
                await pipe.execute()
            if len(rows) < _FORGET_PAGE:
                return
            start = "(" + _s(rows[-1][0])

    # -- one process per scheduled run ----------------------------------------------------------
    @property
    def _alive_key(self) -> str:
        return f"{self.prefix}:alive:{self.consumer}"

    async def _keep_alive(self) -> None:
        """Renew this process's liveness key while it runs (see :data:`_CLAIM_LUA`)."""
        while True:
            await asyncio.sleep(self._alive_ms / 1000 / 3)
            try:
                await self._redis.set(self._alive_key, b"1", px=self._alive_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a missed beat risks a claim taken over, not a loss
                log.debug("redis bus: could not renew the liveness key: %s", exc)

    async def claim_once(self, key: str, ttl_s: float) -> bool:
        """True for the first process to claim ``key`` (``SET NX``, kept ``ttl_s``): the one that
        runs a scheduled job's run that every worker would otherwise run. A claim whose holder is
        gone (killed outright: its liveness key expired, see :data:`_CLAIM_LUA`) is taken over.
        With Redis unreachable each process runs it (a duplicate DM beats a missed digest), with a
        warning."""
        if self._heartbeat is None and not self._closed:
            self._heartbeat = asyncio.create_task(self._keep_alive(), name="redis-bus:alive")
        try:
            taken = await self._redis.eval(
                _CLAIM_LUA,
                2,
                f"{self.prefix}:once:{key}",
                self._alive_key,
                self.consumer,
                max(int(ttl_s), 1),
                f"{self.prefix}:alive:",
                self._alive_ms,
            )
            if int(taken) == 2:
                log.info("redis bus: took over the claim on %s from a process that is gone", key)
            return bool(int(taken))
        except Exception as exc:
            if not _refuses_writes(exc):
                raise
            log.warning("redis bus: cannot agree on who runs %s (%s); running it here", key, exc)
            return True

    async def release_claim(self, key: str) -> None:
        """Give back a claim this process holds (its run failed), so a later start or another
        worker may make the run; a claim another process holds is left alone."""
        name = f"{self.prefix}:once:{key}"
        try:
            if _s(await self._redis.get(name) or b"") == self.consumer:
                await self._redis.delete(name)
        except _TRANSIENT as exc:
            log.warning("redis bus: cannot give back the claim on %s (%s); it expires by itself", key, exc)

    # -- dead letters ----------------------------------------------------------------------------
    async def dead_letters(self, count: int = 100, *, after: str | None = None) -> list[dict[str, str]]:
        """Entries of the dead-letter stream, oldest first (those after entry id ``after``, if given)."""
        rows: Any = await self._redis.xrange(self.dlq_stream, min=f"({after}" if after else "-", count=count)
        return [{"id": _s(i), **{_s(k): _s(v) for k, v in (f or {}).items()}} for i, f in rows]

    async def replay_dead_letter(self, dlq_id: str) -> bool:
        """Re-publish a dead-lettered event to its stream (bypassing dedupe) and drop it from the DLQ,
        in one step (:data:`_REPLAY_LUA`). False when there is no such letter, it holds no event, or
        a ``/forget-me`` rewrote it under a new id meanwhile (that copy is then the one to replay)."""
        rows: Any = await self._redis.xrange(self.dlq_stream, min=dlq_id, max=dlq_id)
        if not rows:
            return False
        fields = rows[0][1]
        if not fields.get(b"json") or b"stream" not in fields:
            # Nothing a consumer could decode (the entry had no event): re-published, it would be
            # dead-lettered again without what it held, so it stays here for a person to read.
            log.warning("dead letter %s holds no event to replay; left in %s", dlq_id, self.dlq_stream)
            return False
        # The id Redis gave, not as typed.
        replayed = await self._redis.eval(
            _REPLAY_LUA, 2, self.dlq_stream, _s(fields[b"stream"]), rows[0][0], self._maxlen
        )
        return bool(replayed)


def _event_about(fields: Any, user: UserRef) -> Event | None:
    """A stream entry's event if it carries ``user``'s words or acts, else None (undecodable: None)."""
    payload = fields.get(b"json") if isinstance(fields, dict) else None
    if not payload:
        return None
    raw = payload if isinstance(payload, bytes) else str(payload).encode(errors="replace")
    if not any(needle in raw for needle in _id_needles(user.user_id)):
        return None  # most entries: the id is not even in the bytes, so no JSON decode (1M-entry streams)
    try:
        event = from_json(payload)
    except Exception:  # noqa: BLE001 - an entry nothing can decode carries nobody's words we can find
        return None
    subject = subject_of(event)
    return event if subject is not None and subject.key == user.key else None


def _decoded_matches(fields: Any, match: Callable[[Event], bool]) -> bool:
    """Whether a stream entry decodes to an event ``match`` accepts (undecodable: no)."""
    payload = fields.get(b"json") if isinstance(fields, dict) else None
    if not payload:
        return False
    try:
        return match(from_json(payload))
    except Exception:  # noqa: BLE001 - an entry nothing can decode is nobody's copy we can recognise
        return False


@functools.lru_cache(maxsize=64)
def _id_needles(user_id: str) -> tuple[bytes, ...]:
    """``user_id`` as it can appear in an event's JSON: escaped (``ensure_ascii``) or raw UTF-8."""
    return tuple({json.dumps(user_id).encode(), json.dumps(user_id, ensure_ascii=False).encode(errors="replace")})


def _s(value: Any) -> str:
    # "replace": a dead letter may be bytes that are not UTF-8, and listing it must not fail.
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

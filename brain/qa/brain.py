"""The QA brain: indexes history as it happens and answers questions with cited sources.

Answers when mentioned, in a DM with the bot, and to ``/ask``; replies in the question's thread.
Keeps the index in step with posts, edits, deletes, opt-outs and ``/forget-me``; records 👍/👎
feedback from reactions on answers and from the answer's buttons.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.brain import Brain, BrainContext, CommandResult, command, every, listen
from bot.bus import is_transient_failure
from bot.clock import to_epoch
from bot.conversations import thread_unit_base, window_unit_base
from bot.core_brain import dedupe_horizon, workspace_config
from bot.events import (
    Button,
    ButtonClicked,
    ChannelDeleted,
    ChannelRef,
    ChannelSeen,
    CommandInvoked,
    EventSource,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    SendMessage,
    UserRef,
    Visibility,
)
from bot.message_ids import slack_ts
from bot.ml import LLM, LLMBusyError, Unit, VectorIndexUnavailable
from bot.privacy.policy import may_index
from bot.privacy.ratelimit import AskLimiter
from bot.recorder import channel_ref, channel_row, message_row
from bot.store import OPTED_OUT_KEY, ChannelRow, MessageRow, Store
from brain.community.signals import is_question
from brain.qa.access import ANY_WORKSPACE, AccessScope, scope_for
from brain.qa.answerer import MODEL_LOAD_TIMEOUT_S, Answer, Answerer
from brain.qa.bm25 import BM25Index
from brain.qa.docs import index_docs
from brain.qa.history import AnswerLog, AnswerRecord
from brain.qa.indexer import Indexer, IndexStats
from brain.qa.legacy_ids import legacy_unit_id
from brain.qa.llm.errors import LLMUnavailableError
from brain.qa.mentions import asks_something, strip_mentions
from brain.qa.retriever import CrossEncoderReranker, Retriever
from brain.qa.services import LLMBackendMissingError, register_services
from brain.qa.shown import REMOVED_COPY, shows, words
from brain.qa.staleness import mark_stale
from prompts import load_prompt, render_prompt

log = logging.getLogger(__name__)

# How long a question waits for an announced full index (see QABrain.expect_rebuild) before it is
# answered from whatever is indexed by then.
REBUILD_WAIT_S = 120.0
# Live changes kept while the vector store cannot even be opened (a Chroma server down at start);
# beyond this many, `guildhall index all` catches up once it is back.
MAX_HELD_CHANGES = 50_000
# A help-channel question is claimed on the bus (several workers) for one answer attempt, not for
# good: a busy, slow or unavailable model leaves it unanswered, and a later run must retry it. The
# claim outlasts the longest attempt (the wait for an announced index, then the model's own limit,
# see QABrain.answer_timeout_s) by this margin, so two workers never answer it at once; once answered
# (or abstained on), its qa_answers row keeps it out of every later run.
UNANSWERED_CLAIM_MARGIN_S = 300.0
# How long a posted answer's log row waits for a store that cannot take it (QABrain.log_posted).
LOG_RETRY_S = 60.0

FEEDBACK_ACTION = "qa.feedback"
FEEDBACK_KIND = "qa"
STATUS_DAYS = 7  # the window of the answer counts in /guildhall status
# A brain that answers unanswered help-channel questions itself (the community brain: human-first,
# shadow-mode drafts) registers as this service, and answer_unanswered below stands down. Its
# ``async is_shadow_channel(channel) -> bool`` says where answers wait for a moderator's approval:
# there it drafts mentions itself, and /ask answers the asker privately. Its
# ``async takes_followup(event) -> bool`` says whether it answers a reply as its own follow-up:
# a question replying to one of the bot's answers is answered here otherwise (answer_message).
HELP_CHANNEL_OWNER = "help_channel_answers"
# Hops followed up a chain of inline replies to the question an answer is logged under.
_MAX_REPLY_CHAIN = 20
_UP = {"+1", "thumbsup", "thumbs_up", "👍"}
_DOWN = {"-1", "thumbsdown", "thumbs_down", "👎"}


async def _load_reranker(model: str | None) -> CrossEncoderReranker | None:
    """The cross-encoder ``qa.rerank_model`` names, or ``None`` when none is set or it cannot load.

    Re-ranking only reorders what retrieval found, so a model that will not load (a wrong path, a
    folder that holds no cross-encoder) costs one warning and answers go on unranked: raising here
    failed the whole index with it, so every new message failed to index and every question got
    "Something went wrong". ``guildhall check-config`` names a missing path before the bot starts.
    """
    if not model:
        return None
    try:
        return await asyncio.to_thread(CrossEncoderReranker, model)
    except Exception as exc:  # noqa: BLE001 - an optional model: its loaders raise OSError, ValueError ...
        detail = " ".join(str(exc).split())[:300]  # the log line stays one line
        log.warning(
            "qa: the re-ranking model %s cannot load (%s: %s); answering without re-ranking (check qa.rerank_model)",
            model,
            type(exc).__name__,
            detail,
        )
        return None


class QABrain(Brain):
    """Retrieval-augmented answers with citations, under access control."""

    name = "qa"

    def __init__(self, ctx: BrainContext) -> None:
        super().__init__(ctx)
        self._indexer: Indexer | None = None
        self._retriever: Retriever | None = None
        # The Redis bus keeps what it carried: an answer's copies there go with the answer.
        self.answer_log = AnswerLog(self.ctx.store, event_log=getattr(self.ctx.bus, "forget_copies", None))
        self._init_lock = asyncio.Lock()
        self._rebuild_expected = False
        self._history_ready = asyncio.Event()
        self._history_ready.set()
        self._held: deque[MessageRow] = deque(maxlen=MAX_HELD_CHANGES)
        self._held_overflow = False
        # Channels (or threads) deleted while the vector index could not open: their units are
        # rebuilt (to nothing) once it does, as the held rows above.
        self._held_channel_deletes: set[tuple[str, str, str]] = set()
        # Set while the vector index refuses flushes: live changes then wait for the minute's flush
        # (or a question's) instead of each retrying, and rebuilding everything pending, at once.
        self._index_down = False
        # Members whose /forget-me could not finish its index part (the vector store was down):
        # (platform, workspace, user). The next flush that reaches the store finishes it.
        self._unfinished_forgets: set[tuple[str, str, str]] = set()
        # Deletes, channel deletes and edits not yet erased from the other encoders' collections
        # (the vector store was down): (platform, workspace, message ids, channel or thread ids).
        self._unfinished_erasures: deque[_Erasure] = deque(maxlen=MAX_HELD_CHANGES)
        self._erasures_overflow = False
        # The start's background work: other encoders' collections cleared of deleted messages, and
        # this encoder's rebuilt when another wrote after it (questions wait for it, see retriever).
        self._start_task: asyncio.Task[None] | None = None
        self._rebuilding = False
        # Per workspace, the opted-out members and channel policy this process's index reflects.
        self._policy_seen: dict[
            tuple[str, str], tuple[frozenset[str], tuple[Any, Any, frozenset[tuple[str, str]]]]
        ] = {}
        self._log_purge_due = False
        # Questions a mention or DM is answering now (platform, workspace, message id): the question
        # itself, or the root of the thread it was asked in. Counted, not a set: two mentions in one
        # thread hold its root, and the first to finish must not let the help-channel timer take it
        # while the second is still being answered.
        self._answering: Counter[tuple[str, str, str]] = Counter()
        privacy = self.ctx.settings.privacy
        self._limiter = AskLimiter.from_limits(privacy.ask_per_member_per_minute, privacy.ask_per_channel_per_minute)

    async def setup(self) -> None:
        """Register the shared services (nothing is loaded until first use)."""
        register_services(self.ctx)

    async def teardown(self) -> None:
        """Index what is pending so a restart loses nothing; stop the LLM's batcher."""
        if self._start_task is not None:
            # A stale index's rebuild is idempotent: the next start finds the index stale again.
            self._start_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._start_task
        if self._indexer is not None and self._indexer.pending:
            try:
                await self._indexer.flush()
            except VectorIndexUnavailable as exc:
                # The messages are in the store; only the index misses them.
                log.warning(
                    "qa: %d index changes not applied, the vector index is unreachable (%s); "
                    "run `guildhall index all` once it is back",
                    self._indexer.pending,
                    exc,
                )
        # The LLM's batcher runs a background task; QA is its only user, so it stops it.
        llm = self.ctx.services.peek("llm")
        close = getattr(llm, "aclose", None)
        if close is not None:
            await close()

    # -- components ----------------------------------------------------------------------------
    def expect_rebuild(self, *, hold_questions: bool = False) -> None:
        """The whole history is about to be indexed (an import, a seeded demo, ``index all``): an
        empty index over stored messages is expected, not worth the "run `guildhall index all`"
        warning, whichever event creates the indexer first.

        ``hold_questions``: the index is empty until then (a freshly seeded demo), so questions wait
        for :meth:`rebuild_finished` (at most :data:`REBUILD_WAIT_S`) instead of being told "I
        couldn't find this in our history" about history that is only not indexed yet.
        """
        self._rebuild_expected = True
        if hold_questions:
            self._history_ready.clear()

    def rebuild_finished(self) -> None:
        """The announced index is built (or failed): held questions go ahead."""
        self._history_ready.set()

    async def indexer(self, *, rebuilding: bool = False) -> Indexer:
        """The indexer (created on first use; rebuilds BM25 from the vector store).

        ``rebuilding``: the caller is about to index the whole history (see :meth:`expect_rebuild`).
        """
        if rebuilding:
            self.expect_rebuild()
        await self._ensure()
        assert self._indexer is not None
        return self._indexer

    async def retriever(self) -> Retriever:
        """The hybrid retriever; pending index changes are applied first, so answers see fresh history."""
        if not self._history_ready.is_set():
            try:
                await asyncio.wait_for(self._history_ready.wait(), REBUILD_WAIT_S)
            except TimeoutError:
                log.warning(
                    "qa: the announced index is not ready after %.0f s; answering from what is indexed", REBUILD_WAIT_S
                )
        await self._ensure()
        assert self._indexer is not None and self._retriever is not None
        await self._apply_index_changes()
        if self._held or self._held_channel_deletes:
            await self._open_indexer()  # changes (deletes among them) that came while it could not open
        # Always through flush(): it takes the indexer's lock, so a flush already running (the
        # scheduler's) finishes before we search.
        await self._flush_quietly()
        return self._retriever

    async def _apply_index_changes(self) -> None:
        """Take into the lexical index the units other workers (or a CLI, such as `guildhall index
        docs` in another shell) wrote or deleted since."""
        assert self._indexer is not None
        try:
            await self._indexer.apply_changes()
        except VectorIndexUnavailable as exc:
            log.warning("qa: the vector index is unreachable (%s); other workers' latest index changes wait", exc)

    async def _flush_quietly(self) -> None:
        """Apply pending index changes; while the vector store is unreachable they wait (the
        indexer keeps them) and answers use what is indexed."""
        assert self._indexer is not None
        if self._rebuilding:
            return  # a rebuild holds the indexer: changes wait for it (deletes are hidden meanwhile)
        try:
            unfinished = set(self._unfinished_forgets)
            if unfinished:
                # A /forget-me ran while the vector store was down: catch up with the units other
                # workers wrote, and rebuild those still holding a forgotten member's words.
                await self._indexer.apply_changes()
                await self._sweep_forgotten(self._indexer)
            await self._indexer.flush()
            if self._unfinished_erasures:
                await self._erase_elsewhere(self._indexer)
            if unfinished:
                for platform, workspace_id, user_id in unfinished:
                    await _erase_in_other_encoders(self._indexer, platform, workspace_id, user_id)
                await _purge_vector_log(self._indexer)
                self._unfinished_forgets -= unfinished
        except VectorIndexUnavailable as exc:
            self._index_down = True
            log.warning("qa: %d index changes wait for the vector index (%s)", self._indexer.pending, exc)
        else:
            self._index_down = False

    async def _erase_elsewhere(self, indexer: Indexer) -> None:
        """Apply the deletes, channel deletes and edits waiting for the other encoders' collections
        (an earlier or tuned ``embeddings.model``): their units holding the old text are erased (they
        cannot be rebuilt without their encoder; configured again, such an index is rebuilt whole,
        see :meth:`_rebuild_stale_encoder`). While the vector store is down they wait."""
        erase = getattr(indexer.index, "erase_in_other_encoders", None)
        if erase is None:
            self._unfinished_erasures.clear()
            return
        while self._unfinished_erasures:
            # Taken before the await: two flushes at once (a question's and the minute's) must not
            # both erase, then both pop, the same one.
            e = self._unfinished_erasures.popleft()
            try:
                await erase(
                    e.platform,
                    e.workspace_id,
                    message_ids=e.message_ids,
                    channel_ids=e.channel_ids,
                    thread_ids=e.thread_ids,
                    at_ts=e.at_ts,
                )
            except VectorIndexUnavailable as exc:
                log.warning("qa: the vector index is unreachable (%s); other encoders' erasures wait", exc)
                self._unfinished_erasures.appendleft(e)
                return
        self._erasures_overflow = False

    def _erase_later(
        self,
        p: str,
        ws: str,
        *,
        message_ids: Iterable[str] = (),
        channel_ids: Iterable[str | None] = (),
        thread_ids: Iterable[str | None] = (),
        at_ts: Iterable[float] = (),
    ) -> None:
        """Queue an erasure from the other encoders' collections: the units of ``channel_ids`` or of
        ``thread_ids`` (every one of them without ``message_ids``; else those holding one, found by
        the messages' times ``at_ts`` when known)."""
        if len(self._unfinished_erasures) == self._unfinished_erasures.maxlen and not self._erasures_overflow:
            # The oldest is dropped: the load's sweep of deleted messages (see _ensure) catches it
            # at the next start, edits excepted.
            self._erasures_overflow = True
            log.warning(
                "qa: more than %d erasures wait for the vector index; the oldest are dropped (deletes "
                "among them are erased from other encoders' collections at the next start)",
                MAX_HELD_CHANGES,
            )
        self._unfinished_erasures.append(
            _Erasure(
                p,
                ws,
                frozenset(message_ids),
                frozenset(c for c in channel_ids if c),
                frozenset(t for t in thread_ids if t),
                tuple(at_ts),
            )
        )

    async def _open_indexer(self) -> Indexer | None:
        """The indexer, with changes held while it could not open applied; ``None`` (the change
        is held) while the vector store is unreachable."""
        try:
            indexer = await self.indexer()
        except VectorIndexUnavailable as exc:
            log.warning("qa: the vector index is unreachable (%s); holding live changes until it is back", exc)
            return None
        while self._held:
            indexer.touch(self._held.popleft())
        while self._held_channel_deletes:
            for unit in indexer.units_in_channel_or_thread(*self._held_channel_deletes.pop()):
                indexer.touch_unit(unit)
        if self._held_overflow:
            self._held_overflow = False
            log.warning(
                "qa: more than %d changes arrived while the vector index was unreachable; "
                "run `guildhall index all` to index the rest",
                MAX_HELD_CHANGES,
            )
        return indexer

    async def _touch(self, row: MessageRow) -> Indexer | None:
        """Queue ``row``'s thread or window for re-indexing (flushed when due)."""
        indexer = await self._open_indexer()
        if indexer is None:
            self._held_overflow = self._held_overflow or len(self._held) == self._held.maxlen
            self._held.append(row)
            return None
        indexer.touch(row)
        if indexer.due() and not self._index_down:
            await self._flush_quietly()
        return indexer

    async def _ensure(self) -> None:
        if self._indexer is not None:
            return
        async with self._init_lock:
            if self._indexer is not None:
                return
            settings = self.ctx.settings
            embedder = await self.ctx.services.get("embedder")
            index = await self.ctx.services.get("unit_index")
            bm25 = BM25Index()
            indexer = Indexer(
                self.ctx.store,
                embedder,
                index,
                bm25,
                clock=self.ctx.clock,
                may_index=self.may_index_channel,
            )
            loaded = await indexer.load()
            await self._sweep_forgotten(indexer)
            rebuild = indexer.stale_encoder and not self._rebuild_expected
            if not self._rebuild_expected and not loaded and (await self.ctx.store.counts()).get("messages", 0):
                # Typical after switching `embeddings.model`: the new encoder's collections start empty.
                log.warning(
                    "the QA index is empty but the store holds messages: run `guildhall index all` "
                    "(or /guildhall index) so answers can use the history"
                )
            reranker = await _load_reranker(settings.qa.rerank_model)
            self._retriever = Retriever(embedder, index, bm25, reranker=reranker, tombstones=indexer.tombstones)
            self._indexer = indexer
            if rebuild:
                # As an announced rebuild: handlers go on (changes wait, deletes hidden), questions
                # wait for it (at most REBUILD_WAIT_S).
                self._history_ready.clear()
            if rebuild or getattr(index, "erase_deleted_in_other_encoders", None) is not None:
                self._start_task = asyncio.create_task(self._after_start(indexer, rebuild=rebuild), name="qa-start")

    async def _after_start(self, indexer: Indexer, *, rebuild: bool) -> None:
        """The start's background work: deletes erased from the other encoders' collections, and a
        stale index rebuilt (:meth:`_rebuild_stale_encoder`), then the changes that waited flushed."""
        try:
            await self._erase_deleted_elsewhere(indexer)
            if rebuild:
                self._rebuilding = True
                await self._rebuild_stale_encoder(indexer)
        except Exception:
            log.exception("qa: the index's start-up work failed")
        finally:
            self._rebuilding = False
            self._history_ready.set()
            self._start_task = None
        if indexer.pending:
            await self._flush_quietly()

    async def _erase_deleted_elsewhere(self, indexer: Indexer) -> None:
        """Erase from the other encoders' collections the units holding a message the store has
        erased: the erasures queued in memory (:meth:`_erase_later`) are lost when the process stops
        while the vector store is down, or dropped when too many wait; the store's rows are not."""
        erase = getattr(indexer.index, "erase_deleted_in_other_encoders", None)
        if erase is None:
            return
        deleted, indexer.erased_at_load = indexer.erased_at_load, None
        if deleted is None:  # not loaded by this start (the load reads them)
            rows = await self.ctx.store.db.fetchall(
                "SELECT platform, workspace_id, message_id FROM messages WHERE deleted = 1"
            )
            deleted = {(str(p), str(ws), str(m)) for p, ws, m in rows}
        try:
            erased = await erase(deleted)
        except VectorIndexUnavailable as exc:
            log.warning("qa: the vector index is unreachable (%s); deletes reach other encoders' indexes later", exc)
            return
        if erased:
            log.warning("qa: erased %d units holding deleted messages from other embeddings models' indexes", erased)

    async def _rebuild_stale_encoder(self, indexer: Indexer) -> None:
        """Rebuild the index of an encoder configured again (``embeddings.model`` switched back)
        before it answers anything: its collections were last written before another encoder's, so
        they miss the messages posted since and still hold text edited since (deletes are hidden
        by the load's sweep, and erased there by the other encoder's process). The rebuild embeds
        only the units whose text changed (the others keep their stored vectors)."""
        log.warning(
            "qa: the vector index of embeddings.model %s was last written before another model's; "
            "rebuilding it from the store now (as `guildhall index all`)",
            self.ctx.settings.embeddings.model,
        )
        try:
            stats = await indexer.index_all()
        except VectorIndexUnavailable as exc:
            log.warning(
                "qa: the stale vector index could not be rebuilt (%s); it is rebuilt at the next start, "
                "or run `guildhall index all`",
                exc,
            )
            return
        log.warning(
            "qa: rebuilt the vector index: %d units written, %d texts embedded",
            stats.units_upserted,
            stats.texts_embedded,
        )

    async def _sweep_forgotten(self, indexer: Indexer) -> None:
        """Queue a rebuild of every unit that still holds words of a forgotten member: a forget whose
        index part could not run (the vector store was down, or the process stopped with its rebuilds
        pending) finishes when the index next opens. After a completed forget no unit matches.

        Those members' forgets are unfinished in the other places too (the other encoders'
        collections, the vector store's write-ahead log): the flush that rebuilds the units
        finishes them (``_unfinished_forgets``), also after a restart lost this process's list."""
        rows = await self.ctx.store.db.fetchall(
            "SELECT platform, workspace_id, user_id FROM member_settings WHERE key = 'forgotten' AND value = 'true'"
        )
        if not rows:
            return
        gone = {(str(p), str(w), str(u)) for p, w, u in rows}
        # A thread's title is its author's words, in its units whoever wrote the messages (a Discord
        # thread opened on someone else's message, or without a starter).
        titled = {
            (str(p), str(w), str(t)): (str(p), str(w), str(a))
            for p, w, t, a in await self.ctx.store.db.fetchall(
                "SELECT t.platform, t.workspace_id, t.thread_id, t.author_id FROM threads t JOIN member_settings s "
                "ON s.platform = t.platform AND s.workspace_id = t.workspace_id AND s.user_id = t.author_id "
                "WHERE s.key = 'forgotten' AND s.value = 'true'"
            )
        }
        stale: list[Unit] = []
        for unit in indexer.bm25.units():
            members = {(unit.platform, unit.workspace_id, a) for a in unit.author_ids} & gone
            titler = titled.get((unit.platform, unit.workspace_id, unit.thread_id or "")) if unit.title else None
            if titler is not None:
                members.add(titler)
                indexer.tombstones.conversations.add((unit.platform, unit.workspace_id, unit.thread_id or ""))
            if members:
                stale.append(unit)
                self._unfinished_forgets |= members
        indexer.tombstones.authors |= {
            (unit.platform, unit.workspace_id, a) for unit in stale for a in unit.author_ids
        } & gone
        for unit in stale:
            indexer.touch_unit(unit)
        if stale:
            log.warning("qa: %d index units still held words of forgotten members; rebuilding them", len(stale))

    async def apply_policy_changes(self, platform: str, workspace_id: str) -> None:
        """Bring the index in line with opt-outs, opt-ins and channel policy (``deny_channels``,
        ``index_private_channels``) changed since this process last looked, before a search.

        Those commands only write settings, and each worker holds its own lexical index: without
        this, an opted-out member's words or a newly denied channel stayed citable until the next
        full `/guildhall index`. A channel's visibility counts as policy too: the worker that got
        the change rebuilt its own lexical index, the others learn it here. Costs four reads per
        question when nothing changed.
        """
        if self._indexer is None or not platform or not workspace_id:
            return
        store, indexer, key = self.ctx.store, self._indexer, (platform, workspace_id)
        opted_out = frozenset(await store.members_with_setting(platform, workspace_id, OPTED_OUT_KEY, True))
        channels = await store.list_channels(platform, workspace_id)
        policy = (
            await store.get_workspace_setting(platform, workspace_id, "deny_channels"),
            await store.get_workspace_setting(platform, workspace_id, "index_private_channels"),
            frozenset((c.channel_id, c.visibility) for c in channels),
        )
        seen = self._policy_seen.get(key)
        if seen == (opted_out, policy):
            return
        self._policy_seen[key] = (opted_out, policy)
        # Opted out: their words leave the units that hold them (rebuilds skip their messages).
        newly_out = opted_out - (seen[0] if seen else frozenset())
        if newly_out:
            for unit in indexer.bm25.units():
                if (unit.platform, unit.workspace_id) == key and not newly_out.isdisjoint(unit.author_ids):
                    indexer.touch_unit(unit)
        # Opted back in: the units around their stored messages are rebuilt with them.
        for user_id in (seen[0] if seen else frozenset()) - opted_out:
            for row in await store.messages_by_author(platform, workspace_id, user_id):
                indexer.touch(row)
        if seen is None or seen[1] != policy:
            rebuild = []
            indexed_channels = {u.channel_id for u in indexer.bm25.units() if (u.platform, u.workspace_id) == key}
            for channel in channels:
                indexed = channel.channel_id in indexed_channels
                allowed = await self.may_index_channel(channel)
                if indexed and not allowed:
                    for unit in indexer.units_in_channel(platform, workspace_id, channel.channel_id):
                        indexer.touch_unit(unit)  # rebuilt under the policy: to nothing
                elif indexed and indexer.visibility_differs(*key, channel.channel_id, channel.visibility):
                    # Turned private (or public) in another worker, or while this process's index
                    # was not loaded yet: its units must carry the new visibility.
                    rebuild.append(channel)
                elif allowed and not indexed and seen is not None:
                    rebuild.append(channel)
            if rebuild:
                await indexer.index_all(channels=rebuild)
        await self._flush_quietly()

    async def apply_policy_changes_in(self, scope: AccessScope) -> None:
        """:meth:`apply_policy_changes` in every workspace ``scope`` reads: its own, or each one the
        store knows when it spans them (the operator CLI without ``--channel``)."""
        if scope.workspace_id != ANY_WORKSPACE:
            await self.apply_policy_changes(scope.platform, scope.workspace_id)
            return
        for platform, workspace_id in await self.ctx.store.db.fetchall(
            "SELECT DISTINCT platform, workspace_id FROM channels"
        ):
            await self.apply_policy_changes(str(platform), str(workspace_id))

    async def may_index_channel(self, channel: ChannelRow) -> bool:
        """Whether the privacy policy lets ``channel`` into the index."""
        # Privacy policy (bot.privacy): public channels, private ones an admin allowed, never DMs.
        return await may_index(
            self.ctx.store,
            self.ctx.settings,
            channel.platform,
            channel.workspace_id,
            channel.channel_id,
            channel.name,
            channel.visibility,
        )

    def answer_timeout_s(self) -> float:
        """How long one model call of an answer may take before it counts as timed out."""
        # A little over the backend's own limit: the backend should time out first, cleanly.
        return self.ctx.settings.llm.timeout_s * 1.2 + 1

    async def answerer(self) -> Answerer:
        """An answerer over the shared LLM."""
        retriever = await self.retriever()
        llm: LLM = await self.ctx.services.get("llm")
        return Answerer.from_settings(
            self.ctx.settings, retriever, llm, self.ctx.store, timeout_s=self.answer_timeout_s()
        )

    # -- indexing ------------------------------------------------------------------------------
    @listen(MessagePosted)
    async def index_message(self, event: MessagePosted) -> None:
        """Queue a live message's thread or window for (re)indexing."""
        if event.is_bot or event.source is not EventSource.LIVE:
            # History imports are indexed in bulk afterwards (`guildhall index all`).
            return
        row = message_row(event)
        # Written here as well as by the recorder (both are idempotent upserts) so the indexer
        # never reads the store before this message is in it.
        await self.ctx.store.upsert_channels(
            [channel_row(event.channel)], keep_visibility=not event.channel.visibility_known
        )
        await self.ctx.store.upsert_messages([row])
        await self._touch(row)

    @listen(MessageEdited)
    async def reindex_edit(self, event: MessageEdited) -> None:
        """An edit replaces the text in the index at once, as a delete does: the old text may be
        what its author took out (a phone number), and a pending rebuild lives only in memory, so
        a process stopped within the debounce kept the old text for good."""
        store = self.ctx.store
        p, ws = event.platform.value, event.channel.workspace_id
        await store.edit_message(p, ws, event.message_id, event.text, to_epoch(event.edited_at))
        row = await store.get_message(p, ws, event.message_id)
        if row is None or row.is_bot:
            return
        # An earlier or tuned encoder's collections hold the old text too.
        self._erase_later(
            p,
            ws,
            message_ids=[row.message_id],
            channel_ids=[row.channel_id],
            thread_ids=[row.thread_id],
            at_ts=[row.ts],
        )
        if await self._touch(row) is not None:
            await self._flush_quietly()  # and erases in the other encoders' collections

    @listen(MessageDeleted)
    async def unindex_delete(self, event: MessageDeleted) -> None:
        """A deleted message's text leaves the index at once (privacy)."""
        store = self.ctx.store
        p, ws = event.platform.value, event.channel.workspace_id
        await store.delete_message(p, ws, event.message_id, event.channel.channel_id)
        row = await store.get_message(p, ws, event.message_id)
        indexer = await self._open_indexer()
        # Units that still quote the message, whatever the store knows about it (read before their
        # rebuild renumbers or renames them).
        units = indexer.units_with_message(p, ws, event.message_id) if indexer is not None else []
        ids = (
            (row.channel_id, row.message_id, row.thread_id)
            if row
            else (event.channel.channel_id, event.message_id, None)
        )
        bases = _conversation_bases(p, ws, units, [ids])
        # The answer log is in the store: scrubbed even while the vector index is down.
        await self.answer_log.scrub_quoting(p, ws, {event.message_id}, unit_bases=bases)
        # An earlier or tuned encoder's collections hold the text too.
        if row is not None:
            self._erase_later(
                p,
                ws,
                message_ids=[event.message_id],
                channel_ids=[event.channel.channel_id, row.channel_id],
                thread_ids=[row.thread_id],
                at_ts=[row.ts],
            )
        else:  # where and when it was posted is not known: its channel or thread (a Discord thread's id)
            here = [event.channel.channel_id]
            self._erase_later(p, ws, message_ids=[event.message_id], channel_ids=here, thread_ids=here)
        if indexer is None:
            if row is not None:
                self._held.append(row)
            return
        # Out of answers at once, whether or not the vector store takes the delete now.
        indexer.tombstones.messages.add((p, ws, event.message_id))
        if row is not None:
            indexer.touch(row)
        for unit in units:
            indexer.touch_unit(unit)
        await self._flush_quietly()  # and erases in the other encoders' collections
        self._log_purge_due = True  # the text is still in the vector store's log: see flush_index

    @listen(ChannelDeleted)
    async def unindex_channel(self, event: ChannelDeleted) -> None:
        """A deleted channel's (or thread's) units leave the index: its history is gone for its members.

        Its Discord private threads go too: each is a channel of its own, and Discord sends no
        delete for them when their parent goes.
        """
        ch = event.channel
        p, ws = ch.platform.value, ch.workspace_id
        # The recorder erases the same rows; done here too (idempotent), as the two run in either order.
        await self.ctx.store.erase_channel(p, ws, ch.channel_id)
        # Channel rows outlive the erase, so the private threads are found whichever ran first.
        gone = [ch.channel_id, *await self.ctx.store.child_channel_ids(p, ws, ch.channel_id)]
        indexer = await self._open_indexer()
        units = (
            [u for channel_id in gone for u in indexer.units_in_channel_or_thread(p, ws, channel_id)]
            if indexer is not None
            else []
        )
        # Answers that cited the channel's messages may quote them; the erased rows keep their ids.
        messages = await self._messages_in_channels(p, ws, gone)
        bases = _conversation_bases(p, ws, units, messages) | {thread_unit_base(p, ws, c) for c in gone}
        await self.answer_log.scrub_quoting(p, ws, {message_id for _, message_id, _ in messages}, unit_bases=bases)
        self._erase_later(p, ws, channel_ids=gone, thread_ids=gone)  # an earlier or tuned encoder's collections too
        if indexer is None:
            # The vector store still holds the units (the index loads from it): applied once it opens.
            self._held_channel_deletes.update((p, ws, channel_id) for channel_id in gone)
            return
        # Out of answers at once, whether or not the vector store takes the delete now.
        indexer.tombstones.conversations.update((p, ws, channel_id) for channel_id in gone)
        for unit in units:
            indexer.touch_unit(unit)
        await self._flush_quietly()  # and erases in the other encoders' collections
        self._log_purge_due = True  # the text is still in the vector store's log: see flush_index

    async def _messages_in_channels(
        self, platform: str, workspace_id: str, channel_ids: Sequence[str]
    ) -> list[tuple[str, str, str | None]]:
        """``(channel, message, thread)`` ids of every stored message of the channels, or of threads
        with those ids; erased ones too (their rows stay as tombstones)."""
        marks = ", ".join("?" for _ in channel_ids)
        rows = await self.ctx.store.db.fetchall(
            "SELECT channel_id, message_id, thread_id FROM messages WHERE platform = ? AND workspace_id = ? "
            f"AND (channel_id IN ({marks}) OR thread_id IN ({marks}))",
            (platform, workspace_id, *channel_ids, *channel_ids),
        )
        return [(str(c), str(m), str(t) if t else None) for c, m, t in rows]

    @listen(ChannelSeen)
    async def channel_seen(self, event: ChannelSeen) -> None:
        """A channel that changed visibility is re-indexed so its units carry the new visibility."""
        if self._indexer is None:
            return
        if not event.channel.visibility_known:
            return  # a guess (an import without permissions): the store kept what it knew
        row = channel_row(event.channel)
        if self._indexer.visibility_differs(row.platform, row.workspace_id, row.channel_id, row.visibility):
            await self.ctx.store.upsert_channels([row])
            await self._indexer.index_all(channels=[row])

    @every(minutes=1)
    async def flush_index(self) -> None:
        """Apply debounced index changes; flush deleted messages' text out of the vector store's
        log (a purge costs ~50 ms, so deletes share one a minute)."""
        if self._indexer is not None and (self._indexer.pending or self._unfinished_forgets):
            await self._flush_quietly()  # a /forget-me left unfinished may have nothing pending
        if self._indexer is not None and self._log_purge_due and not self._indexer.pending:
            self._log_purge_due = False
            try:
                await _purge_vector_log(self._indexer)
            except VectorIndexUnavailable:
                self._log_purge_due = True  # next minute

    # -- answering -----------------------------------------------------------------------------
    @listen(MessagePosted, concurrency=4)
    async def answer_message(self, event: MessagePosted) -> None:
        """Answer when mentioned or in a DM with the bot; follow-ups in a thread are condensed."""
        if event.is_bot or event.source is not EventSource.LIVE:
            return
        conversation: str | None = None
        if not (event.mentions_bot or event.channel.visibility is Visibility.DM):
            conversation = await self._followup_replying_to_answer(event)
            if conversation is None:
                return
        if await self._held_for_approval(event.channel):
            return  # shadow mode: the help-channel owner drafts it for the moderators instead
        question = strip_mentions(event.text)[: self.ctx.settings.qa.max_question_chars]
        # Before the how-to-ask reply too: a member repeating bare mentions must not get one reply each.
        wait = self._rate_limited(event.author, event.channel)
        if wait:
            await self.ctx.reply(event, render_prompt("qa_rate_limited", seconds=wait))
            return
        if not asks_something(question):
            # A bare "@guildhall" (or only emoji, punctuation, other mentions): there is nothing to
            # search for, and "I couldn't find this in our history" would be nonsense. Say how to ask.
            await self.ctx.reply(event, load_prompt("qa_how_to_ask"))
            return
        # A follow-up replying to an answer belongs to that answer's conversation: condensed with it
        # and logged under it, so a question replying to this answer belongs there too.
        asked_in = conversation or event.thread_id
        thread_id = asked_in or event.message_id
        answer_id = uuid.uuid4().hex
        # A top-level question may sit in a help channel: until this answer is logged (seconds, or
        # minutes on a slow model) answer_unanswered must not take it too, here or in another worker.
        p, ws = event.platform.value, event.channel.workspace_id
        key = (p, ws, event.message_id)
        if thread_id == event.message_id and not await self._claim_question(*key):
            return  # another worker's help-channel run is answering it in this thread
        held = [key]
        claimed = [key] if thread_id == event.message_id else []
        if thread_id != event.message_id:
            # Asked in the thread of a question (the asker's own "@bot can you help?" under it, which
            # does not stop the timer): this answer goes into that thread and is logged under its
            # root, so the timer must not answer the root meanwhile either, nor another worker's.
            root = (p, ws, thread_id)
            # A claim refused here is held by a help-channel run answering the root, by another
            # mention in this thread, or by an attempt that failed (the model busy) a few minutes
            # ago: the member asked the bot and still gets an answer. The timer looks for one logged
            # in the thread once its own is generated, and then posts nothing.
            if await self._claim_question(*root):
                claimed.append(root)
            held.append(root)
        self._answering.update(held)
        try:
            result = await self._answer(
                question,
                channel=event.channel,
                user=event.author,
                exclude={event.message_id},
                thread_id=asked_in,
                current_message_id=event.message_id,
                role_ids=event.author_role_ids,
            )
            if isinstance(result, str):
                await self.ctx.reply(event, result)
                return
            await self.ctx.reply(event, result.text, citations=result.citations, buttons=_feedback_buttons(answer_id))
            await self._log(answer_id, event.channel, thread_id, event.author, result)
        except BaseException:
            # Stopped (a deploy cancelling the handler) or failed before the answer was logged: the
            # event is retried (by this bus or another worker), and that attempt must find the
            # question free, not claimed for minutes by this one, or it returns and the member never
            # gets an answer. Shielded: the cancel that ended the attempt must not end this too.
            if claimed:
                await asyncio.shield(self._release_questions(claimed))
            raise
        finally:
            # Logged by now: the qa_answers row keeps the timer off the question (and the thread's root).
            self._answering.subtract(held)
            for k in held:
                if self._answering[k] <= 0:
                    del self._answering[k]

    async def _followup_replying_to_answer(self, event: MessagePosted) -> str | None:
        """The conversation (the thread or question an answer is logged under) when ``event`` asks
        a question replying to a bot message showing one of its logged answers, and the help-channel
        owner (the community brain) does not answer it as its own follow-up; else None.

        Such a reply addresses the bot as a mention does, though it names nobody: Discord's reply
        pings the replied-to author, which is no mention (a "thanks, that worked!" under an answer
        must get no answer), so only a question (:func:`is_question`) is taken. The community brain
        answers the asker's follow-ups (or anyone's, ``community.followups``) itself; another
        member's question, or any when it is not loaded or ``followups`` is off, is answered here.
        """
        if not event.reply_to or not is_question(strip_mentions(event.text)):
            return None
        p, ws = event.platform.value, event.channel.workspace_id
        replied = await self.ctx.store.get_message(p, ws, event.reply_to)
        if replied is None or not replied.is_bot:
            return None
        answer = await self._answer_shown_in(replied)
        if answer is None and replied.reply_to and not replied.thread_id:
            # The bot's answer to an earlier follow-up replies to that follow-up, and is logged under
            # the conversation's question, at the top of the chain of inline replies.
            top = await reply_chain_top(self.ctx.store, p, ws, replied.reply_to)
            if top != replied.reply_to:
                answer = await self._answer_shown_in(replace(replied, reply_to=top))
        if answer is None:
            return None  # another bot's message, or one of ours that is no answer (a busy notice)
        owner = self.ctx.services.peek(HELP_CHANNEL_OWNER)
        if owner is not None and await owner.takes_followup(event):
            return None  # answered there as a follow-up
        return answer.thread_id or replied.reply_to or replied.message_id

    @command("ask", description="Ask a question; the answer cites our history", usage="<question>")
    async def ask(self, cmd: CommandInvoked) -> CommandResult:
        """``/ask <question>``."""
        question = (cmd.text or cmd.option("question")).strip()[: self.ctx.settings.qa.max_question_chars]
        if not asks_something(strip_mentions(question)):
            return CommandResult(load_prompt("qa_ask_usage"))
        wait = self._rate_limited(cmd.user, cmd.channel)
        if wait:
            return CommandResult(render_prompt("qa_rate_limited", seconds=wait))
        result = await self._answer(question, channel=cmd.channel, user=cmd.user, role_ids=cmd.role_ids)
        if isinstance(result, str):
            return CommandResult(result)
        answer_id = uuid.uuid4().hex
        await self._log(answer_id, cmd.channel, cmd.thread_id, cmd.user, result)
        return CommandResult(
            result.text,
            # In shadow mode nothing unapproved is posted: the asker alone sees the answer (a draft
            # would leave them waiting for a moderator on a question they asked the bot directly).
            ephemeral=await self._held_for_approval(cmd.channel),
            citations=result.citations,
            buttons=_feedback_buttons(answer_id),
            data={"answer_id": answer_id, "abstained": result.abstained, "cited": list(result.cited_unit_ids)},
        )

    async def _held_for_approval(self, channel: ChannelRef) -> bool:
        """Whether answers in ``channel`` wait for a moderator's approval (shadow mode, which the
        help-channel owner runs: see :data:`HELP_CHANNEL_OWNER`)."""
        owner = self.ctx.services.peek(HELP_CHANNEL_OWNER)
        return owner is not None and bool(await owner.is_shadow_channel(channel))

    def _rate_limited(self, user: UserRef, channel: ChannelRef) -> int:
        """Seconds the member must wait (0 when the question may be answered now)."""
        wait = self._limiter.check(user.key, channel.key, to_epoch(self.ctx.clock.now()))
        return int(wait + 0.999) if wait else 0

    async def answer_question(
        self, question: str, *, channel: ChannelRef, user: UserRef, role_ids: tuple[str, ...] = ()
    ) -> Answer | str:
        """Answer as ``user`` in ``channel`` (the CLI's entry point); a str is a notice for the member
        (the model is busy, timed out or unavailable; the index is unreachable)."""
        return await self._answer(question, channel=channel, user=user, role_ids=role_ids)

    async def _answer(
        self,
        question: str,
        *,
        channel: ChannelRef,
        user: UserRef,
        role_ids: tuple[str, ...] = (),
        exclude: set[str] | None = None,
        thread_id: str | None = None,
        current_message_id: str | None = None,
    ) -> Answer | str:
        try:
            answerer = await self.answerer()
            if thread_id:
                history = await self._thread_history(channel, thread_id, current_message_id)
                if history:
                    question = await answerer.condense(question, history)
            scope = await scope_for(
                self.ctx.store, channel, user.user_id, role_ids, guest=user.guest, external=user.external
            )
            return await self.answer_in_scope(
                question, scope, exclude=exclude or set(), answerer=answerer, asked_in=channel
            )
        except LLMBusyError:
            return load_prompt("qa_busy")
        except VectorIndexUnavailable as exc:
            log.warning("qa: cannot answer, the vector index is unreachable (%s)", exc)
            return load_prompt("qa_index_unavailable")
        except TimeoutError:
            return load_prompt("qa_timeout")
        except LLMUnavailableError as exc:
            # The one log line: the backend's message names the URL, status and body, or the model.
            log.warning("qa: cannot answer, the model is unavailable: %s", exc)
            return render_prompt("qa_unavailable", channel=self.ctx.settings.qa.fallback_channel)
        except LLMBackendMissingError:
            log.exception("no LLM backend")
            return "Answering is not set up on this server yet (no LLM backend configured)."

    async def answer_in_scope(
        self,
        question: str,
        scope: AccessScope,
        *,
        exclude: Set[str] = frozenset(),
        answerer: Answerer | None = None,
        asked_in: ChannelRef | None = None,
    ) -> Answer:
        """Answer ``question`` (cut to ``qa.max_question_chars``) from what ``scope`` may read, as
        every answer is made: opt-outs and channel policy applied to the index first, stale
        citations marked. ``exclude``: the question's own messages (see :meth:`Answerer.answer`);
        ``answerer``: the one the caller already holds (to condense a follow-up), else a new one;
        ``asked_in``: the channel it was asked in, which an abstention does not suggest.

        Raises what :meth:`Answerer.answer` raises (the model busy, timed out or unavailable).
        """
        answerer = answerer or await self.answerer()
        await self.apply_policy_changes_in(scope)
        question = question[: self.ctx.settings.qa.max_question_chars]
        return await self._mark_stale(
            await answerer.answer(question, scope, exclude_message_ids=exclude, asked_in=asked_in)
        )

    async def _mark_stale(self, result: Answer) -> Answer:
        """Mark citations of old or later-corrected sources (``qa.stale_after_days``)."""
        if result.abstained or not result.citations:
            return result
        by_id = {s.unit.unit_id: s.unit for s in result.units}
        units = [by_id[uid] for uid in result.cited_unit_ids]
        citations = await mark_stale(
            self.ctx.store,
            result.citations,
            units,
            now=to_epoch(self.ctx.clock.now()),
            max_age_days=self.ctx.settings.qa.stale_after_days,
        )
        return replace(result, citations=citations)

    async def _thread_history(self, channel: ChannelRef, thread_id: str, current: str | None) -> list[tuple[str, str]]:
        """The thread's exchange so far, if the bot answered in it (otherwise no condensing)."""
        p, ws = channel.platform.value, channel.workspace_id
        answers = await self.answer_log.in_thread(p, ws, thread_id)
        if not answers:
            return []
        # A scrubbed answer quoted a message deleted since: its text is gone, and must not come back
        # through the condensed question.
        items: list[tuple[float, str, str]] = [(a.ts, "assistant", a.answer) for a in answers if not a.scrubbed]
        for m in await self.ctx.store.thread_messages(p, ws, thread_id):
            if m.message_id != current and not m.is_bot and m.text:
                items.append((m.ts, "member", m.text))
        items.sort(key=lambda item: item[0])
        return [(who, text) for _, who, text in items]

    async def _log(
        self, answer_id: str, channel: ChannelRef, thread_id: str | None, user: UserRef, result: Answer
    ) -> None:
        await self.log_posted(
            answer_id,
            channel,
            thread_id,
            user.user_id,
            question=result.question,
            text=result.text,
            cited=result.cited_unit_ids,
            cited_authors=tuple(
                author
                for scored in result.units
                if scored.unit.unit_id in result.cited_unit_ids
                for author in scored.unit.author_ids
            ),
            cited_messages=tuple(
                message_id
                for scored in result.units
                if scored.unit.unit_id in result.cited_unit_ids
                for message_id in scored.unit.message_ids
            ),
            abstained=result.abstained,
        )

    async def log_posted(
        self,
        answer_id: str,
        channel: ChannelRef,
        thread_id: str | None,
        asker_id: str,
        *,
        question: str,
        text: str,
        cited: Sequence[str],
        cited_authors: Sequence[str],
        cited_messages: Sequence[str] | None,
        abstained: bool,
    ) -> None:
        """Record an answer as posted now in ``channel`` (``thread_id``) to ``asker_id`` (idempotent on
        ``answer_id``); ``cited_messages`` None: unknown. Not when the asker or a cited author asked
        to be forgotten, also while it was generated (:meth:`AnswerLog.add`).

        The answer is out already: a store that cannot take the row (locked by an import, restarting)
        is waited for a while, and then the row is given up and logged, never raised. Raised, the
        bus ran the handler again, which posted the same answer again (once per retry of an outage,
        every 30 s for up to 15 minutes)."""
        record = AnswerRecord(
            answer_id=answer_id,
            platform=channel.platform.value,
            workspace_id=channel.workspace_id,
            channel_id=channel.channel_id,
            thread_id=thread_id,
            asker_id=asker_id,
            question=question,
            answer=text,
            cited=tuple(cited),
            abstained=abstained,
            # The time it is posted (a shadow-mode draft's approval, not its drafting): the
            # stored copy of the post is looked for near it.
            ts=to_epoch(self.ctx.clock.now()),
            cited_authors=tuple(cited_authors),
            cited_message_ids=None if cited_messages is None else tuple(cited_messages),
        )
        delay, deadline = 0.5, time.monotonic() + LOG_RETRY_S
        while True:
            try:
                await self.answer_log.add(record, forgotten=self.ctx.any_forgotten)
                return
            except Exception as exc:
                if not is_transient_failure(exc) or time.monotonic() + delay > deadline:
                    log.exception(
                        "qa: answer %s was posted but could not be logged (no feedback, follow-ups or "
                        "erasure will find it)",
                        answer_id,
                    )
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _claim_question(self, platform: str, workspace_id: str, message_id: str) -> bool:
        """Claim a top-level question for one answer attempt on the bus (several workers); True
        without a bus that can claim (one process: :attr:`_answering` guards it)."""
        claim = getattr(self.ctx.bus, "claim_once", None)
        if claim is None:
            return True
        claim_s = REBUILD_WAIT_S + self.answer_timeout_s() + UNANSWERED_CLAIM_MARGIN_S
        if not self._llm_loaded():
            claim_s += MODEL_LOAD_TIMEOUT_S  # the answer first waits for the load (Answerer._generate)
        return bool(await claim(f"qa.unanswered:{platform}:{workspace_id}:{message_id}", claim_s))

    async def _release_questions(self, keys: list[tuple[str, str, str]]) -> None:
        """Give back the claims of an answer attempt that ended without an answer logged."""
        release = getattr(self.ctx.bus, "release_claim", None)
        if release is None:
            return
        for platform, workspace_id, message_id in keys:
            try:
                await release(f"qa.unanswered:{platform}:{workspace_id}:{message_id}")
            except Exception:  # it expires by itself
                log.warning("qa: could not give back the claim on question %s", message_id, exc_info=True)

    def _llm_loaded(self) -> bool:
        """Whether the LLM is ready to generate: a local model not yet in memory loads first, which
        an answer waits for outside its timer. Backends without a load step are always ready."""
        llm = self.ctx.services.peek("llm")
        if llm is None:  # not created yet: only the local backend has a load step
            return self.ctx.settings.llm.backend != "transformers"
        return bool(getattr(llm, "loaded", True))

    # One worker per run: the questions come from the shared store, so every worker would answer each.
    @every(minutes=1, one_worker=True)
    async def answer_unanswered(self) -> None:
        """In configured help channels, answer questions nobody replied to within N minutes.

        Per workspace, ``qa_answer_unanswered_after_min`` and ``qa_help_channels`` as an admin set
        them (``/guildhall config set``) override ``qa.answer_unanswered_after_min`` and
        ``qa.help_channel_ids``; help channels are named by id or name.
        """
        if self.ctx.services.has(HELP_CHANNEL_OWNER):
            return  # the community brain answers them (human-first, shadow mode): never both
        qa = self.ctx.settings.qa
        store = self.ctx.store
        now = to_epoch(self.ctx.clock.now())
        rows: list[Any] = []
        removed = await self.ctx.removed_workspaces()  # a reply there would fail: the bot is gone
        for platform, ws in await store.db.fetchall("SELECT DISTINCT platform, workspace_id FROM channels"):
            if (str(platform), str(ws)) in removed:
                continue
            minutes = await workspace_config(
                store, platform, ws, "qa_answer_unanswered_after_min", qa.answer_unanswered_after_min
            )
            names = await store.get_workspace_setting(platform, ws, "qa_help_channels")
            # Named by id or name, with or without its '#' ("#help" in a config file names #help).
            wanted = {str(n).lstrip("#") for n in (names if isinstance(names, list) else qa.help_channel_ids)}
            if minutes is None or not wanted:
                continue
            ids = [
                c.channel_id
                for c in await store.list_channels(platform, ws)
                if c.channel_id in wanted or c.name.lstrip("#") in wanted
            ]
            if not ids:
                continue
            newest = now - float(minutes) * 60
            # Look back one extra hour only: older questions were either handled or are stale.
            oldest = newest - 3600
            placeholders = ", ".join("?" for _ in ids)
            rows += await store.db.fetchall(
                "SELECT m.platform, m.workspace_id, m.channel_id, m.message_id, m.author_id, m.text, m.ts "
                "FROM messages m WHERE m.platform = ? AND m.workspace_id = ? "
                f"AND m.channel_id IN ({placeholders}) AND m.ts >= ? AND m.ts < ? AND m.deleted = 0 AND m.is_bot = 0 "
                "AND (m.thread_id IS NULL OR m.thread_id = m.message_id) "
                "AND NOT EXISTS (SELECT 1 FROM qa_answers a WHERE a.platform = m.platform "
                "AND a.workspace_id = m.workspace_id AND a.thread_id = m.message_id) ORDER BY m.ts",
                (platform, ws, *ids, oldest, newest),
            )
        # An answer takes seconds and its qa_answers row comes last: the next minute's run (maybe in
        # another worker) must not take the same question meanwhile, nor one a mention is answering.
        for platform, ws, channel_id, message_id, author_id, text, ts in rows:
            if not is_question(text):  # the one rule every brain uses (activity, community)
                continue
            # Only someone else's reply stops the timer (the community brain's rule too): the asker's
            # own bump or follow-up detail leaves the question waiting for help.
            if await has_helper_reply(store, platform, ws, channel_id, message_id, author_id, since=float(ts)):
                continue
            if (platform, ws, message_id) in self._answering or not await self._claim_question(
                platform, ws, message_id
            ):
                continue
            # A mention may have been answered and logged since the query above read qa_answers
            # (it leaves _answering only once logged): look again now that nothing else can take it.
            if await self.answer_log.in_thread(platform, ws, message_id):
                continue
            row = await self.ctx.store.get_channel(platform, ws, channel_id)
            if row is None:
                continue
            channel = channel_ref(row)
            asker = UserRef(Platform(platform), ws, author_id)
            result = await self._answer(
                strip_mentions(text)[: qa.max_question_chars], channel=channel, user=asker, exclude={message_id}
            )
            answer_id = uuid.uuid4().hex
            if isinstance(result, str):
                continue  # busy, timed out or unavailable: a run after the claim expires retries
            # The model may have taken a minute: what was true before it started is looked at again.
            question = await store.get_message(platform, ws, message_id)
            if question is None or question.deleted:
                # Nothing to answer, and nothing to log: a row would keep the deleted question's
                # words (the timer's query skips deleted questions, so it is not taken up again).
                continue
            if await self.answer_log.in_thread(platform, ws, message_id):
                continue  # answered meanwhile: a mention in its thread that this run started before
            if (platform, ws, message_id) in self._answering:
                # A mention in its thread is being answered here (the asker's "@bot can you help?"),
                # and will post in the thread: this answer would be the second. If that attempt
                # fails, the claim expires and a later run takes the question up again.
                continue
            helped = await has_helper_reply(store, platform, ws, channel_id, message_id, author_id, since=float(ts))
            if helped and not result.abstained:
                log.info(
                    "qa: the help-channel answer to %s is not posted: a member replied while it was generated",
                    message_id,
                )
            if result.abstained or helped:
                # An unprompted "I couldn't find this" is noise, and an answer on top of a member's
                # help is too: logged as an abstention (nothing was posted), so no later run retries.
                await self._log(answer_id, channel, message_id, asker, replace(result, abstained=True))
                continue
            await self.ctx.send(
                SendMessage(
                    channel=channel,
                    text=result.text,
                    thread_id=message_id,
                    citations=result.citations,
                    buttons=_feedback_buttons(answer_id),
                    reply_to=message_id,
                )
            )
            await self._log(answer_id, channel, message_id, asker, result)

    # -- feedback ------------------------------------------------------------------------------
    @listen(ButtonClicked)
    async def feedback_button(self, event: ButtonClicked) -> None:
        """👍/👎 buttons under an answer."""
        if event.action_id != FEEDBACK_ACTION:
            return
        value, _, answer_id = event.value.partition(":")
        if value not in {"up", "down"} or not answer_id:
            log.warning("malformed qa feedback value %r", event.value[:80])
            return
        if not await self.keeps_feedback_of(event.user):
            # The click still gets its answer: Discord shows "This interaction failed" otherwise.
            await self.ctx.ephemeral(
                event.channel, event.user, load_prompt("qa_feedback_not_stored"), response_ref=event.response_ref
            )
            return
        # A vote older than the dedupe horizon (a redelivery after a long outage) may have lost its
        # mark: ignored rather than counted again (bot.core_brain.dedupe_horizon).
        if to_epoch(event.ts) < dedupe_horizon(self.ctx):
            return
        if not await self.ctx.store.mark_processed("qa.feedback", event.event_id):
            return
        await self.ctx.store.record_feedback(
            event.platform.value,
            event.channel.workspace_id,
            event.user.user_id,
            FEEDBACK_KIND,
            answer_id,
            value,
            ts=to_epoch(event.ts),
        )
        await self.ctx.ephemeral(
            event.channel, event.user, load_prompt("qa_feedback_thanks"), response_ref=event.response_ref
        )

    @listen(ReactionAdded)
    async def feedback_reaction(self, event: ReactionAdded) -> None:
        """👍/👎 reactions on an answer the bot posted: stored under the answer's id, as its buttons'
        votes are, so a member's click and reaction on one answer are one vote (the last wins)."""
        emoji = event.emoji.strip(":").split("::")[0]
        value = "up" if emoji in _UP else "down" if emoji in _DOWN else None
        if value is None:
            return
        store = self.ctx.store
        p, ws = event.platform.value, event.channel.workspace_id
        message = await store.get_message(p, ws, event.message_id)
        if message is None or not message.is_bot:
            return
        answer = await self._answer_shown_in(message)
        if answer is None:
            return  # another bot's message, or one of ours that is no answer (a busy notice)
        if not await self.keeps_feedback_of(event.user):
            return
        # A reaction's event id names the message, member and emoji only, so 👍 → 👎 → 👍 (the
        # same reaction added again) had the id of the first 👍 and was dropped as a repeat: its
        # time tells a new reaction from a redelivered one. A redelivery, or a vote delivered late,
        # carries its own older time and never replaces a newer vote (record_feedback).
        # Imported reactions carry their message's time: a re-import of history older than the
        # dedupe horizon, whose marks may be purged, records no vote again (bot.core_brain.dedupe_horizon).
        if to_epoch(event.ts) < dedupe_horizon(self.ctx):
            return
        if not await store.mark_processed("qa.feedback", f"{event.event_id}:{event.ts.isoformat()}"):
            return
        await store.record_feedback(
            p, ws, event.user.user_id, FEEDBACK_KIND, answer.answer_id, value, ts=to_epoch(event.ts)
        )

    async def _answer_shown_in(self, message: MessageRow) -> AnswerRecord | None:
        """The logged answer that the bot's ``message`` shows, or ``None`` when it shows none.

        Which message an answer became is not known when it is sent: ``ctx.send`` only publishes
        the action, the adapter posts it (maybe in another process) and reports no message id back,
        and its echo comes in as an ordinary bot message. So the message is matched by its text to
        the answers logged where it sits: the thread it is in, or the question it replies to
        (Discord answers a mention in a plain channel with an inline reply, in no thread). Another
        bot's message there, or our own notice ("the model is busy"), shows no answer's words.

        Words are compared, not the raw text: the adapters rewrite an answer as they post it
        (markdown links become Slack's ``<url|label>``, mass mentions get a zero-width space, a long
        answer is split over several messages, each of which shows a run of its words).
        """
        p, ws = message.platform, message.workspace_id
        shown = words(message.text)
        if not shown:
            return None
        places = [w for w in (message.thread_id, message.reply_to, message.message_id) if w]
        if not message.thread_id and not message.reply_to:
            # A later part of a long inline reply: only Discord's first part carries the reference
            # to the question; the parts after it follow it from the same bot within seconds.
            first = await self.ctx.store.db.fetchone(
                "SELECT reply_to FROM messages WHERE platform = ? AND workspace_id = ? AND author_id = ? "
                "AND channel_id = ? AND ts <= ? AND ts >= ? AND reply_to IS NOT NULL ORDER BY ts DESC LIMIT 1",
                (p, ws, message.author_id, message.channel_id, message.ts, message.ts - _PARTS_WITHIN_S),
            )
            if first is not None:
                places.append(str(first[0]))
        # The stored copy of an answer whose text was scrubbed (a source deleted) reads REMOVED_COPY
        # (AnswerLog.scrub_quoting), as the answer's own text is gone: it shows a scrubbed answer
        # there, the one logged nearest its time. Another bot's message never reads so.
        removed = message.text == REMOVED_COPY
        best: AnswerRecord | None = None
        for where in dict.fromkeys(places):
            for answer in await self.answer_log.in_thread(p, ws, where):
                if removed != answer.scrubbed or (not removed and not shows(shown, words(answer.answer))):
                    continue
                # The same words answered twice in the thread (two "I couldn't find this"): the
                # answer logged nearest the message's time is the one it shows.
                if best is None or abs(answer.ts - message.ts) < abs(best.ts - message.ts):
                    best = answer
        return best

    async def keeps_feedback_of(self, member: UserRef) -> bool:
        """Whether ``member``'s 👍/👎 may be stored: never after ``/forget-me`` (that is permanent,
        and the bus gate lets button clicks through for moderators' draft approvals), nor while they
        are opted out (``/optout`` stops Guildhall learning from what they do)."""
        if await self.ctx.is_forgotten(member):
            return False
        return not await self.ctx.store.is_opted_out(member.platform.value, member.workspace_id, member.user_id)

    # -- admin -----------------------------------------------------------------------------------
    @command("guildhall index", description="Rebuild the question-answering index", admin=True, usage="[all]")
    async def index_command(self, cmd: CommandInvoked) -> CommandResult:
        """``/guildhall index``: rebuild every unit of this workspace from the store."""
        if cmd.text.strip().lower() not in ("", "all"):
            # A full rebuild takes minutes on a big community: not on a typo.
            return CommandResult(f"Usage: /guildhall index [all] — `{cmd.text.strip()[:40]}` is not an option.")
        indexer = await self.indexer(rebuilding=True)
        # This workspace's channels only: an admin of one community neither rebuilds nor learns the
        # size of another sharing the deployment (`guildhall index all` on the host does them all).
        u = cmd.user
        stats = await indexer.index_all(channels=await self.ctx.store.list_channels(u.platform.value, u.workspace_id))
        return CommandResult(
            f"Indexed {stats.units_upserted} units from {stats.groups} channels "
            f"({stats.texts_embedded} new or changed, {stats.units_deleted} stale removed) in {stats.seconds:.1f} s.",
            data=stats.as_dict(),
        )

    # -- start-up --------------------------------------------------------------------------------
    async def index_docs(self, paths: Sequence[Path]) -> tuple[IndexStats, list[str]]:
        """Index docs files/folders (see :func:`brain.qa.docs.read_doc_paths`); returns stats and errors."""
        report = await index_docs(await self.indexer(), paths)
        return report.stats, report.errors

    async def warm_up(self) -> None:
        """Load the embedder, the index and (if ``llm.warmup``) the LLM now, off the request path.

        ``guildhall run`` calls this in the background after start-up so the prompt appears at
        once and the first question does not pay for loading the models.
        """
        await self._ensure()
        if not self.ctx.settings.llm.warmup:
            return
        try:
            llm = await self.ctx.services.get("llm")
        except LLMBackendMissingError as exc:
            log.warning("qa: %s", exc)
            return
        from brain.qa.llm.factory import warmup  # present whenever the llm service could be built

        try:
            await warmup(llm)
        except LLMUnavailableError as exc:
            # Not fatal: questions get the "unavailable" reply, and each retries the model.
            log.warning("qa: the model could not be warmed up: %s", exc)

    # -- status --------------------------------------------------------------------------------
    async def status(self, platform: str, workspace_id: str) -> list[str]:
        """Answers and feedback of the last week, the index, the models (nothing is loaded for it)."""
        db, scope = self.ctx.store.db, (platform, workspace_id)
        since = self.ctx.clock.now().timestamp() - STATUS_DAYS * 86400
        answers = await db.fetchone(
            "SELECT COUNT(*), COALESCE(SUM(abstained), 0) FROM qa_answers WHERE platform = ? AND workspace_id = ? "
            "AND ts >= ?",
            (*scope, since),
        )
        votes: dict[str, int] = dict(
            await db.fetchall(
                "SELECT value, COUNT(*) FROM feedback WHERE platform = ? AND workspace_id = ? AND kind = ? "
                "AND ts >= ? GROUP BY value",
                (*scope, FEEDBACK_KIND, since),
            )
        )
        total, abstained = (int(answers[0]), int(answers[1])) if answers else (0, 0)
        lines = [
            f"Answers (last {STATUS_DAYS} days): {total - abstained} answered, {abstained} abstained · "
            f"feedback 👍 {votes.get('up', 0)} / 👎 {votes.get('down', 0)}"
        ]
        if self._indexer is None:
            lines.append("Index: not loaded yet (it loads with the first question or `/guildhall index`)")
        else:
            await self._apply_index_changes()  # units counted as the next answer will see them
            kinds = Counter(
                u.kind for u in self._indexer.bm25.units() if u.kind == "doc" or (u.platform, u.workspace_id) == scope
            )
            pending = self._indexer.pending
            lines.append(
                f"Index: {kinds['thread']} thread, {kinds['window']} conversation and {kinds['doc']} doc units"
                + (f" · {pending} changes waiting" if pending else "")
            )
        settings = self.ctx.settings
        llm = self.ctx.services.peek("llm")
        state = "not loaded yet" if llm is None or not getattr(llm, "loaded", True) else "ready"
        model = settings.llm.model if settings.llm.backend == "transformers" else settings.llm.openai_model
        lines.append(f"Models: embeddings {settings.embeddings.model} · LLM {settings.llm.backend} {model} ({state})")
        return lines

    # -- privacy -------------------------------------------------------------------------------
    async def forget_member(self, user: UserRef) -> dict[str, int]:
        """Rebuild every unit holding the member's messages without them; drop their questions."""
        p, ws = user.platform.value, user.workspace_id
        # The answer log first: it is in the store, reachable when the vector index is not.
        answers = await self.answer_log.forget_asker(p, ws, user.user_id)
        answers += await self.answer_log.forget_quoting(p, ws, user.user_id)
        # Raises VectorIndexUnavailable while the index cannot be opened: the member is told, and the
        # sweep when it opens (_sweep_forgotten) rebuilds the units still holding their words.
        indexer = await self.indexer()
        # Until the index part is done (below), the next flush that reaches the vector store
        # finishes it: the units other workers built, the other encoders, Chroma's write-ahead log.
        member = (p, ws, user.user_id)
        self._unfinished_forgets.add(member)
        unseen: VectorIndexUnavailable | None = None
        try:
            await indexer.apply_changes()  # units other workers built since this one loaded hold their words too
        except VectorIndexUnavailable as exc:
            # The units known here are queued below; those other workers built since this process
            # loaded are found by that flush's sweep. Until then the index part is not done,
            # whatever the flush below manages.
            unseen = exc
        units = indexer.units_with_author(p, ws, user.user_id)
        # Answers to others that cited the member's messages may quote them (one logged before
        # Slack ids named their channel cites the unit by its old id).
        cited = {u.unit_id for u in units} | {old for u in units if (old := legacy_unit_id(u))}
        answers += await self.answer_log.forget_citing(p, ws, cited)
        # Out of answers at once, whether or not the vector store takes the rebuilds now.
        indexer.tombstones.authors.add(member)
        for unit in units:
            indexer.touch_unit(unit)
        # The threads they titled carry their words too, whoever wrote the messages (a Discord
        # thread opened on someone else's message or without a starter): rebuilt without the title.
        for thread_id, channel_id in await self.ctx.store.db.fetchall(
            "SELECT thread_id, channel_id FROM threads WHERE platform = ? AND workspace_id = ? AND author_id = ?",
            (p, ws, user.user_id),
        ):
            indexer.tombstones.conversations.add((p, ws, str(thread_id)))
            indexer.touch_thread(p, ws, str(thread_id), str(channel_id))
        # Raises VectorIndexUnavailable while the vector store is down: the rebuilds stay pending
        # (applied when it is back) and the member is told the index part is not done yet.
        await indexer.flush()
        if unseen is not None:
            raise unseen
        counts = {"index_units": len(units), "answers": answers}
        erased = await _erase_in_other_encoders(indexer, p, ws, user.user_id)
        if erased is not None:
            counts["other_encoder_units"] = erased
        await _purge_vector_log(indexer)
        self._unfinished_forgets.discard(member)
        return counts

    async def purge_before(self, cutoff_ts: float, *, platform: str, workspace_id: str) -> int:
        """Retention: rebuild the workspace's units holding messages older than ``cutoff_ts`` from the
        store (the core brain has just deleted those messages, so their text leaves the index), and
        drop the answer log's older questions. Returns the number of units rebuilt.

        Raises VectorIndexUnavailable when the index cannot be opened at all; the next purge (its
        cutoff later) rebuilds the units this one could not reach."""
        # The answer log first: it is in the store, reachable when the vector index is not.
        await self.ctx.store.db.execute(
            "DELETE FROM qa_answers WHERE platform = ? AND workspace_id = ? AND ts < ?",
            (platform, workspace_id, cutoff_ts),
        )
        indexer = await self.indexer()
        try:
            await indexer.apply_changes()  # units other workers built since this one loaded are old too
        except VectorIndexUnavailable:
            pass  # the flush below waits for it as well; the next purge covers what this one misses
        units = [
            u
            for u in indexer.bm25.units()
            if u.kind != "doc" and u.ts_start < cutoff_ts and (u.platform, u.workspace_id) == (platform, workspace_id)
        ]
        for unit in units:
            indexer.touch_unit(unit)
        # As for live changes: while the vector store refuses writes the rebuilds stay pending, and the
        # minute's flush applies them (and then purges its log) once it is back; the other encoders'
        # collections wait for the next purge, whose later cutoff covers these units too.
        await self._flush_quietly()
        if self._index_down:
            self._log_purge_due = self._log_purge_due or bool(units)
            return len(units)
        erase = getattr(indexer.index, "erase_in_other_encoders", None)
        if erase is not None:  # an earlier or tuned encoder's collections keep old text too
            await erase(platform, workspace_id, before_ts=cutoff_ts)
        if units:
            await _purge_vector_log(indexer)
        return len(units)

    async def retention_workspaces(self) -> set[tuple[str, str]]:
        """Workspaces whose answer log holds something, for the retention purge (``/ask`` in a DM or
        in a workspace whose messages have all expired leaves questions where no message is)."""
        rows = await self.ctx.store.db.fetchall("SELECT DISTINCT platform, workspace_id FROM qa_answers")
        return {(str(r[0]), str(r[1])) for r in rows}

    async def member_workspaces(self, platform: str, user_id: str) -> set[str]:
        """Workspaces where the member asked a question (`/ask` is a command, not a stored message)."""
        rows = await self.ctx.store.db.fetchall(
            "SELECT DISTINCT workspace_id FROM qa_answers WHERE platform = ? AND asker_id = ?", (platform, user_id)
        )
        return {str(r[0]) for r in rows}

    async def export_member(self, user: UserRef) -> dict[str, Any]:
        """The member's questions and the answers they got, and the answers to others that cited
        their messages (when and where only)."""
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        out: dict[str, Any] = {}
        if questions := await self.answer_log.of_asker(p, ws, uid):
            out["questions"] = questions
        if quoting := await self.answer_log.quoting(p, ws, uid):
            out["answers_quoting_you"] = quoting
        return out


def is_helper_reply(message: MessageRow, asker_id: str) -> bool:
    """Whether a reply in a help-channel question's thread means someone is helping: it came from
    neither the asker nor a bot. The asker's own "anyone?" bump or added detail does not: those
    questions need an answer the most. The one rule of both timers: the QA brain's
    ``answer_unanswered`` and the community brain's human-first wait."""
    return message.author_id != asker_id and not message.is_bot


async def reply_chain_top(store: Store, platform: str, workspace_id: str, message_id: str) -> str:
    """The message at the top of a chain of Discord inline replies from ``message_id`` up (at most
    :data:`_MAX_REPLY_CHAIN` hops): the question the chain answers."""
    top = message_id
    for _ in range(_MAX_REPLY_CHAIN):
        message = await store.get_message(platform, workspace_id, top)
        if message is None or message.thread_id is not None or not message.reply_to:
            break
        top = message.reply_to
    return top


async def has_helper_reply(
    store: Store, platform: str, workspace_id: str, channel_id: str, message_id: str, asker_id: str, *, since: float
) -> bool:
    """Whether someone is helping with the question ``message_id`` (asked at ``since``) by
    :func:`is_helper_reply`: in its thread, or in an inline reply to it (Discord members answer so
    as often as in a thread; such a reply is stored with ``reply_to``, in no thread)."""
    replies = await store.thread_messages(platform, workspace_id, message_id)
    replies += await store.replies_to(platform, workspace_id, channel_id, message_id, since=since)
    return any(is_helper_reply(m, asker_id) for m in replies)


def _conversation_bases(
    platform: str, workspace_id: str, units: Iterable[Unit], messages: Iterable[tuple[str, str, str | None]]
) -> set[str]:
    """Unit ids less their chunk number (``thread:…``, ``win:…``) of the conversations that held
    ``units`` or ``messages`` (``(channel, message, thread)`` ids), under Slack's
    old ids as well: what answers logged before ``cited_messages`` are matched by
    (:meth:`AnswerLog.scrub_quoting`). From the store alone, a message's thread and a window it
    opened are known; a window it sat inside only from the index's ``units``."""
    bases: set[str] = set()
    for unit in units:
        for unit_id in (unit.unit_id, legacy_unit_id(unit)):
            if unit_id:
                bases.add(unit_id.rpartition("#")[0])
    for channel_id, message_id, thread_id in messages:
        ids = [(thread_id or message_id, message_id)]
        if platform == "slack":  # the ids of units indexed before Slack ids named their channel
            ids.append((slack_ts(thread_id or message_id), slack_ts(message_id)))
        for thread, message in ids:
            bases.add(thread_unit_base(platform, workspace_id, thread))  # its thread, or one rooted at it
            bases.add(window_unit_base(platform, workspace_id, channel_id, message))  # a window it opened
    return bases


async def _erase_in_other_encoders(indexer: Indexer, platform: str, workspace_id: str, user_id: str) -> int | None:
    """Erase a member's units from the collections of an earlier or tuned encoder, which hold their
    text too; None when the vector store keeps no other encoders' collections."""
    erase = getattr(indexer.index, "erase_in_other_encoders", None)
    if erase is None:
        return None
    return int(await erase(platform, workspace_id, author_id=user_id))


async def _purge_vector_log(indexer: Indexer) -> None:
    """Erased text out of the vector store's write-ahead log too (Chroma: ``purge_log``)."""
    purge = getattr(indexer.index, "purge_log", None)
    if purge is not None:
        await purge()


# The parts of one long answer are posted one after another, seconds apart: a later part of an inline
# reply is matched through the part with the reference posted this close before it.
_PARTS_WITHIN_S = 120.0


def _feedback_buttons(answer_id: str) -> tuple[Button, ...]:
    return (
        Button(FEEDBACK_ACTION, "👍 Helpful", value=f"up:{answer_id}"),
        Button(FEEDBACK_ACTION, "👎 Not helpful", value=f"down:{answer_id}"),
    )


__all__ = [
    "FEEDBACK_ACTION",
    "FEEDBACK_KIND",
    "HELP_CHANNEL_OWNER",
    "QABrain",
    "has_helper_reply",
    "is_helper_reply",
    "strip_mentions",
]


@dataclass(frozen=True, slots=True)
class _Erasure:
    """A delete, channel delete or edit waiting for the other encoders' collections (see
    :meth:`QABrain._erase_later`)."""

    platform: str
    workspace_id: str
    message_ids: frozenset[str]
    channel_ids: frozenset[str]
    thread_ids: frozenset[str]
    at_ts: tuple[float, ...]

"""The community brain: behave like a good member, not an answering machine.

* **Follow-ups**: once the bot answered in a thread, later questions there from the asker (or anyone,
  ``community.followups``) are answered without a mention, condensed with the thread's history; the
  bot stops when another human replies (a human took over) or after ``max_followup_turns``.
* **Human first**: in help channels a new question (a forum post's title counts) waits
  ``human_first_minutes``; a human reply (in its thread, or a Discord inline reply to it, even one
  arriving while the answer is generated) or the asker's own thanks cancels the bot; otherwise it
  answers the question as it reads then (edits included) in thread, or — when it would abstain —
  posts a gentle nudge naming members who solved similar threads. The timers live in memory; a one-worker job each minute finds in the
  store the questions whose wait ended with no timer left (a restart, a deploy) and answers them,
  each question once.
* **Solved threads**: a ✅ by the asker on a reply, the "Mark solved" button, or the asker's thanks
  records the accepted answer (``threads.solved_message_id``); Discord forum posts get the Solved tag.
  A Discord question answered with inline replies (no thread) is solved the same way, and gets a ✅.
* **Experts**: ``/experts topic`` and the nudges rank members by accepted / well-received answers on
  similar threads (:mod:`brain.community.experts`), read where the answer's access scope lies (a
  Discord DM's: the member's guild); opted-out members, members who left and
  members who cannot read the channel (not listed as readers of a private one, a guest not in it, a
  member whose roles are unknown where a role is denied) are never named; the helpfulness prior
  counts only channels the scope allows, and a nudge names only members who helped on a similar
  thread; nobody is pinged more than ``max_pings_per_day`` times a day.
* **Similar threads**: a new thread or forum post gets one compact message with up to 3 similar
  solved threads the poster can read.
* **Shadow mode**: in ``shadow_channels`` the bot drafts privately to the moderators' channel with
  Approve / Discard buttons; nothing is posted without approval. Mentions there are drafted too (the
  QA brain asks :meth:`CommunityBrain.is_shadow_channel` and stands down; ``/ask`` answers the asker
  privately), and new threads get no similar-threads hint. A Discord private thread of such a
  channel is in shadow mode too, and gets no draft (its readers are not the moderators'). A draft
  whose question, or a message it quotes, is deleted (or its channel) is never posted. An approved
  draft is posted as the bot's answer to its question and logged as one in the QA answer log, so
  feedback, follow-ups, the help-channel timer, deletes and /forget-me treat it like every answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.brain import Brain, CommandResult, command, every, listen, plural
from bot.channel_arg import channel_of_another_workspace
from bot.clock import from_epoch, to_epoch
from bot.core_brain import dedupe_horizon, workspace_config
from bot.events import (
    AddReaction,
    Button,
    ButtonClicked,
    ChannelDeleted,
    ChannelRef,
    Citation,
    CommandInvoked,
    EventSource,
    InboundEvent,
    MarkThreadSolved,
    MessageDeleted,
    MessagePosted,
    Platform,
    ReactionAdded,
    SendMessage,
    ThreadCreated,
    UserRef,
    Visibility,
)
from bot.message_ids import qualified
from bot.permissions import DISCORD_DM_WORKSPACE, is_admin
from bot.privacy.policy import denied_channel_ids
from bot.recorder import LEFT_KEY, channel_ref
from bot.store import slack_ids
from bot.store.channel_access import USER, USER_DENIED
from bot.store.db import Row, like_escaped
from bot.store.models import MessageRow
from bot.store.schema import Migration, register
from brain.community import qa_bridge, signals
from brain.community.experts import ThreadCredit, rank_experts
from brain.community.pending import HumanFirstQueue
from brain.qa.access import discord_dm_guild
from brain.qa.brain import HELP_CHANNEL_OWNER, has_helper_reply, reply_chain_top
from brain.qa.mentions import asks_something, strip_mentions

if TYPE_CHECKING:
    from bot.app import GuildhallApp
    from brain.qa.access import AccessScope
    from brain.qa.answerer import Answer
    from brain.qa.brain import QABrain

log = logging.getLogger(__name__)

SOLVED_ACTION = "community.solved"
DRAFT_ACTION = "community.draft"
# processed_events consumer: a question the bot answered, nudged or drafted for, or that needs no
# answer any more (the asker thanked); keyed as CommunityBrain._key.
HUMAN_FIRST = "community.human_first"
# processed_events consumer: a follow-up the bot answered (its event id), so a redelivery (a worker
# that died before acknowledging it) is not answered again; given back when the answer fails.
FOLLOWUP = "community.followup"
# Forum posts whose title or starter message this process saw before the other part, at most (see
# CommunityBrain.on_forum_post): the two arrive in either order.
MAX_FORUM_PARTS = 256
# How far past its wait the restart job still takes a question up (older ones were handled or are
# stale), as the QA brain's own unanswered-question job looks back.
RESUME_LOOKBACK_S = 3600.0
# Levels of Discord inline replies gathered under a question (as many as the QA brain's
# reply_chain_top follows up a chain to find the question).
MAX_REPLY_CHAIN = 20
# Inline replies gathered under one question (a conversation with no thread) to find its answer.
MAX_INLINE_CONVERSATION = 200

register(
    Migration(
        "community-0001-initial",
        (
            """CREATE TABLE IF NOT EXISTS community_pings (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, user_id TEXT NOT NULL, day TEXT NOT NULL,
                count INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (platform, workspace_id, user_id, day))""",
            """CREATE TABLE IF NOT EXISTS community_threads (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, thread_id TEXT NOT NULL,
                human_took_over INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (platform, workspace_id, thread_id))""",
            """CREATE TABLE IF NOT EXISTS community_drafts (
                draft_id TEXT PRIMARY KEY, platform TEXT NOT NULL, workspace_id TEXT NOT NULL,
                channel_json TEXT NOT NULL, thread_id TEXT, message_id TEXT NOT NULL, asker_id TEXT NOT NULL,
                answer TEXT NOT NULL, citations_json TEXT NOT NULL, status TEXT NOT NULL,
                decided_by TEXT, ts DOUBLE PRECISION NOT NULL)""",
        ),
    )
)
# Slack message and thread ids became "<channel>:<ts>" (bot.message_ids).
register(
    Migration(
        "community-0002-slack-channel-ids",
        (
            slack_ids.by_lookup("community_threads", "thread_id"),
            slack_ids.by_lookup("community_drafts", "thread_id"),
            slack_ids.by_lookup("community_drafts", "message_id"),
        ),
    )
)
# Whose messages a draft's citations quote, so /forget-me can drop it. NULL on drafts written before
# this column: nobody knows whom they quote, so any member's /forget-me drops them.
register(
    Migration(
        "community-0003-draft-cited-authors",
        ("ALTER TABLE community_drafts ADD COLUMN cited_authors TEXT",),
    )
)
# Questions a live timer waits on, so that a restart (timers live in memory) takes up those and only
# those: inferring them from the stored messages took up backfilled and imported questions too,
# which nobody was waiting on. No text, no author: the row goes once its wait is long over.
register(
    Migration(
        "community-0004-waiting",
        (
            """CREATE TABLE IF NOT EXISTS community_waiting (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, question_key TEXT NOT NULL,
                channel_id TEXT NOT NULL, message_id TEXT NOT NULL, due_ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, question_key))""",
            """CREATE INDEX IF NOT EXISTS community_waiting_due ON community_waiting (due_ts)""",
        ),
    )
)
# Workspaces where the community tables name a member (``CommunityBrain.member_workspaces``): each
# part a search of an index leading with the member (migrations community-0005, community-0006).
MEMBER_WORKSPACES = (
    "SELECT workspace_id FROM community_pings WHERE user_id = ? AND platform = ? "
    "UNION SELECT workspace_id FROM community_drafts WHERE asker_id = ? AND platform = ?"
)
# Indexes leading with the member (``member_workspaces``: one Discord id across every guild, no
# workspace to start from). The pings' primary key leads with the workspace and no index named the
# asker, so each lookup scanned every row of the table. One migration per table.
register(
    Migration(
        "community-0005-pings-member-index",
        ("CREATE INDEX IF NOT EXISTS community_pings_member ON community_pings (user_id, platform, workspace_id)",),
        concurrent_indexes=True,
    )
)
register(
    Migration(
        "community-0006-drafts-asker-index",
        ("CREATE INDEX IF NOT EXISTS community_drafts_asker ON community_drafts (asker_id, platform, workspace_id)",),
        concurrent_indexes=True,
    )
)

# Which messages a draft's citations held (JSON list of ids), so a delete of one of them (or of its
# channel) takes the draft out of the moderators' hands before it is approved, as the QA answer log
# scrubs the answers quoting it. NULL on drafts written before this column: nobody knows what they
# quote, so any delete in their workspace takes them (as any /forget-me does, cited_authors).
register(
    Migration(
        "community-0007-draft-cited-messages",
        ("ALTER TABLE community_drafts ADD COLUMN cited_messages TEXT",),
    )
)
# What the QA answer log needs beyond the draft's text and citations, so an approved draft is logged
# as the answer it becomes (``_decide_draft``): the question as answered (a follow-up's condensed
# one), the cited unit ids (JSON list) and whether it abstains. NULL on drafts written before these
# columns: they are logged with the question's stored text, no cited units (their cited messages
# and authors, since community-0007 / -0003, are what deletes and /forget-me go by) and as answered.
register(
    Migration(
        "community-0008-draft-answer-log",
        (
            "ALTER TABLE community_drafts ADD COLUMN question TEXT",
            "ALTER TABLE community_drafts ADD COLUMN cited_units TEXT",
            "ALTER TABLE community_drafts ADD COLUMN abstained INTEGER",
        ),
    )
)
# What a draft becomes once its question or a message it quotes is deleted: question, text and
# citations blanked, and a pending one marked gone (approving it says it is no longer available).
DRAFT_GONE = "gone"
# What deciding a draft reads (CommunityBrain._decide_draft, _post_approved), in this order.
_DRAFT_COLUMNS = (
    "channel_json, thread_id, answer, citations_json, status, message_id, cited_messages, "
    "asker_id, question, cited_units, cited_authors, abstained"
)


@dataclass(frozen=True, slots=True)
class HumanFirstDue(InboundEvent):
    """Internal: a help-channel question waited its time. Travels on the bus so its (slow) answer
    is a normal, drainable, failure-isolated handler, and so any worker may pick it up."""

    message: MessagePosted

    @property
    def event_id(self) -> str:
        return f"{self.message.event_id}:human-first-due"

    @property
    def platform(self) -> Platform:
        return self.message.platform


def mention(user_id: str, platform: Platform) -> str:
    """How to @-mention a member on ``platform``."""
    return f"@{user_id}" if platform is Platform.CONSOLE else f"<@{user_id}>"


class CommunityBrain(Brain):
    """Follow-ups, human first, solved threads, experts, similar threads, shadow mode."""

    name = "community"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue = HumanFirstQueue(self.ctx.clock, self._answer_pending)
        self._app: GuildhallApp | None = None
        # A forum post's title and its starter message arrive in either order (the recorder stores
        # them on a queue of its own): whichever came first waits here for the other.
        self._forum_titles: dict[str, ThreadCreated] = {}
        self._forum_starters: dict[str, MessagePosted] = {}

    def bind_app(self, app: GuildhallApp) -> None:
        """Keep the app to reach the QA brain, and take over unanswered help-channel questions."""
        self._app = app
        # With this brain running, help-channel questions are answered here only (human-first,
        # shadow-mode drafts, nudges): the QA brain's own unanswered-question job stands down.
        self.ctx.services.register(HELP_CHANNEL_OWNER, self)

    async def teardown(self) -> None:
        """Cancel human-first timers."""
        await self._queue.close()

    # -- helpers ---------------------------------------------------------------------------------
    def _qa(self) -> QABrain:
        assert self._app is not None
        return self._app.brain("qa")  # type: ignore[return-value]

    async def _list_setting(self, platform: str, workspace_id: str, key: str, default: list[str]) -> set[str]:
        value = await self.ctx.store.get_workspace_setting(platform, workspace_id, key)
        return set(value if isinstance(value, list) else default)

    async def _help_channel_names(self, platform: str, workspace_id: str) -> set[str]:
        return await self._list_setting(
            platform, workspace_id, "qa_help_channels", self.ctx.settings.qa.help_channel_ids
        )

    async def _named(self, channel: ChannelRef, names: set[str]) -> bool:
        """Whether a channel setting listing ``names`` (ids or names) covers ``channel``: names it, or
        the channel a Discord private thread opened in. Such a thread is a channel of its own (with
        ``parent_id``), not a thread of its parent's messages, yet it is part of the parent's
        conversation: the parent's help-channel wait and shadow mode hold in it too."""
        if not names:
            return False
        names = {n.lstrip("#") for n in names}  # "#help" in a config file names #help too
        if {channel.channel_id, channel.name.lstrip("#")} & names:
            return True
        parent_id = channel.parent_id
        store, p, ws = self.ctx.store, channel.platform.value, channel.workspace_id
        if parent_id is None and channel.visibility is Visibility.PRIVATE:
            # A ref that does not carry its parent (events serialized before the field): the store's.
            row = await store.get_channel(p, ws, channel.channel_id)
            parent_id = row.parent_id if row is not None else None
        if not parent_id:
            return False
        if parent_id in names:
            return True
        parent = await store.get_channel(p, ws, parent_id)
        return parent is not None and parent.name.lstrip("#") in names

    async def _is_help_channel(self, channel: ChannelRef) -> bool:
        names = await self._help_channel_names(channel.platform.value, channel.workspace_id)
        return await self._named(channel, names) or channel.is_forum

    async def is_shadow_channel(self, channel: ChannelRef) -> bool:
        """Whether answers in ``channel`` wait for a moderator's approval (``shadow_channels``): the one
        rule for this brain's answers, nudges and hints, and for the QA brain's mentions and ``/ask``.

        A Discord private thread of a shadow channel is one too, so nothing is posted there
        unapproved. Its drafts quote what only the thread's members read, so :meth:`_draft` sends
        them to no moderators channel (other readers): such a question gets no answer at all.
        """
        if channel.visibility is Visibility.DM:
            return False
        names = await self._list_setting(channel.platform.value, channel.workspace_id, "shadow_channels", [])
        return await self._named(channel, names)

    async def _human_first_delay(self, platform: str, workspace_id: str) -> timedelta:
        default = self.ctx.settings.community.human_first_minutes
        minutes = await workspace_config(self.ctx.store, platform, workspace_id, "human_first_minutes", default)
        return timedelta(minutes=float(minutes))

    async def _asker(self, platform: str, workspace_id: str, thread_id: str) -> str:
        """Who opened the thread: the threads row, else the root message (Slack ts / console ids)."""
        row = await self.ctx.store.db.fetchone(
            "SELECT author_id FROM threads WHERE platform = ? AND workspace_id = ? AND thread_id = ?",
            (platform, workspace_id, thread_id),
        )
        if row and row[0]:
            return str(row[0])
        root = await self.ctx.store.get_message(platform, workspace_id, thread_id)
        return root.author_id if root else ""

    @staticmethod
    def _key(channel: ChannelRef, thread_id: str) -> str:
        return f"{channel.platform.value}:{channel.workspace_id}:{thread_id}"

    async def _thread_state(self, channel: ChannelRef, thread_id: str) -> tuple[int, bool, str] | None:
        """``(bot answers so far, human took over, asker)`` for a thread the bot answered in, else None."""
        answers = await qa_bridge.answers_in_thread(self._qa(), channel, thread_id)
        if not answers:
            return None
        row = await self.ctx.store.db.fetchone(
            "SELECT human_took_over FROM community_threads WHERE platform = ? AND workspace_id = ? AND thread_id = ?",
            (channel.platform.value, channel.workspace_id, thread_id),
        )
        return len(answers), bool(row and row[0]), answers[0][0]

    async def _mark_takeover(self, channel: ChannelRef, thread_id: str) -> None:
        await self.ctx.store.db.execute(
            "INSERT INTO community_threads (platform, workspace_id, thread_id, human_took_over) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (platform, workspace_id, thread_id) DO UPDATE SET human_took_over = 1",
            (channel.platform.value, channel.workspace_id, thread_id),
        )

    # -- messages ----------------------------------------------------------------------------------
    @listen(MessagePosted, concurrency=4)
    async def on_message(self, event: MessagePosted) -> None:
        """Route a live message: cancel pending answers, follow up, mark solved, start a wait, or
        draft an answer to a mention in a shadow channel."""
        if event.is_bot or event.source is not EventSource.LIVE or event.channel.visibility is Visibility.DM:
            return
        replied = await self._replied_to(event)
        if replied is not None:
            await self._on_reply(event, replied)
        elif event.mentions_bot:
            pass  # the QA brain answers mentions at once (outside shadow channels, below)
        elif signals.is_question(await self._asked(event)) and await self._is_help_channel(event.channel):
            await self._wait_for_human(event)
        elif _starts_forum_post(event):
            # Its title, maybe the question, is not known yet: the ThreadCreated bringing it takes
            # the post up (on_forum_post).
            _remember(self._forum_starters, self._key(event.channel, event.message_id), event)
        if event.mentions_bot and await self.is_shadow_channel(event.channel):
            await self._draft_mention(event)

    async def _wait_for_human(self, event: MessagePosted) -> None:
        """Start the human-first wait on the help-channel question ``event`` (once: a question already
        waiting keeps its timer and its row)."""
        p, ws = event.platform.value, event.channel.workspace_id
        due = self.ctx.clock.now() + await self._human_first_delay(p, ws)
        key = self._key(event.channel, event.message_id)
        self._queue.schedule(key, event, due)
        await self.ctx.store.db.execute(
            "INSERT INTO community_waiting (platform, workspace_id, question_key, channel_id, message_id, due_ts) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace_id, question_key) DO NOTHING",
            (p, ws, key, event.channel.channel_id, event.message_id, to_epoch(due)),
        )

    async def _asked(self, event: MessagePosted, text: str | None = None) -> str:
        """What ``event`` asks (``text``: its current text, where it was edited since): its text, and
        for the starter message of a forum post the post's title before it ("How do I pin a version
        with poetry?" over the details of what the member tried)."""
        text = event.text if text is None else text
        if not _starts_forum_post(event):
            return text
        created = self._forum_titles.get(self._key(event.channel, event.message_id))
        if created is not None:
            title = created.title
        else:
            row = await self.ctx.store.db.fetchone(
                "SELECT title FROM threads WHERE platform = ? AND workspace_id = ? AND thread_id = ?",
                (event.platform.value, event.channel.workspace_id, event.message_id),
            )
            title = str(row[0]) if row and row[0] else ""
        return f"{title}\n{text}" if title.strip() else text

    @listen(ThreadCreated)
    async def on_forum_post(self, event: ThreadCreated) -> None:
        """A forum post: it may ask in its title over a starter message that asks nothing ("How do I
        pin a version with poetry?" over "I tried poetry add but the lock file changes"), so the
        help-channel wait starts once both are known, whichever came first."""
        if event.source is not EventSource.LIVE or event.author.is_bot or not event.parent.is_forum:
            return
        key = self._key(event.parent, event.thread_id)
        _remember(self._forum_titles, key, event)  # for the starter message, if it comes second
        starter = self._forum_starters.pop(key, None) or await self._stored_starter(event)
        if starter is None or starter.mentions_bot or await self._waiting(event.parent, key):
            return  # to come (on_message finds the title), the QA brain's, or waiting already
        if await self.ctx.store.is_processed(HUMAN_FIRST, key):
            return  # handled already (this ThreadCreated was delivered again)
        if signals.is_question(await self._asked(starter)) and await self._is_help_channel(starter.channel):
            await self._wait_for_human(starter)

    async def _stored_starter(self, event: ThreadCreated) -> MessagePosted | None:
        """The starter message of the forum post ``event`` as the store has it (recorded before this
        process saw it, or by another worker), else None."""
        row = await self.ctx.store.get_message(event.platform.value, event.parent.workspace_id, event.thread_id)
        if row is None or row.deleted or row.is_bot or row.thread_id != row.message_id:
            return None
        author = event.author
        if author.user_id != row.author_id:
            author = UserRef(event.platform, event.parent.workspace_id, row.author_id)
        ts = from_epoch(row.ts)
        return MessagePosted(event.parent, author, row.message_id, row.text, ts, row.thread_id, permalink=row.permalink)

    async def _replied_to(self, event: MessagePosted) -> str | None:
        """The conversation ``event`` replies in: its thread's root, or for a Discord inline reply (in
        no thread, ``reply_to`` set) the top of its chain of inline replies, the question (a reply to
        the bot's inline answer or to a helper's is a reply to the question too); None for a new
        top-level message."""
        if event.thread_id is not None:
            return event.thread_id if event.thread_id != event.message_id else None
        if not event.reply_to:
            return None
        return await reply_chain_top(self.ctx.store, event.platform.value, event.channel.workspace_id, event.reply_to)

    async def _conversation_root(self, platform: str, workspace_id: str, message: MessageRow) -> str | None:
        """The conversation a stored message is part of: its thread, or for a Discord inline reply
        the question at the top of its chain (as :meth:`_replied_to` has it); None for a message
        that is neither (a question no one answered, a plain remark)."""
        if message.thread_id:
            return message.thread_id
        if message.reply_to:
            return await reply_chain_top(self.ctx.store, platform, workspace_id, message.reply_to)
        return None

    async def _conversation(self, platform: str, workspace_id: str, channel_id: str, root: str) -> list[MessageRow]:
        """Live messages of the conversation under ``root``, oldest first: its thread's, or where it
        has no thread (a Discord question answered with inline replies, which carry no thread id)
        the chains of inline replies under it in ``channel_id``."""
        store = self.ctx.store
        messages = await store.thread_messages(platform, workspace_id, root)
        if any(m.thread_id == root and m.message_id != root for m in messages):
            return messages
        first = next((m for m in messages if m.message_id == root), None)
        since = first.ts if first is not None else 0.0
        seen = {m.message_id for m in messages}
        frontier = [root]
        for _ in range(MAX_REPLY_CHAIN):
            replies = [
                r
                for parent in frontier
                for r in await store.replies_to(platform, workspace_id, channel_id, parent, since=since)
                if r.message_id not in seen
            ]
            if not replies or len(seen) >= MAX_INLINE_CONVERSATION:
                break
            seen |= {r.message_id for r in replies}
            messages += replies
            frontier = [r.message_id for r in replies]
        return sorted(messages, key=lambda m: m.ts)

    async def _on_reply(self, event: MessagePosted, thread_id: str) -> None:
        """A reply to ``thread_id``: a message in its thread, or a Discord inline reply to it."""
        key = self._key(event.channel, thread_id)
        asker_id = await self._asker(event.platform.value, event.channel.workspace_id, thread_id)
        if event.author.user_id != asker_id and await self._waiting(event.channel, key):
            # A human answered first: the bot stays silent, and the store says so for every worker
            # and the restart job (whose own check sees only direct replies, not a reply down a chain).
            await self._settle(event.channel, key)
            return
        state = await self._thread_state(event.channel, thread_id)
        if event.author.user_id == asker_id and signals.is_resolved(event.text):
            await self._settle(event.channel, key)  # "got it working": nothing left to answer
        if event.author.user_id == asker_id and signals.is_thanks(event.text):
            await self._solve_by_thanks(event, thread_id, asker_id)
            return
        if state is None:
            return
        bot_asker = state[2]
        if event.author.user_id != bot_asker and self.ctx.settings.community.followups != "anyone":
            await self._mark_takeover(event.channel, thread_id)  # another human took over
            return
        if self._answers_followup(event, state):
            await self._answer_followup(event, thread_id, asker_id=bot_asker or event.author.user_id)

    async def _answer_followup(self, event: MessagePosted, thread_id: str, *, asker_id: str) -> None:
        """Answer the follow-up ``event`` once however often it is delivered (a stream entry another
        worker reclaims after this one died unacknowledged). An attempt that fails gives its mark
        back, as the QA brain gives back its claims, so the retry answers; a notice that the model
        is busy is an answer of sorts, and keeps it."""
        if to_epoch(event.ts) < dedupe_horizon(self.ctx):
            return  # its mark may be purged (a redelivery after a long outage): see on_due
        if not await self.ctx.store.mark_processed(FOLLOWUP, event.event_id):
            return
        try:
            await self._answer_in_thread(event, thread_id, asker_id=asker_id, followup=True)
        except BaseException:
            # Shielded: the cancel that ended the attempt (a deploy) must not end this too.
            await asyncio.shield(self._unmark(FOLLOWUP, event.event_id))
            raise

    async def _unmark(self, consumer: str, event_id: str) -> None:
        """Give back a :meth:`~bot.store.Store.mark_processed` mark: the event was not handled after all."""
        try:
            await self.ctx.store.db.execute(
                "DELETE FROM processed_events WHERE consumer = ? AND event_id = ?", (consumer, event_id)
            )
        except Exception:  # the redelivery then finds it handled: no answer, but no second one either
            log.warning("community: could not give back the mark on %s", event_id, exc_info=True)

    def _answers_followup(self, event: MessagePosted, state: tuple[int, bool, str]) -> bool:
        """Whether a reply in a conversation the bot answered in (``state``: :meth:`_thread_state`)
        is a follow-up this brain answers: a question from the asker (or anyone, ``community.followups``)
        with no mention of the bot (the QA brain answers those), before a human took over and within
        ``max_followup_turns``."""
        turns, took_over, bot_asker = state
        followups = self.ctx.settings.community.followups
        if event.author.user_id != bot_asker and followups != "anyone":
            return False
        if took_over or event.mentions_bot or followups == "off":
            return False
        return turns < self.ctx.settings.community.max_followup_turns and signals.is_question(event.text)

    async def takes_followup(self, event: MessagePosted) -> bool:
        """Whether :meth:`on_message` answers ``event`` as a follow-up in its conversation (see
        :meth:`_on_reply`), without doing it: the QA brain asks before it answers a question replying
        to one of the bot's answers, which it leaves to this brain then (one answer, not two).

        Read from what this event's own handling does not change: a waiting question it settles
        (another member replied) is no follow-up for the asker, and a takeover it marks concerns
        another member than the one this brain answers."""
        if event.is_bot or event.source is not EventSource.LIVE or event.channel.visibility is Visibility.DM:
            return False
        thread_id = await self._replied_to(event)
        if thread_id is None:
            return False
        p, ws = event.platform.value, event.channel.workspace_id
        asker_id = await self._asker(p, ws, thread_id)
        if event.author.user_id == asker_id and signals.is_thanks(event.text):
            return False  # marked solved, not answered
        if event.author.user_id != asker_id and await self._waiting(event.channel, self._key(event.channel, thread_id)):
            return False  # settled: a human answered first
        state = await self._thread_state(event.channel, thread_id)
        return state is not None and self._answers_followup(event, state)

    # -- answering -------------------------------------------------------------------------------
    async def _settle(self, channel: ChannelRef, key: str) -> None:
        """A waiting question needs no bot answer (a human replied, or the asker says it is solved):
        the timer is cancelled and the question recorded as handled in the store, so the timer of
        another worker, or the restart job, finds it taken."""
        self._queue.cancel(key)
        await self.ctx.store.mark_processed(HUMAN_FIRST, key)
        await self._stop_waiting(channel, key)

    async def _stop_waiting(self, channel: ChannelRef, key: str) -> None:
        """The question ``key`` waits no more (handled: answered, drafted, nudged or settled): a reply
        to it from now on is no human answering first, but a human joining (or taking over) the
        conversation, which :meth:`_on_reply` then sees as such."""
        await self.ctx.store.db.execute(
            "DELETE FROM community_waiting WHERE platform = ? AND workspace_id = ? AND question_key = ?",
            (channel.platform.value, channel.workspace_id, key),
        )

    async def _waiting(self, channel: ChannelRef, key: str) -> bool:
        """Whether the question ``key`` may be waiting for a human: its timer is here, or another
        worker's may be (a help channel's question recorded as waiting, and not handled yet)."""
        if key in self._queue:
            return True
        row = await self.ctx.store.db.fetchone(
            "SELECT 1 FROM community_waiting w WHERE w.platform = ? AND w.workspace_id = ? AND w.question_key = ? "
            "AND NOT EXISTS (SELECT 1 FROM processed_events e WHERE e.consumer = ? AND e.event_id = w.question_key)",
            (channel.platform.value, channel.workspace_id, key, HUMAN_FIRST),
        )
        return row is not None

    async def _answer_pending(self, event: MessagePosted) -> None:
        """Human-first deadline passed: hand over to the bus (see :class:`HumanFirstDue`)."""
        await self.ctx.bus.publish(HumanFirstDue(event))

    @listen(HumanFirstDue, concurrency=2)
    async def on_due(self, due: HumanFirstDue) -> None:
        """Answer (or nudge) unless the store shows a human reply — timers live in one process, the
        store is shared, so this check also holds across workers and restarts."""
        event = due.message
        if await self.ctx.is_forgotten(event.author):
            return  # asked to be forgotten while the question waited (in this or another process)
        p, ws = event.platform.value, event.channel.workspace_id
        if (p, ws) in await self.ctx.removed_workspaces():
            return  # the bot was removed from the workspace while the question waited: no reply can land
        current = await self.ctx.store.get_message(p, ws, event.message_id)
        if current is not None and current.deleted:
            return  # deleted while it waited: nothing to answer
        # As it reads now (an edit may have taken out what the asker did not mean to share: the model,
        # a moderators' draft and the draft's row see the edited text), with a forum post's title.
        question = await self._asked(event, current.text if current is not None else None)
        if not signals.is_question(question):
            return  # edited into no question while it waited: nothing to answer
        event = replace(event, text=question)
        asker = event.author.user_id
        if await has_helper_reply(
            self.ctx.store, p, ws, event.channel.channel_id, event.message_id, asker, since=to_epoch(event.ts)
        ):
            return
        # Not while the QA brain answers it (a mention, in this or another worker), nor once it did.
        if not await qa_bridge.take_question(self._qa(), event.channel, event.message_id):
            return
        # Once per question, whichever worker's timer (or the restart job) fires: a question delivered
        # again after a restart (or to another worker) sets a new timer, and the bot's own reply is
        # no human one. A question older than the dedupe horizon (delivered again after a long
        # outage) may have lost its mark: it is not answered (bot.core_brain.dedupe_horizon).
        if to_epoch(event.ts) < dedupe_horizon(self.ctx):
            return
        key = self._key(event.channel, event.message_id)
        if not await self.ctx.store.mark_processed(HUMAN_FIRST, key):
            return
        await self._stop_waiting(event.channel, key)
        await self._answer_in_thread(event, event.message_id, asker_id=event.author.user_id, followup=False)

    # One worker per run: the questions come from the shared store, so every worker would publish each.
    @every(minutes=1, one_worker=True)
    async def resume_waiting(self) -> None:
        """Take up help-channel questions whose wait ended with no timer left to fire: timers live in
        one process's memory, so a restart or deploy drops them. Only questions a live timer waited
        on (``community_waiting``; never a backfilled or imported one). Each goes to :meth:`on_due`,
        which answers it once (one a human helped with, or the asker settled, is recorded as handled)."""
        now = to_epoch(self.ctx.clock.now())
        # Long over: a question still unanswered an hour past its wait is not taken up any more.
        await self.ctx.store.db.execute("DELETE FROM community_waiting WHERE due_ts < ?", (now - RESUME_LOOKBACK_S,))
        removed = await self.ctx.removed_workspaces()  # a reply there would fail: the bot is gone
        for question in await self._waited_out(now):
            if (question.platform.value, question.channel.workspace_id) not in removed:
                await self.ctx.bus.publish(HumanFirstDue(question))

    async def _waited_out(self, now: float) -> list[MessagePosted]:
        """Questions a timer waited on whose wait is over, that nobody helped with and the bot has
        not handled (by :data:`RESUME_LOOKBACK_S` at most)."""
        store = self.ctx.store
        rows = await store.db.fetchall(
            "SELECT m.platform, m.workspace_id, m.channel_id, m.message_id, m.author_id, m.text, m.ts, "
            "m.thread_id, m.permalink FROM community_waiting w JOIN messages m ON m.platform = w.platform "
            "AND m.workspace_id = w.workspace_id AND m.message_id = w.message_id "
            "WHERE w.due_ts <= ? AND m.deleted = 0 "
            "AND NOT EXISTS (SELECT 1 FROM qa_answers a WHERE a.platform = m.platform "
            "AND a.workspace_id = m.workspace_id AND a.thread_id = m.message_id) "
            # Within the dedupe horizon: an older question's mark may be purged (see on_due).
            "AND m.ts >= ? "
            "AND NOT EXISTS (SELECT 1 FROM processed_events e WHERE e.consumer = ? AND e.event_id = w.question_key) "
            "ORDER BY w.due_ts",
            (now, dedupe_horizon(self.ctx), HUMAN_FIRST),
        )
        out = []
        for platform, ws, channel_id, message_id, author_id, text, ts, thread_id, permalink in rows:
            platform, ws, channel_id = str(platform), str(ws), str(channel_id)
            if await has_helper_reply(store, platform, ws, channel_id, message_id, author_id, since=float(ts)):
                continue
            channel = await store.get_channel(platform, ws, channel_id)
            author = await store.get_user(platform, ws, author_id)
            asker = UserRef(
                Platform(platform),
                ws,
                author_id,
                author.name if author else "",
                external=author.external if author else None,
                guest=author.guest if author else None,
            )
            where = channel_ref(channel) if channel is not None else ChannelRef(Platform(platform), ws, channel_id)
            question = MessagePosted(
                where, asker, message_id, text, from_epoch(float(ts)), thread_id, permalink=permalink
            )
            if signals.is_question(await self._asked(question)):  # a forum post's title asks too
                out.append(question)
        return out

    async def _answer_in_thread(self, event: MessagePosted, thread_id: str, *, asker_id: str, followup: bool) -> None:
        qa = self._qa()
        result = await qa_bridge.answer_in_thread(qa, event, thread_id=thread_id if followup else None)
        if isinstance(result, str):
            if not followup:
                return  # busy: a human can still answer; no point in noise
            await self.ctx.reply(event, result)
            return
        p, ws = event.platform.value, event.channel.workspace_id
        if not followup and await has_helper_reply(
            self.ctx.store, p, ws, event.channel.channel_id, event.message_id, asker_id, since=to_epoch(event.ts)
        ):
            # A human replied while the answer was generated (seconds): they answer it, not the bot.
            log.info("human-first: %s got a human reply while the answer was generated; not posting it", thread_id)
            return
        if await self.is_shadow_channel(event.channel):
            await self._draft(event, thread_id, result)
            return
        if result.abstained and not followup:
            await self._nudge(event, thread_id)
            return
        await self.ctx.reply(
            event, result.text, citations=result.citations, buttons=self._solved_buttons(event, thread_id)
        )
        await qa_bridge.log_answer(qa, event.channel, thread_id, event.author, result)

    async def _draft_mention(self, event: MessagePosted) -> None:
        """A mention in a shadow channel, which the QA brain leaves to this brain: drafted for the
        moderators at once (the member asked the bot: no wait), once however often it is delivered."""
        if not asks_something(strip_mentions(event.text)) or qa_bridge.rate_limited(self._qa(), event):
            return  # nothing to answer, or too many questions: nothing is posted there either way
        if to_epoch(event.ts) < dedupe_horizon(self.ctx):
            return  # its mark may be purged (a redelivery after a long outage): see on_due
        # Asked in the thread of a question: the question's own draft (its wait ended) answers it.
        root = event.thread_id if event.thread_id not in (None, event.message_id) else None
        if root is not None and await self._pending_draft(event, root):
            log.info("shadow mode: %s asks in a thread whose question has a draft waiting; no second one", root)
            return
        if not await self.ctx.store.mark_processed(HUMAN_FIRST, self._key(event.channel, event.message_id)):
            return
        result = await qa_bridge.answer_in_thread(self._qa(), event, thread_id=event.thread_id)
        if isinstance(result, str):
            return  # busy or unavailable: the notice would be a post in the channel
        if root is not None:
            # This draft, condensed with the thread, answers the thread's question: its wait drafts
            # no other (as the QA brain's answer to a mention under a question stops its timer).
            await self._settle(event.channel, self._key(event.channel, root))
        await self._draft(event, event.thread_id or event.message_id, result)

    async def _pending_draft(self, event: MessagePosted, question_id: str) -> bool:
        """Whether the question ``question_id`` (asked by ``event``'s author) has a draft waiting for a
        moderator in ``event``'s workspace."""
        row = await self.ctx.store.db.fetchone(
            "SELECT 1 FROM community_drafts WHERE platform = ? AND workspace_id = ? AND message_id = ? "
            "AND asker_id = ? AND status = 'pending'",
            (event.platform.value, event.channel.workspace_id, question_id, event.author.user_id),
        )
        return row is not None

    def _solved_buttons(self, event: MessagePosted, thread_id: str) -> tuple[Button, ...]:
        return (Button(SOLVED_ACTION, "✅ Mark solved", value=thread_id),)

    async def _nudge(self, event: MessagePosted, thread_id: str) -> None:
        experts = await self.experts_for(event.text, event.channel, event.author, ping=True)
        if experts:
            names = " and ".join(mention(u, event.platform) for u, _ in experts)
            text = f"Nobody has answered yet; {names} solved similar threads and may know."
        else:
            text = "Nobody has answered yet. Adding details (versions, the full error, what you tried) helps others jump in."
        # The nudge is meant to notify the experts it names (within the ping cap), and only them.
        await self.ctx.reply(
            event, text, buttons=self._solved_buttons(event, thread_id), notify=tuple(u for u, _ in experts)
        )

    # -- shadow mode -----------------------------------------------------------------------------
    async def _moderators_channel(self, channel: ChannelRef) -> ChannelRef | None:
        store = self.ctx.store
        p, ws = channel.platform.value, channel.workspace_id
        target = await store.get_workspace_setting(p, ws, "moderators_channel") or await store.get_workspace_setting(
            p, ws, "alerts_channel"
        )
        if not target:
            return None
        if await channel_of_another_workspace(store.db, p, ws, str(target)):
            # Set before `/guildhall config set` refused another workspace's channel (a Discord
            # mention typed as text names any server's channel): drafts quote this community.
            log.warning(
                "shadow mode: moderators channel %s of %s:%s is another workspace's channel; no drafts are "
                "posted until an admin sets one of this workspace",
                target,
                p,
                ws,
            )
            return None
        row = await store.get_channel(p, ws, str(target))
        return ChannelRef(
            channel.platform,
            ws,
            str(target),
            row.name if row else str(target),
            Visibility(row.visibility) if row else Visibility.PRIVATE,
            shared_externally=row.shared_externally if row else None,
        )

    async def _draft(self, event: MessagePosted, thread_id: str, answer: Answer) -> None:
        mods = await self._moderators_channel(event.channel)
        if mods is None:
            log.warning("shadow mode on #%s but no moderators_channel/alerts_channel set", event.channel.name)
            return
        if mods.shared_externally and mods.channel_id != event.channel.channel_id:
            # People of another organisation read it (Slack Connect): a draft quotes our history.
            log.warning(
                "shadow mode: no draft in #%s, which is shared with another organisation; "
                "set a moderators_channel of your own",
                mods.name,
            )
            return
        if event.channel.visibility is not Visibility.PUBLIC and mods.channel_id != event.channel.channel_id:
            # The draft quotes the question and answers from what its channel's members may read;
            # who reads the moderators channel is not known to be among them, so nothing goes there
            # (a restricted channel too: members it hides from may read the moderators channel).
            # A Discord private thread of a shadow channel as well, even when the moderators channel
            # is its parent: the parent's readers are not the thread's. Its question stays
            # unanswered (shadow mode posts nothing unapproved), the safe side of both rules.
            log.warning(
                "shadow mode: no draft for the question in private #%s: #%s may have other readers "
                "(make the channel itself its moderators_channel, or take it out of shadow_channels)",
                event.channel.name or event.channel.channel_id,
                mods.name,
            )
            return
        # The answer took seconds: /forget-me may have erased the asker or a cited author meanwhile
        # (forget_member ran already). Checked again once written: the erasure marks the member
        # before it deletes, so whichever comes second sees the other.
        p, ws = event.platform.value, event.channel.workspace_id
        members = [event.author.user_id, *sorted(_cited_authors(answer))]
        if await self.ctx.any_forgotten(p, ws, members):
            return
        draft_id = uuid.uuid4().hex
        citations = [_citation_dict(c) for c in answer.citations]
        await self.ctx.store.db.execute(
            "INSERT INTO community_drafts (draft_id, platform, workspace_id, channel_json, thread_id, message_id, asker_id, "
            "question, answer, citations_json, cited_units, cited_authors, cited_messages, abstained, status, ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
            (
                draft_id,
                event.platform.value,
                event.channel.workspace_id,
                json.dumps(_channel_dict(event.channel)),
                thread_id,
                event.message_id,
                event.author.user_id,
                answer.question,
                answer.text,
                json.dumps(citations),
                json.dumps(list(answer.cited_unit_ids)),
                json.dumps(sorted(_cited_authors(answer))),
                json.dumps(sorted(_cited_messages(answer))),
                int(answer.abstained),
                to_epoch(self.ctx.clock.now()),
            ),
        )
        if await self.ctx.any_forgotten(p, ws, members):
            await self.ctx.store.db.execute(
                "DELETE FROM community_drafts WHERE draft_id = ? AND platform = ? AND workspace_id = ?",
                (draft_id, p, ws),
            )
            return
        header = f"Draft answer for #{event.channel.name or event.channel.channel_id} (shadow mode):\n> {event.text[:300]}\n\n"
        await self.ctx.say(
            mods,
            header + answer.text,
            citations=answer.citations,
            buttons=(
                Button(DRAFT_ACTION, "Approve and post", value=f"approve:{draft_id}", style="primary"),
                Button(DRAFT_ACTION, "Discard", value=f"discard:{draft_id}", style="danger"),
            ),
        )

    @listen(ButtonClicked)
    async def on_click(self, event: ButtonClicked) -> None:
        """Mark-solved buttons and shadow-draft decisions."""
        if event.action_id == SOLVED_ACTION:
            await self._solve_by_button(event)
        elif event.action_id == DRAFT_ACTION:
            await self._decide_draft(event)

    async def _decide_draft(self, event: ButtonClicked) -> None:
        decision, _, draft_id = event.value.partition(":")
        if decision not in {"approve", "discard"}:
            return
        if not is_admin(event, self.ctx.settings):
            # Approving posts the bot's answer in a help channel: a moderator's decision, whoever
            # else reads the channel the draft went to.
            await self.ctx.ephemeral(
                event.channel, event.user, "Only admins can approve or discard drafts.", response_ref=event.response_ref
            )
            return
        store = self.ctx.store
        p, ws = event.platform.value, event.channel.workspace_id
        # Only this workspace's drafts: an admin of one community decides nothing for another.
        row = await store.db.fetchone(
            f"SELECT {_DRAFT_COLUMNS} FROM community_drafts WHERE draft_id = ? AND platform = ? AND workspace_id = ?",
            (draft_id, p, ws),
        )
        if row is None:
            # Forgotten (it quoted a member who used /forget-me) or past retention: never post it.
            await self.ctx.ephemeral(
                event.channel, event.user, "This draft is no longer available.", response_ref=event.response_ref
            )
            return
        if row[4] == DRAFT_GONE:
            await self.ctx.ephemeral(
                event.channel,
                event.user,
                "This draft is no longer available: its question or a message it quotes was deleted.",
                response_ref=event.response_ref,
            )
            return
        if row[4] != "pending":
            return
        # Read again now, not only when the delete arrived: a delete handled before the draft was
        # written (or by a worker that missed it) leaves the store saying so all the same.
        gone = await self._draft_source_gone(p, ws, str(row[5]), _id_list(row[6]))
        if gone:
            await self._drop_drafts([draft_id])
            await self.ctx.ephemeral(event.channel, event.user, gone, response_ref=event.response_ref)
            return
        status = "approved" if decision == "approve" else "discarded"
        changed = await store.db.execute(
            "UPDATE community_drafts SET status = ?, decided_by = ? WHERE draft_id = ? AND status = 'pending'",
            (status, event.user.user_id, draft_id),
        )
        if not changed:
            return  # someone else decided first
        await store.audit(p, ws, event.user.user_id, f"shadow-{status}", detail={"draft": draft_id})
        if status == "approved":
            await self._post_approved(draft_id, row)
        await self.ctx.ephemeral(event.channel, event.user, f"Draft {status}.", response_ref=event.response_ref)

    async def _post_approved(self, draft_id: str, row: Row) -> None:
        """Post an approved draft (``row``: :data:`_DRAFT_COLUMNS`) as the bot's answer to its
        question, and log it as one in the QA answer log, as this brain's own answers are: feedback
        on it, follow-ups in its thread, the help-channel timer, deletes of what it quotes and
        /forget-me then treat it like every answer. Called once per draft: only the click whose
        update took it from pending gets here. Logged under the draft's id, so it is logged once."""
        channel_json, thread_id, text, citations_json, _, question_id, cited_messages = row[:7]
        asker_id, question, cited_units, cited_authors, abstained = row[7:]
        channel = _channel_from(json.loads(channel_json))
        p, ws = channel.platform.value, channel.workspace_id
        asked = await self.ctx.store.get_message(p, ws, str(question_id))
        # Where ctx.reply answers the question: in its thread, else in "the thread of" the question
        # itself, replying to it (on Discord a message id is no channel: without the reply an
        # answer to a question in a plain channel had nowhere to go).
        where = (asked.thread_id if asked is not None else thread_id) or str(question_id)
        # The buttons of both kinds of answer a draft may hold (the draft does not say which): the
        # asker marks the help question solved, as under this brain's answers, and anyone rates it,
        # as under the QA brain's, under the answer's id (the draft's, as it is logged below).
        buttons = (Button(SOLVED_ACTION, "✅ Mark solved", value=where), *qa_bridge.feedback_buttons(draft_id))
        await self.ctx.send(
            SendMessage(
                channel=channel,
                text=str(text),
                thread_id=where,
                citations=tuple(Citation(**c) for c in json.loads(citations_json)),
                reply_to=str(question_id),
                buttons=buttons,
            )
        )
        if question is None:  # a draft written before community-0008: the question as it is stored
            question = strip_mentions(asked.text)[: self.ctx.settings.qa.max_question_chars] if asked else ""
        await qa_bridge.log_approved(
            self._qa(),
            draft_id,
            channel,
            thread_id,
            str(asker_id),
            question=str(question),
            text=str(text),
            cited_units=_id_list(cited_units) or [],
            cited_authors=_id_list(cited_authors) or [],
            cited_messages=_id_list(cited_messages),
            abstained=bool(abstained),
        )

    async def _draft_source_gone(
        self, platform: str, workspace_id: str, question_id: str, cited: list[str] | None
    ) -> str | None:
        """Why a draft may not be posted any more (its question, or a message it quotes, was deleted,
        or the channel holding it), for the moderator; None while all of it is there."""
        question = await self.ctx.store.get_message(platform, workspace_id, question_id)
        if question is not None and question.deleted:
            return "This draft is no longer available: its question was deleted."
        ids = sorted(set(cited or ()))
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            deleted = await self.ctx.store.db.fetchone(
                "SELECT 1 FROM messages WHERE platform = ? AND workspace_id = ? AND deleted = 1 "
                f"AND message_id IN ({', '.join('?' * len(part))}) LIMIT 1",
                [platform, workspace_id, *part],
            )
            if deleted is not None:
                return "This draft is no longer available: a message it quotes was deleted."
        return None

    async def _drop_drafts(self, draft_ids: list[str]) -> None:
        """Blank the question, text and citations of ``draft_ids`` (they may quote a deleted message,
        or answer a deleted question) and take the pending ones out of the moderators' hands. Decided
        ones keep their status (a moderator's decision, audited), not their text; an approved one's
        logged answer is scrubbed by the QA answer log."""
        for start in range(0, len(draft_ids), 500):
            part = draft_ids[start : start + 500]
            marks = ", ".join("?" * len(part))
            await self.ctx.store.db.execute(
                "UPDATE community_drafts SET question = '', answer = '', citations_json = '[]', "
                f"status = CASE WHEN status = 'pending' THEN ? ELSE status END WHERE draft_id IN ({marks})",
                [DRAFT_GONE, *part],
            )

    @listen(MessageDeleted)
    async def on_message_deleted(self, event: MessageDeleted) -> None:
        """Drafts answering the deleted message, or quoting it, are never posted (and lose their text)."""
        p, ws = event.platform.value, event.channel.workspace_id
        rows = await self.ctx.store.db.fetchall(
            "SELECT draft_id, message_id, cited_messages FROM community_drafts "
            "WHERE platform = ? AND workspace_id = ? AND answer <> '' "
            "AND (message_id = ? OR cited_messages IS NULL OR cited_messages LIKE ? ESCAPE '!')",
            (p, ws, event.message_id, f"%{like_escaped(json.dumps(event.message_id))}%"),
        )
        doomed = []
        for draft_id, question_id, cited_json in rows:
            cited = _id_list(cited_json)
            if question_id == event.message_id or cited is None or event.message_id in cited:
                doomed.append(str(draft_id))
        await self._drop_drafts(doomed)

    @listen(ChannelDeleted)
    async def on_channel_deleted(self, event: ChannelDeleted) -> None:
        """Drafts whose question or quoted messages were in a deleted channel (or thread, or a Discord
        private thread of it) are never posted (and lose their text)."""
        ch = event.channel
        p, ws = ch.platform.value, ch.workspace_id
        store = self.ctx.store
        gone = {ch.channel_id, *await store.child_channel_ids(p, ws, ch.channel_id)}
        rows = await store.db.fetchall(
            "SELECT draft_id, channel_json, thread_id, message_id, cited_messages FROM community_drafts "
            "WHERE platform = ? AND workspace_id = ? AND answer <> ''",
            (p, ws),
        )
        drafts: dict[str, list[str]] = {}  # draft -> its question and quoted messages
        doomed: set[str] = set()
        for draft_id, channel_json, thread_id, question_id, cited_json in rows:
            cited = _id_list(cited_json)
            where = {str(json.loads(channel_json or "{}").get("channel_id", "")), str(thread_id or "")}
            if cited is None or not where.isdisjoint(gone):
                doomed.add(str(draft_id))
            else:
                drafts[str(draft_id)] = [str(question_id), *cited]
        # Where those messages were (the rows stay, erased, after a channel delete).
        wanted = sorted({m for ids in drafts.values() for m in ids})
        inside: set[str] = set()
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            found = await store.db.fetchall(
                "SELECT message_id, channel_id, thread_id FROM messages WHERE platform = ? AND workspace_id = ? "
                f"AND message_id IN ({', '.join('?' * len(part))})",
                [p, ws, *part],
            )
            inside |= {str(m) for m, c, t in found if str(c) in gone or (t is not None and str(t) in gone)}
        doomed |= {d for d, ids in drafts.items() if not inside.isdisjoint(ids)}
        await self._drop_drafts(sorted(doomed))

    # -- solved ----------------------------------------------------------------------------------
    @listen(ReactionAdded)
    async def on_reaction(self, event: ReactionAdded) -> None:
        """✅ by the thread's asker on someone else's reply marks it accepted."""
        if not signals.is_solved_emoji(event.emoji):
            return
        store = self.ctx.store
        p, ws = event.platform.value, event.channel.workspace_id
        message = await store.get_message(p, ws, event.message_id)
        if message is None or message.author_id == event.user.user_id:
            return
        # A reply in a thread, or (Discord) an inline reply answering the question up its chain.
        root = await self._conversation_root(p, ws, message)
        if root is None or message.message_id == root:
            return
        asker = await self._asker(p, ws, root)
        if asker != event.user.user_id:
            return
        # Imported history is recorded as solved quietly: no ✅ / forum tag for a years-old thread.
        await self._mark_solved(event.channel, root, message.message_id, announce=event.source is EventSource.LIVE)

    async def _solve_by_thanks(self, event: MessagePosted, thread_id: str, asker_id: str) -> None:
        p, ws = event.platform.value, event.channel.workspace_id
        messages = await self._conversation(p, ws, event.channel.channel_id, thread_id)
        helpers = [
            m
            for m in messages
            if m.author_id != asker_id
            and not m.is_bot
            and m.ts <= to_epoch(event.ts)
            and m.message_id != event.message_id
        ]
        if helpers:
            # A thanks that replies to a helper's message (Discord) thanks that one; else the latest.
            thanked = next((m for m in helpers if m.message_id == event.reply_to), helpers[-1])
            await self._mark_solved(event.channel, thread_id, thanked.message_id)

    async def _solve_by_button(self, event: ButtonClicked) -> None:
        p, ws = event.platform.value, event.channel.workspace_id
        # A button posted before Slack ids named their channel holds the bare thread ts.
        thread_id = qualified(p, event.channel.channel_id, event.value)
        # Before the thread has a reply (no threads row) its root message says who asked.
        asker = await self._asker(p, ws, thread_id)
        # Who asked is unknown (the root message not stored: erased, expired, before the bot
        # joined): anyone could claim the thread, so only an admin may settle it.
        if (asker and asker != event.user.user_id) or (not asker and not is_admin(event, self.ctx.settings)):
            await self.ctx.ephemeral(
                event.channel,
                event.user,
                "Only the member who asked can mark this thread solved."
                if asker
                else "Guildhall doesn't know who asked this, so only an admin can mark it solved.",
                response_ref=event.response_ref,
            )
            return
        messages = await self._conversation(p, ws, event.channel.channel_id, thread_id)
        helpers = [m for m in messages if m.author_id != event.user.user_id and m.message_id != thread_id]
        human = [m for m in helpers if not m.is_bot]
        accepted = (human or helpers)[-1].message_id if helpers else ""
        await self._mark_solved(event.channel, thread_id, accepted)
        await self.ctx.ephemeral(event.channel, event.user, "Marked solved — thanks!", response_ref=event.response_ref)

    async def _mark_solved(
        self, channel: ChannelRef, thread_id: str, accepted_message_id: str, *, announce: bool = True
    ) -> None:
        store = self.ctx.store
        p, ws = channel.platform.value, channel.workspace_id
        current = await store.db.fetchone(
            "SELECT solved_message_id, is_forum_post FROM threads WHERE platform = ? AND workspace_id = ? AND thread_id = ?",
            (p, ws, thread_id),
        )
        if current is not None and current[0] == accepted_message_id:
            return  # redelivery
        if current is None:
            root = await store.get_message(p, ws, thread_id)
            await store.upsert_thread(
                p,
                ws,
                thread_id,
                channel.channel_id,
                author_id=root.author_id if root else "",
                ts=root.ts if root else 0.0,
            )
        await store.mark_thread_solved(p, ws, thread_id, accepted_message_id)
        await qa_bridge.thread_solved(self._qa(), channel, thread_id)
        if not announce:
            return
        if channel.platform is Platform.DISCORD and await self._is_thread(p, ws, thread_id, current):
            await self.ctx.send(MarkThreadSolved(channel, thread_id, accepted_message_id))  # forum "Solved" tag
        else:
            # Slack and the console: ✅ on the root. On Discord a question answered with inline
            # replies has no thread: MarkThreadSolved would look for a thread channel of the
            # question's id (there is none); ✅ on the question, in its channel, marks it instead.
            await self.ctx.send(AddReaction(channel, thread_id, "white_check_mark"))

    async def _is_thread(self, platform: str, workspace_id: str, thread_id: str, row: Row | None) -> bool:
        """Whether ``thread_id`` is a real thread (a message is stored in it, or its ``threads`` row,
        as read before this brain wrote one, says it is a forum post), not a Discord question
        answered with inline replies."""
        if row is not None and row[1]:
            return True
        found = await self.ctx.store.db.fetchone(
            "SELECT 1 FROM messages WHERE platform = ? AND workspace_id = ? AND thread_id = ? LIMIT 1",
            (platform, workspace_id, thread_id),
        )
        return found is not None

    # -- experts ---------------------------------------------------------------------------------
    async def experts_for(
        self, question: str, channel: ChannelRef, asker: UserRef, *, ping: bool = False, k: int | None = None
    ) -> list[tuple[str, float]]:
        """Members who answered similar threads well, best first (never opted-out, never the asker).

        Everything is read where the answer's access scope lies: the channel's workspace, or for a
        Discord DM the member's guild (workspace ``@me`` holds no thread, member or opt-out).

        With ``ping=True`` (a nudge, which says they "solved similar threads") only members who
        earned credit on a similar thread the scope allows are named, and each one named has a ping
        reserved under ``max_pings_per_day`` (members whose reservation fails are skipped).
        """
        settings = self.ctx.settings.community
        k = k or settings.experts_k
        qa = self._qa()
        scope = await qa_bridge.access_scope(qa, channel, asker)
        neighbours = await qa_bridge.similar_units(qa, question, channel=channel, user=asker, k=30, scope=scope)
        horizon = to_epoch(self.ctx.clock.now()) - settings.expert_months * 30 * 86400
        p, ws = channel.platform.value, scope.workspace_id
        pairs: list[tuple[str, float]] = []
        for item in neighbours:
            unit = item.unit
            if unit.thread_id and unit.ts_end >= horizon:
                pairs.append((unit.thread_id, item.score))
        credits = {tid: await self._credit(p, ws, tid) for tid, _ in pairs}
        opted_out = await self.ctx.store.members_with_setting(p, ws, "opted_out", True)
        left = await self.ctx.store.members_with_setting(p, ws, LEFT_KEY, True)  # gone: naming them helps nobody
        bots = {
            r[0]
            for r in await self.ctx.store.db.fetchall(
                "SELECT user_id FROM users WHERE platform = ? AND workspace_id = ? AND is_bot = 1", (p, ws)
            )
        }
        exclude = opted_out | left | bots | {asker.user_id}
        if ping:
            exclude |= await self._pinged_out(p, ws)  # a cheap first cut: _reserve_ping decides
        shares = await self._reply_shares(scope, horizon)
        readers, shut_out = await self._readers(channel)
        candidates = rank_experts(
            pairs,
            {t: c for t, c in credits.items() if c},
            exclude=exclude | shut_out,
            k=None,
            reply_share=shares,
            allowed=readers,
        )
        # Who helped on the similar threads themselves. The helpfulness prior alone ranks a habitual
        # helper who never touched these topics; a nudge saying they "solved similar threads" (and
        # pinging them) would then be untrue.
        earned = {
            u
            for c in credits.values()
            if c
            for u in (*c.repliers, *c.well_received, c.accepted_author_id or "")
            if u and u != c.asker_id
        }
        day = self._today()
        ranked: list[tuple[str, float]] = []
        for user_id, score in candidates:  # best first, until k can open the question
            if len(ranked) == k:
                break
            if ping and user_id not in earned:
                continue
            if not await self._can_read(channel, user_id):
                continue
            if ping and not await self._reserve_ping(p, ws, user_id, day):
                continue  # capped for today, maybe by a nudge computed at the same time
            ranked.append((user_id, score))
        return ranked

    async def _reserve_ping(self, platform: str, workspace_id: str, user_id: str, day: str) -> bool:
        """Count one ping of ``user_id`` today unless they reached ``max_pings_per_day``: one
        conditional statement, so nudges computed at once (``on_due`` runs two at a time, and several
        workers may) never both take the last ping; reading the count and writing it later did."""
        cap = self.ctx.settings.community.max_pings_per_day
        if cap <= 0:
            return False  # no pings at all (a first row would count 1, over the cap)
        # SQLite and PostgreSQL both skip the update (0 rows affected) when its WHERE fails.
        changed = await self.ctx.store.db.execute(
            "INSERT INTO community_pings (platform, workspace_id, user_id, day, count) VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT (platform, workspace_id, user_id, day) DO UPDATE SET count = community_pings.count + 1 "
            "WHERE community_pings.count < ?",
            (platform, workspace_id, user_id, day, cap),
        )
        return changed > 0

    async def _readers(self, channel: ChannelRef) -> tuple[set[str] | None, set[str]]:
        """Members listed as readers of a private channel (None: public or restricted, anyone may
        read), and members an overwrite of their own keeps out of it: a cheap first cut of the
        candidates, :meth:`_can_read` decides for each member named.

        Experts named there must be able to open the question; members who read it only through a
        role are not known here, so they are left out rather than pinged into a channel they may not see.
        """
        if channel.visibility not in (Visibility.PRIVATE, Visibility.RESTRICTED):
            return None, set()
        rows = await self.ctx.store.db.fetchall(
            "SELECT principal_kind, principal_id FROM channel_access "
            "WHERE platform = ? AND workspace_id = ? AND channel_id = ? AND principal_kind IN (?, ?)",
            (channel.platform.value, channel.workspace_id, channel.channel_id, USER, USER_DENIED),
        )
        # A member who posted before an overwrite shut them out is no reader any more.
        denied = {str(r[1]) for r in rows if r[0] == USER_DENIED}
        if channel.visibility is Visibility.RESTRICTED:
            return None, denied
        return {str(r[1]) for r in rows if r[0] == USER} - denied, denied

    async def _can_read(self, channel: ChannelRef, user_id: str) -> bool:
        """Whether a member named in ``channel`` can open it, by the store's access rules: a guest
        reads only the channels they are in, not every public one, and a member whose roles are not
        known here is kept out of a channel that denies a role (the safe side). In a DM with the bot
        the names are for the asker to contact: anyone goes."""
        if channel.visibility is Visibility.DM:
            return True
        store, p, ws = self.ctx.store, channel.platform.value, channel.workspace_id
        if channel.visibility is Visibility.PUBLIC and not await store.is_guest(p, ws, user_id):
            return True  # every member reads it (also one the store has not seen yet, as /experts may be run in)
        return channel.channel_id in await store.readable_channel_ids(p, ws, user_id)

    async def _reply_shares(self, scope: AccessScope, since: float) -> dict[str, float]:
        """Share of the window's threads each member replied in (the helpfulness prior), over the
        channels ``scope`` allows only: who replies in a private channel or a denied one is not for
        a public channel's nudge to tell (nor to rank by)."""
        db = self.ctx.store.db
        allowed = await self._prior_channels(scope)
        if not allowed:
            return {}
        p, ws = scope.platform, scope.workspace_id
        # Per channel, filtered here: the allowed channels may be many (a DM's scope is every
        # channel the member reads), too many for one IN list on every engine. A thread lives in
        # one channel, so the per-channel counts add up to the distinct threads.
        per_channel = await db.fetchall(
            "SELECT channel_id, COUNT(DISTINCT thread_id) FROM messages WHERE platform = ? AND workspace_id = ? "
            "AND thread_id IS NOT NULL AND ts >= ? AND deleted = 0 GROUP BY channel_id",
            (p, ws, since),
        )
        total = sum(int(n) for c, n in per_channel if str(c) in allowed)
        if not total:
            return {}
        rows = await db.fetchall(
            "SELECT channel_id, author_id, COUNT(DISTINCT thread_id) FROM messages WHERE platform = ? "
            "AND workspace_id = ? AND thread_id IS NOT NULL AND message_id <> thread_id AND ts >= ? AND deleted = 0 "
            "AND is_bot = 0 GROUP BY channel_id, author_id",
            (p, ws, since),
        )
        counts: dict[str, int] = {}
        for channel_id, author_id, n in rows:
            if str(channel_id) in allowed:
                counts[str(author_id)] = counts.get(str(author_id), 0) + int(n)
        return {u: n / total for u, n in counts.items()}

    async def _prior_channels(self, scope: AccessScope) -> set[str]:
        """The channels whose threads the helpfulness prior counts for an answer under ``scope``: the
        ones it draws from (public channels where it includes them, plus its own), never a DM and
        never one ``deny_channels`` covers (nor a Discord private thread of one)."""
        store = self.ctx.store
        p, ws = scope.platform, scope.workspace_id
        denied = await denied_channel_ids(store, self.ctx.settings, p, ws)
        rows = await store.db.fetchall(
            "SELECT channel_id, visibility, parent_id FROM channels WHERE platform = ? AND workspace_id = ?", (p, ws)
        )
        allowed: set[str] = set()
        for channel_id, visibility, parent_id in rows:
            cid = str(channel_id)
            if visibility == Visibility.DM.value or cid in denied or (parent_id and str(parent_id) in denied):
                continue
            if scope.allows_channel(cid, str(visibility)):
                allowed.add(cid)
        return allowed

    def _today(self) -> str:
        # The community's day (settings.tz), as leaderboards and digests count it, not UTC's.
        return self.ctx.clock.now().astimezone(self.ctx.settings.tz).date().isoformat()

    async def _pinged_out(self, platform: str, workspace_id: str) -> set[str]:
        day = self._today()
        rows = await self.ctx.store.db.fetchall(
            "SELECT user_id FROM community_pings WHERE platform = ? AND workspace_id = ? AND day = ? AND count >= ?",
            (platform, workspace_id, day, self.ctx.settings.community.max_pings_per_day),
        )
        return {r[0] for r in rows}

    async def _credit(self, platform: str, workspace_id: str, thread_id: str) -> ThreadCredit | None:
        store = self.ctx.store
        thread = await store.db.fetchone(
            "SELECT author_id, solved_message_id FROM threads WHERE platform = ? AND workspace_id = ? AND thread_id = ?",
            (platform, workspace_id, thread_id),
        )
        messages = await store.thread_messages(platform, workspace_id, thread_id)
        if not messages:
            return None
        asker = str(thread[0]) if thread and thread[0] else messages[0].author_id
        accepted_author = None
        if thread and thread[1]:
            accepted = next((m for m in messages if m.message_id == thread[1]), None)
            accepted_author = accepted.author_id if accepted else None
        repliers = {m.author_id for m in messages if m.author_id != asker and not m.is_bot}
        well: set[str] = set()
        rows = await store.db.fetchall(
            "SELECT m.author_id FROM reactions r JOIN messages m ON m.platform = r.platform AND "
            "m.workspace_id = r.workspace_id AND m.message_id = r.message_id WHERE m.platform = ? AND m.workspace_id = ? "
            "AND (m.thread_id = ? OR m.message_id = ?) AND r.user_id <> m.author_id",
            (platform, workspace_id, thread_id, thread_id),
        )
        well = {r[0] for r in rows} & repliers
        return ThreadCredit(f"{thread_id}", asker, accepted_author, frozenset(well), frozenset(repliers))

    @command("experts", description="Who answered questions like this before", usage="<topic>")
    async def experts(self, cmd: CommandInvoked) -> CommandResult:
        """``/experts topic``: members to ask, without pinging them."""
        topic = (cmd.text or cmd.option("topic")).strip()
        if len(topic) < 3:
            return CommandResult("Usage: `/experts <topic>`, e.g. `/experts asyncio cancellation`.")
        ranked = await self.experts_for(topic, cmd.channel, cmd.user, ping=False, k=5)
        if not ranked:
            return CommandResult(f"I don't know anyone who answered questions about “{topic}” yet.")
        lines = [f"Members who answered questions like “{topic}”:"]
        # Their names where experts_for found them: in a Discord DM, the member's guild.
        ws = await self._home_workspace(cmd.channel, cmd.user)
        for user_id, score in ranked:
            row = await self.ctx.store.get_user(cmd.platform.value, ws, user_id)
            lines.append(f"• {row.name if row and row.name else user_id} (score {score:.2f})")
        return CommandResult("\n".join(lines), data={"experts": [u for u, _ in ranked]})

    async def _home_workspace(self, channel: ChannelRef, user: UserRef) -> str:
        """The workspace whose members and threads an answer in ``channel`` draws on: the channel's,
        or for a Discord DM (workspace ``@me``) the member's guild, as the answer's access scope
        (:func:`brain.qa.access.scope_for`) has it."""
        if channel.platform is Platform.DISCORD and channel.workspace_id == DISCORD_DM_WORKSPACE:
            return await discord_dm_guild(self.ctx.store, user.user_id) or channel.workspace_id
        return channel.workspace_id

    # -- similar threads -------------------------------------------------------------------------
    @listen(ThreadCreated)
    async def on_thread(self, event: ThreadCreated) -> None:
        """A new thread or forum post: point at up to N similar solved threads the poster can read."""
        settings = self.ctx.settings.community
        if event.source is not EventSource.LIVE or settings.similar_threads == 0 or event.author.is_bot:
            return
        if await self.is_shadow_channel(event.parent):
            return  # shadow mode posts nothing unapproved, and a hint is not worth a moderator's time
        # Once per thread; a thread created before the dedupe horizon (a late redelivery) may have
        # lost its mark, and gets no hint (bot.core_brain.dedupe_horizon).
        if to_epoch(event.ts) < dedupe_horizon(self.ctx):
            return
        if not await self.ctx.store.mark_processed("community.similar", event.event_id):
            return
        text = event.title
        first = await self.ctx.store.get_message(event.platform.value, event.parent.workspace_id, event.thread_id)
        if first is not None and first.text:
            text = f"{event.title}\n{first.text}"
        if len(text.strip()) < 8:
            return
        found = await self.similar_solved(text, event.parent, event.author, exclude_thread=event.thread_id)
        if not found:
            return
        citations = tuple(
            Citation(i + 1, title, url, note="solved", kind="link")
            for i, (title, url, _score) in enumerate(found[: settings.similar_threads])
        )
        await self.ctx.say(
            event.parent,
            "These solved threads look similar — one of them may already have your answer:",
            thread_id=event.thread_id,
            citations=citations,
        )

    async def similar_solved(
        self, text: str, channel: ChannelRef, user: UserRef, *, exclude_thread: str | None = None
    ) -> list[tuple[str, str, float]]:
        """``(title, url, score)`` of solved threads similar to ``text``, under the poster's access scope."""
        qa = self._qa()
        items = await qa_bridge.similar_units(qa, text, channel=channel, user=user, k=20)
        store = self.ctx.store
        p, ws = channel.platform.value, channel.workspace_id
        out: list[tuple[str, str, float]] = []
        seen: set[str] = set()
        for item in items:
            unit = item.unit
            if not unit.thread_id or unit.thread_id == exclude_thread or unit.thread_id in seen:
                continue
            if item.score < self.ctx.settings.community.similar_min_score:
                continue
            row = await store.db.fetchone(
                "SELECT solved_message_id, title FROM threads WHERE platform = ? AND workspace_id = ? AND thread_id = ?",
                (p, ws, unit.thread_id),
            )
            if row is None or not row[0]:
                continue
            seen.add(unit.thread_id)
            out.append((row[1] or unit.title or unit.text[:60], unit.url, item.score))
        return out

    # -- status ----------------------------------------------------------------------------------
    async def status(self, platform: str, workspace_id: str) -> list[str]:
        """Help channels and their wait for humans; shadow mode and the drafts waiting for a moderator."""
        store, settings = self.ctx.store, self.ctx.settings

        # Lists hold channel ids (a typed name is stored as its id) or names: shown by name.
        known = {c.channel_id: c.name for c in await store.list_channels(platform, workspace_id) if c.name}

        async def names(key: str, default: list[str]) -> str:
            value = await store.get_workspace_setting(platform, workspace_id, key)
            chosen = value if isinstance(value, list) else default
            return ", ".join(f"#{known.get(str(c), str(c)).lstrip('#')}" for c in dict.fromkeys(chosen))

        minutes = await store.get_workspace_setting(
            platform, workspace_id, "human_first_minutes", settings.community.human_first_minutes
        )
        help_channels = await names("qa_help_channels", settings.qa.help_channel_ids) or "none (forums count as help)"
        shadow = await names("shadow_channels", [])
        row = await store.db.fetchone(
            "SELECT COUNT(*) FROM community_drafts WHERE platform = ? AND workspace_id = ? AND status = 'pending'",
            (platform, workspace_id),
        )
        waiting = int(row[0]) if row else 0
        return [
            f"Help channels: {help_channels} · the bot waits {minutes:g} min for a human",
            f"Shadow mode: {shadow} · {plural(waiting, 'draft')} waiting" if shadow else "Shadow mode: off",
        ]

    # -- privacy ---------------------------------------------------------------------------------
    async def member_workspaces(self, platform: str, user_id: str) -> set[str]:
        """Workspaces with the member's expert-ping counters or drafts answering their questions (a
        moderator's decisions on drafts are audited where they were made: the core finds those)."""
        rows = await self.ctx.store.db.fetchall(MEMBER_WORKSPACES, (user_id, platform, user_id, platform))
        return {str(r[0]) for r in rows}

    async def export_member(self, user: UserRef) -> dict[str, Any]:
        """The member's expert-ping counters, the drafted answers to their questions, the drafts they
        approved or discarded as a moderator and the drafts quoting their messages (those by id,
        status and time only: they answer someone else's question)."""
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        pings = await self.ctx.store.db.fetchall(
            "SELECT day, count FROM community_pings WHERE platform = ? AND workspace_id = ? AND user_id = ? ORDER BY day",
            (p, ws, uid),
        )
        drafts = await self.ctx.store.db.fetchall(
            "SELECT draft_id, thread_id, question, answer, status, ts FROM community_drafts "
            "WHERE platform = ? AND workspace_id = ? AND asker_id = ? ORDER BY ts",
            (p, ws, uid),
        )
        out: dict[str, Any] = {}
        if pings:
            out["pings"] = [{"day": r[0], "count": r[1]} for r in pings]
        if drafts:
            out["drafts"] = [
                {
                    "draft_id": r[0],
                    "thread_id": r[1],
                    "question": r[2] or "",  # NULL: drafted before community-0008 kept it
                    "answer": r[3],
                    "status": r[4],
                    "ts": r[5],
                }
                for r in drafts
            ]
        # Others' drafts: the moderator's decisions, and those whose citations quote the member.
        others = await self.ctx.store.db.fetchall(
            "SELECT draft_id, status, ts, decided_by, cited_authors FROM community_drafts "
            "WHERE platform = ? AND workspace_id = ? AND asker_id <> ? AND (decided_by = ? OR cited_authors IS NOT NULL) "
            "ORDER BY ts, draft_id",
            (p, ws, uid, uid),
        )
        decided = [{"draft_id": r[0], "status": r[1], "ts": r[2]} for r in others if r[3] == uid]
        quoting = [
            {"draft_id": r[0], "status": r[1], "ts": r[2]}
            for r in others
            if r[4] is not None and uid in json.loads(str(r[4]))
        ]
        if decided:
            out["drafts_decided"] = decided
        if quoting:
            out["drafts_quoting_you"] = quoting
        return out

    async def forget_member(self, user: UserRef) -> dict[str, int]:
        """Drop ping counters, drafts of the member's questions and drafts quoting their messages (a
        pending draft is then never posted: approving it says it is gone)."""
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        store = self.ctx.store
        waiting = self._queue.cancel_author(user)  # their help-channel questions are not answered
        # Nor do their forum posts' titles and starter messages wait here for the other part.
        for parts in (self._forum_titles, self._forum_starters):
            for key in [k for k, v in parts.items() if v.author.key == user.key]:
                del parts[key]
        pings = await store.db.execute(
            "DELETE FROM community_pings WHERE platform = ? AND workspace_id = ? AND user_id = ?", (p, ws, uid)
        )
        rows = await store.db.fetchall(
            "SELECT draft_id, asker_id, cited_authors FROM community_drafts WHERE platform = ? AND workspace_id = ?",
            (p, ws),
        )
        doomed = [str(r[0]) for r in rows if r[1] == uid or r[2] is None or uid in json.loads(str(r[2]))]
        for start in range(0, len(doomed), 500):
            part = doomed[start : start + 500]
            await store.db.execute(
                f"DELETE FROM community_drafts WHERE draft_id IN ({', '.join('?' * len(part))})", part
            )
        # The drafts they decided as a moderator stay (other members' questions), without their id:
        # the audit log keeps who decided (an admin action, without content).
        decided = await store.db.execute(
            "UPDATE community_drafts SET decided_by = '' WHERE platform = ? AND workspace_id = ? AND decided_by = ?",
            (p, ws, uid),
        )
        return {"pings": pings, "drafts": len(doomed), "waiting_questions": waiting, "decisions": decided}

    async def retention_workspaces(self) -> set[tuple[str, str]]:
        """Workspaces with drafts or ping counters: they outlive the workspace's last message (it
        expired first), and only a visit of the retention purge removes them."""
        rows = await self.ctx.store.db.fetchall(
            "SELECT DISTINCT platform, workspace_id FROM community_drafts "
            "UNION SELECT DISTINCT platform, workspace_id FROM community_pings"
        )
        return {(str(r[0]), str(r[1])) for r in rows}

    async def purge_before(self, cutoff_ts: float, *, platform: str, workspace_id: str) -> int:
        """Retention: drop the workspace's drafts written before ``cutoff_ts`` (they quote messages of
        that age) and its ping counters of days before it."""
        drafts = await self.ctx.store.db.execute(
            "DELETE FROM community_drafts WHERE platform = ? AND workspace_id = ? AND ts < ?",
            (platform, workspace_id, cutoff_ts),
        )
        day = datetime.fromtimestamp(cutoff_ts, tz=self.ctx.settings.tz).date().isoformat()
        pings = await self.ctx.store.db.execute(
            "DELETE FROM community_pings WHERE platform = ? AND workspace_id = ? AND day < ?",
            (platform, workspace_id, day),
        )
        return drafts + pings


def _starts_forum_post(event: MessagePosted) -> bool:
    """Whether ``event`` is the starter message of a forum post (whose title may hold the question)."""
    return event.channel.is_forum and event.thread_id == event.message_id


def _remember(parts: dict[str, Any], key: str, value: Any) -> None:
    """Keep ``value`` under ``key`` in ``parts``, the oldest dropped past :data:`MAX_FORUM_PARTS`."""
    parts.pop(key, None)
    parts[key] = value
    while len(parts) > MAX_FORUM_PARTS:
        del parts[next(iter(parts))]


def _channel_dict(ch: ChannelRef) -> dict[str, Any]:
    return {
        "platform": ch.platform.value,
        "workspace_id": ch.workspace_id,
        "channel_id": ch.channel_id,
        "name": ch.name,
        "visibility": ch.visibility.value,
        "is_forum": ch.is_forum,
    }


def _channel_from(data: dict[str, Any]) -> ChannelRef:
    return ChannelRef(
        Platform(data["platform"]),
        data["workspace_id"],
        data["channel_id"],
        data.get("name", ""),
        Visibility(data.get("visibility", "public")),
        bool(data.get("is_forum", False)),
    )


def _cited_authors(answer: Answer) -> set[str]:
    """Authors of the units an answer cites (its text and snippets may quote them)."""
    cited = set(answer.cited_unit_ids)
    return {a for item in answer.units if item.unit.unit_id in cited for a in item.unit.author_ids}


def _cited_messages(answer: Answer) -> set[str]:
    """Messages held by the units an answer cites (its text and snippets may quote them)."""
    cited = set(answer.cited_unit_ids)
    return {m for item in answer.units if item.unit.unit_id in cited for m in item.unit.message_ids}


def _id_list(value: object) -> list[str] | None:
    """A stored JSON list of ids; None when unknown (NULL: a draft written before the column, or
    anything that is no list of ids)."""
    if value is None:
        return None
    try:
        ids = json.loads(str(value))
    except ValueError:
        return None
    return [str(i) for i in ids] if isinstance(ids, list) else None


def _citation_dict(c: Citation) -> dict[str, Any]:
    return {"number": c.number, "title": c.title, "url": c.url, "snippet": c.snippet, "note": c.note}


__all__ = ["CommunityBrain"]

"""The recommender brain: ``/recommend``, the daily digest DM, welcome suggestions, feedback.

Ranking lives in the pure modules (:mod:`engine`, :mod:`ranker`, :mod:`explore`); this module
reads the store, keeps running interest profiles and feedback, and talks to members.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import json
import logging
import math
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import numpy as np
import numpy.typing as npt

import brain.recommend.tables  # noqa: F401  (registers the migrations)
from bot.brain import Brain, BrainContext, CommandResult, command, every, listen, plural
from bot.conversations import WINDOW_GAP_S, chunk_unit_id, thread_unit_base, window_unit_base
from bot.core_brain import CONFIG_BOUNDS, dedupe_horizon, parse_config_value, workspace_config
from bot.events import (
    ButtonClicked,
    ChannelDeleted,
    ChannelRef,
    CommandInvoked,
    EventSource,
    MemberJoined,
    MessageDeleted,
    MessagePosted,
    Platform,
    ReactionAdded,
    UserRef,
    Visibility,
)
from bot.message_ids import qualified
from bot.ml import Embedder, Vector
from bot.permissions import DISCORD_DM_WORKSPACE
from bot.privacy.policy import denied_channel_ids
from bot.recorder import LEFT_KEY
from bot.scheduler import parse_hhmm
from bot.store import OPTED_OUT_KEY, ChannelRow, MessageRow
from bot.store.db import fetch_in
from brain.qa.access import discord_dm_guild, discord_member_guilds
from brain.recommend.candidates import THREAD, WINDOW, ThreadItem, popular_threads, select_candidates
from brain.recommend.content import index_vectors
from brain.recommend.digest import (
    DIGEST_TICK_MINUTES,
    OPEN_ACTION,
    Recommendation,
    digest_due,
    parse_open_value,
    render,
    shared_topic,
    title_of,
    why_line,
)
from brain.recommend.engine import Snapshot, build_snapshot, features
from brain.recommend.explore import Pick, Scored, rerank
from brain.recommend.profile import KIND_WEIGHTS, build_profile, cold_start_profile, decayed_update, normalised
from brain.recommend.ranker import DEFAULT_WEIGHTS, FEATURES, RankerWeights
from prompts import load_prompt, render_prompt

CHANNEL_SUGGESTION_WEEKDAY = 0  # Monday's digest (member's local day) carries channel suggestions
CHANNEL_SUGGESTIONS = 2
SNAPSHOT_TTL_S = 300.0  # rankings may lag new messages by this much
HISTORY_DAYS = 90  # how far back CF and the activity prior learn from
PROFILE_TOUCHES = 300  # the member's most recent interactions that make their history profile
# A post joins a recommended conversation window at most this long after the window opened (a
# window ends at a silence of WINDOW_GAP_S, so this only bounds the lookup).
WINDOW_JOIN_S = 86400.0
# A member is welcomed only on a join at most this old by the brain's clock (live events arrive in
# seconds; a day leaves room for a backlog after an outage).
WELCOME_MAX_AGE_S = 86400.0
# How late a member's post may be stored after its own time (platform delivery, a bus backlog):
# posts this far before a cached snapshot are looked up again, as the snapshot may have missed them.
LATE_POST_MARGIN_S = 600.0
FEEDBACK_WEIGHT = 0.5  # score bonus per log(1 + clicks/joins) in a channel: clicks are used, not just stored
DIGEST_KEY = "digest"
LAST_DIGEST_KEY = "recommend.last_digest"
EMBEDDED_CACHE_MAX = 50_000  # texts kept embedded per workspace (a 90-day window's threads)
TZ_KEY = "tz"  # the member's own time zone (`/recommend tz`), over the platform's (users.tz)
# Ranking weights learned by `guildhall eval recommend --save-weights` (workspace settings): the
# weights, and the time (epoch seconds) of the latest message they were learned from, which an
# `--as-of` replay compares with its own time (weights saved before this was recorded have none).
WEIGHTS_KEY = "recommend.weights"
WEIGHTS_UNTIL_KEY = "recommend.weights_until"
# Rankings re-checked against the store because a pick was deleted meanwhile (``recommend``).
RECHECK_ROUNDS = 3
# The recommender's tables about a member, and the workspaces where they hold one
# (``member_workspaces``): each part a search of an index leading with the member
# (migrations recommend_0003..0005).
MEMBER_TABLES = ("recommend_profiles", "recommend_shown", "recommend_feedback")
MEMBER_WORKSPACES = " UNION ".join(
    f"SELECT workspace_id FROM {table} WHERE user_id = ? AND platform = ?" for table in MEMBER_TABLES
)

log = logging.getLogger(__name__)


class RecommendBrain(Brain):
    """Personal thread and channel recommendations."""

    name = "recommend"

    def __init__(self, ctx: BrainContext) -> None:
        super().__init__(ctx)
        # The scheduled ticks and an admin's send-now must not both send one member's digest.
        self._digest_lock = asyncio.Lock()
        # (platform, workspace) -> (history, snapshot, the opted-out members it leaves out)
        # (history, snapshot, opted-out members, denied channels) per workspace.
        self._snapshots: dict[tuple[str, str], tuple[list[MessageRow], Snapshot, frozenset[str], frozenset[str]]] = {}
        # (platform, workspace) -> (its time, the lookback window's messages, their snapshot, the
        # opted-out members and denied channels it leaves out): the Monday digest's channel
        # suggestions of every member read one, not one each (an ALS fit).
        self._channel_snapshots: dict[
            tuple[str, str], tuple[float, list[MessageRow], Snapshot, frozenset[str], frozenset[str]]
        ] = {}
        # (platform, workspace) -> {text: vector} of threads the QA index lacks, embedded once per
        # snapshot rather than once per member ranked (a digest ranks every member).
        self._embedded: dict[tuple[str, str], dict[str, Vector]] = {}

    # -- members ask --------------------------------------------------------------------------
    @command("recommend", description="Threads you might like", usage="[daily on|off | tz [Area/City|reset]]")
    async def recommend_cmd(self, cmd: CommandInvoked) -> CommandResult:
        """``/recommend`` lists threads (ephemeral); ``/recommend daily on|off`` sets the digest;
        ``/recommend tz [Area/City|reset]`` shows or sets the time zone of the digest hour."""
        store = self.ctx.store
        args = cmd.text.split()
        if await self.ctx.is_forgotten(cmd.user):
            # The bus gate lets commands through, and a Discord member forgotten in another guild has
            # no opted_out setting here: nothing is listed (or recorded as shown) and no digest or
            # time zone setting is stored about them.
            return CommandResult(
                "You asked Guildhall to forget you, so there are no personal recommendations or digests."
            )
        home = await self._home(cmd.user, unique=bool(args))
        if isinstance(home, CommandResult):
            return home
        u = home
        if args and args[0].lower() == "tz":
            return await self._tz_cmd(u, args[1:])
        if args and args[0].lower() == "daily":
            if len(args) != 2 or args[1].lower() not in ("on", "off"):
                return CommandResult("Usage: /recommend daily on|off")
            on = args[1].lower() == "on"
            await store.set_member_setting(u.platform.value, u.workspace_id, u.user_id, DIGEST_KEY, on)
            return CommandResult(render_prompt("recommend_daily_set", state="on" if on else "off"))
        if args:
            return CommandResult("Usage: /recommend [daily on|off | tz [Area/City|reset]]")
        if await store.is_opted_out(u.platform.value, u.workspace_id, u.user_id):
            return CommandResult(
                "You opted out of profiling, so there are no personal recommendations. Use /optin to turn them back on."
            )
        # As many as the workspace's digest holds (`/guildhall digest size N`).
        size = await workspace_config(
            store, u.platform.value, u.workspace_id, "digest_size", self.ctx.settings.recommend.digest_size
        )
        recs = await self.recommend(u, k=int(size), role_ids=cmd.role_ids)
        text, citations, buttons = render(recs, workspace_id=u.workspace_id)
        return CommandResult(text, citations=citations, buttons=buttons, data={"items": [r.thread_id for r in recs]})

    async def _home(self, u: UserRef, *, unique: bool) -> UserRef | CommandResult:
        """``u`` in the community a command of theirs is about: a Discord DM belongs to no guild
        (workspace ``@me``), so there it is the member's guild as the QA brain picks it
        (:func:`discord_dm_guild`); with ``unique`` (a setting, stored per guild) only when they
        are known in just one. Otherwise the reply that sends them to their server."""
        if u.platform is not Platform.DISCORD or u.workspace_id != DISCORD_DM_WORKSPACE:
            return u
        guild = await discord_dm_guild(self.ctx.store, u.user_id)
        if guild is None:
            return CommandResult("I don't know your server yet: run `/recommend` in the server, or post there first.")
        if unique and len(await discord_member_guilds(self.ctx.store, u.user_id)) > 1:
            return CommandResult(
                "You are in several servers and each keeps its own digest settings: "
                "run this `/recommend` command in the server it is for."
            )
        return dataclasses.replace(u, workspace_id=guild)

    async def _tz_cmd(self, u: UserRef, args: list[str]) -> CommandResult:
        """``/recommend tz``: show the zone; ``tz Area/City`` sets it; ``tz reset`` clears it."""
        store = self.ctx.store
        p, ws, uid = u.platform.value, u.workspace_id, u.user_id
        if len(args) > 1:
            return CommandResult("Usage: /recommend tz [Area/City|reset]")
        if not args or args[0].lower() == "show":  # "show": Discord's tz option cannot be left empty
            own = await store.get_member_setting(p, ws, uid, TZ_KEY)
            row = await store.get_user(p, ws, uid)
            known = own or (row.tz if row is not None else None)
            if isinstance(known, str) and known:
                return CommandResult(render_prompt("recommend_tz_show", tz=known))
            return CommandResult(render_prompt("recommend_tz_unset", tz=self.ctx.settings.tz.key))
        if args[0].lower() == "reset":
            # "" (not a deleted row): the digest then falls back to the platform's zone (users.tz).
            await store.set_member_setting(p, ws, uid, TZ_KEY, "")
            return CommandResult(render_prompt("recommend_tz_reset", tz=self.ctx.settings.tz.key))
        # Matched case-insensitively ("europe/berlin"), stored as tzdata spells it. Only names in
        # tzdata's list: ZoneInfo() would also open "America" (a folder) or a path-like name.
        name = _zone_names().get(args[0].lower())
        if name is None:
            return CommandResult(render_prompt("recommend_tz_invalid", tz=args[0][:64]))
        await store.set_member_setting(p, ws, uid, TZ_KEY, name)
        return CommandResult(render_prompt("recommend_tz_set", tz=name))

    @command(
        "guildhall digest",
        description="Configure the daily recommendation digest",
        admin=True,
        usage="default on|off | time HH:MM | size N | send-now [again]",
    )
    async def digest_admin(self, cmd: CommandInvoked) -> CommandResult:
        """Admin settings of the digest for this workspace."""
        store, u = self.ctx.store, cmd.user
        p, ws = u.platform.value, u.workspace_id
        args = cmd.text.split()
        usage = CommandResult("Usage: /guildhall digest default on|off | time HH:MM | size N | send-now [again]")
        words = [a.lower() for a in args[:2]]
        if words and words[0] == "send-now" and len(args) <= 2 and words[1:] in ([], ["again"]):
            # Today's digest now, whatever the hour, to members who have not had today's; `again`
            # sends it to those who have too (a second run would otherwise DM everyone twice).
            sent = await self.send_due_digests(force=True, only=(p, ws), again=words[1:] == ["again"])
            return CommandResult(f"Sent {plural(sent, 'digest')}.")
        if len(args) != 2:
            return usage
        key, value = args[0].lower(), args[1]
        if key == "default" and value.lower() in ("on", "off"):
            await store.set_workspace_setting(p, ws, "digest_default_on", value.lower() == "on")
        elif key in ("time", "size"):
            # The same check (and stored form: "07:05" for "7:5") as `/guildhall config set`.
            try:
                value = parse_config_value(f"digest_{key}", value)
            except ValueError:
                if key == "time":
                    return CommandResult(
                        f"`{value}` is not a time of day: use HH:MM, 00:00 to 23:59 (members' own time zones)."
                    )
                low, high = CONFIG_BOUNDS["digest_size"]
                return CommandResult(f"The digest size is a number of threads from {low:g} to {high:g}.")
            await store.set_workspace_setting(p, ws, f"digest_{key}", value)
        else:
            return usage
        return CommandResult(f"Digest {key} set to {value}.")

    # -- profile and feedback ----------------------------------------------------------------
    @listen(MessagePosted)
    async def on_message(self, event: MessagePosted) -> None:
        """Fold the message into the author's profile; a post in a recommended thread is a join."""
        a = event.author
        if event.source is not EventSource.LIVE:
            # Imported history reaches profiles through the QA units (``_member_profile``), not by
            # embedding tens of thousands of messages one at a time during an import; checked
            # first, as the opt-out lookup below is a store query per message.
            return
        if a.is_bot or not event.text.strip() or await self._opted_out_or_forgotten(a):
            return
        if await self._denied_here(event.channel):
            return  # deny_channels: neither profiled nor a join
        ts = event.ts.timestamp()
        if event.thread_id:
            await self._record_feedback(a, event.thread_id, event.channel.channel_id, "joined", ts, only_if_shown=True)
        else:
            await self._record_window_join(a, event.channel.channel_id, ts)
        vec = await self._embed(event.text)
        await self._update_profile(a, vec, ts, KIND_WEIGHTS["wrote"])

    @listen(ReactionAdded)
    async def on_reaction(self, event: ReactionAdded) -> None:
        """A reaction says a little about interest in the message's topic."""
        u = event.user
        if event.source is not EventSource.LIVE:
            # Imported reactions reach profiles as "reacted" touches of the history snapshot
            # (``build_snapshot``), not by embedding each reacted-to message during an import.
            return
        if u.is_bot or await self._opted_out_or_forgotten(u) or await self._denied_here(event.channel):
            return
        msg = await self.ctx.store.get_message(u.platform.value, u.workspace_id, event.message_id)
        if msg is None or not msg.text.strip():
            return
        # The mark below is purged past the dedupe horizon (bot.core_brain.dedupe_horizon): a
        # reaction older than that (a late redelivery) could find its mark gone and touch the
        # profile twice, so it is not profiled. A reaction given now counts whatever the message's
        # age (a pinned FAQ is a fresh interest); given again after its mark was purged, months
        # on, it counts again, as a new sign of interest.
        if event.ts.timestamp() < dedupe_horizon(self.ctx):
            return
        # One touch per member and message: a reaction's event id carries its time, so one added
        # again (👍 taken back and given again, a Discord replay after a RESUME) arrives again.
        key = f"{u.platform}:{u.workspace_id}:{event.message_id}:{u.user_id}"
        if await self.ctx.store.is_processed("recommend.reacted", key):
            return
        vec = await self._embed(msg.text)  # before the mark: a failure here is retried by the bus
        if not await self.ctx.store.mark_processed("recommend.reacted", key):
            return  # the same reaction, handled meanwhile
        await self._update_profile(u, vec, event.ts.timestamp(), KIND_WEIGHTS["reacted"])

    @listen(ButtonClicked)
    async def on_click(self, event: ButtonClicked) -> None:
        """``recommend.open.N`` clicks are recorded and boost that channel later; where the button
        itself opens nothing, the click is answered with the thread's link."""
        parsed = parse_open_value(event.value)
        if not event.action_id.startswith(OPEN_ACTION) or parsed is None:
            return
        ws, channel_id, thread_id = parsed
        # A digest sent before Slack ids named their channel holds the bare thread ts.
        thread_id = qualified(event.platform.value, channel_id, thread_id)
        if not (channel_id and thread_id):
            return
        member = event.user
        if event.platform is Platform.DISCORD and member.workspace_id == DISCORD_DM_WORKSPACE:
            # A click in the digest DM names no guild: the button does (a digest sent before
            # buttons named it: the member's guild, as the QA brain picks it for a DM).
            ws = ws or await discord_dm_guild(self.ctx.store, member.user_id) or ""
            if not ws or ws == DISCORD_DM_WORKSPACE:
                return
            member = dataclasses.replace(member, workspace_id=ws)
        # The bus gate lets button clicks through.
        if not await self._opted_out_or_forgotten(member):
            await self._record_feedback(member, thread_id, channel_id, "clicked", event.ts.timestamp())
        # Slack opens the button's url itself (and still reports the click). A Discord link button
        # would report nothing, so Discord keeps a plain button and the link comes back privately:
        # the click stays feedback and still opens the thread in one more tap.
        if event.platform is Platform.SLACK:
            return
        url = await self._permalink(event.platform.value, member.workspace_id, thread_id)
        if url:
            await self.ctx.ephemeral(
                event.channel,
                event.user,
                render_prompt("recommend_open_link", url=url),
                response_ref=event.response_ref,
            )

    async def _permalink(self, p: str, ws: str, thread_id: str) -> str:
        """The link of a recommended conversation: its opening message's (a Discord thread
        started from a message, a Slack root, a window's first message), else its first reply's."""
        row = await self.ctx.store.db.fetchone(
            "SELECT permalink FROM messages WHERE platform = ? AND workspace_id = ? "
            "AND (message_id = ? OR thread_id = ?) AND deleted = 0 AND permalink <> '' ORDER BY ts LIMIT 1",
            (p, ws, thread_id, thread_id),
        )
        return str(row[0]) if row else ""

    async def _denied(self, platform: str, workspace_id: str) -> frozenset[str]:
        """Channels ``deny_channels`` names here (ids), and the channels stored under them."""
        store = self.ctx.store
        denied = await denied_channel_ids(store, self.ctx.settings, platform, workspace_id)
        if not denied:
            return denied
        # A Discord private thread is a channel of its own (``parent_id``), not a thread of its
        # parent's messages: denying the parent must cover what is said in its private threads too.
        # (The parent index, not every channel: this runs for each message a member posts.)
        ids = sorted(denied)
        rows = await store.db.fetchall(
            "SELECT channel_id FROM channels WHERE platform = ? AND workspace_id = ? "
            f"AND parent_id IN ({', '.join('?' for _ in ids)})",
            (platform, workspace_id, *ids),
        )
        return denied | {str(r[0]) for r in rows}

    async def _denied_here(self, channel: ChannelRef) -> bool:
        """Whether ``deny_channels`` covers ``channel``: names it (by id or name) or its parent."""
        denied = await self._denied(channel.platform.value, channel.workspace_id)
        # The ref's own parent too: a private thread whose stored row does not name its parent yet.
        return bool(denied & ({channel.channel_id, channel.name.lstrip("#"), channel.parent_id or ""} - {""}))

    async def _exploration_share(self, platform: str, workspace_id: str) -> float:
        # `/guildhall config set exploration_share X` overrides recommend.exploration_share per workspace.
        default = self.ctx.settings.recommend.exploration_share
        return float(await workspace_config(self.ctx.store, platform, workspace_id, "exploration_share", default))

    @listen(MemberJoined)
    async def on_member_joined(self, event: MemberJoined) -> None:
        """Welcome a newcomer with channel suggestions (the community's most active readable
        channels): only a live join of the community, and only while it is recent."""
        u = event.user
        if u.is_bot or event.channel is not None:
            return  # joining one channel is not joining the community
        if event.source is not EventSource.LIVE:
            # An export's joins are history (every member who ever joined): the recorder still
            # stores them, but a welcome DM years later would reach the whole community at once.
            return
        if self.ctx.clock.now().timestamp() - event.ts.timestamp() > WELCOME_MAX_AGE_S:
            # A live join delivered late (a redelivery, a backlog after an outage, a Discord member
            # whose joined_at is old) is no moment to greet someone who has been here for weeks.
            return
        if await self._opted_out_or_forgotten(u):
            return
        suggestions = await self.suggest_channels(u, k=3)
        if not suggestions:
            return
        lines = [load_prompt("recommend_welcome")]
        lines += [render_prompt("recommend_channel_item", channel=name, why=why) for name, why in suggestions]
        await self.ctx.dm(u, "\n".join(lines))

    # -- digest --------------------------------------------------------------------------------
    @every(setting="recommend.digest_time", one_worker=True)
    async def daily_digest(self) -> None:
        """At the community's digest time: members without a known time zone are due now."""
        await self.send_due_digests()

    @every(minutes=DIGEST_TICK_MINUTES, one_worker=True)
    async def digest_tick(self) -> None:
        """Members in other time zones get their digest when their local clock passes the time."""
        await self.send_due_digests()

    async def send_due_digests(
        self, *, force: bool = False, only: tuple[str, str] | None = None, again: bool = False
    ) -> int:
        """DM the digest to every opted-in member whose local digest time has passed today.

        ``force``: whatever the hour, to members who have not had today's digest (``again``: to
        those who have, too).
        """
        async with self._digest_lock:
            return await self._send_due_digests(force=force, only=only, again=again)

    async def _send_due_digests(self, *, force: bool, only: tuple[str, str] | None, again: bool) -> int:
        store = self.ctx.store
        # Members who left the workspace get no digest (a DM to someone no longer there fails or,
        # worse, reaches them); they are back on their next MemberJoined. Members the store has no
        # users row for (a Discord member who never posted: Discord lists no members) are there
        # when they turned the digest on themselves.
        rows = await store.db.fetchall(
            # People of another organisation (Slack Connect) get no digest of this workspace.
            "SELECT platform, workspace_id, user_id, name, tz FROM users u WHERE is_bot = 0 "
            "AND (external IS NULL OR external = 0) AND NOT EXISTS ("
            "SELECT 1 FROM member_settings s WHERE s.platform = u.platform AND s.workspace_id = u.workspace_id "
            "AND s.user_id = u.user_id AND s.key = ? AND s.value = 'true') "
            "UNION ALL SELECT platform, workspace_id, user_id, '', NULL FROM member_settings d "
            "WHERE d.key = ? AND d.value = 'true' AND NOT EXISTS (SELECT 1 FROM users u WHERE "
            "u.platform = d.platform AND u.workspace_id = d.workspace_id AND u.user_id = d.user_id) "
            "AND NOT EXISTS (SELECT 1 FROM member_settings s WHERE s.platform = d.platform "
            "AND s.workspace_id = d.workspace_id AND s.user_id = d.user_id AND s.key = ? AND s.value = 'true') "
            "ORDER BY user_id",
            (LEFT_KEY, DIGEST_KEY, LEFT_KEY),
        )
        now = self.ctx.clock.now()
        sent = 0
        # No DMs into a workspace the bot was removed from, until it is back. An admin's send-now
        # (``only``) comes from the workspace itself, so the bot is there.
        removed = await self.ctx.removed_workspaces() if only is None else set()
        by_workspace: dict[tuple[str, str], list[tuple[str, str, str | None]]] = {}
        for platform, ws, user_id, name, tz_name in rows:
            if platform == Platform.DISCORD.value and ws == DISCORD_DM_WORKSPACE:
                continue  # DMs are no community (a setting stored there by an earlier version)
            if (platform, ws) in removed:
                continue
            if only is None or (platform, ws) == only:
                by_workspace.setdefault((platform, ws), []).append((user_id, name, tz_name))
        for (platform, ws), members in by_workspace.items():
            try:
                plan = await self._digest_plan(platform, ws)
            except Exception:
                # One workspace's bad setting must not stop every other workspace's digests.
                log.exception("recommend: digest settings of %s:%s unreadable", platform, ws)
                continue
            for user_id, name, tz_name in members:
                try:
                    sent += await self._send_digest(plan, user_id, name, tz_name, now=now, force=force, again=again)
                except Exception:
                    # One member's bad data (a zone, a setting, a thread) must not cost every later
                    # member their digest; the next tick tries this one again.
                    log.exception("recommend: digest for %s:%s:%s failed", platform, ws, user_id)
        return sent

    async def _digest_plan(self, platform: str, ws: str) -> _DigestPlan:
        """A workspace's digest settings and its members' digest settings, read once per tick
        (not once per member: a tick visits every member of every workspace)."""
        store, cfg = self.ctx.store, self.ctx.settings.recommend
        return _DigestPlan(
            platform,
            ws,
            default_on=bool(
                await store.get_workspace_setting(platform, ws, "digest_default_on", cfg.digest_default_on)
            ),
            at=parse_hhmm(str(await workspace_config(store, platform, ws, "digest_time", cfg.digest_time))),
            size=int(await workspace_config(store, platform, ws, "digest_size", cfg.digest_size)),
            members=await store.member_settings(platform, ws, (DIGEST_KEY, OPTED_OUT_KEY, TZ_KEY, LAST_DIGEST_KEY)),
        )

    async def _send_digest(
        self,
        plan: _DigestPlan,
        user_id: str,
        name: str,
        tz_name: str | None,
        *,
        now: datetime,
        force: bool,
        again: bool = False,
    ) -> int:
        """Send one member's digest when it is due; 1 when a DM went out."""
        store, settings = self.ctx.store, self.ctx.settings
        platform, ws = plan.platform, plan.workspace_id
        own_settings = plan.members.get(user_id, {})
        if not own_settings.get(DIGEST_KEY, plan.default_on) or own_settings.get(OPTED_OUT_KEY, False):
            return 0
        # The plan read opted_out for every member at once; being forgotten (a Discord member, in
        # another guild) is known only to the forgotten set. Before the day is claimed: a forgotten
        # member gets no digest and no row about them.
        if await self.ctx.is_forgotten(UserRef(Platform(platform), ws, user_id)):
            return 0
        # The member's own zone (`/recommend tz`; "" after a reset), else the platform's (users.tz).
        tz = _zone(own_settings.get(TZ_KEY) or tz_name, settings.tz)
        last = own_settings.get(LAST_DIGEST_KEY)
        day = now.astimezone(tz).date().isoformat() if force else digest_due(now, tz, plan.at, last)
        # As in digest_due, a digest for this local day or a later one is today's: a member who
        # moved west after it is back in yesterday there (ISO dates compare as strings).
        had_today = isinstance(last, str) and day is not None and day <= last
        if day is None or (had_today and not again):
            return 0
        if force and again:
            # Not back to the earlier day: that would make the member's next day due twice.
            await store.set_member_setting(platform, ws, user_id, LAST_DIGEST_KEY, last if had_today else day)
        elif not await self._claim_digest_day(platform, ws, user_id, day):
            return 0  # another worker took this member's digest for the day a moment ago
        try:
            return await self._build_and_send_digest(plan, user_id, name, tz, now)
        except BaseException:
            # Nothing went out: give the day back, so the next tick tries again. Until then the
            # claim keeps other workers off, and none can claim the day in between.
            if last is None:
                await store.delete_member_setting(platform, ws, user_id, LAST_DIGEST_KEY)
            else:
                await store.set_member_setting(platform, ws, user_id, LAST_DIGEST_KEY, last)
            raise

    async def _build_and_send_digest(
        self, plan: _DigestPlan, user_id: str, name: str, tz: tzinfo, now: datetime
    ) -> int:
        """Rank, render and DM one member's digest; 1 when a DM went out (0: nothing to recommend)."""
        platform, ws = plan.platform, plan.workspace_id
        user = UserRef(Platform(platform), ws, user_id, name)
        recs = await self.recommend(user, k=plan.size)
        if not recs:
            return 0
        # Named, so a member of two communities can tell their two digests apart.
        community = await self._community_name(platform, ws)
        text, citations, buttons = render(recs, header="recommend_digest_header", community=community, workspace_id=ws)
        if now.astimezone(tz).weekday() == CHANNEL_SUGGESTION_WEEKDAY:
            # Once a week the digest also suggests channels the member is not in yet.
            channels = await self.suggest_channels(user, k=CHANNEL_SUGGESTIONS, personal=True)
            if channels:
                # Before the picks' header: the picks are listed under the text (as citations).
                text = (
                    "\n".join(
                        [load_prompt("recommend_weekly_channels")]
                        + [render_prompt("recommend_channel_item", channel=n, why=w) for n, w in channels]
                    )
                    + f"\n\n{text}"
                )
        await self.ctx.dm(user, text, citations=citations, buttons=buttons)
        return 1

    async def _claim_digest_day(self, platform: str, ws: str, user_id: str, day: str) -> bool:
        """Record ``day`` as the member's last digest day in one statement that changes a row only
        when it held another day: of two workers deciding at once, exactly one gets True."""
        store = self.ctx.store
        return await store.set_member_setting(platform, ws, user_id, LAST_DIGEST_KEY, day, only_if_changed=True)

    async def _community_name(self, platform: str, ws: str) -> str:
        """The workspace's name when known (Discord guild, Slack team), else its id."""
        row = await self.ctx.store.db.fetchone(
            "SELECT name FROM workspaces WHERE platform = ? AND workspace_id = ?", (platform, ws)
        )
        return str(row[0]) if row and row[0] else ws

    # -- ranking -------------------------------------------------------------------------------
    async def recommend(
        self,
        user: UserRef,
        *,
        k: int,
        role_ids: tuple[str, ...] = (),
        seed: int | None = None,
        as_of: bool = False,
        record: bool = True,
    ) -> list[Recommendation]:
        """Ranked, diversified threads for ``user`` from channels they can read, with reasons.

        Args:
            user: The member.
            k: List size.
            role_ids: The member's roles (Discord), for role-gated channels.
            seed: Exploration seed (default: one per member and day, so a list is stable for a day).
            as_of: A replay at the clock's time (``guildhall recommend --as-of``): use only stored
                messages before it, leave out the live profile and feedback (which may be later),
                and record nothing.
            record: Record the list as shown to the member (it later counts as their impressions
                and joins). False when someone else looks (``guildhall recommend --user``).
        """
        store, cfg = self.ctx.store, self.ctx.settings.recommend
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        if await self._opted_out_or_forgotten(user):
            return []
        member = await store.get_user(p, ws, uid)
        if user.external or (member is not None and member.external):
            return []  # of another organisation (Slack Connect): this workspace's threads are not theirs to see
        now = self.ctx.clock.now().timestamp()
        # The event's guest flag counts before the recorder has stored it.
        readable = await store.readable_channel_ids(p, ws, uid, role_ids, guest=bool(user.guest))
        readable -= await self._denied(p, ws)
        channels = await store.list_channels(p, ws)
        readable -= _private_conversations(channels)
        history, snapshot = await self._snapshot(p, ws, now, fresh=as_of)
        cands = await self._candidates(user, snapshot, readable, now, as_of=as_of)
        if not cands:
            return []
        vectors = await self._thread_vectors(p, ws, cands, as_of=as_of)
        profile = await self._member_profile(user, snapshot, vectors, live=not as_of)
        if profile is None:
            profile = await self._cold_start(user, snapshot, cands, vectors, readable, as_of=as_of)
        weights = await self._weights(p, ws, until=now if as_of else None)
        clicks = {} if as_of else await self._channel_feedback(p, ws, uid)
        share = await self._exploration_share(p, ws)
        day_seed = seed if seed is not None else zlib.crc32(f"{ws}:{uid}:{int(now // 86400)}".encode())
        gone: set[str] = set()
        for _ in range(RECHECK_ROUNDS):
            cands = [t for t in cands if t.thread_id not in gone]
            if not cands:
                return []
            # Feature rows, the MMR rerank and the history scans are tens of milliseconds of CPU per
            # member on a big community, and a digest tick ranks every member: off the event loop.
            x, picks, member_texts = await asyncio.to_thread(
                _rank,
                snapshot,
                history,
                uid,
                cands,
                vectors,
                profile,
                cfg.lookback_days,
                weights,
                clicks,
                k,
                share,
                day_seed,
            )
            by_id = {t.thread_id: (t, row) for t, row in zip(cands, x, strict=True)}
            # The snapshot is shared for SNAPSHOT_TTL_S, and a delete reaches one process's brain
            # only: what was deleted since (here or elsewhere) is looked up before it is shown.
            deleted = await self._deleted_picks(p, ws, [by_id[pk.thread_id][0] for pk in picks])
            if not deleted:
                break
            gone |= deleted
            self._drop_caches(p, ws)  # stale: the next ranking in this process reads the store again
        picks = [pk for pk in picks if pk.thread_id not in gone]
        names = {c.channel_id: c.name or c.channel_id for c in channels}
        starters = sorted({by_id[pk.thread_id][0].author_id for pk in picks})
        people = (
            {
                str(r[0]): str(r[1])
                for r in await store.db.fetchall(
                    "SELECT user_id, name FROM users WHERE platform = ? AND workspace_id = ? AND user_id IN ("
                    + ",".join("?" * len(starters))
                    + ")",
                    (p, ws, *starters),
                )
                if r[1]
            }
            if starters
            else {}
        )
        recs = [
            self._explain(
                uid,
                by_id[pk.thread_id][0],
                by_id[pk.thread_id][1],
                pk.score,
                pk.explore,
                names,
                member_texts,
                snapshot,
                people,
            )
            for pk in picks
        ]
        if record and not as_of:
            await self._record_shown(user, recs, now)
        return recs

    async def _deleted_picks(self, p: str, ws: str, items: list[ThreadItem]) -> set[str]:
        """Ids of ``items`` whose opening message (or thread root) the store now holds deleted: a
        message or thread deleted, a channel or Discord thread deleted, a member forgotten. One
        query for a list's picks."""
        ids = sorted({t.thread_id for t in items} | {t.opening_message_id for t in items})
        rows = await fetch_in(
            self.ctx.store.db,
            "SELECT message_id FROM messages WHERE platform = ? AND workspace_id = ? AND deleted = 1 AND message_id IN",
            (p, ws),
            ids,
        )
        dead = {str(r[0]) for r in rows}
        return {t.thread_id for t in items if t.thread_id in dead or t.opening_message_id in dead}

    async def _candidates(
        self, user: UserRef, snapshot: Snapshot, readable: set[str], now: float, *, as_of: bool
    ) -> list[ThreadItem]:
        """Conversations ``user`` may be recommended: active in the lookback in ``readable``
        channels, neither started nor joined by them, in the snapshot or outside it
        (:meth:`_joined_outside`; ``as_of``: a replay, see :meth:`recommend`)."""
        cands = select_candidates(
            snapshot.threads.values(),
            user.user_id,
            readable_channels=readable,
            active_since=now - self.ctx.settings.recommend.lookback_days * 86400,
        )
        if not cands:
            return cands
        joined = await self._joined_outside(user, cands, snapshot, since_snapshot=not as_of)
        return [t for t in cands if t.thread_id not in joined]

    async def _joined_outside(
        self, user: UserRef, cands: list[ThreadItem], snapshot: Snapshot, *, since_snapshot: bool
    ) -> set[str]:
        """Candidate conversations ``user`` posted in where the snapshot's participants cannot
        tell: before its window (threads whose root is older than :data:`HISTORY_DAYS`) and, with
        ``since_snapshot``, after it was built (it is shared for :data:`SNAPSHOT_TTL_S`; a replay
        leaves it out, as later posts are the replay's future): threads, and windows the member's
        unthreaded posts since then went on (:meth:`_windows_joined`)."""
        db = self.ctx.store.db
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        out: set[str] = set()
        if since_snapshot:
            # A conversation joined a minute ago must not be recommended, and so recorded as shown,
            # and the member's next post in it credited to the list as a join. From a margin before
            # the snapshot: a post timed before it may be stored after it (delivery, a bus backlog).
            # A few minutes of the member's posts: a short range of the author index.
            rows = await db.fetchall(
                "SELECT thread_id, channel_id, ts FROM messages WHERE platform = ? AND workspace_id = ? "
                "AND author_id = ? AND ts >= ? AND deleted = 0",
                (p, ws, uid, snapshot.now - LATE_POST_MARGIN_S),
            )
            out.update(str(r[0]) for r in rows if r[0])
            out |= await self._windows_joined(user, cands, [(str(r[1]), float(r[2])) for r in rows if not r[0]])
        window_start = snapshot.now - HISTORY_DAYS * 86400
        old = sorted(t.thread_id for t in cands if t.kind == THREAD and t.ts_start < window_start)
        for i in range(0, len(old), 500):  # within every engine's bound on query parameters
            chunk = old[i : i + 500]
            rows = await db.fetchall(
                "SELECT DISTINCT thread_id FROM messages WHERE platform = ? AND workspace_id = ? AND author_id = ? "
                f"AND ts < ? AND deleted = 0 AND thread_id IN ({','.join('?' * len(chunk))})",
                (p, ws, uid, window_start, *chunk),
            )
            out.update(str(r[0]) for r in rows)
        return out

    async def _windows_joined(self, user: UserRef, cands: list[ThreadItem], posts: list[tuple[str, float]]) -> set[str]:
        """Candidate windows that ``user``'s unthreaded ``posts`` (``(channel, ts)``, stored since
        the snapshot's time or late) joined: posted in while the window went on, by the rule that
        credits a post as a join (:func:`_window_goes_on`)."""
        windows = [t for t in cands if t.kind == WINDOW]
        by_channel: dict[str, list[float]] = {}
        for channel_id, ts in posts:
            by_channel.setdefault(channel_id, []).append(ts)
        store = self.ctx.store
        p, ws = user.platform.value, user.workspace_id
        out: set[str] = set()
        for channel_id, stamps in by_channel.items():
            # Only windows a post could still join (opened at most WINDOW_JOIN_S before it): the
            # channel's chat is read over at most that long.
            near = [
                w
                for w in windows
                if w.channel_id == channel_id and any(0 <= ts - w.ts_start <= WINDOW_JOIN_S for ts in stamps)
            ]
            if not near:
                continue
            chat = [
                m.ts
                for m in await store.channel_messages(
                    p, ws, channel_id, since=min(w.ts_start for w in near), until=max(stamps)
                )
                if not m.thread_id
            ]
            out.update(w.thread_id for w in near if any(_window_goes_on(w.ts_start, chat, ts) for ts in stamps))
        return out

    async def _snapshot(self, p: str, ws: str, now: float, *, fresh: bool) -> tuple[list[MessageRow], Snapshot]:
        """Recent history and what was learned from it, shared by every member's ranking for
        :data:`SNAPSHOT_TTL_S` (a digest run ranks hundreds of members on one ALS fit).

        ``fresh``: a replay as of ``now`` (``recommend(as_of=True)``), built for it alone and
        cached nowhere; the texts of messages edited after ``now`` are unknown (:meth:`_texts_as_of`).
        """
        # Opted-out members' messages are neither profiled nor ranked: no CF signal, no thread of theirs.
        # A cached snapshot built before someone opted out (or was forgotten, here or in another
        # process) is rebuilt at once rather than after its time-to-live.
        opted_out = await self.ctx.store.members_with_setting(p, ws, "opted_out", True)
        # Channels an admin denied (``deny_channels``) are neither profiled nor recommended, from
        # the moment the setting changes.
        denied = await self._denied(p, ws)
        cached = None if fresh else self._snapshots.get((p, ws))
        if (
            cached is not None
            and 0 <= now - cached[1].now < SNAPSHOT_TTL_S
            and opted_out <= cached[2]
            and denied == cached[3]
        ):
            return cached[0], cached[1]
        history, starts = await self._history(p, ws, now - HISTORY_DAYS * 86400, now, opted_out, denied)
        unknown: set[str] = set()
        if fresh:
            history, starts, unknown = await self._texts_as_of(p, ws, history, starts, now)
        kept = {m.message_id for m in history}
        reactions = [
            r
            for r in await self.ctx.store.reactions_between(p, ws, now - HISTORY_DAYS * 86400, now)
            if r.user_id not in opted_out and (not denied or r.message_id in kept)
        ]
        # ALS and the activity prior are seconds of CPU on a big community: keep the loop free.
        snapshot = await asyncio.to_thread(build_snapshot, history, now, reactions=reactions, starts=starts)
        for item in snapshot.threads.values():
            # A root whose words are unknown opens its thread with none, not with its first reply's.
            if item.thread_id in unknown or item.opening_message_id in unknown:
                item.opening_text = ""
        if not fresh:
            self._snapshots[(p, ws)] = (history, snapshot, frozenset(opted_out), denied)
            # Texts embedded for the last snapshot: threads since gone (expired, deleted, an
            # opted-out member's) must not stay in memory.
            self._embedded.pop((p, ws), None)
        return history, snapshot

    async def _history(
        self, p: str, ws: str, since: float, now: float, opted_out: set[str], denied: frozenset[str]
    ) -> tuple[list[MessageRow], dict[str, ThreadItem]]:
        """The messages of ``[since, now)`` the recommender may learn from, and the threads among
        them whose roots are older (:meth:`_old_starts`), for :func:`build_snapshot`.

        Left out: opted-out members' messages and the threads they started, threads whose root
        was deleted, and denied channels (:meth:`_denied`). Shared by the ranking snapshot and
        the channel suggestions, so neither names what the other may not.
        """
        window = [m async for m in self.ctx.store.iter_messages(platform=p, workspace_id=ws, since=since, until=now)]
        starts = await self._old_starts(p, ws, window, since)
        # Their threads go too, replies and all: without its root a thread would come back titled
        # with its first reply, still their question (a forgotten member is opted out as well).
        # So do threads whose root was deleted: what was asked there is gone.
        hidden = await self._threads_started_by(p, ws, opted_out, window)
        hidden |= await self._deleted_roots(p, ws, window)
        hidden |= {t for t, item in starts.items() if item.author_id in opted_out}
        history = [
            m
            for m in window
            if m.author_id not in opted_out
            and m.message_id not in hidden
            and m.thread_id not in hidden
            and m.channel_id not in denied
        ]
        return history, {t: item for t, item in starts.items() if t not in hidden}

    async def _texts_as_of(
        self, p: str, ws: str, history: list[MessageRow], starts: dict[str, ThreadItem], now: float
    ) -> tuple[list[MessageRow], dict[str, ThreadItem], set[str]]:
        """``history`` and ``starts`` as a replay at ``now`` may read them, and the ids of the
        messages whose text it may not: the store keeps a message's latest text only (no edit
        history), so a message edited after ``now`` is left without words (no title, vector, topic
        or profile from them) rather than read as it was rewritten later."""
        unknown = {m.message_id for m in history if m.edited_ts is not None and m.edited_ts > now}
        if unknown:
            history = [dataclasses.replace(m, text="") if m.message_id in unknown else m for m in history]
        rows = await fetch_in(
            self.ctx.store.db,
            "SELECT message_id FROM messages WHERE platform = ? AND workspace_id = ? AND edited_ts > ? AND message_id IN",
            (p, ws, now),
            sorted(starts),
        )
        later = {str(r[0]) for r in rows}
        starts = {t: dataclasses.replace(item, opening_text="") if t in later else item for t, item in starts.items()}
        return history, starts, unknown | later

    async def _old_starts(self, p: str, ws: str, window: list[MessageRow], since: float) -> dict[str, ThreadItem]:
        """Threads active in ``window`` whose root is older than ``since``, by thread id, as their
        roots make them (starter, opening text, start): the stored root message, else the
        ``threads`` table's starter and title (a thread whose root is no message of its own).

        Without them such a thread would be taken for its first reply in the window: titled with
        someone else's words, and not known as its starter's own (recommended back to them).
        """
        present = {m.message_id for m in window}
        ids = sorted({m.thread_id for m in window if m.thread_id} - present)
        db = self.ctx.store.db
        out: dict[str, ThreadItem] = {}
        for i in range(0, len(ids), 500):  # within every engine's bound on query parameters
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = await db.fetchall(
                "SELECT message_id, channel_id, author_id, ts, text, permalink, is_bot, deleted FROM messages "
                f"WHERE platform = ? AND workspace_id = ? AND message_id IN ({marks})",
                (p, ws, *chunk),
            )
            stored = {str(r[0]) for r in rows}
            for mid, channel_id, author_id, ts, text, permalink, is_bot, deleted in rows:
                # A deleted root hides its thread (``_deleted_roots``); a bot's root is skipped as
                # in a thread whose root is in the window (``is_counted``).
                if float(ts) < since and not deleted and not is_bot and author_id:
                    out[str(mid)] = _start(
                        str(mid), str(channel_id), str(author_id), float(ts), str(text), str(permalink)
                    )
            rest = [t for t in chunk if t not in stored]
            if not rest:
                continue
            rows = await db.fetchall(
                "SELECT thread_id, channel_id, author_id, title, ts FROM threads WHERE platform = ? AND workspace_id = ? "
                f"AND author_id <> '' AND ts < ? AND thread_id IN ({','.join('?' * len(rest))})",
                (p, ws, since, *rest),
            )
            for tid, channel_id, author_id, title, ts in rows:
                out[str(tid)] = _start(str(tid), str(channel_id), str(author_id), float(ts), str(title or ""), "")
        return out

    async def _deleted_roots(self, p: str, ws: str, window: list[MessageRow]) -> set[str]:
        """Ids of the threads in ``window`` whose root message is stored deleted (``iter_messages``
        yields live messages only, so their replies alone would make up the thread)."""
        ids = sorted({m.thread_id for m in window if m.thread_id})
        out: set[str] = set()
        for i in range(0, len(ids), 500):  # within every engine's bound on query parameters
            chunk = ids[i : i + 500]
            rows = await self.ctx.store.db.fetchall(
                "SELECT message_id FROM messages WHERE platform = ? AND workspace_id = ? AND deleted = 1 "
                "AND message_id IN (" + ",".join("?" * len(chunk)) + ")",
                (p, ws, *chunk),
            )
            out.update(str(r[0]) for r in rows)
        return out

    async def _threads_started_by(self, p: str, ws: str, members: set[str], window: list[MessageRow]) -> set[str]:
        """Ids of the threads ``members`` started: roots they wrote in ``window`` and, for roots
        older than it or erased, the ``threads`` table's starters."""
        if not members:
            return set()
        out = {m.message_id for m in window if m.author_id in members}
        ids = sorted(members)
        for i in range(0, len(ids), 500):  # within every engine's bound on query parameters
            chunk = ids[i : i + 500]
            rows = await self.ctx.store.db.fetchall(
                "SELECT thread_id FROM threads WHERE platform = ? AND workspace_id = ? AND author_id IN ("
                + ",".join("?" * len(chunk))
                + ")",
                (p, ws, *chunk),
            )
            out.update(str(r[0]) for r in rows)
        return out

    async def _member_profile(
        self, user: UserRef, snapshot: Snapshot, vectors: dict[str, Vector], *, live: bool
    ) -> Vector | None:
        """The interest profile: the threads the member wrote in / replied to (their QA unit
        vectors, time-decayed), blended with the live running profile (messages and reactions
        since the bot started) when ``live``; a replay (not ``live``) reads only texts before the
        clock (:meth:`_thread_vectors`)."""
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        touches = snapshot.touches.get(uid, [])[-PROFILE_TOUCHES:]
        touched = [snapshot.threads[t] for t in dict.fromkeys(t.thread for t in touches) if t in snapshot.threads]
        missing = [t for t in touched if t.thread_id not in vectors]
        vectors.update(await self._thread_vectors(p, ws, missing, as_of=not live))
        rows = [(vectors[t.thread], t.ts, t.kind) for t in touches if t.thread in vectors]
        history = (
            build_profile(
                np.stack([r[0] for r in rows]),
                [r[1] for r in rows],
                [r[2] for r in rows],
                now=snapshot.now,
                half_life_days=self.ctx.settings.recommend.half_life_days,
            )
            if rows
            else None
        )
        running = await self._profile(user) if live else None
        embedder: Embedder = await self.ctx.services.get("embedder")
        if running is not None and running.shape != (embedder.dim,):
            running = None  # kept from an earlier embedding model: the next live update starts it over
        if history is None or running is None or history.shape != running.shape:
            return history if history is not None else running
        return normalised((history + running).astype(np.float32))

    async def cold_start_vector(self, user: UserRef, *, role_ids: tuple[str, ...] = ()) -> Vector | None:
        """The cold-start profile ``recommend`` uses for a member without history."""
        p, ws = user.platform.value, user.workspace_id
        now = self.ctx.clock.now().timestamp()
        readable = await self.ctx.store.readable_channel_ids(p, ws, user.user_id, role_ids, guest=bool(user.guest))
        readable -= await self._denied(p, ws)
        readable -= _private_conversations(await self.ctx.store.list_channels(p, ws))
        _, snapshot = await self._snapshot(p, ws, now, fresh=False)
        # The candidates recommend ranks (not those the member already joined outside the snapshot).
        cands = await self._candidates(user, snapshot, readable, now, as_of=False)
        return await self._cold_start(user, snapshot, cands, await self._thread_vectors(p, ws, cands), readable)

    async def _cold_start(
        self,
        user: UserRef,
        snapshot: Snapshot,
        cands: list[ThreadItem],
        vectors: dict[str, Vector],
        readable: set[str],
        *,
        as_of: bool = False,
    ) -> Vector | None:
        """A profile for a member without one: the channels they joined (explicit membership or a
        post) described by their recent threads, and the community's popular threads (``as_of``:
        see :meth:`_thread_vectors`)."""
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        granted = await self.ctx.store.db.fetchall(
            "SELECT channel_id FROM channel_access WHERE platform = ? AND workspace_id = ? "
            "AND principal_kind = 'user' AND principal_id = ?",
            (p, ws, uid),
        )
        joined = (
            {str(r[0]) for r in granted} | {t.channel_id for t in snapshot.threads.values() if uid in t.participants}
        ) & readable
        in_joined = [t for t in snapshot.threads.values() if t.channel_id in joined]
        channel_items = popular_threads(in_joined, 20)
        missing = [t for t in channel_items if t.thread_id not in vectors]
        vectors.update(await self._thread_vectors(p, ws, missing, as_of=as_of))
        channel_vecs = [vectors[t.thread_id] for t in channel_items if t.thread_id in vectors]
        popular_vecs = [vectors[t.thread_id] for t in popular_threads(cands, 5) if t.thread_id in vectors]
        return cold_start_profile(_stack(channel_vecs), _stack(popular_vecs))

    async def suggest_channels(self, user: UserRef, *, k: int, personal: bool = False) -> list[tuple[str, str]]:
        """Readable channels the member is not in (no post, no explicit membership), as
        ``(name, why)``: the most active (distinct posters) first for a newcomer; with
        ``personal``, those whose recent threads are closest to the member's profile."""
        store = self.ctx.store
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        now = self.ctx.clock.now().timestamp()
        member = await store.get_user(p, ws, uid)
        if user.external or (member is not None and member.external):
            return []  # of another organisation (Slack Connect): this workspace's channels are not theirs to know
        readable = await store.readable_channel_ids(p, ws, uid, guest=bool(user.guest))
        denied = await self._denied(p, ws)
        readable -= denied
        channels = await store.list_channels(p, ws)
        readable -= _private_conversations(channels)
        since = now - self.ctx.settings.recommend.lookback_days * 86400
        # As the ranking snapshot: opted-out members' messages (and threads) are no signal, so a
        # channel only they post in is not named; a cache from before an opt-out or a change of
        # deny_channels is rebuilt at once.
        opted_out = await store.members_with_setting(p, ws, "opted_out", True)
        cached = self._channel_snapshots.get((p, ws))
        if (
            cached is not None
            and 0 <= now - cached[0] < SNAPSHOT_TTL_S
            and opted_out <= cached[3]
            and denied == cached[4]
        ):
            _, history, lookback, _, _ = cached
        else:
            history, starts = await self._history(p, ws, since, now, opted_out, denied)
            # An ALS fit: seconds of CPU on a big community, off the event loop.
            lookback = await asyncio.to_thread(build_snapshot, history, now, starts=starts)
            self._channel_snapshots[(p, ws)] = (now, history, lookback, frozenset(opted_out), denied)
        posters: dict[str, set[str]] = {}
        for m in history:
            if m.channel_id in readable and not m.is_bot and m.author_id:
                posters.setdefault(m.channel_id, set()).add(m.author_id)
        granted = await store.db.fetchall(
            "SELECT channel_id FROM channel_access WHERE platform = ? AND workspace_id = ? "
            "AND principal_kind = 'user' AND principal_id = ?",
            (p, ws, uid),
        )
        member_of = {str(r[0]) for r in granted} | {c for c, who in posters.items() if uid in who}
        # A channel the member ever posted in is theirs, not only one they posted in during the
        # lookback: a regular of #python quiet for two weeks is still in it. Only channels with
        # posters in the lookback can be suggested, and the lookback's posts are read already: the
        # rest are looked up among the member's posts before now, a range of the author index
        # (without a bound on ts, SQLite's planner took the channel index for the DISTINCT and read
        # every message of the workspace, once per member's Monday digest).
        unsure = sorted(c for c in posters if c not in member_of)
        posted = await fetch_in(
            store.db,
            "SELECT DISTINCT channel_id FROM messages WHERE platform = ? AND workspace_id = ? AND author_id = ? "
            "AND ts < ? AND deleted = 0 AND channel_id IN",
            (p, ws, uid, now),
            unsure,
        )
        member_of.update(str(r[0]) for r in posted)
        names = {c.channel_id: c.name or c.channel_id for c in channels}
        pool = [c for c in posters if c not in member_of]
        score = {c: float(len(posters[c])) for c in pool}
        topical: set[str] = set()
        if personal and pool:
            profile = await self._member_profile(user, lookback, {}, live=True)
            threads = popular_threads([t for t in lookback.threads.values() if t.channel_id in pool], 10 * len(pool))
            vectors = await self._thread_vectors(p, ws, threads) if profile is not None else {}
            for c in pool:
                rows = [vectors[t.thread_id] for t in threads if t.channel_id == c and t.thread_id in vectors]
                if profile is not None and rows:
                    centroid = np.mean(np.stack(rows), axis=0)
                    sim = float(profile @ centroid) / (float(np.linalg.norm(centroid)) or 1.0)
                    # Topic first; activity (log posters) breaks near-ties.
                    score[c] = sim + 0.05 * math.log1p(len(posters[c]))
                    topical.add(c)
        ranked = sorted(pool, key=lambda c: (-score[c], c))[:k]
        out = []
        for c in ranked:
            name = names.get(c, c)
            why = "recommend_why_channel_topic" if c in topical and score[c] > 0 else "recommend_why_popular"
            out.append((name, render_prompt(why, channel=name)))
        return out

    def _explain(
        self,
        user_id: str,
        item: ThreadItem,
        row: Any,
        score: float,
        explore: bool,
        names: dict[str, str],
        member_texts: list[str],
        snapshot: Snapshot,
        people: dict[str, str],
    ) -> Recommendation:
        channel = names.get(item.channel_id, item.channel_id)
        social = snapshot.replied_to_author.get(user_id, {}).get(item.author_id)
        # Without history the activity prior is the community's curve: it says nothing about them.
        known = bool(snapshot.touches.get(user_id))
        active = known and float(row[FEATURES.index("activity")]) > 0
        why = why_line(
            channel=channel,
            topic=shared_topic(member_texts, item.opening_text),
            # A display name, never a mention: a digest must not ping the thread's author.
            social_author=people.get(item.author_id, item.author_id)
            if social and float(row[FEATURES.index("social")]) > 0
            else None,
            explore=explore,
            active_hours=active,
        )
        return Recommendation(
            item.thread_id, item.channel_id, channel, title_of(item.opening_text), item.permalink, score, why, explore
        )

    # -- storage helpers ---------------------------------------------------------------------------
    async def _opted_out_or_forgotten(self, u: UserRef) -> bool:
        """Whether ``u`` gets nothing from the recommender and leaves nothing in it: opted out in
        this workspace, or forgotten. A Discord member forgotten in one guild is forgotten in every
        one (``bot/privacy/forgotten.py``), also a guild the bot met since, where no ``opted_out``
        setting says so; and the bus gate lets their commands, clicks and joins through."""
        if await self.ctx.is_forgotten(u):
            return True
        return await self.ctx.store.is_opted_out(u.platform.value, u.workspace_id, u.user_id)

    async def _embed(self, text: str) -> Vector:
        embedder: Embedder = await self.ctx.services.get("embedder")
        # Model inference is CPU bound: keep the event loop free.
        vecs: Vector = await asyncio.to_thread(embedder.embed, [text[:2000]])
        row: Vector = np.asarray(vecs[0], dtype=np.float32)
        return row

    async def _thread_vectors(
        self, p: str, ws: str, items: list[ThreadItem], *, as_of: bool = False
    ) -> dict[str, Vector]:
        """Vectors of conversations: the QA index's first unit of each, else its opening message
        embedded. ``as_of`` (a replay at the clock's time) embeds the opening message always: the
        index's unit was built from the thread as stored now, with replies posted after the clock;
        a conversation whose opening words it does not know (:meth:`_texts_as_of`) gets no vector."""
        if as_of:
            items = [t for t in items if t.opening_text.strip()]
        embedder: Embedder = await self.ctx.services.get("embedder")
        live_index = not as_of and self.ctx.services.has("unit_index")
        index = await self.ctx.services.get("unit_index") if live_index else None
        # The QA index's first unit of the same conversation.
        unit_ids = {
            t.thread_id: chunk_unit_id(
                thread_unit_base(p, ws, t.thread_id)
                if t.kind == THREAD
                else window_unit_base(p, ws, t.channel_id, t.thread_id)
            )
            for t in items
        }
        cache = self._embedded.setdefault((p, ws), {})
        if len(cache) > EMBEDDED_CACHE_MAX:
            cache.clear()  # a bound for a process whose snapshot is never rebuilt (only /recommend, rarely)
        return await index_vectors(
            index,
            _CachedEmbedder(embedder, cache),
            {t.thread_id: t.opening_text for t in items},
            unit_id=unit_ids.__getitem__,
        )

    async def _update_profile(self, u: UserRef, vec: Vector, ts: float, weight: float) -> None:
        db, key = self.ctx.store.db, (u.platform.value, u.workspace_id, u.user_id)
        row = await db.fetchone(
            "SELECT vector, updated_ts, events FROM recommend_profiles WHERE platform = ? AND workspace_id = ? AND user_id = ?",
            key,
        )
        total = np.array(json.loads(row[0]), dtype=np.float32) if row else None
        if total is not None and total.shape != vec.shape:
            total = None  # the embedding model changed: start over
        new, when = decayed_update(
            total,
            float(row[1]) if row else ts,
            vec,
            ts,
            weight=weight,
            half_life_days=self.ctx.settings.recommend.half_life_days,
        )
        await db.execute(
            "INSERT INTO recommend_profiles (platform, workspace_id, user_id, vector, updated_ts, events) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (platform, workspace_id, user_id) DO UPDATE SET vector = excluded.vector, "
            "updated_ts = excluded.updated_ts, events = recommend_profiles.events + 1",
            (*key, json.dumps([round(float(v), 6) for v in new]), when, 1),
        )

    async def _profile(self, u: UserRef) -> Vector | None:
        row = await self.ctx.store.db.fetchone(
            "SELECT vector FROM recommend_profiles WHERE platform = ? AND workspace_id = ? AND user_id = ?",
            (u.platform.value, u.workspace_id, u.user_id),
        )
        return normalised(np.array(json.loads(row[0]), dtype=np.float32)) if row else None

    async def profile_vector(self, u: UserRef) -> Vector | None:
        """The member's current interest profile (unit length), or None before any activity."""
        return await self._profile(u)

    async def _weights(self, p: str, ws: str, *, until: float | None = None) -> RankerWeights:
        """The workspace's learned weights (``--save-weights``), else :data:`DEFAULT_WEIGHTS`.

        ``until``: a replay's time. Learned weights count only when they record being learned from
        messages before it (:data:`WEIGHTS_UNTIL_KEY`); otherwise they may hold the replay's future."""
        store = self.ctx.store
        custom = await store.get_workspace_setting(p, ws, WEIGHTS_KEY)
        if until is not None:
            learned = await store.get_workspace_setting(p, ws, WEIGHTS_UNTIL_KEY)
            if not isinstance(learned, (int, float)) or isinstance(learned, bool) or learned > until:
                return DEFAULT_WEIGHTS
        if isinstance(custom, dict):
            return RankerWeights({k: float(v) for k, v in custom.items() if k in FEATURES})
        return DEFAULT_WEIGHTS

    async def _record_shown(self, u: UserRef, recs: list[Recommendation], now: float) -> None:
        for r in recs:
            await self.ctx.store.db.execute(
                "INSERT INTO recommend_shown (platform, workspace_id, user_id, thread_id, channel_id, shown_ts) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (platform, workspace_id, user_id, thread_id) DO UPDATE SET shown_ts = excluded.shown_ts",
                (u.platform.value, u.workspace_id, u.user_id, r.thread_id, r.channel_id, now),
            )

    async def _record_feedback(
        self, u: UserRef, thread_id: str, channel_id: str, kind: str, ts: float, *, only_if_shown: bool = False
    ) -> None:
        db, key = self.ctx.store.db, (u.platform.value, u.workspace_id, u.user_id, thread_id)
        if only_if_shown:
            shown = await db.fetchone(
                "SELECT shown_ts FROM recommend_shown WHERE platform = ? AND workspace_id = ? AND user_id = ? AND thread_id = ?",
                key,
            )
            if shown is None or float(shown[0]) > ts:
                return
            if kind == "joined" and await self._posted_before(u, thread_id, float(shown[0])):
                # In it before it was shown (a list ranked on a snapshot older than their post):
                # their next post there is no join the recommendation brought about.
                return
        # Primary key makes redelivered clicks / joins count once.
        await db.execute(
            "INSERT INTO recommend_feedback (platform, workspace_id, user_id, thread_id, channel_id, kind, ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace_id, user_id, thread_id, kind) DO NOTHING",
            (*key, channel_id, kind, ts),
        )

    async def _posted_before(self, u: UserRef, thread_id: str, ts: float) -> bool:
        """Whether ``u`` posted in thread ``thread_id`` (its root included) before ``ts``."""
        row = await self.ctx.store.db.fetchone(
            "SELECT 1 FROM messages WHERE platform = ? AND workspace_id = ? AND (thread_id = ? OR message_id = ?) "
            "AND author_id = ? AND ts < ? LIMIT 1",
            (u.platform.value, u.workspace_id, thread_id, thread_id, u.user_id, ts),
        )
        return row is not None

    async def _record_window_join(self, u: UserRef, channel_id: str, ts: float) -> None:
        """An unthreaded post joins a recommended conversation window of its channel when the
        channel has not been silent for a window gap since that window opened."""
        store = self.ctx.store
        p, ws = u.platform.value, u.workspace_id
        shown = await store.db.fetchall(
            "SELECT thread_id, shown_ts FROM recommend_shown WHERE platform = ? AND workspace_id = ? AND user_id = ? "
            "AND channel_id = ? AND shown_ts BETWEEN ? AND ?",
            (p, ws, u.user_id, channel_id, ts - WINDOW_JOIN_S, ts),
        )
        for key, shown_ts in shown:
            opening = await store.get_message(p, ws, str(key))
            # A thread is joined by posting in it; a window only lives while its channel talks.
            if opening is None or opening.thread_id or not 0 <= ts - opening.ts <= WINDOW_JOIN_S:
                continue
            if await self._is_thread_root(p, ws, opening.message_id):
                continue
            chat = [
                m
                for m in await store.channel_messages(p, ws, channel_id, since=opening.ts, until=ts)
                if not m.thread_id
            ]
            if not _window_goes_on(opening.ts, [m.ts for m in chat], ts):
                continue
            if any(m.author_id == u.user_id and m.ts < float(shown_ts) for m in chat):
                # In it before it was shown (as for a thread: ``_posted_before``): their post now
                # is no join the recommendation brought about.
                continue
            # Shown before this post: the query above already asked (shown_ts <= ts).
            await self._record_feedback(u, str(key), channel_id, "joined", ts)

    async def _is_thread_root(self, p: str, ws: str, message_id: str) -> bool:
        """Whether a message without a thread id opens a thread all the same (a Discord thread
        started from a channel message takes that message's id; the starter keeps none)."""
        db = self.ctx.store.db
        args = (p, ws, message_id)
        reply = await db.fetchone(
            "SELECT 1 FROM messages WHERE platform = ? AND workspace_id = ? AND thread_id = ? LIMIT 1", args
        )
        if reply is not None:
            return True
        return (
            await db.fetchone("SELECT 1 FROM threads WHERE platform = ? AND workspace_id = ? AND thread_id = ?", args)
            is not None
        )

    async def _channel_feedback(self, p: str, ws: str, uid: str) -> dict[str, tuple[int, int]]:
        """``{channel: (shown, clicked or joined)}`` for this member."""
        db = self.ctx.store.db
        shown = await db.fetchall(
            "SELECT channel_id, COUNT(*) FROM recommend_shown WHERE platform = ? AND workspace_id = ? AND user_id = ? GROUP BY channel_id",
            (p, ws, uid),
        )
        used = await db.fetchall(
            "SELECT channel_id, COUNT(DISTINCT thread_id) FROM recommend_feedback WHERE platform = ? AND workspace_id = ? AND user_id = ? GROUP BY channel_id",
            (p, ws, uid),
        )
        out = {str(c): (int(n), 0) for c, n in shown}
        for c, n in used:
            out[str(c)] = (max(out.get(str(c), (0, 0))[0], int(n)), int(n))
        return out

    async def feedback_rows(self, u: UserRef) -> list[tuple[str, str]]:
        """``(thread_id, kind)`` feedback recorded for the member."""
        rows = await self.ctx.store.db.fetchall(
            "SELECT thread_id, kind FROM recommend_feedback WHERE platform = ? AND workspace_id = ? AND user_id = ? ORDER BY thread_id, kind",
            (u.platform.value, u.workspace_id, u.user_id),
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    # -- privacy -----------------------------------------------------------------------------------
    @listen(MessageDeleted)
    async def on_message_deleted(self, event: MessageDeleted) -> None:
        """A deleted message leaves this process's caches at once, not after :data:`SNAPSHOT_TTL_S`:
        the snapshots and embedded texts holding it are dropped (and rebuilt when next needed).
        Other processes' caches are covered by the check before a list is shown (:meth:`_deleted_picks`)."""
        key = (event.platform.value, event.channel.workspace_id)
        mid = event.message_id
        held = self._snapshots.get(key)
        suggested = self._channel_snapshots.get(key)
        if (held is not None and _holds(held[0], mid)) or (suggested is not None and _holds(suggested[1], mid)):
            self._drop_caches(*key)

    @listen(ChannelDeleted)
    async def on_channel_deleted(self, event: ChannelDeleted) -> None:
        """A deleted channel or Discord thread (a channel of its own) takes its workspace's caches
        with it (as :meth:`on_message_deleted`)."""
        self._drop_caches(event.platform.value, event.channel.workspace_id)

    def _drop_caches(self, p: str, ws: str) -> None:
        """Forget the workspace's cached snapshots and embedded texts in this process."""
        for cache in (self._snapshots, self._channel_snapshots, self._embedded):
            cache.pop((p, ws), None)

    async def purge_before(self, cutoff_ts: float, *, platform: str, workspace_id: str) -> int:
        """Retention: drop what was shown and clicked before the cutoff (profiles are decayed blends,
        rebuilt from what remains)."""
        db, scope = self.ctx.store.db, (platform, workspace_id, cutoff_ts)
        n = await db.execute(
            "DELETE FROM recommend_shown WHERE platform = ? AND workspace_id = ? AND shown_ts < ?", scope
        )
        n += await db.execute(
            "DELETE FROM recommend_feedback WHERE platform = ? AND workspace_id = ? AND ts < ?", scope
        )
        return n

    async def retention_workspaces(self) -> set[tuple[str, str]]:
        """Workspaces with shown or clicked recommendations (kept after their messages expired)."""
        rows = await self.ctx.store.db.fetchall(
            "SELECT DISTINCT platform, workspace_id FROM recommend_shown "
            "UNION SELECT DISTINCT platform, workspace_id FROM recommend_feedback"
        )
        return {(str(r[0]), str(r[1])) for r in rows}

    async def member_workspaces(self, platform: str, user_id: str) -> set[str]:
        """Workspaces with the member's profile, shown recommendations or recommendation feedback."""
        rows = await self.ctx.store.db.fetchall(MEMBER_WORKSPACES, (user_id, platform) * len(MEMBER_TABLES))
        return {str(r[0]) for r in rows}

    async def forget_member(self, user: UserRef) -> dict[str, int]:
        """Delete the member's profile, shown list and feedback; cached history goes too."""
        # The caches hold their messages (and the embedded texts of their threads).
        self._drop_caches(user.platform.value, user.workspace_id)
        counts = {}
        key = (user.platform.value, user.workspace_id, user.user_id)
        for table in MEMBER_TABLES:
            row = await self.ctx.store.db.fetchone(
                f"SELECT COUNT(*) FROM {table} WHERE platform = ? AND workspace_id = ? AND user_id = ?", key
            )
            await self.ctx.store.db.execute(
                f"DELETE FROM {table} WHERE platform = ? AND workspace_id = ? AND user_id = ?", key
            )
            counts[table] = int(row[0]) if row else 0
        return counts

    async def status(self, platform: str, workspace_id: str) -> list[str]:
        """Who gets the daily digest, when, and how big."""
        store, cfg = self.ctx.store, self.ctx.settings.recommend
        default_on = bool(
            await store.get_workspace_setting(platform, workspace_id, "digest_default_on", cfg.digest_default_on)
        )
        opted_out = await store.members_with_setting(platform, workspace_id, "opted_out", True)
        if default_on:
            rows = await store.db.fetchall(
                "SELECT user_id FROM users WHERE platform = ? AND workspace_id = ? AND is_bot = 0 "
                "AND (external IS NULL OR external = 0)",
                (platform, workspace_id),
            )
            off = await store.members_with_setting(platform, workspace_id, DIGEST_KEY, False)
            subscribed = {str(r[0]) for r in rows} - off - opted_out
        else:
            subscribed = await store.members_with_setting(platform, workspace_id, DIGEST_KEY, True) - opted_out
        at = await workspace_config(store, platform, workspace_id, "digest_time", cfg.digest_time)
        size = await workspace_config(store, platform, workspace_id, "digest_size", cfg.digest_size)
        return [
            f"Digest: {plural(len(subscribed), 'member')} subscribed (default {'on' if default_on else 'off'}) · "
            f"{size} threads daily at {at}, each member's time zone"
        ]

    async def export_member(self, user: UserRef) -> dict[str, Any]:
        """The member's recommendation feedback and what was shown to them (profiles are derived
        vectors, summarised by whether one exists, when it was last updated and from how many
        interactions)."""
        db, key = self.ctx.store.db, (user.platform.value, user.workspace_id, user.user_id)
        shown = await db.fetchall(
            "SELECT thread_id, channel_id, shown_ts FROM recommend_shown WHERE platform = ? AND workspace_id = ? "
            "AND user_id = ? ORDER BY shown_ts",
            key,
        )
        feedback = await db.fetchall(
            "SELECT thread_id, channel_id, kind, ts FROM recommend_feedback WHERE platform = ? AND workspace_id = ? "
            "AND user_id = ? ORDER BY ts, thread_id, kind",
            key,
        )
        profile = await db.fetchone(
            "SELECT updated_ts, events FROM recommend_profiles WHERE platform = ? AND workspace_id = ? AND user_id = ?",
            key,
        )
        return {
            "feedback": [{"thread_id": r[0], "channel_id": r[1], "kind": r[2], "ts": r[3]} for r in feedback],
            "shown": [{"thread_id": r[0], "channel_id": r[1], "ts": r[2]} for r in shown],
            "has_profile": profile is not None,
            "profile": {"updated_ts": profile[0], "events": profile[1]} if profile else None,
        }


@dataclass(frozen=True)
class _DigestPlan:
    """One workspace's digest settings for a tick, and its members' own (``{user_id: {key: value}}``)."""

    platform: str
    workspace_id: str
    default_on: bool
    at: time
    size: int
    members: dict[str, dict[str, Any]]


def _rank(
    snapshot: Snapshot,
    history: list[MessageRow],
    uid: str,
    cands: list[ThreadItem],
    vectors: dict[str, Vector],
    profile: Vector | None,
    lookback_days: float,
    weights: RankerWeights,
    clicks: dict[str, tuple[int, int]],
    k: int,
    share: float,
    seed: int,
) -> tuple[npt.NDArray[np.float64], list[Pick], list[str]]:
    """The CPU-bound part of :meth:`RecommendBrain.recommend`, run in a worker thread: feature
    rows, the picks, and the member's recent texts (for the "why" lines)."""
    x = features(snapshot, uid, cands, vectors, profile, lookback_days=lookback_days)
    scores = weights.score_matrix(x)
    scores = scores + np.array([FEEDBACK_WEIGHT * math.log1p(clicks.get(t.channel_id, (0, 0))[1]) for t in cands])
    exposure = Counter(m.channel_id for m in history if m.author_id == uid)
    picks = rerank(
        [Scored(t.thread_id, t.channel_id, float(s)) for t, s in zip(cands, scores, strict=True)],
        vectors,
        k,
        share=share,
        exposure=exposure,
        clicks=clicks,
        seed=seed,
    )
    member_texts = [m.text for m in history if m.author_id == uid][-200:]
    return x, picks, member_texts


class _CachedEmbedder:
    """An embedder that embeds each distinct text once and answers repeats from ``cache``
    (``{text: vector}``); the vectors are the wrapped embedder's, so rankings are unchanged."""

    def __init__(self, embedder: Embedder, cache: dict[str, Vector]) -> None:
        self._embedder = embedder
        self._cache = cache

    @property
    def dim(self) -> int:
        """The wrapped embedder's vector size."""
        return self._embedder.dim

    def embed(self, texts: Sequence[str]) -> Vector:
        """Vectors of ``texts`` (rows, in order), embedding only those not cached, in one batch."""
        # Read through a local copy: this runs in a worker thread while the loop may clear the cache.
        found = {t: v for t in texts if (v := self._cache.get(t)) is not None}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            for text, vec in zip(missing, self._embedder.embed(missing), strict=True):
                found[text] = self._cache[text] = vec
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def _start(thread_id: str, channel_id: str, author_id: str, ts: float, text: str, permalink: str) -> ThreadItem:
    """A thread as its root older than the history window opens it (the starter counted as its
    first participant, as a root in the window is): see :func:`build_threads`'s ``starts``."""
    return ThreadItem(thread_id, channel_id, author_id, ts, ts, text, thread_id, permalink, 1, {author_id: 1}, THREAD)


def _window_goes_on(opened: float, chat: Sequence[float], ts: float) -> bool:
    """Whether a post at ``ts`` is in the conversation window opened at ``opened``: at most
    :data:`WINDOW_JOIN_S` later, with no silence over ``WINDOW_GAP_S`` in the channel's unthreaded
    messages (``chat``, their times in order) from the window's opening to the post."""
    if not 0 <= ts - opened <= WINDOW_JOIN_S:
        return False
    stamps = [t for t in chat if opened <= t < ts] + [ts]
    return all(b - a <= WINDOW_GAP_S for a, b in itertools.pairwise(stamps))


def _private_conversations(channels: Sequence[ChannelRow]) -> set[str]:
    """DMs and Slack group DMs (``mpdm-…``, stored as private channels): what is said there is
    the people's in it, never a conversation to recommend, nor a channel to suggest."""
    return {
        c.channel_id
        for c in channels
        if c.visibility == Visibility.DM.value
        or (c.platform == Platform.SLACK.value and c.name.lstrip("#").startswith("mpdm-"))
    }


def _holds(history: list[MessageRow], message_id: str) -> bool:
    """Whether ``history`` holds the message ``message_id`` or a reply of its thread."""
    return any(m.message_id == message_id or m.thread_id == message_id for m in history)


def _stack(vectors: list[Vector]) -> Vector:
    return np.stack(vectors) if vectors else np.zeros((0, 1), np.float32)


_BAD_ZONES: set[str] = set()  # logged once each: the digest tick asks every 15 minutes


@functools.cache
def _zone_names() -> dict[str, str]:
    """tzdata's zone names by their lower-case spelling (read from disk once: ~9 ms a scan)."""
    return {z.lower(): z for z in available_timezones()}


def _zone(name: Any, default: tzinfo) -> tzinfo:
    """The zone ``name``, or ``default`` when it is empty or no zone at all."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except Exception as exc:  # noqa: BLE001
            # Not only ZoneInfoNotFoundError/ValueError: "America" (a tzdata folder) raises
            # IsADirectoryError, an over-long name OSError, a NUL byte ValueError.
            if name not in _BAD_ZONES:
                _BAD_ZONES.add(name)
                log.warning("recommend: unknown time zone %r (%s): using %s", name[:80], type(exc).__name__, default)
            return default
    return default

"""The activity brain: keeps helpfulness counters, answers ``/leaderboard`` and ``/trends``, posts
the weekly leaderboard and rate-limited, de-duplicated trend alerts (with charts)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.brain import Brain, CommandResult, command, every
from bot.channel_arg import channel_of_another_workspace, channel_word, picked_channel, resolve_channel
from bot.events import (
    COMMUNITY_VISIBILITIES,
    COMMUNITY_VISIBILITIES_SQL,
    Attachment,
    ChannelRef,
    CommandInvoked,
    Event,
    Platform,
    UserRef,
)
from bot.privacy.forgotten import author_of
from bot.scheduler import scheduled_slot
from brain.activity import charts
from brain.activity.alert_state import AlertLedger, Decision, purge_alerts
from brain.activity.counters import COUNTER_EVENTS, ActivityCounters
from brain.activity.leaderboard import (
    EXCLUDE_SETTING,
    PERIODS,
    Leaderboard,
    Window,
    leaderboard,
    member_names,
    previous_week,
    window_for,
)
from brain.activity.render_text import leaderboard_text
from brain.activity.scan import Finding, alert_text, chart_png, scan
from brain.activity.scoring import COUNTERS
from brain.qa.access import shared_with_other_organisations

log = logging.getLogger(__name__)

# Workspaces where the activity tables name a member (``member_workspaces``): each part is a search
# of an index leading with the member (migrations activity-0006..0008).
MEMBER_WORKSPACES = (
    "SELECT workspace_id FROM activity_rollup WHERE user_id = ? AND platform = ? "
    "UNION SELECT workspace_id FROM activity_contrib WHERE author_id = ? AND platform = ? "
    "UNION SELECT workspace_id FROM activity_reactions WHERE user_id = ? AND platform = ? "
    # Kept two days at most (ActivityCounters.purge_pending): small tables, no member index needed.
    "UNION SELECT workspace_id FROM activity_pending_edits WHERE author_id = ? AND platform = ? "
    "UNION SELECT workspace_id FROM activity_reaction_removals WHERE user_id = ? AND platform = ?"
)
# The member's other activity rows in their export (``export_member``): the export's key, the table,
# its member column, the columns read and the names they are exported under.
_MEMBER_ROWS_EXPORTED = (
    (
        "counted_reactions",
        "activity_reactions",
        "user_id",
        ("message_id", "emoji", "ts"),
        ("message_id", "emoji", "ts"),
    ),
    (
        "pending_edits",
        "activity_pending_edits",
        "author_id",
        ("message_id", "text", "ts"),
        ("message_id", "text", "edited_ts"),
    ),
    (
        "reaction_removals",
        "activity_reaction_removals",
        "user_id",
        ("message_id", "emoji", "ts"),
        ("message_id", "emoji", "ts"),
    ),
)
# What a contribution row says of its message, for the member's export (``export_member``).
_CONTRIB_EXPORTED = (
    "message_id",
    "channel_id",
    "thread_id",
    "day",
    "ts",
    "words",
    "is_question",
    "deleted",
    "capped",
    "anonymous",
    "helpful_src",
    "answer_id",
    "answer_src",
    *COUNTERS,
)
# Flags stored as 0/1, exported as booleans.
_CONTRIB_FLAGS = ("is_question", "deleted", "capped", "anonymous")


class ActivityBrain(Brain):
    """Helpfulness leaderboards, trend and health alerts."""

    name = "activity"

    async def setup(self) -> None:
        s = self.ctx.settings.activity
        # The ledger reads then writes: two overlapping scans (the scheduled one and an admin's, or a
        # slow one overrunning its 15 minutes) would both see "grown" and post the same update twice.
        self._scan_lock = asyncio.Lock()
        self.counters = ActivityCounters(
            self.ctx.store,
            self.ctx.settings.tz,
            min_words=s.min_words,
            per_minute_cap=s.per_minute_cap,
            reply_threads_per_day=s.reply_threads_per_day,
            asker_threads_per_day=s.asker_threads_per_day,
            started_threads_per_day=s.started_threads_per_day,
            # A Redis bus spreads a member's events over the workers of the consumer group.
            shared_writers=self.ctx.settings.bus.kind != "memory",
        )
        # A batch subscription: counters are applied up to 2,000 events per transaction (live traffic
        # makes small batches; a burst amortises the lookups and upserts over more rows).
        self.ctx.bus.subscribe_batch(COUNTER_EVENTS, self._on_batch, name="activity.counters", max_batch=2000)

    async def _on_batch(self, events: Sequence[Event]) -> None:
        # Events already on the bus when their author was forgotten are not counted (the app wraps
        # @listen handlers the same way; this batch subscription is the brain's own).
        if self.ctx.services.has("forgotten"):
            forgotten = await self.ctx.services.get("forgotten")
            events = [e for e in events if (author := author_of(e)) is None or author not in forgotten]
        await self.counters.apply(events)

    # -- privacy --------------------------------------------------------------------------------
    async def forget_member(self, user: UserRef) -> dict[str, int]:
        """Erase the member's counters and reactions, and take their name off their contribution rows
        (``/forget-me``). The reactions they gave stop counting: the messages they reacted to are
        recounted (their authors lose those reaction points). The helpful marks and answers their ✅
        gave others stay, as those their thanks gave do: the help happened, and their questions stay
        answered.

        The contribution rows stay, anonymised (author ``''``, counters zeroed: their rollups are
        deleted here), because other members' questions depend on them: a question this member
        answered stays answered (``scan.open_questions``) instead of joining an "unanswered" pile-up.
        A row of a message posted while opted out keeps its counters: those were only ever in the
        anonymous rollup row (``''``), which a later delete of the message subtracts them from. The
        counter module treats ``''`` rows as nobody's: never credited as a reply the asker took up,
        never a self-reaction.
        """
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        db = self.ctx.store.db
        out = {
            "activity_rollup": await db.execute(
                "DELETE FROM activity_rollup WHERE platform = ? AND workspace_id = ? AND user_id = ?", (p, ws, uid)
            )
        }
        kept = "CASE WHEN anonymous = 1 THEN {0} ELSE {1} END"
        zeroed = ", ".join(f"{c} = {kept.format(c, 0)}" for c in COUNTERS)
        out["activity_contrib"] = await db.execute(
            # capped = 1 on a zeroed row: a later edit (Discord sends some without an author, so the
            # forgotten-member gate cannot drop them) must not count the message again.
            f"UPDATE activity_contrib SET author_id = '', anonymous = 1, capped = {kept.format('capped', 1)}, {zeroed} "
            "WHERE platform = ? AND workspace_id = ? AND author_id = ?",
            (p, ws, uid),
        )
        out["activity_reactions"] = await self.counters.erase_reactions_by(p, ws, uid)
        # Their edits still waiting for the post they overtook, and their reaction removals noted.
        out["activity_pending_edits"] = await db.execute(
            "DELETE FROM activity_pending_edits WHERE platform = ? AND workspace_id = ? AND author_id = ?", (p, ws, uid)
        )
        out["activity_reaction_removals"] = await db.execute(
            "DELETE FROM activity_reaction_removals WHERE platform = ? AND workspace_id = ? AND user_id = ?",
            (p, ws, uid),
        )
        # Their id on the admin's exclude list is about them too (and `config show` would keep
        # listing it, nameless): a forgotten member has nothing left to rank anyway.
        excluded = await self.ctx.store.get_workspace_setting(p, ws, EXCLUDE_SETTING)
        if isinstance(excluded, list) and uid in [str(m) for m in excluded]:
            kept_ids = [m for m in excluded if str(m) != uid]
            await self.ctx.store.set_workspace_setting(p, ws, EXCLUDE_SETTING, kept_ids)
            out["leaderboard_exclude"] = 1
        return out

    async def member_workspaces(self, platform: str, user_id: str) -> set[str]:
        """Workspaces with the member's counters, contribution rows, counted reactions, or edits and
        reaction removals kept for the post or add they overtook."""
        rows = await self.ctx.store.db.fetchall(MEMBER_WORKSPACES, (user_id, platform) * 5)
        return {str(r[0]) for r in rows}

    async def export_member(self, user: UserRef) -> dict[str, Any]:
        """The member's daily counters, what each of their messages counted for (its contribution
        row: the flags and credits the leaderboard reads) and the reactions of theirs that counted,
        as ``/forget-me`` finds them (data access request)."""
        db, key = self.ctx.store.db, (user.platform.value, user.workspace_id, user.user_id)
        rows = await db.fetchall(
            f"SELECT day, channel_id, {', '.join(COUNTERS)} FROM activity_rollup "
            "WHERE platform = ? AND workspace_id = ? AND user_id = ? ORDER BY day",
            key,
        )
        out: dict[str, Any] = {
            "daily_counters": [dict(zip(("day", "channel", *COUNTERS), r, strict=True)) for r in rows]
        }
        contribs = await db.fetchall(
            f"SELECT {', '.join(_CONTRIB_EXPORTED)} FROM activity_contrib "
            "WHERE platform = ? AND workspace_id = ? AND author_id = ? ORDER BY ts, message_id",
            key,
        )
        if contribs:
            out["contributions"] = [_contribution(dict(zip(_CONTRIB_EXPORTED, r, strict=True))) for r in contribs]
        for name, table, member, columns, fields in _MEMBER_ROWS_EXPORTED:
            rows = await db.fetchall(
                f"SELECT {', '.join(columns)} FROM {table} WHERE platform = ? AND workspace_id = ? AND {member} = ? "
                f"ORDER BY ts, {', '.join(c for c in columns if c not in ('ts', 'text'))}",
                key,
            )
            if rows:
                out[name] = [dict(zip(fields, r, strict=True)) for r in rows]
        # An admin's leaderboard exclude list naming them is about them too (forget_member drops it).
        excluded = await self.ctx.store.get_workspace_setting(user.platform.value, user.workspace_id, EXCLUDE_SETTING)
        if isinstance(excluded, list) and user.user_id in [str(m) for m in excluded]:
            out["excluded_from_leaderboard"] = True
        return out

    async def retention_workspaces(self) -> set[tuple[str, str]]:
        """Workspaces with contribution rows, reactions, rollup days, kept edits and removals or alert
        state: they outlive the workspace's last message (it expired first), and only a visit of the
        retention purge removes them."""
        rows = await self.ctx.store.db.fetchall(
            " UNION ".join(
                f"SELECT DISTINCT platform, workspace_id FROM {table}"
                for table in (
                    "activity_contrib",
                    "activity_reactions",
                    "activity_rollup",
                    "activity_pending_edits",
                    "activity_reaction_removals",
                    "activity_alerts",
                    "activity_alert_posts",
                )
            )
        )
        return {(str(r[0]), str(r[1])) for r in rows}

    async def purge_before(self, cutoff_ts: float, *, platform: str, workspace_id: str) -> int:
        """Retention: drop contribution rows and reactions older than the cutoff, and rollup days before
        it; kept edits and removals older than it; and alert state quiet for longer than the ledger
        needs it (:func:`brain.activity.alert_state.purge_alerts`) or older than the cutoff: an alert
        key holds terms taken from members' words."""
        cutoff_day = datetime.fromtimestamp(cutoff_ts, self.ctx.settings.tz).date().isoformat()
        db, ws = self.ctx.store.db, "platform = ? AND workspace_id = ?"
        n = await db.execute(f"DELETE FROM activity_contrib WHERE {ws} AND ts < ?", (platform, workspace_id, cutoff_ts))
        n += await db.execute(
            f"DELETE FROM activity_reactions WHERE {ws} AND ts < ?", (platform, workspace_id, cutoff_ts)
        )
        n += await db.execute(
            f"DELETE FROM activity_rollup WHERE {ws} AND day < ?", (platform, workspace_id, cutoff_day)
        )
        for table in ("activity_pending_edits", "activity_reaction_removals"):
            n += await db.execute(f"DELETE FROM {table} WHERE {ws} AND ts < ?", (platform, workspace_id, cutoff_ts))
        n += await purge_alerts(
            self.ctx.store, platform, workspace_id, self.ctx.clock.now().timestamp(), before_ts=cutoff_ts
        )
        return n

    # -- leaderboards --------------------------------------------------------------------------
    async def board(
        self, platform: str, workspace_id: str, period: str = "week", channel_id: str | None = None
    ) -> Leaderboard:
        """The leaderboard of ``period`` ending today (community time zone)."""
        window = window_for(period, self.ctx.clock.now(), self.ctx.settings.tz)
        return await leaderboard(
            self.ctx.store,
            platform,
            workspace_id,
            window,
            channel_id=channel_id,
            reactions_per_day=self.ctx.settings.activity.reactions_per_day,
        )

    async def _render(self, platform: str, workspace_id: str, board: Leaderboard) -> tuple[str, tuple[Attachment, ...]]:
        """The board as text, with its PNG card when that renders (the text alone when it fails)."""
        names = await member_names(self.ctx.store, platform, workspace_id, board)
        text = leaderboard_text(board, names)
        try:
            png = charts.leaderboard_png(board, names)
        except Exception:
            self.ctx.log.exception("leaderboard card failed to render; sending the text table alone")
            return text, ()
        return text, (Attachment("leaderboard.png", "image/png", png),)

    @command("leaderboard", description="Most helpful members", usage="[week|month|all] [#channel]")
    async def leaderboard_cmd(self, cmd: CommandInvoked) -> CommandResult:
        usage = "Usage: `/leaderboard [week|month|all] [#channel]`."
        period = cmd.option("period", "")
        channel = picked_channel(cmd.option("channel", ""))
        bare = ""  # a word typed without "#" taken for a channel name
        for word in cmd.text.split():
            if word.lower() in PERIODS and not period:
                period = word.lower()
                continue
            named = channel_word(word)
            if named is None:
                return CommandResult(usage)
            if channel is not None:
                if named.id_or_name.casefold() == channel.id_or_name.casefold():
                    continue  # the console passes "#python" both as the option and in the text
                return CommandResult(usage)
            channel = named
            bare = "" if word.startswith(("#", "<#")) else word
        if period and period not in PERIODS:
            return CommandResult(usage)
        channel_id = None
        if channel is not None:
            channel_id = await resolve_channel(self.ctx.store, cmd.platform.value, cmd.channel.workspace_id, channel)
            if channel_id is None and bare:
                # "/leaderboard forever" is a period the command lacks far more often than a channel
                # name typed without its "#": say what the periods are, not "no channel #forever".
                *first, last = (f"`{p}`" for p in PERIODS)
                return CommandResult(
                    f"I don't know `{bare}`: the period is {', '.join(first)} or {last}, and a channel "
                    f"is named with `#`, like `#help`. {usage}"
                )
            if channel_id is None:
                # "/leaderboard #year" must not show an empty board "in #year".
                return CommandResult(f"I don't know a channel #{channel.id_or_name} here. {usage}")
        private = False
        if channel_id is not None:
            row = await self.ctx.store.get_channel(cmd.platform.value, cmd.channel.workspace_id, channel_id)
            private = row is None or row.visibility not in COMMUNITY_VISIBILITIES
            # A picked id the store has no record of (a DM, a channel not recorded yet) may be
            # anyone's: only whoever asks in it sees its board.
            if private and not await self._may_read(cmd, channel_id):
                return CommandResult("You can only see the leaderboard of a channel you can read.")
        p, ws = cmd.platform.value, cmd.channel.workspace_id
        if await self._outsider(cmd):
            # The board names members and counts channels a guest or a partner does not read.
            return CommandResult("Leaderboards are for members of this workspace.")
        board = await self.board(p, ws, period or "week", channel_id)
        text, cards = await self._render(p, ws, board)
        # A private channel's board is for the asker only, wherever they ask; so is any board asked
        # for in a channel another organisation (Slack Connect) or a guest reads: it names our
        # members and counts channels they do not read.
        ephemeral = (
            private
            or await shared_with_other_organisations(self.ctx.store, cmd.channel)
            or await self.ctx.store.guests_in(p, ws, cmd.channel.channel_id, besides=cmd.user.user_id)
        )
        return CommandResult(text, ephemeral=ephemeral, attachments=cards)

    async def _outsider(self, cmd: CommandInvoked) -> bool:
        """Whether the invoker is of another organisation or a guest (the command's word or the store's)."""
        p, ws, uid = cmd.platform.value, cmd.channel.workspace_id, cmd.user.user_id
        store = self.ctx.store
        return bool(
            cmd.user.external
            or cmd.user.guest
            or await store.is_external(p, ws, uid)
            or await store.is_guest(p, ws, uid)
        )

    async def _may_read(self, cmd: CommandInvoked, channel_id: str) -> bool:
        """Whether the invoker may read ``channel_id`` (a private channel's access list, or a DM)."""
        readable = await self.ctx.store.readable_channel_ids(
            cmd.platform.value, cmd.channel.workspace_id, cmd.user.user_id, cmd.role_ids, guest=bool(cmd.user.guest)
        )
        return channel_id in readable or channel_id == cmd.channel.channel_id

    async def status(self, platform: str, workspace_id: str) -> list[str]:
        """Where trend alerts go."""
        channel_id = await self._alerts_channel_id(platform, workspace_id)
        if channel_id is None:
            return ["Trend alerts: no channel set (`/guildhall alerts-channel #channel`), so none are posted"]
        withheld = await self._withheld_because(platform, workspace_id, channel_id)
        if withheld is not None:
            return [f"Trend alerts: none are posted, as {withheld} (`/guildhall alerts-channel #channel`)"]
        row = await self.ctx.store.get_channel(platform, workspace_id, channel_id)
        return [f"Trend alerts: posted in #{row.name if row and row.name else channel_id}"]

    async def _alerts_channel(self, platform: str, workspace_id: str) -> ChannelRef | None:
        """Where alerts and the weekly board go: the alerts channel, unless another organisation reads it."""
        channel_id = await self._alerts_channel_id(platform, workspace_id)
        if channel_id is None:
            return None
        withheld = await self._withheld_because(platform, workspace_id, channel_id)
        if withheld is not None:
            log.warning("activity: nothing posted in alerts channel %s, as %s", channel_id, withheld)
            return None
        return ChannelRef(Platform(platform), workspace_id, channel_id)

    async def _withheld_because(self, platform: str, workspace_id: str, channel_id: str) -> str | None:
        """Why alerts and boards are not posted in the alerts channel ``channel_id`` (None: they
        are): they quote terms, link messages and name members, which neither another organisation
        (Slack Connect) nor a guest (who reads only the channels they are in) may read."""
        store = self.ctx.store
        if await store.is_shared_externally(platform, workspace_id, channel_id):
            return "the alerts channel is shared with another organisation (Slack Connect); set one of your own"
        if await store.guests_in(platform, workspace_id, channel_id):
            return "a guest reads the alerts channel; set one only members read"
        return None

    async def _alerts_channel_id(self, platform: str, workspace_id: str) -> str | None:
        """The workspace's alerts channel (its setting, else the configured one), or None."""
        channel_id = await self.ctx.store.get_workspace_setting(platform, workspace_id, "alerts_channel")
        db = self.ctx.store.db
        if channel_id and await channel_of_another_workspace(db, platform, workspace_id, str(channel_id)):
            # Set before `/guildhall config set` refused another workspace's channel (a Discord
            # mention typed as text names any server's channel): this workspace's alerts and board
            # must not be posted in another community.
            log.warning(
                "activity: alerts_channel %s of %s:%s is another workspace's channel; no alerts are posted "
                "until an admin sets one of this workspace",
                channel_id,
                platform,
                workspace_id,
            )
            return None
        if not channel_id:
            channel_id = self.ctx.settings.activity.alerts_channel_id
            # One configured id serves every workspace, but it names one workspace's channel (Discord
            # ids are global): another workspace's alerts and board must not be posted there.
            if channel_id and await self._channel_of_another_workspace(platform, workspace_id, str(channel_id)):
                return None
        return str(channel_id) if channel_id else None

    async def _channel_of_another_workspace(self, platform: str, workspace_id: str, channel_id: str) -> bool:
        """Whether ``channel_id`` may be another workspace's: the store records it in another workspace
        of ``platform`` and not in this one, or records it nowhere while ``platform`` has other
        workspaces (which of them holds it is unknown: posting there could hand this workspace's
        findings to another community, so only a deployment of one workspace takes the chance)."""
        rows = await self.ctx.store.db.fetchall(
            "SELECT DISTINCT workspace_id FROM channels WHERE platform = ? AND channel_id = ?", (platform, channel_id)
        )
        owners = {str(r[0]) for r in rows}
        if owners:
            return workspace_id not in owners
        other = await self.ctx.store.db.fetchone(
            "SELECT 1 FROM channels WHERE platform = ? AND workspace_id <> ? LIMIT 1", (platform, workspace_id)
        )
        return other is not None

    async def _workspaces(self) -> list[tuple[str, str]]:
        """Workspaces with counters and at least one public (or restricted) channel: leaderboards
        count those and findings read public ones only, so a DM-only pseudo-workspace (Discord's ``@me``) has none,
        and its DM volume must not reach a server's alerts channel. Workspaces the bot was removed
        from are left out until it is back (nothing can be posted there)."""
        db = self.ctx.store.db
        public = {
            (str(r[0]), str(r[1]))
            for r in await db.fetchall(
                f"SELECT DISTINCT platform, workspace_id FROM channels WHERE visibility IN {COMMUNITY_VISIBILITIES_SQL}"
            )
        }
        rows = await db.fetchall("SELECT DISTINCT platform, workspace_id FROM activity_rollup")
        platforms = {p.value for p in Platform}
        public -= await self.ctx.removed_workspaces()
        return sorted((r[0], r[1]) for r in rows if r[0] in platforms and (r[0], r[1]) in public)

    # Weekly, on the configured day and time. Made up when the bot was down at that time, up to three
    # days late (a board posted later than mid-week reads as stale; the next one is due soon).
    @every(
        setting="activity.leaderboard_post_time",
        weekday_setting="activity.leaderboard_post_weekday",
        one_worker=True,
        catch_up=timedelta(days=3),
    )
    async def weekly_post(self) -> None:
        """Post last week's leaderboard into each workspace's alerts channel (on the configured weekday)."""
        # A caught-up run (Tuesday, for Monday's slot) is for its slot's day and week.
        now = scheduled_slot() or self.ctx.clock.now()
        if now.astimezone(self.ctx.settings.tz).weekday() != self.ctx.settings.activity.leaderboard_post_weekday:
            return
        window = previous_week(now, self.ctx.settings.tz)
        await self._in_each_workspace("weekly board", lambda platform, ws: self._post_board_in(platform, ws, window))

    async def _in_each_workspace(self, what: str, job: Callable[[str, str], Awaitable[None]]) -> None:
        """Run ``job`` for every workspace with a board, going on past one that fails: one
        community's odd data must not silence every community after it, every run. Logged, not
        raised: a retry of the whole run would post again where it went out."""
        for platform, ws in await self._workspaces():
            try:
                await job(platform, ws)
            except Exception:
                log.exception("activity: %s of %s:%s failed; the other workspaces go on", what, platform, ws)

    async def _post_board_in(self, platform: str, ws: str, window: Window) -> None:
        target = await self._alerts_channel(platform, ws)
        if target is None:
            return
        board = await leaderboard(
            self.ctx.store, platform, ws, window, reactions_per_day=self.ctx.settings.activity.reactions_per_day
        )
        if board.entries:
            text, cards = await self._render(platform, ws, board)
            await self.ctx.say(target, text, attachments=cards)

    # -- trends ---------------------------------------------------------------------------------
    async def findings(self, platform: str, workspace_id: str) -> list[Finding]:
        """Current trend and health findings of a workspace (charts drawn on demand: :func:`chart_png`)."""
        return await scan(
            self.ctx.store,
            platform,
            workspace_id,
            settings=self.ctx.settings,
            now=self.ctx.clock.now(),
            tz=self.ctx.settings.tz,
            unanswered_after_hours=self.ctx.settings.activity.unanswered_after_hours,
        )

    @command("trends", description="Current topic bursts and community health signals")
    async def trends_cmd(self, cmd: CommandInvoked) -> CommandResult:
        if await self._outsider(cmd):
            # Findings quote terms and link messages of public channels a guest or a partner does not read.
            return CommandResult("Trends are for members of this workspace.")
        found = await self.findings(cmd.platform.value, cmd.channel.workspace_id)
        if not found:
            return CommandResult("No unusual trends right now.")
        platform, ws = cmd.platform.value, cmd.channel.workspace_id
        items = [alert_text(f, await self._message_refs(platform, ws, f.message_ids[:3])) for f in found]
        text = "*Trends*\n" + "\n".join(f"• {item}" for item in items)
        pngs = [png for f in [f for f in found if f.draw is not None][:3] if (png := await chart_png(f))]
        attachments = tuple(Attachment(f"trend-{i}.png", "image/png", png) for i, png in enumerate(pngs))
        return CommandResult(text, attachments=attachments)

    async def _message_refs(self, platform: str, workspace_id: str, ids: Sequence[str]) -> list[str]:
        """Permalinks of the messages behind an alert where the platform gave one, else their ids."""
        links: dict[str, str] = {}
        if ids:
            rows = await self.ctx.store.db.fetchall(
                "SELECT message_id, permalink FROM messages WHERE platform = ? AND workspace_id = ? "
                f"AND message_id IN ({', '.join('?' for _ in ids)})",
                (platform, workspace_id, *ids),
            )
            links = {str(r[0]): str(r[1]) for r in rows if r[1]}
        return [links.get(m) or f"`{m}`" for m in ids]

    @every(minutes=15, one_worker=True)
    async def trend_scan(self) -> None:
        """Post new findings (and grown ones, as updates) to the alerts channel, rate-limited."""
        async with self._scan_lock:
            await self._scan_and_post()

    async def _scan_and_post(self) -> None:
        now = self.ctx.clock.now().timestamp()
        await self._in_each_workspace("trend scan", lambda platform, ws: self._scan_and_post_in(platform, ws, now))

    async def _scan_and_post_in(self, platform: str, ws: str, now: float) -> None:
        # Alert state long quiet is of no use to the ledger, and its keys quote members' words.
        await purge_alerts(self.ctx.store, platform, ws, now)
        target = await self._alerts_channel(platform, ws)
        if target is None:
            return
        ledger = AlertLedger(self.ctx.store, platform, ws)
        for f in await self.findings(platform, ws):
            decision = await ledger.decide(f.key, f.strength, now, aliases=f.aliases)
            if decision is Decision.SKIP:
                continue
            prefix = "Update: " if decision is Decision.UPDATE else ""
            refs = await self._message_refs(platform, ws, f.message_ids[:5])
            text = alert_text(f, refs, prefix=prefix)
            png = await chart_png(f)
            attachments = (Attachment("trend.png", "image/png", png),) if png else ()
            await self.ctx.say(target, text, attachments=attachments)


def _contribution(row: dict[str, Any]) -> dict[str, Any]:
    """A contribution row as the member's export shows it: 0/1 flags as booleans, and what made a
    reply helpful or a question answered (``helpful_src``, ``answer_src``: the asker's ✅
    ``reaction``, ``thanks:<message id>``, ``said:<message id>``) as lists."""
    out = {k: v for k, v in row.items() if k not in ("helpful_src", "answer_src")}
    for flag in _CONTRIB_FLAGS:
        out[flag] = bool(out[flag])
    out["helpful_because"] = sorted(str(row["helpful_src"] or "").split())
    out["answer_id"] = row["answer_id"] or None
    out["answered_because"] = sorted(str(row["answer_src"] or "").split())
    return out

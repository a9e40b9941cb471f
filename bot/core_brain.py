"""The core brain: commands every deployment has (help, opt-out/in, forget-me, admin config).

It is always enabled. Privacy commands act across all brains: ``/forget-me`` erases the member's
text from the store and asks every brain to drop what it derived (index entries, profiles,
leaderboard rows), then writes an audit record without content.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.brain import Brain, BrainContext, CommandResult, CommandSpec, command, every, listen, plural
from bot.channel_arg import (
    channel_arguments,
    channel_list,
    channel_of_another_workspace,
    channel_word,
    picked_channel,
    resolve_channel,
)
from bot.clock import from_epoch, to_epoch
from bot.commands import typed_command
from bot.events import Button, ButtonClicked, CommandInvoked, Platform, UserRef
from bot.ml import VectorIndexUnavailable
from bot.permissions import DISCORD_DM_WORKSPACE
from bot.privacy.member_rows import MEMBER_MENTION, audit_entries_of, channel_access_of
from bot.privacy.optout import clear_carried_opt_outs, opt_out_here_first
from bot.scheduler import parse_hhmm
from bot.store.channel_access import USER, USER_DENIED
from bot.store.db import MAINTENANCE_TIMEOUT_S, like_escaped
from bot.words import nfc

if TYPE_CHECKING:
    from bot.app import GuildhallApp
    from bot.config import Settings
    from bot.store import Store

log = logging.getLogger(__name__)

FORGET_CONFIRM_ACTION = "guildhall.forget_me.confirm"
UNFINISHED_INDEX = "search index"  # Erasure.unfinished: index rebuilds waiting for the vector store

# Workspaces where the store holds something of a member (one ``(platform, user_id)`` pair per
# SELECT). Brains name the workspaces where their own tables hold the member (``member_workspaces``):
# a question asked with `/ask`, a profile or a counter may be all there is of them in a server, and a
# Discord DM is always included.
_MEMBER_TABLES = (
    ("users", "user_id", ""),
    ("member_settings", "user_id", ""),
    ("messages", "author_id", ""),
    ("reactions", "user_id", ""),
    ("feedback", "user_id", ""),
    ("threads", "author_id", ""),
    # A member who only reads a server is on its private channels' access lists (those name roles
    # too), and an admin who only ran commands there is in its audit log. Both searches use an index
    # leading with the member (migrations core-0009, core-0010).
    ("channel_access", "principal_id", f" AND principal_kind IN ('{USER}', '{USER_DENIED}')"),
    ("audit_log", "actor_id", ""),
    # Changes waiting for what they change (bot.store.sql: an edit overtook its post, a removal its add).
    ("pending_edits", "author_id", ""),
    ("reaction_removals", "user_id", ""),
)
MEMBER_WORKSPACES = " UNION ".join(
    f"SELECT workspace_id FROM {table} WHERE {column} = ? AND platform = ?{more}"
    for table, column, more in _MEMBER_TABLES
)

# Admin-tunable keys (``/guildhall config set KEY VALUE``) and how to parse their values. A
# "channel" is one channel, stored as its id; a "list" holds channel ids (platform mentions) and
# names (typed), matched against both; "members" holds user ids (mentions, ids or names the store
# knows, resolved when set: a member renamed later stays on it).
CONFIG_KEYS: dict[str, str] = {
    "alerts_channel": "channel",
    "digest_default_on": "bool",
    "digest_time": "time",
    "digest_size": "int",
    "qa_help_channels": "list",
    "qa_answer_unanswered_after_min": "int",
    "index_private_channels": "list",
    "deny_channels": "list",
    "retention_days": "int",
    "exploration_share": "float",
    "shadow_channels": "list",
    "moderators_channel": "channel",
    "human_first_minutes": "float",
    "leaderboard_exclude": "members",
}

# Ranges of the numeric keys (the settings they override in bot/config.py have the same lower
# bounds). The upper bounds are far past any sensible value, but finite: a retention of 10^14
# days or a wait of 10^12 minutes overflowed the date arithmetic that uses them.
CONFIG_BOUNDS: dict[str, tuple[float, float]] = {
    "digest_size": (1, 25),  # threads per digest (a DM longer than that is not read)
    "qa_answer_unanswered_after_min": (1, 7 * 24 * 60),
    "retention_days": (1, 100 * 366),
    "exploration_share": (0.0, 1.0),
    "human_first_minutes": (0.0, 7 * 24 * 60),
}


def config_defaults(settings: Settings) -> dict[str, Any]:
    """What each of :data:`CONFIG_KEYS` is while no admin has set it: the deployment's settings
    (``guildhall.toml`` / environment), which a workspace value overrides."""
    return {
        "alerts_channel": settings.activity.alerts_channel_id,
        "digest_default_on": settings.recommend.digest_default_on,
        "digest_time": settings.recommend.digest_time,
        "digest_size": settings.recommend.digest_size,
        "qa_help_channels": settings.qa.help_channel_ids,
        "qa_answer_unanswered_after_min": settings.qa.answer_unanswered_after_min,
        "index_private_channels": settings.privacy.index_private_channels,
        "deny_channels": settings.privacy.deny_channels,
        "retention_days": settings.privacy.retention_days,
        "exploration_share": settings.recommend.exploration_share,
        "shadow_channels": [],
        "moderators_channel": None,
        "human_first_minutes": settings.community.human_first_minutes,
        "leaderboard_exclude": [],
    }


# How an unset key without a deployment default behaves, in words.
UNSET_MEANS: dict[str, str] = {
    "alerts_channel": "none: trend alerts are not posted",
    "qa_answer_unanswered_after_min": "off: unanswered questions are not picked up",
    "retention_days": "keep forever",
    "moderators_channel": "the alerts channel",
    "leaderboard_exclude": "nobody: every member can be ranked",
}


# Channels a list setting may hold: far more than any deployment names, and small enough that the
# confirmation (which names them all) still posts on every platform.
MAX_CONFIG_CHANNELS = 100

# Members a "members" setting may hold: staff and bridges are a handful; the confirmation names them all.
MAX_CONFIG_MEMBERS = 100

# A mention's label ("<@U123|Helga the Helper>") may hold spaces and commas: dropped before splitting.
# No "<" in the id: a run of "<@" then costs linear time, not the square of its length.
_MENTION_LABEL = re.compile(r"<@(!?[^|<>\s]+)\|[^<>]*>")

# Values an admin types to mean "no channel": a list becomes empty; a key in OFF_WHEN_UNSET goes
# back to unset where unset means off. A channel really called so is still ``#none``.
NONE_WORDS = frozenset({"none", "off", "-", "[]", '""', "''"})
# Values of ``config set`` that mean ``config unset``: Discord's config action offers only show and
# set, and without these a list would store a channel called "default".
UNSET_WORDS = frozenset({"default", "reset", "unset"})
# Keys whose unset value (without a deployment default) is "off" (UNSET_MEANS says what it does).
OFF_WHEN_UNSET = frozenset({"alerts_channel", "qa_answer_unanswered_after_min", "retention_days"})

# Channel lists that may name a channel before Guildhall has seen it: keeping a channel out of
# answers must work before the bot is let in. The other lists (help and shadow channels, private
# channels opted in) refuse a typed name the store does not know: a typo replaced a working list
# with one naming no channel at all.
LISTS_OF_FUTURE_CHANNELS = frozenset({"deny_channels"})

# Commands whose arguments differ on a platform from what their usage says: Discord's
# `/guildhall alerts-channel` has a channel picker only (adapters/discord/commands.py), no text to
# type `here` in. Usage and description as `/help` shows them there.
PLATFORM_USAGE: dict[tuple[Platform, str], tuple[str, str]] = {
    (Platform.DISCORD, "guildhall alerts-channel"): (
        "[channel]",
        "Where trend alerts go; pick a channel in the `channel` option to set it",
    ),
}

# Member settings the bot keeps of its own about a member (their opt-out, their erasure): not "what
# is stored about you" that `/forget-me` erases and counts; it sets both again at once.
ERASURE_MARKERS = ("forgotten", "opted_out")

CONFIG_USAGE = (
    "Usage: `/guildhall config show`, `/guildhall config set KEY VALUE` or `/guildhall config unset KEY` "
    "(back to the default). A channel list takes `none`."
)


def _folded(name: str) -> str:
    """A member name as compared for a match: composed and case-folded, so "ÖLAF", "ölaf" and a
    decomposed "Ölaf" are one name."""
    return nfc(name.strip()).casefold()


def member_mention(word: str) -> str | None:
    """The user id of a platform mention (``<@U123>``, ``<@U123|name>``, ``<@123>``, ``<@!123>``), else None."""
    match = MEMBER_MENTION.fullmatch(word.strip())
    return match.group(1) if match else None


def member_words(raw: str) -> list[str]:
    """The members a "members" value names, in order, without repeats: a mention as its user id,
    anything else as typed (an id or a name, without a leading ``@``)."""
    found: list[str] = []
    for word in _MENTION_LABEL.sub(r"<@\1>", raw).replace(",", " ").split():
        member = member_mention(word) or word.lstrip("@")
        if member and member not in found:
            found.append(member)
    return found


def parse_config_value(key: str, raw: str) -> Any:
    """Parse an admin-supplied value for ``key``; raises ValueError with a readable message.

    A channel comes back as typed (its id, or the name a member typed); :meth:`CoreBrain.config`
    resolves a name to the id of a channel the store knows."""
    kind = CONFIG_KEYS.get(key)
    if kind is None:
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(sorted(CONFIG_KEYS))}")
    raw = raw.strip()
    if kind == "bool":
        if raw.lower() in {"on", "true", "yes", "1"}:
            return True
        if raw.lower() in {"off", "false", "no", "0"}:
            return False
        raise ValueError(f"{key} expects on/off")
    if kind == "time":
        try:
            return parse_hhmm(raw).strftime("%H:%M")
        except ValueError:
            raise ValueError(f"{key} expects a time of day as HH:MM, 00:00 to 23:59") from None
    if kind in ("int", "float"):
        try:
            number = int(raw) if kind == "int" else float(raw)
        except ValueError:
            raise ValueError(f"{key} expects {'a whole number' if kind == 'int' else 'a number'}") from None
        low, high = CONFIG_BOUNDS[key]
        if not low <= number <= high:  # also refuses nan
            raise ValueError(f"{key} must be between {low:g} and {high:g}")
        return number
    if kind == "list":
        channels = [] if raw.lower() in NONE_WORDS else channel_list(raw)
        if len(channels) > MAX_CONFIG_CHANNELS:
            raise ValueError(f"{key} takes at most {MAX_CONFIG_CHANNELS} channels ({len(channels)} given)")
        return channels
    if kind == "members":
        members = [] if raw.lower() in NONE_WORDS else member_words(raw)
        if len(members) > MAX_CONFIG_MEMBERS:
            raise ValueError(f"{key} takes at most {MAX_CONFIG_MEMBERS} members ({len(members)} given)")
        return members
    if kind == "channel":
        argument = channel_word(raw)
        if argument is None:
            raise ValueError(f"{key} expects one channel (#name)")
        return argument.id_or_name
    return raw


async def workspace_config(store: Store, platform: str, workspace_id: str, key: str, default: Any) -> Any:
    """A workspace's value of a :data:`CONFIG_KEYS` key, checked as ``/guildhall config set`` checks
    it today; ``default`` when unset. A value that fails the check (stored before the check existed,
    or by hand) is logged and ``default`` used, so one bad setting cannot stop a job that runs
    over every workspace."""
    value = await store.get_workspace_setting(platform, workspace_id, key)
    if value is None:
        return default
    if isinstance(value, bool):
        raw = "on" if value else "off"
    elif isinstance(value, list):
        raw = " ".join(str(v) for v in value)
    else:
        raw = str(value)
    try:
        return parse_config_value(key, raw)
    except ValueError as exc:
        log.warning("ignoring %s = %r of %s:%s (%s); using %r", key, value, platform, workspace_id, exc, default)
        return default


# Dedupe marks (``processed_events``, Store.mark_processed) outlive the horizon by this much before
# the daily purge drops them: a mark is timed by this machine's clock, an event by the platform's,
# and a few seconds of skew must not let a mark go while its event is still inside the horizon.
DEDUPE_PURGE_MARGIN = timedelta(days=1)


def dedupe_horizon(ctx: BrainContext) -> float:
    """The oldest event time (epoch seconds) that a consumer of ``processed_events`` may act on:
    ``store.dedupe_retention_days`` ago.

    Marks are purged a day after they pass it (:meth:`CoreBrain.purge_dedupe_marks`), so a consumer
    that ignores older events never meets an event whose mark is gone: a redelivery after a long
    outage, or a re-import of old history, cannot act twice. A mark is never older than its event,
    so each consumer compares the time its mark stands for (see its call of ``mark_processed``):

    - ``qa.feedback`` (answer votes: button clicks, 👍/👎 reactions, imported ones too): the vote's
      time. Votes are latest-wins rows, but a replay could bring back one a retention purge or an
      erasure removed.
    - ``recommend.reacted`` (one profile touch per member and message, whatever the reaction's
      time): the reacted-to message's time, which is before every reaction to it.
    - ``community.similar`` (the similar-threads hint): the thread's creation time.
    - ``community.human_first`` (a help-channel question answered, nudged, drafted or settled): the
      question's time. Its wait is minutes to a week; only a late redelivery reaches past it.
    """
    return to_epoch(ctx.clock.now()) - ctx.settings.store.dedupe_retention_days * 86400


# How long an edit or reaction removal waits for the post or add it overtook (Store.pending_edits,
# reaction_removals): purged daily with the dedupe marks.
PENDING_CHANGES_KEPT = timedelta(days=2)


class CoreBrain(Brain):
    """Help, privacy commands and admin configuration."""

    name = "core"

    def bind_app(self, app: GuildhallApp) -> None:
        """Keep a handle on the app to list commands and reach every brain."""
        self._app = app

    # -- member commands -----------------------------------------------------------------------
    @command("help", description="What Guildhall can do and how to use it")
    async def help(self, cmd: CommandInvoked) -> CommandResult:
        def line(spec: CommandSpec) -> str:
            usage, description = PLATFORM_USAGE.get((cmd.platform, spec.name), (spec.usage, spec.description))
            usage = f" {usage}" if usage else ""
            return f"• `{typed_command(cmd.platform, spec.name)}{usage}` — {description}"

        specs = self._app.router.specs
        lines = ["**Guildhall commands**", *(line(s) for s in specs if not s.admin)]
        admin = [line(s) for s in specs if s.admin]
        if admin:
            lines += ["**Admin commands**", *admin]
        return CommandResult("\n".join(lines))

    @command("optout", description="Stop Guildhall from indexing, profiling or ranking your messages")
    async def optout(self, cmd: CommandInvoked) -> CommandResult:
        # The workspace it was typed in first: a privacy gate (maybe in another process) that met
        # the member in a server and saw no opt-out looked before this write, so the look-up below
        # finds that server; one that looks after it carries the opt-out there (DiscordOptOuts).
        await opt_out_here_first(self.ctx.store, cmd.user)
        members = await self.member_everywhere(cmd.user)
        for u in members:
            await self.ctx.store.set_member_setting(u.platform.value, u.workspace_id, u.user_id, "opted_out", True)
            await self.ctx.store.audit(u.platform.value, u.workspace_id, u.user_id, "optout")
        return CommandResult(
            f"You're opted out{await self._where(members)}: your new messages won't be indexed, profiled or "
            "shown on leaderboards. You can still ask questions. `/optin` reverses this; `/forget-me` also "
            "erases what is stored."
        )

    @command("optin", description="Let Guildhall learn from your messages again")
    async def optin(self, cmd: CommandInvoked) -> CommandResult:
        store = self.ctx.store
        back: list[UserRef] = []
        forgotten: list[UserRef] = []
        for u in await self.member_everywhere(cmd.user):
            p, ws, uid = u.platform.value, u.workspace_id, u.user_id
            # Erasure is permanent (bot/privacy/forgotten.py): the bot keeps dropping a forgotten
            # member's messages, so opting in there would promise what does not happen. The gate's
            # set also knows a Discord member forgotten in another guild (a guild joined since).
            if await self.ctx.is_forgotten(u) or await store.get_member_setting(p, ws, uid, "forgotten", False):
                forgotten.append(u)
                await store.audit(p, ws, uid, "optin", allowed=False, detail={"reason": "forgotten"})
                continue
            await store.set_member_setting(p, ws, uid, "opted_out", False)
            await store.audit(p, ws, uid, "optin")
            back.append(u)
        if back:
            # A gate may have carried the opt-out to a server met meanwhile, from a read made before
            # the loop above cleared it: cleared too, under the lock the carry-overs take.
            keep = {u.workspace_id for u in forgotten}
            for ws in await clear_carried_opt_outs(store, cmd.user, keep=keep):
                await store.audit(cmd.user.platform.value, ws, cmd.user.user_id, "optin", detail={"carried_over": True})
                back.append(dataclasses.replace(cmd.user, workspace_id=ws))
        text = f"Welcome back{await self._where(back)}: your new messages count again." if back else ""
        if forgotten:
            where = await self._where(forgotten) if back else ""
            text += (
                f"{' ' if text else ''}You asked Guildhall to forget you{where}, and that is permanent: it keeps "
                "ignoring your messages and reactions there (nothing of them is stored, indexed or counted), "
                "and `/optin` cannot undo it. `/ask` still answers you."
            )
        return CommandResult(text)

    @command("forget-me", description="Erase everything Guildhall stored about you", usage="[confirm]")
    async def forget_me(self, cmd: CommandInvoked) -> CommandResult:
        typed = cmd.text.strip()
        confirmed = typed.lower() == "confirm" or cmd.option("confirm").lower() in {"yes", "true", "confirm"}
        if not confirmed and typed and not cmd.options:
            # "/forget-me now": a word it does not know is named, not answered with the prompt again
            # (which read as if the word had been ignored). Nothing is erased.
            return CommandResult(
                f"I don't know `{typed[:40]}` here: `/forget-me confirm` erases everything Guildhall stored "
                "about you, and `/forget-me` alone says what that is first. Nothing was erased."
            )
        if not confirmed:
            return CommandResult(
                "This erases the text of all your messages, your index entries, profile, feedback and "
                "leaderboard rows. It cannot be undone. Run `/forget-me confirm` or press the button.",
                buttons=(Button(FORGET_CONFIRM_ACTION, "Yes, forget me", "confirm", style="danger"),),
            )
        erasure = await self.forget(cmd.user)
        return CommandResult(erasure.message(), data={"counts": erasure.counts, "unfinished": list(erasure.unfinished)})

    @listen(ButtonClicked)
    async def on_click(self, event: ButtonClicked) -> None:
        """The confirmation button of ``/forget-me``."""
        if event.action_id != FORGET_CONFIRM_ACTION:
            return
        erasure = await self.forget(event.user)
        await self.ctx.ephemeral(event.channel, event.user, erasure.message(), response_ref=event.response_ref)

    async def member_everywhere(self, user: UserRef) -> list[UserRef]:
        """``user`` as each workspace the member's privacy commands act in, ``user`` first.

        A Discord user id is global: the same person in every guild and in DMs with the bot
        (workspace ``@me``), so on Discord that is every workspace where the store or a brain
        (:meth:`~bot.brain.Brain.member_workspaces`) holds something of the id, the DMs always
        included. Slack ids are per team, and the console has one workspace.
        """
        if user.platform is not Platform.DISCORD:
            return [user]
        p, uid = user.platform.value, user.user_id
        rows = await self.ctx.store.db.fetchall(MEMBER_WORKSPACES, (uid, p) * len(_MEMBER_TABLES))
        found = {str(r[0]) for r in rows} | {DISCORD_DM_WORKSPACE}
        for brain in self._app.brains:
            if brain is not self:
                found |= await brain.member_workspaces(p, uid)
        others = sorted(found - {user.workspace_id})
        return [user, *(dataclasses.replace(user, workspace_id=ws) for ws in others)]

    async def place_names(self, members: Sequence[UserRef]) -> list[str]:
        """The communities of ``members``' workspaces, in words: a Discord server's name, "your direct
        messages with Guildhall" for Discord DMs."""
        if not members:
            return []
        platform = members[0].platform.value
        ids = [m.workspace_id for m in members]
        rows = await self.ctx.store.db.fetchall(
            f"SELECT workspace_id, name FROM workspaces WHERE platform = ? AND workspace_id IN ({', '.join('?' * len(ids))})",
            (platform, *ids),
        )
        names = {str(r[0]): str(r[1]) for r in rows if r[1]}
        return [
            "your direct messages with Guildhall" if ws == DISCORD_DM_WORKSPACE else names.get(ws, f"server {ws}")
            for ws in ids
        ]

    async def _where(self, members: Sequence[UserRef]) -> str:
        """`` in A, B and C`` when a command acted in several workspaces, else nothing."""
        return f" in {and_list(await self.place_names(members))}" if len(members) > 1 else ""

    async def forget(self, user: UserRef, *, repeat: bool = False) -> Erasure:
        """Erase a member across the store and every brain; audited without content.

        On Discord the member is erased in every workspace the store knows them in
        (:meth:`member_everywhere`), DMs with the bot included.

        ``repeat``: another process erased the member and this one learned of it (``bot/app.py``):
        the erasure runs again for what this process holds, without a second audit entry or a
        second scan of the shared event log. It covers ``user``'s workspace only, as the other
        process marked each workspace it erased."""
        members = [user] if repeat else await self.member_everywhere(user)
        counts: Counter[str] = Counter()
        unfinished: list[str] = []
        for member in members:
            part = await self._forget_in_workspace(member, repeat=repeat)
            counts.update(part.counts)
            unfinished += [name for name in part.unfinished if name not in unfinished]
        places = tuple(await self.place_names(members)) if len(members) > 1 else ()
        await self._scrub()
        return Erasure(dict(counts), tuple(unfinished), places)

    async def _scrub(self) -> None:
        """The erased text out of the database's files too (SQLite: its write-ahead log)."""
        try:
            await self.ctx.store.db.scrub()
        except Exception:  # the erasure itself is done; a later checkpoint finishes this part
            log.exception("store: could not scrub the database files after an erasure")

    async def _forget_in_workspace(self, user: UserRef, *, repeat: bool) -> Erasure:
        """:meth:`forget` in ``user``'s workspace."""
        store = self.ctx.store
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        counts: dict[str, int] = {}
        # First stop new facts about the member (bus gate and recorder), then erase what is stored.
        if self.ctx.services.has("forgotten"):
            (await self.ctx.services.get("forgotten")).add(user)
        async with store.db.transaction() as tx:
            counts["messages"] = await tx.execute(
                "UPDATE messages SET text = '', deleted = 1 WHERE platform = ? AND workspace_id = ? AND author_id = ? AND deleted = 0",
                (p, ws, uid),
            )
            counts["reactions"] = await tx.execute(
                "DELETE FROM reactions WHERE platform = ? AND workspace_id = ? AND user_id = ?", (p, ws, uid)
            )
            counts["feedback"] = await tx.execute(
                "DELETE FROM feedback WHERE platform = ? AND workspace_id = ? AND user_id = ?", (p, ws, uid)
            )
            # An edit still waiting for its post holds the member's words; a noted removal names them.
            await store.erase_member_pending(p, ws, uid, tx=tx)
            # Not the markers: a repeated `/forget-me` counted them as erased settings, and deleted
            # them for a moment (an opt-out read meanwhile missed it).
            markers = ", ".join("?" for _ in ERASURE_MARKERS)
            counts["settings"] = await tx.execute(
                "DELETE FROM member_settings WHERE platform = ? AND workspace_id = ? AND user_id = ? "
                f"AND key NOT IN ({markers})",
                (p, ws, uid, *ERASURE_MARKERS),
            )
            # Dedupe marks of the member's reactions name them in their key (the reaction's event id:
            # ``p:ws:react+:message:user:emoji:time``, or ``p:ws:message:user``); the forgotten
            # member's events are dropped at the gate from now on, so nothing needs them.
            prefix, member = f"{like_escaped(p)}:{like_escaped(ws)}:", like_escaped(uid)
            await tx.execute(
                "DELETE FROM processed_events WHERE consumer IN ('qa.feedback', 'recommend.reacted') "
                "AND (event_id LIKE ? ESCAPE '!' OR event_id LIKE ? ESCAPE '!')",
                (f"{prefix}%:{member}:%", f"{prefix}%:{member}"),
            )
            await tx.execute(
                "UPDATE users SET name = '', tz = NULL WHERE platform = ? AND workspace_id = ? AND user_id = ?",
                (p, ws, uid),
            )
            # A thread's title is its author's words (a forum post's subject, a Discord thread name).
            counts["thread_titles"] = await tx.execute(
                "UPDATE threads SET title = '' WHERE platform = ? AND workspace_id = ? AND author_id = ? AND title <> ''",
                (p, ws, uid),
            )
        # Remember that the member asked to be forgotten before the brains' parts, so that re-imports,
        # other processes and a retry skip their text even if a part below fails.
        await store.set_member_setting(p, ws, uid, "forgotten", True)
        await store.set_member_setting(p, ws, uid, "opted_out", True)
        unfinished: list[str] = []
        # The Redis bus keeps recent events (their text) in its streams and dead-letter stream.
        forget_events = getattr(self.ctx.bus, "forget_author", None)
        if forget_events is not None and not repeat:
            try:
                counts["bus_events"] = await forget_events(user)
            except Exception:  # Redis down: say so; a retry finishes it
                log.exception("forget-me: could not delete the member's events from the bus")
                unfinished.append("event log")
        for brain in self._app.brains:
            if brain is self:
                continue
            try:
                for key, value in (await brain.forget_member(user)).items():
                    counts[f"{brain.name}.{key}"] = value
            except VectorIndexUnavailable as exc:
                # The index rebuilds stay pending and run when the vector store is back.
                log.warning("forget-me: the search index part waits for the vector index (%s)", exc)
                unfinished.append(UNFINISHED_INDEX)
            except Exception:  # one brain's failure must not keep the others from erasing
                log.exception("forget-me: brain %s failed to erase a member", brain.name)
                unfinished.append(brain.name)
        if not repeat:
            await store.audit(p, ws, uid, "forget-me", detail={"counts": counts, "unfinished": unfinished})
        return Erasure(counts, tuple(unfinished))

    async def export(self, user: UserRef) -> dict[str, Any]:
        """Everything stored about a member (data access request).

        On Discord, what the store holds of the same id in the member's other workspaces (other
        guilds, DMs with the bot: where ``/forget-me`` erases too, :meth:`member_everywhere`) comes
        under ``other_workspaces``, keyed by workspace id: a request made for one guild otherwise
        left out, for one, the questions the member asked the bot in DMs."""
        out = await self._export_in_workspace(user)
        others = {m.workspace_id: await self._export_in_workspace(m) for m in (await self.member_everywhere(user))[1:]}
        if others:
            out["other_workspaces"] = others
        return out

    async def _export_in_workspace(self, user: UserRef) -> dict[str, Any]:
        """:meth:`export` in ``user``'s workspace."""
        store = self.ctx.store
        p, ws, uid = user.platform.value, user.workspace_id, user.user_id
        messages = await store.db.fetchall(
            "SELECT message_id, channel_id, thread_id, ts, text, deleted FROM messages "
            "WHERE platform = ? AND workspace_id = ? AND author_id = ? ORDER BY ts",
            (p, ws, uid),
        )
        settings = await store.db.fetchall(
            "SELECT key, value FROM member_settings WHERE platform = ? AND workspace_id = ? AND user_id = ?",
            (p, ws, uid),
        )
        reactions = await store.db.fetchall(
            "SELECT message_id, emoji, ts FROM reactions WHERE platform = ? AND workspace_id = ? AND user_id = ?",
            (p, ws, uid),
        )
        feedback = await store.db.fetchall(
            "SELECT kind, target_id, value, ts FROM feedback WHERE platform = ? AND workspace_id = ? AND user_id = ?",
            (p, ws, uid),
        )
        profile = await store.db.fetchone(
            "SELECT name, tz FROM users WHERE platform = ? AND workspace_id = ? AND user_id = ?", (p, ws, uid)
        )
        threads = await store.db.fetchall(
            "SELECT thread_id, channel_id, title, ts FROM threads WHERE platform = ? AND workspace_id = ? "
            "AND author_id = ? AND title <> '' ORDER BY ts",
            (p, ws, uid),
        )
        pending_edits = await store.db.fetchall(
            "SELECT message_id, channel_id, text, ts FROM pending_edits WHERE platform = ? AND workspace_id = ? "
            "AND author_id = ? ORDER BY ts",
            (p, ws, uid),
        )
        removals = await store.db.fetchall(
            "SELECT message_id, emoji, ts FROM reaction_removals WHERE platform = ? AND workspace_id = ? "
            "AND user_id = ? ORDER BY ts",
            (p, ws, uid),
        )
        out: dict[str, Any] = {
            "user": {
                "platform": p,
                "workspace_id": ws,
                "user_id": uid,
                "name": profile[0] if profile else "",
                "tz": profile[1] if profile else None,
            },
            "thread_titles": [{"thread_id": t[0], "channel_id": t[1], "title": t[2], "ts": t[3]} for t in threads],
            "messages": [
                {
                    "message_id": m[0],
                    "channel_id": m[1],
                    "thread_id": m[2],
                    "ts": m[3],
                    "text": m[4],
                    "deleted": bool(m[5]),
                }
                for m in messages
            ],
            "settings": {k: json.loads(v) for k, v in settings},
            "reactions": [{"message_id": r[0], "emoji": r[1], "ts": r[2]} for r in reactions],
            # Edits of messages not stored yet, and reactions taken back (kept for a while to order
            # changes that arrive out of order).
            "pending_edits": [
                {"message_id": e[0], "channel_id": e[1], "text": e[2], "edited_ts": e[3]} for e in pending_edits
            ],
            "reaction_removals": [{"message_id": r[0], "emoji": r[1], "ts": r[2]} for r in removals],
            "feedback": [{"kind": f[0], "target_id": f[1], "value": f[2], "ts": f[3]} for f in feedback],
            "channel_access": await channel_access_of(store.db, p, ws, uid),
            "audit": await audit_entries_of(store.db, p, ws, uid),
        }
        for brain in self._app.brains:
            if brain is not self:
                data = await brain.export_member(user)
                if data:
                    out[brain.name] = data
        return out

    # -- retention -----------------------------------------------------------------------------
    # Hourly, not daily: an interval job first runs one interval after start. Caught up: a bot
    # restarted more often than hourly (deploys, console sessions) purges on start when an hourly
    # run was missed since the last one made (by any process: the run log is in the store).
    # Every worker, not one: besides the shared store, each process purges its own in-memory copy of
    # the lexical index (the store's deletes are idempotent, so the others' are no-ops).
    @every(hours=1, catch_up=timedelta(days=30))
    async def retention(self) -> None:
        """Hourly: purge messages older than ``retention_days`` from the store and every brain."""
        await self.purge_expired()

    async def purge_expired(self) -> dict[str, int]:
        """Apply the retention policy now; returns counts per place (empty when no workspace has one).

        Each workspace keeps ``retention_days`` as an admin set it (``/guildhall config set``), else
        ``privacy.retention_days``.
        """
        store = self.ctx.store
        default = self.ctx.settings.privacy.retention_days
        now = self.ctx.clock.now().timestamp()
        counts: Counter[str] = Counter()
        purged = False
        # Not only workspaces with messages: `/ask` is a command, not a message, so the answer log of
        # a Discord DM (workspace `@me`) or of a workspace whose messages have all expired held
        # questions and answers that no purge ever reached. Every table purged below names its
        # workspaces (a reaction, a thread or a pending change outlives the last message, which
        # expired first), and brains name the workspaces they keep something of
        # (``retention_workspaces``).
        rows = await store.db.fetchall(
            " UNION ".join(
                f"SELECT DISTINCT platform, workspace_id FROM {table}"
                for table in ("messages", "reactions", "threads", "feedback", "pending_edits", "reaction_removals")
            )
        )
        workspaces = {(str(p), str(w)) for p, w in rows}
        for brain in self._app.brains:
            if brain is not self:
                workspaces |= await brain.retention_workspaces()
        try:
            for platform, ws in sorted(workspaces):
                days = await workspace_config(store, platform, ws, "retention_days", default)
                if days is None:
                    continue
                purged = True
                cutoff = now - int(days) * 86400
                scope = (platform, ws, cutoff)
                # Maintenance: the first purge of a big workspace deletes much more than a live query
                # touches, past the store's command timeout, and would fail again every hour.
                async with store.db.transaction(timeout_s=MAINTENANCE_TIMEOUT_S) as tx:
                    where = "WHERE platform = ? AND workspace_id = ? AND ts < ?"
                    counts["messages"] += await tx.execute(f"DELETE FROM messages {where}", scope)
                    counts["reactions"] += await tx.execute(f"DELETE FROM reactions {where}", scope)
                    counts["threads"] += await tx.execute(f"DELETE FROM threads {where}", scope)
                    counts["feedback"] += await tx.execute(f"DELETE FROM feedback {where}", scope)
                    # Changes waiting for their post or add (``ts``: the edit's or removal's time).
                    await tx.execute(f"DELETE FROM pending_edits {where}", scope)
                    await tx.execute(f"DELETE FROM reaction_removals {where}", scope)
                unfinished = await self._purge_brains(cutoff, platform, ws, counts)
                detail: dict[str, Any] = {"cutoff": cutoff, "days": days}
                if unfinished:
                    detail["unfinished"] = unfinished
                await store.audit(platform, ws, "scheduler", "retention", detail=detail)
        finally:
            # What was deleted before a failure leaves the database's files too.
            if purged:
                await self._scrub()
        return dict(counts) if purged else {}

    async def _purge_brains(self, cutoff: float, platform: str, workspace_id: str, counts: Counter[str]) -> list[str]:
        """Every brain's part of the retention purge of one workspace, added to ``counts``; returns
        the brains whose part failed. One brain's failure (the vector index down) must not keep the
        others, the other workspaces or the audit entry from their part: the next hourly purge,
        whose cutoff is later, retries it."""
        unfinished: list[str] = []
        for brain in self._app.brains:
            if brain is self:
                continue
            try:
                counts[brain.name] += await brain.purge_before(cutoff, platform=platform, workspace_id=workspace_id)
            except VectorIndexUnavailable as exc:
                log.warning(
                    "retention: brain %s waits for the vector index in %s:%s (%s)",
                    brain.name,
                    platform,
                    workspace_id,
                    exc,
                )
                unfinished.append(brain.name)
            except Exception:
                log.exception("retention: brain %s failed to purge %s:%s", brain.name, platform, workspace_id)
                unfinished.append(brain.name)
        return unfinished

    # -- dedupe marks --------------------------------------------------------------------------
    # Daily, in one worker (the store is shared and the delete idempotent). Caught up: a bot
    # restarted more often than daily purges on start when the last day's run was missed.
    @every(hours=24, one_worker=True, catch_up=timedelta(days=30))
    async def dedupe_marks(self) -> None:
        """Daily: drop the dedupe marks of events past the horizon (:func:`dedupe_horizon`)."""
        await self.purge_dedupe_marks()

    async def purge_dedupe_marks(self) -> int:
        """Delete the ``processed_events`` marks older than ``store.dedupe_retention_days`` and a
        day; returns how many. Without it the table grows with every reaction, vote and thread."""
        cutoff = dedupe_horizon(self.ctx) - DEDUPE_PURGE_MARGIN.total_seconds()
        purged = await self.ctx.store.purge_processed(cutoff)
        # Edits and removals waiting for a post or add that never came (an edit of a Discord message
        # from before the bot joined) expire sooner: an overtaken post comes within minutes (a dead
        # worker's entry reclaimed, an outage retried for at most 15 minutes, Redis's buffer
        # flushed), and the edited text of a message never stored is not kept for months.
        await self.ctx.store.purge_pending_changes(
            to_epoch(self.ctx.clock.now()) - PENDING_CHANGES_KEPT.total_seconds()
        )
        if purged:
            log.info("dedupe marks: purged %d older than %s", purged, from_epoch(cutoff).isoformat())
        return purged

    # -- admin commands ------------------------------------------------------------------------
    @command(
        "guildhall config",
        description="Show or change settings",
        admin=True,
        usage="[show | set KEY VALUE | unset KEY]",
    )
    async def config(self, cmd: CommandInvoked) -> CommandResult:
        ws = cmd.channel.workspace_id
        platform = cmd.platform.value
        words = cmd.text.split(maxsplit=2)
        action = words[0].lower() if words else "show"
        if action == "show":
            # `show KEY`: that key alone (a long member list is easier read on its own).
            picked = words[1].lower() if len(words) > 1 else None
            if picked is not None and picked not in CONFIG_KEYS:
                return CommandResult(f"Unknown setting {picked!r}; known: {', '.join(sorted(CONFIG_KEYS))}.")
            lines = [
                "**Settings** (_default_: not set here; `/guildhall config set KEY VALUE` overrides, "
                "`/guildhall config unset KEY` goes back to the default)"
            ]
            for key in [picked] if picked else sorted(CONFIG_KEYS):
                value = await self.ctx.store.get_workspace_setting(platform, ws, key)
                shown = (
                    self._shown_default(key) + " _(default)_"
                    if value is None
                    else await self._shown_here(cmd, key, value)
                )
                lines.append(f"• `{key}` = {shown}")
            return CommandResult("\n".join(lines))
        if action in ("unset", "reset") and len(words) == 2:
            key = words[1].lower()
            before = await self.ctx.store.get_workspace_setting(platform, ws, key)
            result = await self._config_unset(platform, ws, key)
            await self._audit_setting(cmd, key, before, None)
            return result
        if action != "set" or len(words) < 3:
            return CommandResult(CONFIG_USAGE)
        key, raw = words[1].lower(), words[2].strip()
        before = await self.ctx.store.get_workspace_setting(platform, ws, key)
        if key in CONFIG_KEYS and raw.lower() in UNSET_WORDS:
            result = await self._config_unset(platform, ws, key)
            await self._audit_setting(cmd, key, before, None)
            return result
        # A list takes "none" as empty, and a switch's "off" is its own value (not "unset"): both parse.
        if key in CONFIG_KEYS and CONFIG_KEYS[key] not in ("list", "members", "bool") and raw.lower() in NONE_WORDS:
            result = await self._config_off(platform, ws, key)
            await self._audit_setting(cmd, key, before, await self.ctx.store.get_workspace_setting(platform, ws, key))
            return result
        try:
            value = parse_config_value(key, raw)
            if CONFIG_KEYS[key] == "channel":
                value = await self._known_channel(platform, ws, key, raw)
            elif CONFIG_KEYS[key] == "members" and value:
                value = await self._known_members(platform, ws, key, raw)
            elif CONFIG_KEYS[key] == "list" and value:
                if key not in LISTS_OF_FUTURE_CHANNELS:
                    await self._known_channels(platform, ws, raw)
                value = await self._resolved_channels(platform, ws, key, raw)
        except ValueError as exc:
            return CommandResult(f"Not changed: {exc}.")
        await self.ctx.store.set_workspace_setting(platform, ws, key, value)
        await self._audit_setting(cmd, key, before, value)
        reply = f"`{key}` is now {await self._shown_here(cmd, key, value)}."
        if key in LISTS_OF_FUTURE_CHANNELS:
            unknown = await self._unknown_channels(platform, ws, raw) if value else []
            if unknown:
                names = ", ".join(f"#{name}" for name in unknown)
                reply += f" Note: I don't know {names} here yet; a name applies once a channel by that name exists."
        return CommandResult(reply)

    async def _resolved_channels(self, platform: str, workspace_id: str, key: str, raw: str) -> list[str]:
        """A channel list as stored: a platform mention as its id, a typed name of a channel the
        store knows as that channel's id (a name stopped matching once the channel was renamed: a
        denied channel was indexed again, shadow mode ended), a name it does not know as typed.

        A deny list keeps the typed name beside the id: a name may mean the channel that goes by it
        later too (:data:`LISTS_OF_FUTURE_CHANNELS`), and denying both errs on the private side."""
        found: list[str] = []
        for argument in channel_arguments(raw):
            entries = [argument.id_or_name]
            if not argument.picked:
                # Every channel going by the name (two Discord categories may each have a #support):
                # storing one of them left the other out of shadow mode.
                known = await self.ctx.store.find_channel_ids(platform, workspace_id, argument.id_or_name)
                if known:
                    entries = [*known, argument.id_or_name] if key in LISTS_OF_FUTURE_CHANNELS else known
            for entry in entries:
                if entry not in found:
                    found.append(entry)
        return found

    async def _known_channels(self, platform: str, workspace_id: str, raw: str) -> None:
        """Refuse a channel list naming a channel the store does not know by a typed name (a typo
        replaced a help-channel list with one naming no channel at all). A platform mention is the
        platform's pick, real even before Guildhall has seen the channel. Raises ValueError."""
        unknown = await self._unknown_channels(platform, workspace_id, raw)
        if unknown:
            raise ValueError(
                f"I don't know {and_list([f'#{name}' for name in unknown])} here (name channels Guildhall has "
                "seen, or mention them so the platform picks them; `none` empties the list)"
            )

    async def _unknown_channels(self, platform: str, workspace_id: str, raw: str) -> list[str]:
        """The channels ``raw`` names by a typed name the store does not know (platform mentions are
        the platform's pick, known or not)."""
        return [
            argument.id_or_name
            for argument in channel_arguments(raw)
            if not argument.picked
            and await self.ctx.store.find_channel_id(platform, workspace_id, argument.id_or_name) is None
        ]

    async def _shown_here(self, cmd: CommandInvoked, key: str, value: Any) -> str:
        """:func:`_shown`, with a member list by the members' names (admins read names, not ids; a
        name, unlike a mention, pings nobody where the reply is posted) and a channel list's ids of
        known channels as the platform's mentions (which show the channel's name today)."""
        if CONFIG_KEYS.get(key) == "list" and isinstance(value, list) and value:
            return await self._shown_channels(cmd, value)
        if CONFIG_KEYS.get(key) != "members" or not isinstance(value, list) or not value:
            return _shown(key, value)
        shown = []
        for user_id in map(str, value):
            user = await self.ctx.store.get_user(cmd.platform.value, cmd.channel.workspace_id, user_id)
            name = user.name if user is not None and user.name else ""
            shown.append(f"{name} ({user_id})" if name and name != user_id else user_id)
        return ", ".join(shown)

    async def _shown_channels(self, cmd: CommandInvoked, value: list[Any]) -> str:
        """A channel list: an id of a channel known here by another name as its mention (an id alone
        reads as nothing), anything else (a name, an id not seen yet) quoted, as stored."""
        shown = []
        for entry in map(str, value):
            row = await self.ctx.store.get_channel(cmd.platform.value, cmd.channel.workspace_id, entry)
            shown.append(f"<#{entry}>" if row is not None and row.name and row.name != entry else json.dumps(entry))
        return f"[{', '.join(shown)}]"

    async def _known_members(self, platform: str, workspace_id: str, key: str, raw: str) -> list[str]:
        """The user ids ``raw`` names: a platform mention as given (the platform picked a real
        member), an id or a name (case-insensitive, spaces allowed between commas) only when the
        store knows the member. Raises ValueError naming every member it cannot place."""
        store = self.ctx.store
        found: list[str] = []
        unknown: list[str] = []
        ambiguous: list[str] = []

        by_folded: dict[str, set[str]] | None = None

        async def by_name(name: str) -> list[str]:
            # Compared in Python: SQLite's LOWER folds ASCII only ("Ölaf" never matched "ölaf"), and
            # PostgreSQL's follows the database's locale. One read of the workspace's names serves
            # every name of the command (an admin command, rare).
            nonlocal by_folded
            if by_folded is None:
                by_folded = {}
                rows = await store.db.fetchall(
                    "SELECT user_id, name FROM users WHERE platform = ? AND workspace_id = ? AND name <> ''",
                    (platform, workspace_id),
                )
                for user_id, stored_name in rows:
                    by_folded.setdefault(_folded(str(stored_name or "")), set()).add(str(user_id))
            return sorted(by_folded.get(_folded(name), set()))

        for chunk in _MENTION_LABEL.sub(r"<@\1>", raw).split(","):
            words = chunk.split()
            if len(words) > 1 and member_mention(chunk) is None:
                # One name with spaces ("Helga the Helper") between commas; else the chunk is words.
                name = " ".join(words).lstrip("@")
                whole = await by_name(name)
                if len(whole) > 1:
                    ambiguous.append(name)
                if len(whole) == 1 and whole[0] not in found:
                    found.append(whole[0])
                if whole:
                    continue
            for word in words:
                user_id = member_mention(word)
                if user_id is None:
                    typed = word.lstrip("@")
                    if await store.get_user(platform, workspace_id, typed) is not None:
                        user_id = typed
                    else:
                        ids = await by_name(typed)
                        if len(ids) != 1:
                            (ambiguous if ids else unknown).append(typed)
                            continue
                        user_id = ids[0]
                if user_id not in found:
                    found.append(user_id)
        if unknown or ambiguous:
            problems = []
            if unknown:
                problems.append(f"I don't know {and_list([f'@{n}' for n in unknown])} here")
            if ambiguous:
                problems.append(f"several members are called {and_list([f'@{n}' for n in ambiguous])}")
            raise ValueError(f"{'; '.join(problems)} (name a member by mention, id or the name Guildhall knows)")
        if len(found) > MAX_CONFIG_MEMBERS:
            raise ValueError(f"{key} takes at most {MAX_CONFIG_MEMBERS} members ({len(found)} given)")
        return found

    async def _audit_setting(self, cmd: CommandInvoked, key: str, before: Any, after: Any) -> None:
        """Audit a change of a setting (``after`` None: unset) as ``config KEY``, with its value before
        and after, as stored (ids: a member typed by name is audited by id, which their
        ``/forget-me`` finds); the router's entry for the command keeps its action and key only.
        No entry when nothing changed."""
        if key not in CONFIG_KEYS:
            return
        if CONFIG_KEYS[key] == "members":
            await self._audit_members(cmd, key, before, after)
            return
        if before == after:
            return
        await self.ctx.store.audit(
            cmd.platform.value,
            cmd.channel.workspace_id,
            cmd.user.user_id,
            f"config {key}",
            detail={"key": key, "before": before, "after": after, "unset": after is None},
        )

    async def _audit_members(self, cmd: CommandInvoked, key: str, before: Any, after: Any) -> None:
        """Audit a change of a member list with who was added and removed."""
        old = [str(v) for v in before] if isinstance(before, list) else []
        new = [str(v) for v in after] if isinstance(after, list) else []
        if old == new and (before is None) == (after is None):
            return
        await self.ctx.store.audit(
            cmd.platform.value,
            cmd.channel.workspace_id,
            cmd.user.user_id,
            f"config {key}",
            detail={
                "members": new,
                "added": [m for m in new if m not in old],
                "removed": [m for m in old if m not in new],
                "unset": after is None,
            },
        )

    def _shown_default(self, key: str) -> str:
        """What ``key`` is while unset here: the deployment's value, or what unset means."""
        default = config_defaults(self.ctx.settings)[key]
        return _shown(key, default) if default not in (None, []) else UNSET_MEANS.get(key, "none")

    async def _config_unset(self, platform: str, workspace_id: str, key: str) -> CommandResult:
        """``/guildhall config unset KEY``: back to the deployment's value (or what unset means)."""
        if key not in CONFIG_KEYS:
            return CommandResult(f"Not changed: unknown setting {key!r}; known: {', '.join(sorted(CONFIG_KEYS))}.")
        removed = await self._delete_setting(platform, workspace_id, key)
        state = "is back to its default" if removed else "was not set here; it stays at its default"
        return CommandResult(f"`{key}` {state}: {self._shown_default(key)}.")

    async def _config_off(self, platform: str, workspace_id: str, key: str) -> CommandResult:
        """``config set KEY none`` for a key that is not a list: off is its unset value, if anything."""
        if key not in OFF_WHEN_UNSET:
            return CommandResult(
                f"Not changed: {key} can't be turned off; `/guildhall config unset {key}` makes it "
                f"{self._shown_default(key)} (the default)."
            )
        default = config_defaults(self.ctx.settings)[key]
        if default is not None:
            # A workspace value of "off" would need every reader of the key to know it; the
            # deployment's own value is what unset gives.
            return CommandResult(
                f"Not changed: this deployment sets {key} to {_shown(key, default)} (guildhall.toml or the "
                f"environment), and a workspace can't turn it off; `/guildhall config unset {key}` goes back to it."
            )
        await self._delete_setting(platform, workspace_id, key)
        return CommandResult(f"`{key}` is off now ({UNSET_MEANS[key]}).")

    async def _delete_setting(self, platform: str, workspace_id: str, key: str) -> int:
        """Remove a workspace setting; 1 when one was set."""
        return await self.ctx.store.delete_workspace_setting(platform, workspace_id, key)

    async def _known_channel(self, platform: str, workspace_id: str, key: str, raw: str) -> str:
        """The id of the one channel ``raw`` names, as ``/guildhall alerts-channel`` takes it: a
        platform mention as given, a typed name only when the store knows the channel (else alerts or
        drafts would go to a channel that does not exist). Raises ValueError."""
        argument = channel_word(raw)
        if argument is None:
            raise ValueError(f"{key} expects one channel (#name)")
        resolved = await resolve_channel(self.ctx.store, platform, workspace_id, argument)
        if resolved is None:
            raise ValueError(f"I don't know a channel #{argument.id_or_name} here")
        refusal = await self._channel_refusal(platform, workspace_id, resolved)
        if refusal is not None:
            raise ValueError(refusal)
        return resolved

    async def _channel_refusal(self, platform: str, workspace_id: str, channel_id: str) -> str | None:
        """Why ``channel_id`` cannot take alerts or drafts (None: it can): it is another workspace's
        (a Discord mention typed as text names any server's channel, and the bot, a member of both,
        would post this community's findings there), or a forum (it takes posts, not messages)."""
        if await channel_of_another_workspace(self.ctx.store.db, platform, workspace_id, channel_id):
            return (
                f"<#{channel_id}> is a channel of another "
                f"{'server' if platform == Platform.DISCORD.value else 'workspace'}; name one of this one"
            )
        row = await self.ctx.store.get_channel(platform, workspace_id, channel_id)
        if row is not None and row.is_forum:
            return f"#{row.name or channel_id} is a forum, which takes posts, not messages: name a text channel"
        return None

    @command("guildhall status", description="What Guildhall knows and runs in this workspace", admin=True)
    async def status_command(self, cmd: CommandInvoked) -> CommandResult:
        platform, ws = cmd.platform.value, cmd.channel.workspace_id
        lines = ["**Guildhall status**"]
        for brain in self._app.brains:
            try:
                lines.extend(f"• {line}" for line in await brain.status(platform, ws))
            except Exception:  # one brain's broken report must not hide the others'
                log.exception("status of brain %s failed", brain.name)
                lines.append(f"• {brain.name}: status unavailable (see the bot's log)")
        return CommandResult("\n".join(lines))

    async def status(self, platform: str, workspace_id: str) -> list[str]:
        """Brains, stored history and privacy state of the workspace."""
        db, scope = self.ctx.store.db, (platform, workspace_id)
        row = await db.fetchone(
            "SELECT COUNT(*), COUNT(DISTINCT author_id), COUNT(DISTINCT channel_id), MAX(ts) FROM messages "
            "WHERE platform = ? AND workspace_id = ? AND deleted = 0",
            scope,
        )
        messages, members, channels, latest = row if row else (0, 0, 0, None)
        when = (
            f" (latest {datetime.fromtimestamp(float(latest), self.ctx.settings.tz):%Y-%m-%d %H:%M %Z})"
            if latest is not None
            else ""
        )
        opted_out = len(await self.ctx.store.members_with_setting(platform, workspace_id, "opted_out", True))
        days = await self.ctx.store.get_workspace_setting(platform, workspace_id, "retention_days")
        days = days if days is not None else self.ctx.settings.privacy.retention_days
        brains = ", ".join(b.name for b in self._app.brains if b is not self) or "none"
        return [
            f"Brains: {brains}",
            f"History: {plural(messages, 'message')} by {plural(members, 'member')} in "
            f"{plural(channels, 'channel')}{when}",
            f"Privacy: {plural(opted_out, 'member')} opted out · retention: "
            + (f"{days} days" if days is not None else "keep forever"),
        ]

    @command(
        "guildhall alerts-channel",
        description="Where trend alerts go; set it with #channel (or here)",
        admin=True,
        usage="[#channel | here]",
    )
    async def alerts_channel(self, cmd: CommandInvoked) -> CommandResult:
        # A picked channel is real; a typed name must be one Guildhall knows (bot/channel_arg.py), or
        # alerts would go to a channel that does not exist.
        argument = picked_channel(cmd.option("channel", ""))
        typed = cmd.text.strip()
        here = argument is None and typed.lower() == "here"
        if argument is None and typed and not here:
            argument = channel_word(typed)
            if argument is None:
                return CommandResult("Usage: `/guildhall alerts-channel [#channel | here]`; nothing changed.")
        if argument is None and not here:
            # Run bare, it used to move the alerts (and the drafts of shadow mode, which follow them
            # by default) to the channel it was run in: an admin asking where alerts go moved them.
            return CommandResult(await self._alerts_channel_shown(cmd))
        if here and cmd.channel.is_forum:
            # Run in a forum post, the command names the forum (its post is a thread of it), and a
            # forum takes no plain messages: the alerts would never appear.
            return CommandResult(
                "A forum cannot show alerts (it takes posts, not messages): run this in a text channel, "
                "or name one: `/guildhall alerts-channel #channel`. Nothing changed."
            )
        platform, ws = cmd.platform.value, cmd.channel.workspace_id
        target = cmd.channel.channel_id
        if argument is not None:
            resolved = await resolve_channel(self.ctx.store, platform, ws, argument)
            if resolved is None:
                return CommandResult(f"I don't know a channel #{argument.id_or_name} here; nothing changed.")
            refusal = await self._channel_refusal(platform, ws, resolved)
            if refusal is not None:
                return CommandResult(f"{refusal[0].upper()}{refusal[1:]}. Nothing changed.")
            target = resolved
        before = await self.ctx.store.get_workspace_setting(platform, ws, "alerts_channel")
        await self.ctx.store.set_workspace_setting(platform, ws, "alerts_channel", target)
        await self._audit_setting(cmd, "alerts_channel", before, target)
        return CommandResult(f"Trend alerts will be posted in <#{target}>.")

    async def _alerts_channel_shown(self, cmd: CommandInvoked) -> str:
        """``/guildhall alerts-channel`` without an argument: where alerts go, and how to change it."""
        platform, ws = cmd.platform.value, cmd.channel.workspace_id
        value = await self.ctx.store.get_workspace_setting(platform, ws, "alerts_channel")
        default = config_defaults(self.ctx.settings)["alerts_channel"]
        if value is None:
            value = default
        now = f"Trend alerts are posted in <#{value}>." if value else "Trend alerts are not posted: no channel is set."
        if cmd.platform is Platform.DISCORD:
            # Discord's command takes a channel option only: there is no text to type `here` in.
            how = "To change it, pick a text channel in the command's `channel` option."
        else:
            how = (
                "To change it: `/guildhall alerts-channel #channel`, or `/guildhall alerts-channel here` "
                "for this channel (a text channel: a forum takes no messages)."
            )
        if default is None:
            return f"{now} {how} `/guildhall config set alerts_channel none` turns them off."
        # The deployment names a channel (guildhall.toml or the environment): a workspace cannot turn
        # alerts off (`config set alerts_channel none` is refused, :meth:`_config_off`).
        return f"{now} {how} `/guildhall config unset alerts_channel` goes back to this deployment's {_shown('alerts_channel', default)}."


def _shown(key: str, value: Any) -> str:
    """A setting's value as ``config`` shows it: a channel as the platform's mention."""
    if CONFIG_KEYS.get(key) == "channel" and isinstance(value, str):
        return f"<#{value}>"
    return json.dumps(value)


def and_list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + (items[-1] if items else "")


@dataclass(frozen=True)
class Erasure:
    """What ``/forget-me`` erased (counts by kind), which parts could not finish now, and in which
    communities when it acted in several (a Discord member's servers and DMs)."""

    counts: dict[str, int]
    unfinished: tuple[str, ...] = ()
    places: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Items erased."""
        return sum(self.counts.values())

    def message(self) -> str:
        """The confirmation for the member: honest about a part that is not done yet."""
        total = self.total
        text = f"Done: {total} stored {'item' if total == 1 else 'items'} about you {'was' if total == 1 else 'were'} erased"
        text += f" (in {and_list(self.places)})." if self.places else "."
        if UNFINISHED_INDEX in self.unfinished:
            text += (
                " Your messages are still in the search index, which is unreachable right now; they are"
                " removed as soon as it is back."
            )
        others = [name for name in self.unfinished if name != UNFINISHED_INDEX]
        if others:
            text += (
                f" Part of the erasure failed ({', '.join(others)}); the admins can see why in the logs,"
                " and `/forget-me confirm` again retries it."
            )
        return text

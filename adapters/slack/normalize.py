"""Slack payloads -> :mod:`bot.events` (pure: no I/O, no SDK objects).

Each Events API type maps to a function in a dispatch table; ``message`` events dispatch again on
their ``subtype``. Anything not in the tables is ignored on purpose (Slack adds system subtypes
regularly; they are noise for a community bot), and every decision is visible here.

Event ids stay stable across Slack's retries and across live traffic vs. backfill because they are
built from Slack's own message ``ts`` (see :class:`bot.events.MessagePosted.event_id`), never from
the delivery. A message's id is its channel and ``ts`` together (:mod:`bot.message_ids`): Slack
promises a ``ts`` unique only within its channel.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from adapters.slack.payloads import EventEnvelope, SlackMessage, SlashCommandPayload
from adapters.slack.render import ACTION_ID_SUFFIX
from bot.events import (
    ButtonClicked,
    ChannelDeleted,
    ChannelRef,
    ChannelSeen,
    CommandInvoked,
    EventSource,
    InboundEvent,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    UserRef,
    Visibility,
)
from bot.message_ids import slack_message_id, slack_message_id_or_none
from bot.slack_text import mentioned_users, message_text, unescape

log = logging.getLogger(__name__)

SLACK = Platform.SLACK
_CHANNEL_REF = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|[^<>]*)?>")

# Message subtypes that carry member content and become MessagePosted.
POSTED_SUBTYPES = frozenset({"", "thread_broadcast", "file_share", "me_message", "bot_message"})
# Everything else that is not an edit or a delete is a system notice (joins, topic changes, pins,
# huddles...). Joins arrive separately as ``member_joined_channel``; ignoring them here avoids
# counting "X has joined the channel" as activity.

# Events API channel_type (message events) and member_joined_channel's one-letter type.
# Visibility.DM is the bot's own 1:1 conversation with one member, which only that member reads:
# Slack sends ``im`` only for IMs the bot is in. A group DM (``mpim``) is read by several people,
# so it is private: an answer there may not draw on what only its asker can read.
# The one-letter type is the id's prefix: ``G`` is an old private channel or a group DM, but ``C``
# is public *or* a private channel created since March 2021, so it says nothing (conversations.info,
# cached by the adapter, does).
_CHANNEL_TYPES: dict[str, Visibility] = {
    "channel": Visibility.PUBLIC,
    "group": Visibility.PRIVATE,
    "G": Visibility.PRIVATE,
    "im": Visibility.DM,
    "mpim": Visibility.PRIVATE,
}

# Slash commands whose Slack name differs from the command registered with the router.
COMMAND_ALIASES: dict[str, str] = {"guildhall-help": "help"}
# Slash commands whose first word selects a sub-command (``/guildhall index`` -> ``guildhall index``).
COMMAND_GROUPS = frozenset({"guildhall"})


@dataclass(frozen=True, slots=True)
class SlackIdentity:
    """Who the bot is in one workspace (from ``auth.test`` or the installation)."""

    team_id: str
    bot_user_id: str = ""
    bot_id: str = ""
    team_url: str = ""
    team_name: str = ""


@dataclass(slots=True)
class NormalizeContext:
    """What normalization needs beyond the payload.

    Args:
        identity: the bot in this workspace, so its own messages are dropped.
        channels: channels already known (from ``channel_type`` of earlier events or
            ``conversations.info``); events that do not say a channel's type look it up here.
        source: live traffic or backfill.
        shared_channel: the envelope's ``is_ext_shared_channel`` (Slack Connect) for this event;
            ``None`` when it does not say. Stamped on the event's channel whatever the cache holds,
            so a channel whose lookup failed is still known to be shared.
    """

    identity: SlackIdentity
    channels: Mapping[str, ChannelRef] = field(default_factory=dict)
    source: EventSource = EventSource.LIVE
    shared_channel: bool | None = None


# --------------------------------------------------------------------------- small pure helpers


def parse_ts(ts: Any) -> datetime | None:
    """Slack ``"1700000000.000100"`` (or an int ``event_time``) -> aware UTC datetime; None if malformed."""
    try:
        value = float(ts)
    except (TypeError, ValueError):
        return None
    if value != value or value < 0 or value > 32503680000:  # NaN or beyond year 3000
        return None
    return datetime.fromtimestamp(value, UTC)


def visibility_from_type(channel_type: str | None) -> Visibility | None:
    """Visibility from an event's ``channel_type``; None when the event does not say.

    The channel id is no clue: a ``D`` one may be a DM between two members, which the bot is not
    in but whose slash commands and button clicks still reach it.
    """
    return _CHANNEL_TYPES.get(channel_type) if channel_type else None


def visibility_of_conversation(conv: Mapping[str, Any]) -> Visibility:
    """Visibility of a ``conversations.list`` / ``conversations.info`` object.

    With a bot token these list only conversations the bot is in, so an ``is_im`` one is its own DM.
    """
    if conv.get("is_im"):
        return Visibility.DM
    if conv.get("is_mpim") or conv.get("is_private") or conv.get("is_group"):
        return Visibility.PRIVATE
    return Visibility.PUBLIC


def bot_dm(team_id: str, channel_id: str, user_id: str, name: str = "") -> ChannelRef:
    """The bot's own DM with ``user_id``: the member is its one reader (see :func:`command_visibility`)."""
    return ChannelRef(SLACK, team_id, channel_id, name, Visibility.DM, allowed_user_ids=(user_id,))


def other_organisation(user_team: Any, team_id: str) -> bool | None:
    """Whether a person whose team is ``user_team`` (a message's ``user_team``, ``users.info``'s
    ``team_id``) is of another organisation than workspace ``team_id``; None when it cannot tell
    (no team, or an Enterprise Grid org id ``E…``, which our own members may carry)."""
    if not isinstance(user_team, str) or not user_team or user_team.startswith("E"):
        return None
    return user_team != team_id


def is_guest(member: Mapping[str, Any]) -> bool | None:
    """Whether a ``users.info`` object is a single- or multi-channel guest (reads only the channels
    they are in); None when it carries neither flag."""
    flags = [member.get(k) for k in ("is_restricted", "is_ultra_restricted")]
    if all(f is None for f in flags):
        return None
    return any(f is True for f in flags)


def shared_externally(conv: Mapping[str, Any]) -> bool:
    """Whether a ``conversations.*`` object is a Slack Connect channel (shared, or being shared,
    with another organisation): its readers are not all ours."""
    return bool(conv.get("is_ext_shared") or conv.get("is_pending_ext_shared"))


def channel_from_conversation(conv: Mapping[str, Any], team_id: str) -> ChannelRef:
    """A :class:`ChannelRef` from a ``conversations.*`` object (an IM names its member in ``user``)."""
    channel_id, name = str(conv.get("id", "")), str(conv.get("name") or "")
    visibility = visibility_of_conversation(conv)
    member = conv.get("user")
    if visibility is Visibility.DM and isinstance(member, str) and member:
        # A DM with someone of another organisation is a Slack Connect conversation too.
        return dataclasses.replace(bot_dm(team_id, channel_id, member, name), shared_externally=shared_externally(conv))
    return ChannelRef(SLACK, team_id, channel_id, name, visibility, shared_externally=shared_externally(conv))


def permalink(team_url: str, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
    """The message link Slack's "Copy link" gives, built without an API call; "" if the workspace URL is unknown."""
    if not team_url or not ts:
        return ""
    link = f"{team_url.rstrip('/')}/archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link


def base_emoji(name: str) -> str:
    """``+1::skin-tone-3`` -> ``+1``: tones are one reaction for counting purposes."""
    return name.split("::", 1)[0].strip(":")


def _channel(ctx: NormalizeContext, channel_id: str, channel_type: str | None) -> ChannelRef:
    known = ctx.channels.get(channel_id)
    visibility = visibility_from_type(channel_type)
    if visibility is None and known is not None:
        visibility = known.visibility  # unknown type: trust what we learned before
    name = known.name if known else ""
    shared = ctx.shared_channel if ctx.shared_channel is not None else (known.shared_externally if known else None)
    if visibility is None:
        # Unknown: private here, as treating it as public could expose its messages to members who
        # cannot read it; the store keeps the visibility it already holds for the channel.
        return ChannelRef(
            SLACK,
            ctx.identity.team_id,
            channel_id,
            name,
            Visibility.PRIVATE,
            visibility_known=False,
            shared_externally=shared,
        )
    return ChannelRef(SLACK, ctx.identity.team_id, channel_id, name, visibility, shared_externally=shared)


def _is_self(ctx: NormalizeContext, user_id: str | None, bot_id: str | None) -> bool:
    me = ctx.identity
    return bool((me.bot_user_id and user_id == me.bot_user_id) or (me.bot_id and bot_id == me.bot_id))


# --------------------------------------------------------------------------- messages


def normalize_message(
    msg: SlackMessage, channel_id: str, channel_type: str | None, ctx: NormalizeContext, *, own: bool = False
) -> MessagePosted | None:
    """A posted message (live ``message`` / ``app_mention`` or a ``conversations.history`` item).

    Returns None for our own messages, system subtypes and malformed payloads. With ``own``, our
    own message as ``chat.postMessage`` answered it is returned, as a bot's (Bolt drops its echo).
    """
    subtype = msg.get("subtype", "")
    if subtype not in POSTED_SUBTYPES:
        return None
    ts_raw = msg.get("ts", "")
    ts = parse_ts(ts_raw)
    if ts is None or not channel_id:
        return None
    user_id = msg.get("user")
    bot_id = msg.get("bot_id")
    if _is_self(ctx, user_id, bot_id) and not own:
        return None
    author_id = user_id or bot_id
    if not author_id:
        return None
    is_bot = own or bool(bot_id) or subtype == "bot_message"
    text = message_text(msg)
    thread_ts = msg.get("thread_ts") or None
    me = ctx.identity
    mentions = mentioned_users(text)
    # In a Slack Connect channel each message names its author's organisation (``user_team``).
    external = None if is_bot else other_organisation(msg.get("user_team"), me.team_id)
    return MessagePosted(
        channel=_channel(ctx, channel_id, channel_type),
        author=UserRef(SLACK, me.team_id, author_id, str(msg.get("username") or ""), is_bot, external=external),
        message_id=slack_message_id(channel_id, ts_raw),
        text=text,
        ts=ts,
        thread_id=slack_message_id_or_none(channel_id, thread_ts),
        reply_to=slack_message_id(channel_id, thread_ts) if thread_ts and thread_ts != ts_raw else None,
        # A message in the bot's own DM is addressed to it as surely as an @-mention.
        mentions_bot=not own
        and (
            bool(me.bot_user_id and me.bot_user_id in mentions)
            or msg.get("type") == "app_mention"
            or channel_type == "im"
        ),
        mentioned_user_ids=mentions,
        permalink=permalink(me.team_url, channel_id, ts_raw, thread_ts),
        subtype=subtype,
        source=ctx.source,
    )


def _message_event(event: dict[str, Any], ctx: NormalizeContext, event_time: datetime | None) -> list[InboundEvent]:
    msg = cast(SlackMessage, event)
    channel_id = str(event.get("channel", ""))
    subtype = msg.get("subtype", "")
    handler = _MESSAGE_SUBTYPES.get(subtype)
    if handler is not None:
        return handler(msg, channel_id, ctx, event_time)
    posted = normalize_message(msg, channel_id, msg.get("channel_type"), ctx)
    if posted is None and subtype not in POSTED_SUBTYPES:
        log.debug("ignored message subtype %r", subtype)
    return [posted] if posted else []


def _message_changed(
    msg: SlackMessage, channel_id: str, ctx: NormalizeContext, event_time: datetime | None
) -> list[InboundEvent]:
    new = msg.get("message") or {}
    old = msg.get("previous_message") or {}
    edited = new.get("edited")
    if new.get("subtype") == "tombstone":
        # A thread root with replies is not deleted but replaced by Slackbot's "This message was
        # deleted." placeholder, sent as message_changed: for us it is a delete.
        tombstoned = cast(SlackMessage, {**msg, "deleted_ts": new.get("ts") or old.get("ts") or ""})
        return _message_deleted(tombstoned, channel_id, ctx, event_time)
    # Slack also sends message_changed when it unfurls a link or a reply count changes: the
    # text is the same and there is no ``edited`` stamp. Those are not edits.
    if not edited and new.get("text") == old.get("text"):
        return []
    if _is_self(ctx, new.get("user"), new.get("bot_id")):
        return []
    ts_raw = new.get("ts", "")
    edited_at = _edit_time(parse_ts((edited or {}).get("ts")), parse_ts(msg.get("event_ts"))) or event_time
    if not ts_raw or edited_at is None or not channel_id:
        return []
    author_id = new.get("user") or new.get("bot_id")
    author = UserRef(SLACK, ctx.identity.team_id, author_id, "", bool(new.get("bot_id"))) if author_id else None
    return [
        MessageEdited(
            channel=_channel(ctx, channel_id, msg.get("channel_type")),
            message_id=slack_message_id(channel_id, ts_raw),
            text=message_text(new),
            edited_at=edited_at,
            author=author,
            thread_id=slack_message_id_or_none(channel_id, new.get("thread_ts")),
        )
    ]


def _edit_time(stamp: datetime | None, event_ts: datetime | None) -> datetime | None:
    """When an edit happened, as finely as Slack tells it.

    ``edited.ts`` has whole seconds, so two edits within one second would share a time, and with
    it an event id (the second dropped as a duplicate) and the store's last-edit-wins order. The
    event's own ``event_ts`` has microseconds; it is used when it falls within ``edited.ts``'s
    second (it is the same edit, told more precisely)."""
    if stamp is None:
        return event_ts
    if event_ts is not None and stamp <= event_ts < stamp + timedelta(seconds=1):
        return event_ts
    return stamp


def _message_deleted(
    msg: SlackMessage, channel_id: str, ctx: NormalizeContext, event_time: datetime | None
) -> list[InboundEvent]:
    ts_raw = msg.get("deleted_ts") or (msg.get("previous_message") or {}).get("ts", "")
    if not ts_raw or not channel_id:
        return []
    message_id = slack_message_id(channel_id, ts_raw)
    deleted_at = parse_ts(msg.get("event_ts")) or parse_ts(msg.get("ts")) or event_time
    channel = _channel(ctx, channel_id, msg.get("channel_type"))
    if deleted_at is None:
        return [MessageDeleted(channel=channel, message_id=message_id)]
    return [MessageDeleted(channel=channel, message_id=message_id, deleted_at=deleted_at)]


_MessageHandler = Callable[[SlackMessage, str, NormalizeContext, "datetime | None"], list[InboundEvent]]
_MESSAGE_SUBTYPES: dict[str, _MessageHandler] = {
    "message_changed": _message_changed,
    "message_deleted": _message_deleted,
}


# --------------------------------------------------------------------------- other events


def _app_mention(event: dict[str, Any], ctx: NormalizeContext, event_time: datetime | None) -> list[InboundEvent]:
    # Slack sends the same post as ``message`` and ``app_mention`` with the same ts: both map to
    # the same event_id, so whichever arrives second is dropped by the bus, and mentions_bot is
    # true either way.
    msg = cast(SlackMessage, {**event, "type": "app_mention"})
    posted = normalize_message(msg, str(event.get("channel", "")), event.get("channel_type"), ctx)
    return [posted] if posted else []


def _reaction(event: dict[str, Any], ctx: NormalizeContext, event_time: datetime | None) -> list[InboundEvent]:
    item = event.get("item") or {}
    user_id = event.get("user")
    emoji = base_emoji(str(event.get("reaction") or ""))
    if item.get("type") != "message" or not user_id or not emoji or not item.get("ts") or not item.get("channel"):
        return []  # reactions on files / file comments are not community signal
    if _is_self(ctx, user_id, None):
        return []
    ts = parse_ts(event.get("event_ts")) or event_time
    if ts is None:
        return []
    channel = _channel(ctx, str(item["channel"]), None)
    message_id = slack_message_id(channel.channel_id, str(item["ts"]))
    user = UserRef(SLACK, ctx.identity.team_id, str(user_id))
    if event.get("type") == "reaction_added":
        return [
            ReactionAdded(
                channel=channel,
                message_id=message_id,
                user=user,
                emoji=emoji,
                ts=ts,
                message_author_id=event.get("item_user"),
            )
        ]
    return [ReactionRemoved(channel=channel, message_id=message_id, user=user, emoji=emoji, ts=ts)]


def _team_join(event: dict[str, Any], ctx: NormalizeContext, event_time: datetime | None) -> list[InboundEvent]:
    member = event.get("user")
    if not isinstance(member, dict) or not member.get("id"):
        return []
    ts = parse_ts(event.get("event_ts")) or event_time
    if ts is None:
        return []
    name = str(member.get("real_name") or member.get("name") or "")
    # team_join carries the users.info object: its IANA ``tz`` sets the member's digest hour.
    tz = member.get("tz")
    user = UserRef(
        SLACK,
        ctx.identity.team_id,
        str(member["id"]),
        name,
        bool(member.get("is_bot")),
        tz if isinstance(tz, str) else "",
        guest=is_guest(member),
    )
    return [MemberJoined(user=user, ts=ts)]


def _user_change(event: dict[str, Any], ctx: NormalizeContext, event_time: datetime | None) -> list[InboundEvent]:
    """A deactivated member (``deleted: true``) left the workspace; any other change updates the
    stored profile: display name and time zone (the digest hour follows a member who moves)."""
    member = event.get("user")
    if not isinstance(member, dict) or not isinstance(member.get("id"), str):
        return []
    ts = parse_ts(event.get("event_ts")) or event_time
    if ts is None:
        return []
    if member.get("deleted") is True:
        return [MemberLeft(user=UserRef(SLACK, ctx.identity.team_id, member["id"]), ts=ts)]
    name = member.get("real_name") or member.get("name") or ""
    tz = member.get("tz")
    user = UserRef(
        SLACK,
        ctx.identity.team_id,
        member["id"],
        name if isinstance(name, str) else "",
        member.get("is_bot") is True,
        tz if isinstance(tz, str) else "",
        guest=is_guest(member),
    )
    return [MemberUpdated(user=user, ts=ts)]


def _member_joined_channel(
    event: dict[str, Any], ctx: NormalizeContext, event_time: datetime | None
) -> list[InboundEvent]:
    user_id, channel_id = event.get("user"), event.get("channel")
    ts = parse_ts(event.get("event_ts")) or event_time
    if not user_id or not channel_id or ts is None:
        return []
    channel = _channel(ctx, str(channel_id), event.get("channel_type"))
    return [MemberJoined(user=UserRef(SLACK, ctx.identity.team_id, str(user_id)), ts=ts, channel=channel)]


def _channel_created(event: dict[str, Any], ctx: NormalizeContext, event_time: datetime | None) -> list[InboundEvent]:
    conv = event.get("channel")
    if not isinstance(conv, dict) or not conv.get("id"):
        return []
    ts = parse_ts(conv.get("created")) or event_time
    ref = channel_from_conversation(conv, ctx.identity.team_id)
    return [ChannelSeen(channel=ref, ts=ts)] if ts else [ChannelSeen(channel=ref)]


def _channel_deleted(event: dict[str, Any], ctx: NormalizeContext, event_time: datetime | None) -> list[InboundEvent]:
    """``channel_deleted`` / ``group_deleted``: the channel's history is gone for its members too."""
    channel_id = event.get("channel")
    if not channel_id:
        return []
    known = ctx.channels.get(channel_id)
    # Only the id matters to the erasure; the visibility is never widened by a deletion.
    ref = known or ChannelRef(SLACK, ctx.identity.team_id, channel_id, "", Visibility.PRIVATE, visibility_known=False)
    ts = parse_ts(event.get("event_ts")) or event_time
    return [ChannelDeleted(channel=ref, ts=ts)] if ts else [ChannelDeleted(channel=ref)]


_EventHandler = Callable[[dict[str, Any], NormalizeContext, "datetime | None"], list[InboundEvent]]
EVENT_HANDLERS: dict[str, _EventHandler] = {
    "message": _message_event,
    "app_mention": _app_mention,
    "reaction_added": _reaction,
    "reaction_removed": _reaction,
    "team_join": _team_join,
    "user_change": _user_change,
    "member_joined_channel": _member_joined_channel,
    "channel_created": _channel_created,
}
# Events about a channel that is gone: the adapter must not look it up (conversations.info would
# fail). Kept apart from EVENT_HANDLERS, whose keys the manifest test compares with bot_events.
CHANNEL_GONE_HANDLERS: dict[str, _EventHandler] = {
    "channel_deleted": _channel_deleted,
    "group_deleted": _channel_deleted,
}
CHANNEL_GONE_EVENTS = frozenset(CHANNEL_GONE_HANDLERS)


def normalize_event(envelope: EventEnvelope, ctx: NormalizeContext) -> list[InboundEvent]:
    """Events API envelope (HTTP or Socket Mode body) -> zero or more inbound events."""
    event = envelope.get("event")
    if not isinstance(event, dict):
        return []
    kind = event.get("type")
    if not isinstance(kind, str) or (handler := EVENT_HANDLERS.get(kind) or CHANNEL_GONE_HANDLERS.get(kind)) is None:
        return []
    wrong = [k for k in STRING_FIELDS.get(kind, ()) if event.get(k) is not None and not isinstance(event[k], str)]
    if wrong:
        log.warning("skipping malformed Slack %s event: %s not a string", kind, ", ".join(wrong))
        return []
    try:
        events = handler(event, ctx, parse_ts(envelope.get("event_time")))
    except MALFORMED as exc:  # a field of the wrong type: a list for a subtype, a number for a ts
        log.warning("skipping malformed Slack %s event: %s: %s", kind, type(exc).__name__, exc)
        return []
    kept = [e for e in events if _ids_are_strings(e)]
    if len(kept) < len(events):
        log.warning("skipping a Slack %s event whose ids are not strings", kind)
    return kept


# Fields Slack always sends as strings in these events; anything else would become a bogus id.
_MESSAGE_STRINGS = ("ts", "thread_ts", "user", "channel", "subtype", "event_ts", "bot_id", "channel_type", "text")
STRING_FIELDS: dict[str, tuple[str, ...]] = {
    "message": _MESSAGE_STRINGS,
    "app_mention": _MESSAGE_STRINGS,
    "reaction_added": ("user", "reaction", "event_ts", "item_user"),
    "reaction_removed": ("user", "reaction", "event_ts", "item_user"),
    "member_joined_channel": ("user", "channel", "channel_type"),
    "channel_deleted": ("channel", "event_ts"),
    "group_deleted": ("channel", "event_ts"),
}

# What a payload with fields of the wrong JSON type raises in the handlers.
MALFORMED = (TypeError, AttributeError, ValueError, KeyError, OverflowError)


def _ids_are_strings(event: InboundEvent) -> bool:
    """Slack ids are strings; a number where one belongs would become a row no lookup finds."""
    user = getattr(event, "author", None) or getattr(event, "user", None)
    channel = getattr(event, "channel", None)
    ids = (channel.channel_id if channel else "", getattr(event, "message_id", ""), user.user_id if user else "")
    return all(isinstance(i, str) for i in ids)


def event_team_id(envelope: Mapping[str, Any]) -> str:
    """The workspace an envelope belongs to: the installation it was delivered for
    (``authorizations[0].team_id``), else ``team_id``, else the event's ``team``.

    In a Slack Connect channel the envelope's ``team_id`` may be the other organisation's (Bolt
    authorizes by ``authorizations`` for that reason); filing the event there would put the
    channel, its messages and its shared flag under a workspace that is not ours.
    """
    auths = envelope.get("authorizations")
    if isinstance(auths, list) and auths and isinstance(auths[0], dict):
        installed = auths[0].get("team_id")
        if isinstance(installed, str) and installed:
            return installed
    event = envelope.get("event") or {}
    return str(envelope.get("team_id") or event.get("team") or event.get("user_team") or "")


# --------------------------------------------------------------------------- commands and clicks


def command_name(command: str, text: str) -> tuple[str, str]:
    """``("/guildhall", "index all")`` -> ``("guildhall index", "all")``; ``"/ask"`` -> ``"ask"``."""
    name = command.strip().lstrip("/").lower()
    name = COMMAND_ALIASES.get(name, name)
    if name in COMMAND_GROUPS:
        words = text.strip().split(maxsplit=1)
        if not words:
            return "help", ""
        return f"{name} {words[0].lower()}", words[1] if len(words) > 1 else ""
    return name, text.strip()


def brain_action_id(action_id: str) -> str:
    """The brain's action id of a clicked button: the render's uniqueness suffix
    (:func:`adapters.slack.render.unique_action_id`) taken off."""
    base, sep, number = action_id.rpartition(ACTION_ID_SUFFIX)
    return base if sep and base and number.isdigit() else action_id


def command_options(text: str) -> tuple[tuple[str, str], ...]:
    """Options Slack encodes inside the text: the first channel ref ``<#C1|name>`` and user ref ``<@U1>``."""
    options: list[tuple[str, str]] = []
    channel = _CHANNEL_REF.search(text)
    if channel:
        options.append(("channel", channel.group(1)))
    users = mentioned_users(text)
    if users:
        options.append(("user", users[0]))
    return tuple(options)


def command_visibility(payload: SlashCommandPayload, known: Mapping[str, ChannelRef]) -> Visibility:
    """Where a slash command's answer is read, from ``known`` channels and ``channel_name`` placeholders.

    Slack sends ``directmessage`` for every 1:1 DM, also one between two members that the bot is
    not in, where the answer (posted through ``response_url``) is read by the other member too. So
    only the bot's own DM with the invoking member, learned by the adapter, is
    :attr:`Visibility.DM`; any other DM is private: the answer draws on public history only.
    """
    channel_id = payload.get("channel_id", "")
    ref = known.get(channel_id)
    if ref is not None and ref.visibility is Visibility.DM:
        return Visibility.DM if payload.get("user_id") in ref.allowed_user_ids else Visibility.PRIVATE
    if payload.get("channel_name", "") in ("directmessage", "privategroup") or channel_id.startswith("D"):
        return Visibility.PRIVATE
    if ref is not None:
        return ref.visibility
    return Visibility.PRIVATE  # unknown: the safe side, see _channel


def normalize_command(
    payload: SlashCommandPayload,
    ctx: NormalizeContext,
    *,
    is_platform_admin: bool | None = False,
    role_ids: Sequence[str] = (),
    now: datetime | None = None,
    tz: str = "",
    guest: bool | None = None,
    external: bool | None = None,
) -> CommandInvoked | None:
    """A slash command's form payload -> :class:`CommandInvoked`; None when ids are missing.

    ``tz``: the member's time zone from ``users.info`` (the payload has none), recorded for digests.
    """
    user_id, channel_id = payload.get("user_id"), payload.get("channel_id")
    command = payload.get("command")
    if not (user_id and channel_id and command) or not all(isinstance(v, str) for v in (user_id, channel_id, command)):
        return None
    raw_text = payload.get("text")
    # Slack escapes &, < and > in command text as in messages: `/ask is a < b` arrives as `a &lt; b`.
    name, text = command_name(command, unescape(raw_text) if isinstance(raw_text, str) else "")
    team = ctx.identity.team_id
    known = ctx.channels.get(channel_id)
    raw_name = payload.get("channel_name", "")
    channel_name = known.name if known else ("" if raw_name in ("directmessage", "privategroup") else raw_name)
    channel = ChannelRef(
        SLACK,
        team,
        channel_id,
        channel_name,
        command_visibility(payload, ctx.channels),
        shared_externally=known.shared_externally if known else None,
    )
    # trigger_id is unique per invocation and identical on redelivery: the natural event id.
    interaction_id = payload.get("trigger_id") or f"{channel_id}:{user_id}:{command}:{payload.get('text', '')}"
    return CommandInvoked(
        name=name,
        user=UserRef(SLACK, team, user_id, payload.get("user_name", ""), tz=tz, guest=guest, external=external),
        channel=channel,
        interaction_id=interaction_id,
        ts=now or datetime.now(UTC),
        text=text,
        options=command_options(text),
        response_ref=payload.get("response_url", ""),
        is_platform_admin=is_platform_admin,
        role_ids=tuple(role_ids),
    )


def normalize_block_actions(body: Mapping[str, Any], ctx: NormalizeContext) -> list[ButtonClicked]:
    """A ``block_actions`` interaction -> one :class:`ButtonClicked` per button action (none, logged,
    for a malformed payload)."""
    try:
        return _block_actions(body, ctx)
    except MALFORMED as exc:
        log.warning("skipping a malformed Slack block_actions payload: %s: %s", type(exc).__name__, exc)
        return []


def _block_actions(body: Mapping[str, Any], ctx: NormalizeContext) -> list[ButtonClicked]:
    user = body.get("user") or {}
    container = body.get("container") or {}
    channel_id = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message_id = container.get("message_ts") or (body.get("message") or {}).get("ts") or ""
    if not user.get("id") or not channel_id:
        return []
    team = ctx.identity.team_id
    channel = _channel(ctx, str(channel_id), None)
    out = []
    for index, action in enumerate(body.get("actions") or []):
        if not isinstance(action, dict) or not action.get("action_id"):
            continue
        stamp = action.get("action_ts") or body.get("trigger_id") or ""
        ts = parse_ts(action.get("action_ts")) or datetime.now(UTC)
        out.append(
            ButtonClicked(
                action_id=brain_action_id(str(action["action_id"])),
                value=str(action.get("value") or ""),
                user=UserRef(SLACK, team, str(user["id"]), str(user.get("username") or user.get("name") or "")),
                channel=channel,
                message_id=slack_message_id(str(channel_id), str(message_id)) if message_id else "",
                interaction_id=f"{stamp}:{index}",
                ts=ts,
                response_ref=str(body.get("response_url") or ""),
            )
        )
    return out

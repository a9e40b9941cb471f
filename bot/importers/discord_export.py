"""Import DiscordChatExporter JSON files (one channel or thread per file).

Format: ``guild`` {id, name}, ``channel`` {id, type, categoryId, category, name}, ``messages`` with
``id``, ``type``, ``timestamp``, ``timestampEdited``, ``content``, ``author`` {id, name, nickname,
isBot}, ``attachments``, ``reactions`` and, for replies, ``reference.messageId``.

Mapping choices:

* ``Default`` and ``Reply`` messages are chat; ``GuildMemberJoin`` becomes :class:`MemberJoined`
  (``source=IMPORT``, as every event of an import); other system types (pins, thread-created
  notices, calls, boosts...) are skipped.
* Conversations: a ``Reply`` joins the conversation of the message it references, so
  ``thread_id`` is the id of the conversation's first message (the referenced message's own
  ``thread_id`` when it has one, else the referenced id). A first message that gets replies has
  ``thread_id`` = its own id, as a Slack thread root does. This makes a reply chain one retrieval
  unit, like a Slack thread. Conversations are followed across the files of one import (a
  channel exported with ``--partition``, or a later ``--after`` export: give its files oldest
  first), and a reply to a message in no file joins that message's stored conversation.
* ``mentions`` -> ``mentioned_user_ids``, as the live adapter reads ``message.mentions``.
* A message id seen before in the same channel (a file listing it twice, overlapping exports given
  in one command) is one message, counted once: the repeat is skipped with a warning, but what it
  adds is imported: its edit when ``timestampEdited`` is later than every one imported (an older
  copy never brings back replaced text) and reactions not imported yet. So one command over
  overlapping files stores what separate commands store, in whatever order the files come.
* A message without an id, an author or an author id, or with a time outside years 2-9998 (one no
  time zone can convert) is skipped with a warning; an edit time out of range is left out with a note.
* A file whose channel is a thread (``GuildPublicThread`` / ``GuildPrivateThread`` / forum post) uses
  the thread's channel id as ``thread_id`` for every message and publishes :class:`ThreadCreated`
  under the parent channel (``categoryId``).
* Reactions carry counts, not always who reacted: a reaction is imported only when its ``users``
  are listed.
* A DM or group DM file (DiscordChatExporter files it under a pseudo-guild, id ``0``) is stored
  under the workspace the live adapter gives DMs, :data:`~bot.permissions.DISCORD_DM_WORKSPACE`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.bus import EventBus
from bot.events import (
    ChannelRef,
    ChannelSeen,
    Event,
    EventSource,
    MemberJoined,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ThreadCreated,
    UserRef,
    Visibility,
)
from bot.importers.json_input import BadJSON, one_line, parse_json
from bot.importers.progress import Progress
from bot.importers.summary import ImportSummary
from bot.permissions import DISCORD_DM_WORKSPACE
from bot.valid_text import valid_text

if TYPE_CHECKING:
    from bot.store import Store

# Events per publish_many. 2,000 rather than a Slack day file's ~200: the privacy gate looks the
# slice's new authors up in one read, and on SQLite each read waits behind the recorder's writes;
# measured (benchmarks.discord_import_speed, 100,000 messages, 20,000 members, interleaved): 200
# 14.7k, 1,000 17.6k, 2,000 17.8k messages/s.
PUBLISH_SLICE = 2000

CHAT_TYPES = frozenset({"Default", "Reply", "ThreadStarterMessage"})
THREAD_CHANNEL_TYPES = frozenset({"GuildPublicThread", "GuildPrivateThread", "GuildNewsThread"})
DM_CHANNEL_TYPES = frozenset({"DirectTextChat", "DirectGroupTextChat"})
PRIVATE_THREAD_TYPE = "GuildPrivateThread"
# Times an import accepts: one day inside datetime's range, so the community's time zone (the
# activity brain's days, +/-14 h) can convert every time stored.
MIN_YEAR, MAX_YEAR = 2, 9998


class DiscordExportError(Exception):
    """A file can't be imported; ``str()`` names it and the reason."""


def _parse_time(value: Any) -> datetime:
    """An export's ISO time, aware; ``ValueError`` for a missing or bad one, or one outside years
    :data:`MIN_YEAR`-:data:`MAX_YEAR` in UTC (converting it to a time zone would overflow)."""
    if not isinstance(value, str):
        raise ValueError("missing timestamp")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        year = parsed.astimezone(UTC).year
    except OverflowError:  # 0001-01-01T00:00+05:00 is before year 1 in UTC
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"timestamp {value[:40]!r} is out of range")
    return parsed


def _workspace_id(guild_id: str, channel_type: str) -> str:
    """The workspace a file's messages are stored under: its guild's id, but for a DM the live
    adapter's DM workspace. DiscordChatExporter files DMs under a pseudo-guild (id ``0``, ``@me`` in
    old versions): stored there, a member's DMs made a server "0" of its own, with links
    (``discord.com/channels/0/…``) that open nothing, which could even become the server the bot
    answers that member's DMs from (the one where they posted last)."""
    return DISCORD_DM_WORKSPACE if channel_type in DM_CHANNEL_TYPES else guild_id


def _shown(value: str) -> str:
    """An id from the export as a warning shows it: as is, or quoted with escapes when it holds what
    no terminal should get (a lone surrogate, which no encoder takes; a line break; nothing)."""
    return value if value.isprintable() and value else ascii(value)


def jump_url(guild_id: str, channel_id: str, message_id: str) -> str:
    """Discord's jump link to a message."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


# A message imported: its latest edit time and its (emoji, member id) reactions.
_Copy = tuple[datetime | None, frozenset[tuple[str, str]]]
_PLAIN: _Copy = (None, frozenset())


@dataclass
class ChannelHistory:
    """What the files of one import have shown of one channel so far.

    Attributes:
        conversation: message id -> its conversation's first message id, for replies and the
            messages they reference.
        copies: id of each message already imported -> its latest edit time and its (emoji,
            member id) reactions imported; ``None`` for a message that is not chat (a join, a
            system notice).
    """

    conversation: dict[str, str] = field(default_factory=dict)
    copies: dict[str, _Copy | None] = field(default_factory=dict)


def events_from_export(
    data: Any,
    name: str,
    summary: ImportSummary,
    *,
    private: bool = False,
    history: dict[tuple[str, str], ChannelHistory] | None = None,
) -> list[Event]:
    """Validate one export document and build its events, oldest first (raises on a bad file).

    An export carries no permissions, so a guild channel's visibility is a guess: a channel the
    store already knows keeps its visibility (the live adapter saw its permissions), a new one is
    public, or private with ``private`` (the operator says so; its posters may read it).

    ``history``: per ``(guild id, channel id)``, what earlier files of the same import showed;
    read and updated, so a reply chain split over files stays one conversation.
    """
    if not isinstance(data, dict):
        raise DiscordExportError(f"{name}: expected a JSON object with guild, channel and messages")
    guild, channel, messages = data.get("guild"), data.get("channel"), data.get("messages")
    if not isinstance(guild, dict) or not isinstance(channel, dict) or not isinstance(messages, list):
        raise DiscordExportError(f"{name}: missing guild, channel or messages")
    if not isinstance(guild.get("id"), str) or not isinstance(channel.get("id"), str):
        raise DiscordExportError(f"{name}: guild and channel need string ids")
    cid = channel["id"]
    ctype = str(channel.get("type") or "GuildTextChat")
    gid = _workspace_id(guild["id"], ctype)
    is_thread = ctype in THREAD_CHANNEL_TYPES
    visibility = Visibility.DM if ctype in DM_CHANNEL_TYPES else Visibility.PRIVATE if private else Visibility.PUBLIC
    # Only a DM's visibility, and the operator's --private, are known; see the docstring.
    known = private or ctype in DM_CHANNEL_TYPES
    parent_id = str(channel.get("categoryId") or cid) if is_thread else cid
    parent_name = str(channel.get("category") or "") if is_thread else str(channel.get("name") or cid)
    # The channel a private thread lives under: a deleted parent erases its private threads too.
    container: str | None = None
    if ctype == PRIVATE_THREAD_TYPE:
        # Readable only by its members, not by everyone who reads the parent: a channel of its own,
        # private, open to the members who posted in it (the recorder grants each author).
        container = str(channel["categoryId"]) if channel.get("categoryId") else None
        parent_id, parent_name, visibility = cid, str(channel.get("name") or cid), Visibility.PRIVATE
        known = True
    parent = ChannelRef(
        Platform.DISCORD, gid, parent_id, parent_name, visibility, visibility_known=known, parent_id=container
    )
    # The DM pseudo-guild's name ("Direct Messages") is no community's name.
    workspace_name = str(guild.get("name") or "") if gid == guild["id"] else ""
    events: list[Event] = [ChannelSeen(parent, workspace_name=workspace_name, source=EventSource.IMPORT)]
    channel_history = (history if history is not None else {}).setdefault((gid, cid), ChannelHistory())
    copies = channel_history.copies
    valid: list[dict[str, Any]] = []
    for index, raw in enumerate(messages):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(raw.get("author"), dict):
            summary.warn(f"{name}[{index}]: skipped (message without id or author)")
            continue
        author_id = raw["author"].get("id")
        if not isinstance(author_id, str) or not author_id:
            # Stored under author "" it would merge every such author into one member.
            summary.warn(f"{name}[{index}]: skipped (message {_shown(raw['id'])} has an author without an id)")
            continue
        if raw.get("type") is not None and not isinstance(raw.get("type"), str):
            # Not a type this importer knows (chat, join or a system notice): skipped, never guessed as chat.
            summary.warn(f"{name}[{index}]: skipped (type is not text)")
            continue
        try:
            raw["_when"] = _parse_time(raw.get("timestamp"))
        except ValueError as exc:
            summary.warn(f"{name}[{index}]: skipped ({valid_text(one_line(exc))})")
            continue
        raw["_index"] = index
        valid.append(raw)
    # Stable: of two copies of a message in this file, the one listed first is imported first.
    valid.sort(key=lambda m: m["_when"])
    # First pass: conversation roots, so a first message with replies opens its thread.
    conversation = channel_history.conversation
    for raw in valid:
        ref = raw.get("reference") if isinstance(raw.get("reference"), dict) else None
        target = ref.get("messageId") if ref else None
        if raw.get("type") == "Reply" and isinstance(target, str):
            conversation[raw["id"]] = conversation.get(target, target)
            conversation.setdefault(target, target)
    if is_thread:
        title = str(channel.get("name") or cid)
        starter = next((m for m in valid if m.get("type") in CHAT_TYPES), None)
        # A starter an earlier file imported (overlapping exports of the thread) created it then.
        if starter is not None and starter["id"] not in copies:
            author = _user(gid, starter["author"])
            events.append(ThreadCreated(parent, cid, title, author, starter["_when"], source=EventSource.IMPORT))
            summary.threads += 1
    roots_counted: set[str] = set()
    for raw in valid:
        repeat = raw["id"] in copies
        if repeat and copies[raw["id"]] is None:
            # A join or a system notice again: nothing in it to add.
            summary.warn(
                f"{name}[{raw['_index']}]: skipped (message {_shown(raw['id'])} appears earlier in the channel)"
            )
            continue
        try:
            found = _message_events(raw, gid, cid, parent, is_thread, conversation, name, summary)
        # A wrong-typed field the guards below do not foresee costs its message, not the file.
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
            summary.warn(f"{name}: message {_shown(raw['id'])} skipped ({valid_text(one_line(exc))})")
            continue
        if found is None or not isinstance(found[0], MessagePosted):
            if not repeat:
                copies[raw["id"]] = None
                events.extend(found or ())
            continue
        if repeat:
            events.extend(_repeat(raw["id"], found, copies, f"{name}[{raw['_index']}]", summary))
            continue
        edits = [e.edited_at for e in found if isinstance(e, MessageEdited)]
        pairs = frozenset((e.emoji, e.user.user_id) for e in found if isinstance(e, ReactionAdded))
        copies[raw["id"]] = (edits[-1] if edits else None, pairs) if edits or pairs else _PLAIN
        events.extend(found)
        summary.messages += 1
        thread_id = found[0].thread_id
        if thread_id and not is_thread and thread_id == raw["id"] and thread_id not in roots_counted:
            roots_counted.add(thread_id)
            summary.threads += 1
        summary.reactions += sum(isinstance(e, ReactionAdded) for e in found)
    return events


def _repeat(
    message_id: str, found: list[Event], copies: dict[str, _Copy | None], where: str, summary: ImportSummary
) -> list[Event]:
    """What a second copy of an imported message adds (``found``: its events, post first): its edit
    when later than every one imported, and reactions not imported yet. Its post is left out: the
    bus would drop it as a duplicate, and an older copy must not bring back replaced text."""
    last_edit, known = copies[message_id] or _PLAIN
    edit = next((e for e in found if isinstance(e, MessageEdited)), None)
    newer = edit if edit is not None and (last_edit is None or edit.edited_at > last_edit) else None
    fresh = {
        (e.emoji, e.user.user_id): e
        for e in found
        if isinstance(e, ReactionAdded) and (e.emoji, e.user.user_id) not in known
    }
    reactions = list(fresh.values())
    copies[message_id] = (newer.edited_at if newer is not None else last_edit, known.union(fresh))
    summary.reactions += len(reactions)
    added = [part for part, new in (("its later edit", newer), (f"{len(reactions)} new reaction(s)", reactions)) if new]
    summary.warn(
        f"{where}: skipped (message {_shown(message_id)} appears earlier in the channel; "
        f"{' and '.join(added) + ' imported' if added else 'nothing new in it'})"
    )
    return [*([newer] if newer is not None else []), *reactions]


def _message_events(
    raw: dict[str, Any],
    gid: str,
    cid: str,
    parent: ChannelRef,
    is_thread: bool,
    conversation: dict[str, str],
    name: str,
    summary: ImportSummary,
) -> list[Event] | None:
    """One validated message's events (its post first), or None when it is not chat.

    Nothing is counted here but skips: the caller counts what it keeps, so a message that raises
    half-way leaves no trace in the summary. A wrong-typed optional part (attachments, reactions)
    is left out with a warning and the message kept.
    """
    where = f"{name}: message {_shown(raw['id'])}"
    mtype = str(raw.get("type") or "Default")
    author = _user(gid, raw["author"])
    when: datetime = raw["_when"]
    if mtype == "GuildMemberJoin":
        # History, not a live join: the recommender must not welcome every member ever joined.
        return [MemberJoined(author, when, None, source=EventSource.IMPORT)]
    if mtype not in CHAT_TYPES:
        summary.skipped += 1
        return None
    content = raw.get("content") or ""
    if not isinstance(content, str):
        summary.warn(f"{where} skipped (content is not text)")
        return None
    raw_attachments = raw.get("attachments") or []
    if not isinstance(raw_attachments, list):
        summary.note(f"{where}: attachments ignored (not a list)")
        raw_attachments = []
    attachments = [a.get("fileName") for a in raw_attachments if isinstance(a, dict)]
    if attachments:
        content = (content + "\n" if content else "") + " ".join(f"[file: {a}]" for a in attachments if a)
    ref = raw.get("reference") if isinstance(raw.get("reference"), dict) else None
    reply_to = ref.get("messageId") if ref and isinstance(ref.get("messageId"), str) else None
    thread_id = cid if is_thread else conversation.get(raw["id"])
    raw_mentions = raw.get("mentions") or []
    if not isinstance(raw_mentions, list):
        summary.note(f"{where}: mentions ignored (not a list)")
        raw_mentions = []
    # As the live adapter: every mentioned member, in the order Discord lists them.
    mentioned = tuple(m["id"] for m in raw_mentions if isinstance(m, dict) and isinstance(m.get("id"), str))
    events: list[Event] = [
        MessagePosted(
            channel=parent,  # a thread's messages belong to its parent channel, under thread_id
            author=author,
            message_id=raw["id"],
            text=content,
            ts=when,
            thread_id=thread_id,
            reply_to=reply_to,
            mentioned_user_ids=mentioned,
            permalink=jump_url(gid, cid, raw["id"]),
            subtype="" if mtype != "Reply" else "reply",
            source=EventSource.IMPORT,
        )
    ]
    edited = raw.get("timestampEdited")
    if isinstance(edited, str):
        try:
            events.append(MessageEdited(parent, raw["id"], content, _parse_time(edited), author, thread_id))
        except ValueError as exc:
            # The post itself is fine and is imported: only its edit time is dropped (not a skip).
            summary.note(f"{where}: edit ignored ({valid_text(one_line(exc))})")
    reactions = raw.get("reactions") or []
    if not isinstance(reactions, list):
        summary.note(f"{where}: reactions ignored (not a list)")
        reactions = []
    for reaction in reactions:
        if not isinstance(reaction, dict):
            continue
        emoji: dict[str, Any] = reaction["emoji"] if isinstance(reaction.get("emoji"), dict) else {}
        emoji_name = str(emoji.get("name") or "")
        users = reaction.get("users") or []
        if not isinstance(users, list):
            # A count (an int) says how many, not who: nothing to import (see the module docstring).
            summary.note(f"{where}: reaction {emoji_name!r} ignored (users is not a list)")
            continue
        for reactor in users:
            if isinstance(reactor, dict) and isinstance(reactor.get("id"), str) and emoji_name:
                events.append(
                    ReactionAdded(
                        parent, raw["id"], _user(gid, reactor), emoji_name, when, author.user_id, EventSource.IMPORT
                    )
                )
    return events


def _user(guild_id: str, raw: dict[str, Any]) -> UserRef:
    name = str(raw.get("nickname") or raw.get("name") or raw.get("id") or "")
    return UserRef(Platform.DISCORD, guild_id, str(raw.get("id") or ""), name, bool(raw.get("isBot")))


def _read_export(path: Path) -> bytes:
    """The bytes of an export file; a named pipe or a device (reading one would wait forever, or
    never end) or a folder is refused, as is a missing file."""
    if not path.is_file():
        raise DiscordExportError(f"{path.name}: {'not a regular file' if path.exists() else 'no such file'}")
    return path.read_bytes()


async def recall_conversations(data: Any, store: Store, history: dict[tuple[str, str], ChannelHistory]) -> None:
    """Seed ``history`` with the stored conversation of each message a file's replies reference
    when no file of this import has shown it (a reply to history imported or seen live before).

    Tolerates a malformed document: :func:`events_from_export` reports it.
    """
    if not isinstance(data, dict):
        return
    guild, channel, messages = data.get("guild"), data.get("channel"), data.get("messages")
    if not (isinstance(guild, dict) and isinstance(channel, dict) and isinstance(messages, list)):
        return
    gid, cid = guild.get("id"), channel.get("id")
    # Read as events_from_export reads it: a type of the wrong JSON type (a list) is no crash here.
    ctype = str(channel.get("type") or "GuildTextChat")
    if not isinstance(gid, str) or not isinstance(cid, str) or ctype in THREAD_CHANNEL_TYPES:
        return  # a thread file's messages are all in the thread: nothing to look up
    gid = _workspace_id(gid, ctype)  # where events_from_export stores them
    conversation = history.setdefault((gid, cid), ChannelHistory()).conversation
    # Only string ids: a list id (a damaged file) is unhashable, and events_from_export skips it anyway.
    in_file = {m["id"] for m in messages if isinstance(m, dict) and isinstance(m.get("id"), str)}
    for raw in messages:
        ref = raw.get("reference") if isinstance(raw, dict) and raw.get("type") == "Reply" else None
        target = ref.get("messageId") if isinstance(ref, dict) else None
        if not isinstance(target, str) or target in conversation or target in in_file:
            continue
        row = await store.get_message(Platform.DISCORD.value, gid, target)
        # Recorded even when unknown, so each target is looked up once.
        conversation[target] = row.thread_id if row is not None and row.thread_id else target


async def import_discord_export(
    paths: Iterable[str | Path],
    bus: EventBus,
    *,
    progress: bool | None = None,
    private: bool = False,
    store: Store | None = None,
) -> ImportSummary:
    """Publish the history of DiscordChatExporter JSON files on ``bus``.

    A file that is not valid JSON or lacks guild/channel/messages is reported and skipped whole.
    ``private``: the exported channels are private (see :func:`events_from_export`).
    ``store``: where a reply to a message in none of the files finds that message's conversation
    (see :func:`recall_conversations`); without it such a reply opens a conversation of its own.
    """
    started = time.perf_counter()
    files = [Path(p) for p in paths]
    summary = ImportSummary(source=", ".join(str(p) for p in files))
    users: set[str] = set()
    channels: set[str] = set()
    history: dict[tuple[str, str], ChannelHistory] = {}
    with Progress(len(files), "discord export", enabled=progress) as bar:
        for path in files:
            try:
                data = parse_json(_read_export(path))
                if store is not None:
                    await recall_conversations(data, store, history)
                events = events_from_export(data, path.name, summary, private=private, history=history)
            except (OSError, BadJSON, DiscordExportError) as exc:
                reason = str(exc) if isinstance(exc, DiscordExportError) else f"{path.name}: {one_line(exc)}"
                summary.errors.append(reason)
                bar.advance(1)
                continue
            for event in events:
                if isinstance(event, MessagePosted):
                    users.add(event.author.user_id)
                    channels.add(event.channel.channel_id)
            # A file is a whole channel: publish it in slices and let the loop serve the store's writer
            # (its results come back through the loop) between them.
            for start in range(0, len(events), PUBLISH_SLICE):
                await bus.publish_many(events[start : start + PUBLISH_SLICE])
                await asyncio.sleep(0)
            summary.files += 1
            bar.advance(1, path.name)
    summary.users = len(users)
    summary.channels = len(channels)
    summary.seconds = time.perf_counter() - started
    return summary

"""Import a Slack workspace export (the folder Slack delivers, or its zip).

Layout: ``users.json``, ``channels.json`` (public), ``groups.json`` (private), ``mpims.json`` and
``dms.json`` (direct conversations, with their ``members`` as the access list) and one folder per
conversation holding ``YYYY-MM-DD.json`` day files. Mapping:

* ``ts`` -> ``message_id`` and ``thread_ts`` -> ``thread_id``, each as ``"<channel id>:<ts>"``
  (:mod:`bot.message_ids`; a root with replies has ``thread_ts == ts``); ``thread_broadcast``
  replies keep their thread;
* ``bot_message`` / ``bot_id`` -> a bot author (brains ignore bots);
* ``channel_join`` -> :class:`MemberJoined` (``source=IMPORT``: no welcome); ``channel_leave`` /
  ``group_leave`` in a private channel or DM -> :class:`MemberLeftChannel`; ``tombstone`` (the
  placeholder of a thread root deleted after it got replies) -> :class:`MessageDeleted`, as live;
  other system subtypes (topic, purpose, pins, leaves of public channels, archive...) are not chat
  and are skipped;
* an ``edited`` block -> the post with its final text, then a :class:`MessageEdited` with its time;
* ``text`` -> read as the live adapter reads it (:mod:`bot.slack_text`): ``&lt;`` ``&gt;`` ``&amp;``
  undone, blocks and attachments when ``text`` is empty, ``<@U…>`` -> ``mentioned_user_ids``; a
  thread reply's ``reply_to`` is its root, as live;
* ``files`` -> their names appended to the text (``[file: report.pdf]``);
* ``reactions`` -> one :class:`ReactionAdded` per listed member;
* a ``ts`` seen before in the same conversation (a day file copied under a second date, overlapping
  exports merged by hand) is one message, counted once: the repeat is skipped with a warning, but
  what it adds (a later edit, reactions not seen yet) is imported, so the store ends as separate
  imports of the copies leave it;
* a wrong-typed optional part (``reactions``, a block's ``fields`` or ``elements``) is left out with
  a note, the message kept; a time outside years 2-9998 (one no time zone can convert) skips its
  message with a warning.

Visibility and access: an export may be older than what the store knows, so a channel listed in
``channels.json`` is public only when the store does not know it already (one made private since
stays private); in a private channel or DM, a post or a join grants its member access as live, and
a ``channel_leave`` / ``group_leave`` takes it back (:class:`MemberLeftChannel`), so a member who
left does not read it through the bot.

A day file is parsed and validated whole before any of its events is published, so a malformed file
is reported (file name and reason) and skipped without leaving half of it in the store.
"""

from __future__ import annotations

import asyncio
import lzma
import re
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from bot.bus import EventBus
from bot.events import (
    ChannelRef,
    ChannelSeen,
    Event,
    EventSource,
    MemberJoined,
    MemberLeftChannel,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    UserRef,
    Visibility,
)
from bot.importers.json_input import BadJSON, one_line, parse_json
from bot.importers.progress import Progress
from bot.importers.summary import ImportSummary
from bot.message_ids import slack_message_id, slack_message_id_or_none
from bot.slack_text import mentioned_users, message_text

# Subtypes that are not conversation; channel_join becomes MemberJoined.
SYSTEM_SUBTYPES = frozenset(
    {
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "group_join",
        "group_leave",
        "group_topic",
        "group_purpose",
        "group_name",
        "group_archive",
        "group_unarchive",
        "pinned_item",
        "unpinned_item",
        "bot_add",
        "bot_remove",
        "reminder_add",
        "tombstone",
        "joiner_notification",
        "sh_room_created",
        "huddle_thread",
    }
)
_CONVERSATION_FILES = (
    ("channels.json", Visibility.PUBLIC),
    ("groups.json", Visibility.PRIVATE),
    ("mpims.json", Visibility.DM),
    ("dms.json", Visibility.DM),
)
# Files that mark an export's root (a folder or zip that holds none of them is not an export).
_ROOT_MARKERS = ("users.json", *(name for name, _ in _CONVERSATION_FILES))
# Which of two listings of one conversation folder wins: never the less private one.
_RESTRICTIVENESS = {Visibility.PUBLIC: 0, Visibility.RESTRICTED: 1, Visibility.PRIVATE: 2, Visibility.DM: 3}
# Times an import accepts: one day inside datetime's range, so the community's time zone (the
# activity brain's days, +/-14 h) can convert every time stored.
MIN_YEAR, MAX_YEAR = 2, 9998
# What zipfile raises for a damaged archive besides BadZipFile: NotImplementedError for an unknown
# "version needed" in the central directory, UnicodeDecodeError for a name flagged UTF-8 that is not,
# ValueError / OSError / EOFError for offsets and sizes that point outside the file.
_ZIP_ERRORS = (zipfile.BadZipFile, NotImplementedError, UnicodeDecodeError, ValueError, OSError, EOFError)
_TEAM_DOMAIN = re.compile(r"[a-z0-9-]+")


class ExportReadError(Exception):
    """A file of the export can't be used; ``str()`` names the file and the reason."""


class ExportSource:
    """Read files of an export, from a folder or a zip (paths are ``/``-separated, root-relative)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        try:
            is_file, is_dir = path.is_file(), path.is_dir()
        except OSError as exc:  # a name longer than the file system takes
            raise ExportReadError(f"{path}: can't be read ({exc.strerror or one_line(exc)})") from exc
        # Some exports wrap everything in one top folder (zipped, or unzipped by hand): read below it.
        if is_file:
            try:
                self._zip = zipfile.ZipFile(path)
            except _ZIP_ERRORS as exc:
                raise ExportReadError(f"{path}: not a zip file or folder ({one_line(exc)})") from exc
            names = set(self._zip.namelist())
            if not any(marker in names for marker in _ROOT_MARKERS):
                tops = sorted({n.split("/", 1)[0] for n in names if "/" in n})
                for top in tops:
                    if any(f"{top}/{marker}" in names for marker in _ROOT_MARKERS):
                        self._prefix = f"{top}/"
                        break
        elif is_dir:
            try:
                if not any((path / marker).is_file() for marker in _ROOT_MARKERS):
                    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
                        if any((sub / marker).is_file() for marker in _ROOT_MARKERS):
                            self._prefix = f"{sub.name}/"
                            break
            except OSError as exc:  # a folder we may not list
                raise ExportReadError(f"{path}: can't be read ({exc.strerror or one_line(exc)})") from exc
        elif path.exists():  # a named pipe, a device: nothing an export is
            raise ExportReadError(f"{path}: not a zip file or folder")
        else:
            raise ExportReadError(f"{path}: no such file or folder")

    @property
    def _root(self) -> Path:
        """The folder export's root (``path`` or its one wrapping folder)."""
        return self.path / self._prefix if self._prefix else self.path

    def names(self) -> list[str]:
        """Every file, relative to the export root."""
        if self._zip is not None:
            return [
                n[len(self._prefix) :]
                for n in self._zip.namelist()
                if n.startswith(self._prefix) and not n.endswith("/")
            ]
        root = self._root
        return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]

    def read(self, name: str) -> bytes:
        """Bytes of one file; raises :class:`ExportReadError` naming it when it can't be read (a
        damaged zip member, a vanished file)."""
        try:
            if self._zip is not None:
                return self._zip.read(self._prefix + name)
            return (self._root / name).read_bytes()
        # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks (Deflate64).
        except (
            zipfile.BadZipFile,
            zlib.error,
            lzma.LZMAError,
            EOFError,
            OSError,
            KeyError,
            RuntimeError,
            NotImplementedError,
        ) as exc:
            # One readable line: a damaged member's error quotes its raw header, kilobytes of bytes.
            raise ExportReadError(f"{name}: unreadable ({one_line(exc)})") from exc

    def exists(self, name: str) -> bool:
        """Whether the export holds ``name``."""
        if self._zip is not None:
            return (self._prefix + name) in self._zip.NameToInfo
        return (self._root / name).is_file()

    def json(self, name: str) -> Any:
        """Parse one JSON file; raises :class:`ExportReadError` naming it."""
        try:
            return parse_json(self.read(name))
        except BadJSON as exc:
            raise ExportReadError(f"{name}: {exc}") from exc

    def close(self) -> None:
        """Close the zip, if any."""
        if self._zip is not None:
            self._zip.close()


# A message imported: its latest edit time and its (emoji, member) reactions.
_Copy = tuple[datetime | None, frozenset[tuple[str, str]]]
_PLAIN: _Copy = (None, frozenset())


@dataclass(frozen=True, slots=True)
class _Conversation:
    ref: ChannelRef
    folder: str
    members: tuple[str, ...]


def _ts_to_datetime(ts: str) -> datetime:
    """A Slack ts as a time; raises ``ValueError`` for one that is not a representable time, or one
    outside years :data:`MIN_YEAR`-:data:`MAX_YEAR` (converting it to a time zone would overflow)."""
    try:
        when = datetime.fromtimestamp(float(ts), UTC)
    # "inf" and "1e20" overflow, "nan" is a ValueError, and some platforms raise OSError out of range.
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"bad ts {ts[:40]!r}") from exc
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        raise ValueError(f"bad ts {ts[:40]!r} (year {when.year} is out of range)")
    return when


def _visibility(raw: dict[str, Any], listed_as: Visibility) -> Visibility:
    """A conversation's visibility: its own flags can only make it more private than its file says."""
    if raw.get("is_im") is True or raw.get("is_mpim") is True:
        return Visibility.DM
    if (raw.get("is_private") is True or raw.get("is_group") is True) and listed_as is Visibility.PUBLIC:
        return Visibility.PRIVATE
    return listed_as


def normalize_team_domain(value: str) -> str:
    """The workspace subdomain in what an admin may type for it: ``acme``, ``acme.slack.com`` or
    ``https://acme.slack.com/`` all give ``acme``.

    Raises:
        ValueError: what is left is not a subdomain (letters, digits and hyphens).
    """
    domain = value.strip().lower()
    for scheme in ("https://", "http://"):
        domain = domain.removeprefix(scheme)
    domain = domain.rstrip("/").removesuffix(".slack.com")
    if not _TEAM_DOMAIN.fullmatch(domain):
        raise ValueError(
            f"{value[:80]!r} is not a workspace address: give its subdomain (acme for acme.slack.com), "
            "letters, digits and hyphens"
        )
    return domain


def slack_permalink(domain: str, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
    """A Slack message link, ``https://<domain>.slack.com/archives/<channel>/p<ts without dot>``.

    Args:
        domain: the workspace's subdomain (``acme`` for acme.slack.com); exports do not record it,
            so callers fall back to the workspace id.
        channel_id: the conversation id.
        ts: the message ts.
        thread_ts: the thread root's ts; replies get ``?thread_ts=..&cid=..`` as Slack's own links do.
    """
    link = f"https://{domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link


class SlackExportImporter:
    """Turns one export into events, file by file."""

    def __init__(
        self, source: ExportSource, *, workspace_id: str | None = None, team_domain: str | None = None
    ) -> None:
        self.source = source
        self.summary = ImportSummary(source=str(source.path))
        self.users: dict[str, UserRef] = {}
        self._user_refs: dict[tuple[str, str, bool, str], UserRef] = {}
        self.workspace_id = workspace_id or ""
        self.team_domain = team_domain or ""
        # Per conversation, per ts: the latest edit time and the (emoji, member) reactions imported,
        # so a repeated message adds only what is new (see the module docstring).
        self._copies: dict[str, dict[str, _Copy]] = {}

    # -- metadata --------------------------------------------------------------------------------
    def load_users(self) -> None:
        """Read ``users.json`` (missing is fine: ids are kept, names unknown)."""
        if not self.source.exists("users.json"):
            return
        try:
            data = self.source.json("users.json")
            if not isinstance(data, list):
                raise ExportReadError("users.json: expected a list of users")
        except ExportReadError as exc:
            self.summary.errors.append(str(exc))
            return
        for raw in data:
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                self.summary.warn("users.json: a user without an id was skipped")
                continue
            if not self.workspace_id and isinstance(raw.get("team_id"), str):
                self.workspace_id = raw["team_id"]
            profile: dict[str, Any] = raw["profile"] if isinstance(raw.get("profile"), dict) else {}
            name = str(profile.get("display_name") or raw.get("real_name") or raw.get("name") or raw["id"])
            self.users[raw["id"]] = UserRef(Platform.SLACK, "", raw["id"], name, bool(raw.get("is_bot")))
        self.summary.users = len(self.users)

    def conversations(self) -> list[_Conversation]:
        """Channels, private groups and DMs described by the export.

        Raises:
            ExportReadError: the export lists no conversations at all (a wrong path), or its
                workspace id is unknown (``users.json`` has no ``team_id`` and none was given).
        """
        listed = [filename for filename, _ in _CONVERSATION_FILES if self.source.exists(filename)]
        if not listed:
            raise ExportReadError(
                f"{self.source.path}: not a Slack export (no channels.json, groups.json, mpims.json or dms.json)"
            )
        if not self.workspace_id:
            # Never a file name: a renamed re-import would duplicate everything under a new workspace.
            raise ExportReadError(
                f"{self.source.path}: the export does not show its workspace id (users.json has no team_id); "
                "pass it with --workspace T… (the T… after /client/ in the Slack web app's address)"
            )
        found: list[_Conversation] = []
        by_folder: dict[str, int] = {}
        for filename, listed_as in _CONVERSATION_FILES:
            if filename not in listed:
                continue
            try:
                data = self.source.json(filename)
                if not isinstance(data, list):
                    raise ExportReadError(f"{filename}: expected a list of conversations")
            except ExportReadError as exc:
                self.summary.errors.append(str(exc))
                continue
            for raw in data:
                if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                    self.summary.warn(f"{filename}: a conversation without an id was skipped")
                    continue
                raw_members = raw.get("members")
                members = tuple(m for m in raw_members if isinstance(m, str)) if isinstance(raw_members, list) else ()
                name = str(raw.get("name") or raw["id"])
                visibility = _visibility(raw, listed_as)
                ref = ChannelRef(
                    Platform.SLACK,
                    self.workspace_id,
                    raw["id"],
                    name,
                    visibility,
                    allowed_user_ids=members if visibility is not Visibility.PUBLIC else (),
                    # "Public" is what the channel was when exported: one the store knows as
                    # private (made private since, as the live adapter saw) stays private.
                    visibility_known=visibility is not Visibility.PUBLIC,
                )
                # Public and private channels are folders by name, DMs by id.
                folder = raw["id"] if filename == "dms.json" or raw.get("is_im") is True else name
                conv = _Conversation(ref, folder, members)
                earlier = by_folder.get(folder)
                if earlier is None:
                    by_folder[folder] = len(found)
                    found.append(conv)
                    continue
                # One folder listed twice: read it once, under the more private of the two listings.
                kept = found[earlier]
                if _RESTRICTIVENESS[visibility] > _RESTRICTIVENESS[kept.ref.visibility]:
                    found[earlier] = kept = conv
                self.summary.note(
                    f"{filename}: folder {folder!r} is listed more than once; imported once as "
                    f"{kept.ref.channel_id} ({kept.ref.visibility.value})"
                )
        self.summary.channels = len(found)
        return found

    def user(self, user_id: str, *, is_bot: bool = False, name: str = "") -> UserRef:
        """The ref of a member (unknown ids become members without a name)."""
        # Refs are immutable and a member posts many times: one object per member, not per message.
        cache_key = (self.workspace_id, user_id, is_bot, name)
        ref = self._user_refs.get(cache_key)
        if ref is None:
            known = self.users.get(user_id)
            if known is not None:
                ref = UserRef(Platform.SLACK, self.workspace_id, user_id, known.name, known.is_bot or is_bot)
            else:
                ref = UserRef(Platform.SLACK, self.workspace_id, user_id, name, is_bot)
            self._user_refs[cache_key] = ref
        return ref

    # -- messages --------------------------------------------------------------------------------
    def day_files(self, conv: _Conversation, names: list[str]) -> list[str]:
        """The conversation's day files in date order."""
        prefix = f"{conv.folder}/"
        return sorted(n for n in names if n.startswith(prefix) and n.endswith(".json") and n.count("/") == 1)

    def warn_unlisted(self, conversations: list[_Conversation], names: list[str]) -> None:
        """Warn (a skip in the summary) for each folder of day files that no conversation file lists.

        Such a folder's messages have no channel id or visibility to be stored under, so they are
        not imported; without a warning a partial or hand-edited export would look complete.
        """
        listed = {conv.folder for conv in conversations}
        unlisted: dict[str, int] = {}
        for name in names:
            folder, _, rest = name.partition("/")
            # The shape day_files reads: a JSON file directly inside a folder.
            if rest and "/" not in rest and rest.endswith(".json") and folder not in listed:
                unlisted[folder] = unlisted.get(folder, 0) + 1
        for folder, count in sorted(unlisted.items()):
            self.summary.warn(
                f"{folder}/: {count} day file(s) skipped: the folder is not listed in "
                f"{', '.join(filename for filename, _ in _CONVERSATION_FILES)}"
            )

    def events_of_day(self, conv: _Conversation, name: str) -> list[Event]:
        """Parse and validate one day file into events (raises :class:`ExportReadError`)."""
        data = self.source.json(name)
        if not isinstance(data, list):
            raise ExportReadError(f"{name}: expected a list of messages, got {type(data).__name__}")
        events: list[Event] = []
        for index, raw in enumerate(data):
            try:
                events.extend(self.message_events(conv.ref, raw, where=f"{name}[{index}]"))
            except (KeyError, TypeError, ValueError) as exc:
                self.summary.warn(f"{name}[{index}]: skipped ({exc})")
        return events

    def message_events(self, channel: ChannelRef, raw: Any, *, where: str = "message") -> list[Event]:
        """Events for one exported message (a post, maybe an edit, its reactions, or a join).

        The message is validated whole before anything is counted, so a message that raises
        (``KeyError``, ``TypeError``, ``ValueError``: skip it) has left no trace in the summary.
        ``where`` names the message in warnings about parts of it that were left out.
        """
        return list(self._message_events(channel, raw, where))

    def _message_events(self, channel: ChannelRef, raw: Any, where: str) -> Iterator[Event]:
        if not isinstance(raw, dict):
            raise TypeError("message is not an object")
        ts = raw.get("ts")
        if not isinstance(ts, str):
            raise ValueError("message without a ts")
        when = _ts_to_datetime(ts)
        subtype = str(raw.get("subtype") or "")
        user_id = raw.get("user") or raw.get("bot_id")
        if subtype == "channel_join" and isinstance(raw.get("user"), str):
            # History: it still grants a private channel's access, but welcomes no one.
            yield MemberJoined(self.user(raw["user"]), when, channel, source=EventSource.IMPORT)
            return
        if (
            subtype in ("channel_leave", "group_leave")
            and channel.visibility is not Visibility.PUBLIC
            and isinstance(raw.get("user"), str)
        ):
            # Their posts and join gave them access; leaving takes it back, as the live adapter's
            # member_left_channel does (public channels keep no list). Still not chat: a skip.
            yield MemberLeftChannel(self.user(raw["user"]), when, channel)
            self.summary.skipped += 1
            return
        if subtype == "tombstone":
            # A thread root deleted after it got replies (Slack keeps "This message was deleted." in
            # its place): a delete, as the live adapter reads it. Its text stored by an earlier
            # import, or by an older export imported later, must not stay or come back. When it
            # was deleted the export does not say; its own time is the earliest it can have been.
            yield MessageDeleted(channel, slack_message_id(channel.channel_id, ts), when)
            self.summary.skipped += 1  # not chat: counted as the other system messages are
            return
        if subtype in SYSTEM_SUBTYPES or raw.get("type", "message") != "message":
            self.summary.skipped += 1
            return
        if not isinstance(user_id, str):
            raise ValueError("message without a user or bot_id")
        is_bot = subtype == "bot_message" or ("bot_id" in raw and "user" not in raw)
        author = self.user(user_id, is_bot=is_bot, name=str(raw.get("username") or ""))
        if not isinstance(raw.get("text") or "", str):
            raise TypeError("text is not a string")
        # The words as the live adapter reads them (bot.slack_text): entities undone, and blocks or
        # attachments when ``text`` is empty, so history and live traffic store the same text.
        dropped: list[str] = []
        text = message_text(raw, dropped)
        mentions = mentioned_users(text)
        files = raw.get("files")
        if isinstance(files, list):
            names = [str(f.get("name") or f.get("title") or "file") for f in files if isinstance(f, dict)]
            if names:
                text = (text + "\n" if text else "") + " ".join(f"[file: {n}]" for n in names)
        thread_ts = raw.get("thread_ts") if isinstance(raw.get("thread_ts"), str) else None
        # Slack's ts is unique only per channel: ids carry the channel too (bot.message_ids).
        message_id = slack_message_id(channel.channel_id, ts)
        thread_id = slack_message_id_or_none(channel.channel_id, thread_ts)
        edited_at: datetime | None = None
        edited = raw.get("edited")
        if isinstance(edited, dict) and isinstance(edited.get("ts"), str):
            try:
                edited_at = _ts_to_datetime(edited["ts"])
            except ValueError as exc:
                # The post itself is fine and is imported: only its edit time is dropped (not a skip).
                self.summary.note(f"{where}: edit ignored ({exc})")
        reactions: list[tuple[str, list[str]]] = []
        raw_reactions = raw.get("reactions") or []
        if not isinstance(raw_reactions, list):
            dropped.append("reactions ignored (not a list)")
            raw_reactions = []
        for reaction in raw_reactions:
            if not isinstance(reaction, dict) or not isinstance(reaction.get("name"), str):
                continue
            users = reaction.get("users")
            if not isinstance(users, list):
                # A string would be read letter by letter ("U2" -> members U and 2).
                self.summary.note(f"{where}: reaction {reaction['name']!r} ignored (users is not a list)")
                continue
            reactions.append((reaction["name"], [u for u in users if isinstance(u, str)]))
        # Validated: from here on nothing raises, so the notes and the copy record are this message's.
        for part in dropped:
            self.summary.note(f"{where}: {part}")
        pairs = frozenset((emoji, reactor) for emoji, reactors in reactions for reactor in reactors)
        copies = self._copies.setdefault(channel.channel_id, {})
        prior = copies.get(ts)
        if prior is not None:
            yield from self._repeat(channel, ts, when, prior, pairs, edited_at, text, author, thread_id, where)
            return
        copies[ts] = (edited_at, pairs) if edited_at is not None or pairs else _PLAIN
        yield MessagePosted(
            channel=channel,
            author=author,
            message_id=message_id,
            text=text,
            ts=when,
            thread_id=thread_id,
            # As live: a thread reply answers its root (adapters.slack.normalize.normalize_message).
            reply_to=slack_message_id(channel.channel_id, thread_ts) if thread_ts and thread_ts != ts else None,
            mentioned_user_ids=mentions,
            subtype=subtype,
            permalink=slack_permalink(self.team_domain or self.workspace_id.lower(), channel.channel_id, ts, thread_ts),
            source=EventSource.IMPORT,
        )
        self.summary.messages += 1
        if thread_ts == ts:
            self.summary.threads += 1
        if edited_at is not None:
            yield MessageEdited(channel, message_id, text, edited_at, author, thread_id)
        for emoji, reactors in reactions:
            for reactor in reactors:
                yield ReactionAdded(channel, message_id, self.user(reactor), emoji, when, user_id, EventSource.IMPORT)
                self.summary.reactions += 1

    def _repeat(
        self,
        channel: ChannelRef,
        ts: str,
        when: datetime,
        prior: _Copy,
        pairs: frozenset[tuple[str, str]],
        edited_at: datetime | None,
        text: str,
        author: UserRef,
        thread_id: str | None,
        where: str,
    ) -> Iterator[Event]:
        """What a second copy of the message ``ts`` adds to the first: its edit when later than every
        one imported, and reactions not imported yet. Its post is not published again (the bus would
        drop it as a duplicate, and an older copy must not bring back replaced text)."""
        last_edit, known = prior
        newer = edited_at if edited_at is not None and (last_edit is None or edited_at > last_edit) else None
        fresh = sorted(pairs - known)
        self._copies[channel.channel_id][ts] = (newer or last_edit, known | pairs)
        added = [part for part, new in (("its later edit", newer), (f"{len(fresh)} new reaction(s)", fresh)) if new]
        self.summary.warn(
            f"{where}: skipped (ts {ts[:40]!r} appears earlier in the channel; "
            f"{' and '.join(added) + ' imported' if added else 'nothing new in it'})"
        )
        message_id = slack_message_id(channel.channel_id, ts)
        if newer is not None:
            yield MessageEdited(channel, message_id, text, newer, author, thread_id)
        for emoji, reactor in fresh:
            yield ReactionAdded(
                channel, message_id, self.user(reactor), emoji, when, author.user_id, EventSource.IMPORT
            )
            self.summary.reactions += 1


async def import_slack_export(
    path: str | Path,
    bus: EventBus,
    *,
    workspace_id: str | None = None,
    team_domain: str | None = None,
    progress: bool | None = None,
) -> ImportSummary:
    """Publish a Slack export's history on ``bus`` (as ``EventSource.IMPORT`` events).

    Args:
        path: the export folder or zip.
        bus: where the events go (the recorder and brains subscribe there).
        workspace_id: the team id (``T…``), required when the export does not reveal it (default:
            ``team_id`` of ``users.json``; without either the import refuses to start).
        team_domain: the workspace's slack.com subdomain for permalinks (default: the workspace id,
            lowercased, since exports do not record the domain).
        progress: show a progress bar (default: when stderr is a terminal).
    """
    started = time.perf_counter()
    try:
        team_domain = normalize_team_domain(team_domain) if team_domain else None
        source = ExportSource(Path(path))
    except (ExportReadError, ValueError) as exc:
        summary = ImportSummary(source=str(path))
        summary.errors.append(str(exc))
        return summary
    importer = SlackExportImporter(source, workspace_id=workspace_id, team_domain=team_domain)
    try:
        importer.load_users()
        try:
            conversations = importer.conversations()
        except ExportReadError as exc:
            importer.summary.errors.append(str(exc))
            return importer.summary
        names = source.names()
        importer.warn_unlisted(conversations, names)
        plan = [(conv, importer.day_files(conv, names)) for conv in conversations]
        total = sum(len(files) for _, files in plan)
        with Progress(total, "slack export", enabled=progress) as bar:
            for conv, files in plan:
                await bus.publish(ChannelSeen(conv.ref, member_ids=conv.members, source=EventSource.IMPORT))
                for name in files:
                    try:
                        events = importer.events_of_day(conv, name)
                    except ExportReadError as exc:
                        importer.summary.errors.append(str(exc))
                        bar.advance(1)
                        continue
                    events.sort(
                        key=lambda e: (
                            getattr(e, "ts", None)
                            or getattr(e, "edited_at", None)
                            or getattr(e, "deleted_at", None)
                            or datetime.min.replace(tzinfo=UTC)
                        )
                    )
                    await bus.publish_many(events)
                    # Let the loop serve the store's writer (its results come back through the loop)
                    # between files; otherwise it idles until the bus queue is full.
                    await asyncio.sleep(0)
                    importer.summary.files += 1
                    bar.advance(1, PurePosixPath(name).parent.name)
    finally:
        source.close()
    if not team_domain and importer.summary.messages:
        # Exports do not record the workspace's address; a guessed one makes every citation a dead link.
        importer.summary.hints.append(
            f"message links point at https://{importer.workspace_id.lower()}.slack.com/…, which opens only if "
            "that is the workspace's address; import again with --team-domain <subdomain> "
            "(acme for acme.slack.com) to fix them"
        )
    importer.summary.seconds = time.perf_counter() - started
    return importer.summary

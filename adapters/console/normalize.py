"""Pure functions: a typed console line -> a normalized event (or a console control).

The console is a local community: workspace ``local``, the public channels ``#general``,
``#help``, ``#python`` and ``#announcements``, and the private ``#mods``. Member and channel ids
are the lower-cased names, so ``/as Maya`` and the demo history's ``maya`` are the same member.

A line starting with ``/`` is either a console control (``/as``, ``/join``, ``/dm``, ``/thread``,
``/press``, ``/buttons``, ``/show``, ``/react``, ``/edit``, ``/delete``, ``/channels``, ``/quit``) or a
slash command that
goes through the same :class:`~bot.events.CommandInvoked` path as Discord and Slack; any other
non-empty line is a message.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.events import ChannelRef, CommandInvoked, MessagePosted, Platform, UserRef, Visibility

CONSOLE = Platform.CONSOLE
WORKSPACE_ID = "local"
DEFAULT_MEMBER = "you"
DEFAULT_CHANNEL = "general"
# Slack's own limit for a message; longer lines are cut so one paste cannot bloat the store.
MAX_MESSAGE_CHARS = 40_000
MAX_NAME_CHARS = 32

PUBLIC_CHANNELS = ("general", "help", "python", "announcements")
PRIVATE_CHANNELS = ("mods",)
# Console controls are handled by the REPL itself, never sent to the command router.
CONTROLS = frozenset(
    {"as", "join", "dm", "thread", "press", "buttons", "show", "react", "edit", "delete", "channels", "quit", "exit"}
)
# Command groups whose second word is part of the command name (``/guildhall config set x y``).
COMMAND_GROUPS = frozenset({"guildhall"})
# Slack reserves /help, so the manifest names it /guildhall-help; the console accepts both.
COMMAND_ALIASES = {"guildhall-help": "help"}

# C0/C1 control characters (but tab) are dropped: NUL breaks PostgreSQL text columns and escape
# sequences in a stored message must never reach another member's terminal.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embedding/override/isolate controls are kept in what is stored (they are part of what the
# member wrote) but not printed: on a terminal they reorder the rest of the line ("Trojan Source").
_BIDI_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# What a terminal sends for arrow, Home/End, Insert/Delete, Page and function keys (with or without
# modifiers): the console has no line editor, so pressing Up then Enter used to post "[A". Only
# key sequences go; other escape sequences in pasted text lose just their ESC, like any control.
_KEY_SEQUENCES = re.compile(r"\x1b(?:\[[0-9;]*[A-DFHZ~]|O[A-DFHP-S])")
_MENTION = re.compile(r"(?<![\w@])@([\w][\w.\-]*)", re.UNICODE)
_NAME = re.compile(r"^[\w][\w.\-]*$", re.UNICODE)
_OPTION = re.compile(r"^([A-Za-z_][\w\-]*)=(.*)$", re.DOTALL)
_MESSAGE_ID = re.compile(r"^[\w.\-:]{1,128}$")
# A console message's permalink (:func:`permalink`): what citations and links name.
_PERMALINK = re.compile(r"console://" + WORKSPACE_ID + r"/[\w.\-]+/([\w.\-:]{1,128})")
_EMOJI = re.compile(r"^\S{1,64}$")


class ConsoleInputError(ValueError):
    """A control line the console cannot act on; ``str()`` is shown to the operator."""


@dataclass(frozen=True, slots=True)
class Control:
    """A console control line: ``name`` without the slash, its first argument and the rest."""

    name: str
    arg: str = ""
    rest: str = ""


def console_channel(channel_id: str) -> ChannelRef:
    """The ref of a console channel; ``#mods`` is private, the others public.

    Raises:
        ConsoleInputError: for a channel the console does not have.
    """
    cid = channel_id.strip().lstrip("#").casefold()
    if cid in PUBLIC_CHANNELS:
        return ChannelRef(CONSOLE, WORKSPACE_ID, cid, cid, Visibility.PUBLIC)
    if cid in PRIVATE_CHANNELS:
        # The local operator moderates; demo moderators are added by the demo's ChannelSeen.
        return ChannelRef(CONSOLE, WORKSPACE_ID, cid, cid, Visibility.PRIVATE, allowed_user_ids=(DEFAULT_MEMBER,))
    known = ", ".join(f"#{c}" for c in (*PUBLIC_CHANNELS, *PRIVATE_CHANNELS))
    raise ConsoleInputError(f"no channel {channel_id.strip()!r}; channels: {known}")


def _is_console_channel(name: str) -> bool:
    """Whether ``name`` (``#`` optional) is one of the console's channels."""
    return name.strip().lstrip("#").casefold() in (*PUBLIC_CHANNELS, *PRIVATE_CHANNELS)


def dm_channel(user: UserRef) -> ChannelRef:
    """A member's direct-message conversation with the bot (only that member can read it)."""
    return ChannelRef(
        CONSOLE, WORKSPACE_ID, f"dm-{user.user_id}", "DM", Visibility.DM, allowed_user_ids=(user.user_id,)
    )


def all_channels() -> list[ChannelRef]:
    """Every console channel, public ones first."""
    return [console_channel(c) for c in (*PUBLIC_CHANNELS, *PRIVATE_CHANNELS)]


def member(name: str, *, is_bot: bool = False) -> UserRef:
    """The ref of a console member; the id is the case-folded name."""
    return UserRef(CONSOLE, WORKSPACE_ID, name.casefold(), name, is_bot)


def parse_member_name(raw: str, *, bot_name: str = "guildhall") -> str:
    """Validate a name given to ``/as``.

    Raises:
        ConsoleInputError: when empty, too long, made of odd characters or the bot's own name.
    """
    name = clean_text(raw).strip().lstrip("@")
    if not name:
        raise ConsoleInputError("usage: /as NAME")
    if len(name) > MAX_NAME_CHARS or not _NAME.match(name):
        raise ConsoleInputError(f"a member name is 1-{MAX_NAME_CHARS} letters, digits, '.', '-' or '_'")
    if name.casefold() == bot_name.casefold():
        raise ConsoleInputError(f"{name} is the bot; pick another name")
    return name


def parse_thread_id(raw: str) -> str | None:
    """The thread id of ``/thread ID``; None for ``/thread`` / ``/thread off`` (leave the thread).

    Raises:
        ConsoleInputError: when the id has characters message ids never have.
    """
    value = raw.strip()
    if value.lower() in {"", "off", "none", "-"}:
        return None
    if not _MESSAGE_ID.match(value):
        raise ConsoleInputError("usage: /thread MESSAGE_ID (the id printed after a message), or /thread off")
    return value


def parse_message_id(raw: str, usage: str) -> str:
    """A message id argument (``/react ID``, ``/edit ID``, ``/delete ID``).

    Raises:
        ConsoleInputError: with ``usage`` when the id is missing or malformed.
    """
    value = raw.strip()
    if not _MESSAGE_ID.match(value):
        raise ConsoleInputError(f"usage: {usage}")
    return value


def parse_show_target(raw: str) -> str:
    """The message id ``/show`` names: an id, or a console link (``console://local/help/demo-0007``).

    Raises:
        ConsoleInputError: when the argument is neither.
    """
    value = raw.strip().strip("<>()")
    link = _PERMALINK.fullmatch(value)
    if link is not None:
        return link.group(1)
    if not _MESSAGE_ID.match(value):
        raise ConsoleInputError("usage: /show MESSAGE_ID (the id after a post, or a console:// link in an answer)")
    return value


def show_links(text: str) -> str:
    """``text`` with every console link followed by the ``/show ID`` command that prints it: a
    terminal cannot open ``console://`` addresses."""
    return _PERMALINK.sub(lambda m: f"{m.group(0)} (/show {m.group(1)})", text)


def parse_emoji(raw: str) -> str:
    """An emoji name (``:eyes:`` -> ``eyes``) or a unicode emoji, as platforms report reactions.

    Raises:
        ConsoleInputError: when empty or made of several words.
    """
    value = clean_text(raw).strip()
    name = value.strip(":") or value
    if not _EMOJI.match(name):
        raise ConsoleInputError("usage: /react MESSAGE_ID EMOJI (a name like white_check_mark or an emoji)")
    return name


def clean_text(raw: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Make typed text safe to store and print.

    Strips the line ending, replaces lone surrogates (undecodable bytes) with U+FFFD, drops control
    characters and cuts the text to ``limit`` characters.
    """
    return _clean(raw)[:limit]


def clean_line(raw: str, *, limit: int = MAX_MESSAGE_CHARS) -> tuple[str, bool]:
    """:func:`clean_text` of a typed line, and whether it was cut (the console says so: a pasted
    100,000-character message was stored as its first 40,000 without a word)."""
    text = _clean(raw)
    return text[:limit], len(text) > limit


def strip_key_sequences(raw: str) -> tuple[str, bool]:
    """``raw`` without the escape sequences of editing keys (arrows, Home/End, Page, F1-F12), and
    whether it had any: without a line editor the terminal passes them through as typed text."""
    text, count = _KEY_SEQUENCES.subn("", raw)
    return text, count > 0


def cut_notice(limit: int = MAX_MESSAGE_CHARS) -> str:
    """The line the console prints when :func:`clean_line` cut what was typed."""
    return f"! message cut to {limit:,} characters (the rest was dropped)"


def _clean(raw: str) -> str:
    return _CONTROL_CHARS.sub("", _SURROGATES.sub("\ufffd", raw.rstrip("\r\n")))


def printable(text: str) -> str:
    """``text`` safe to print: no lone surrogates (-> U+FFFD), control characters other than
    tab/newline, or bidi controls."""
    return _BIDI_CONTROLS.sub("", _CONTROL_CHARS.sub("", _SURROGATES.sub("\ufffd", text)))


def is_command_line(line: str) -> bool:
    """True for ``/word ...`` lines (a lone ``/`` or a path-like ``//x`` is a message)."""
    stripped = line.lstrip()
    return len(stripped) > 1 and stripped[0] == "/" and not stripped[1].isspace() and stripped[1] != "/"


def parse_control(line: str) -> Control | None:
    """The console control on ``line``, or None when the line is not one."""
    if not is_command_line(line):
        return None
    body = line.lstrip()[1:]
    words = body.split(maxsplit=2)
    name = words[0].casefold()
    if name not in CONTROLS:
        return None
    if name == "exit":
        name = "quit"
    arg = words[1] if len(words) > 1 else ""
    rest = words[2] if len(words) > 2 else ""
    return Control(name, arg, rest)


def split_command(body: str, known: Iterable[str] = ()) -> tuple[str, str]:
    """Split a command line (without the slash) into the command name and its argument text.

    The longest registered name that prefixes the words wins (``guildhall config set x y`` ->
    ``("guildhall config", "set x y")``); otherwise a command group takes its sub-command word and
    any other command its first word, and the router answers unknown names.
    """
    words = body.split()
    if not words:
        return "", ""
    lowered = [w.casefold() for w in words]
    names = {" ".join(n.casefold().split()) for n in known}
    # Only as many words as the longest name has: trying every prefix of the line joined ever longer
    # strings, and a pasted 40,000-character argument took seconds with the event loop blocked.
    longest = max((len(n.split()) for n in names), default=0)
    take = 0
    for n in range(min(len(words), longest), 0, -1):
        if " ".join(lowered[:n]) in names:
            take = n
            break
    if take == 0:
        if lowered[0] in COMMAND_ALIASES:
            return COMMAND_ALIASES[lowered[0]], body.strip().split(maxsplit=1)[1] if len(words) > 1 else ""
        if lowered[0] in COMMAND_GROUPS and len(words) == 1:
            return "help", ""  # a bare group lists the commands, as on Slack
        take = 2 if lowered[0] in COMMAND_GROUPS else 1
    name = " ".join(lowered[:take])
    # maxsplit keeps the argument text's own spacing (code snippets, quoted values).
    parts = body.strip().split(maxsplit=take)
    return name, parts[take].strip() if len(parts) > take else ""


def parse_options(text: str) -> tuple[tuple[str, str], ...]:
    """``key=value`` arguments (quotes allowed: ``q="a b"``), plus the first ``#channel`` and ``@member``.

    Explicit ``channel=`` / ``user=`` options win over the ``#`` / ``@`` shorthands. A channel option
    is what a platform's channel picker would give, so it only ever names a console channel: a
    ``#name`` the console does not have stays plain text (the command judges it, as a typed name
    on Slack), and an explicit ``channel=`` naming one is refused.

    Raises:
        ConsoleInputError: for ``channel=`` naming a channel the console does not have.
    """
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError:  # an unbalanced quote: fall back to plain words rather than failing
        tokens = text.split()
    options: list[tuple[str, str]] = []
    channel = user = ""
    for token in tokens:
        match = _OPTION.match(token)
        if match:
            options.append((match.group(1).casefold(), match.group(2)))
        elif token.startswith("#") and len(token) > 1 and not channel and _is_console_channel(token):
            channel = token[1:].casefold()
        elif token.startswith("@") and len(token) > 1 and not user:
            user = token[1:].casefold()
    keys = {k for k, _ in options}
    for key, value in options:
        if key == "channel":
            console_channel(value)  # raises for a channel the console does not have
    if channel and "channel" not in keys:
        options.append(("channel", channel))
    if user and "user" not in keys:
        options.append(("user", user))
    return tuple(options)


def mentions(text: str, bot_name: str = "guildhall") -> tuple[bool, tuple[str, ...]]:
    """``(mentions_bot, mentioned member ids)`` of ``@name`` words in ``text``."""
    bot = bot_name.casefold()
    found: list[str] = []
    hit_bot = False
    for raw in _MENTION.findall(text):
        name = raw.rstrip(".-").casefold()
        if name == bot:
            hit_bot = True
        elif name and name not in found:
            found.append(name)
    return hit_bot, tuple(found)


def bot_mention(bot_name: str = "guildhall") -> str:
    """How the console writes a mention of the bot in a message's text: as platforms do (Slack's
    ``<@U0BOT>``), apart from the words, so brains that drop mentions from a question
    (:func:`brain.qa.mentions.strip_mentions`) drop it, and a bare mention asks nothing."""
    user_id = re.sub(r"[^A-Za-z0-9]", "", bot_name.casefold()) or "bot"
    return f"<@{user_id}>" if user_id == bot_name.casefold() else f"<@{user_id}|{bot_name}>"


def _mark_bot_mentions(text: str, bot_name: str) -> str:
    bot = bot_name.casefold()
    written = bot_mention(bot_name)

    def mark(m: re.Match[str]) -> str:
        name = m.group(1)
        trail = name[len(name.rstrip(".-")) :]
        return written + trail if name.rstrip(".-").casefold() == bot else m.group(0)

    return _MENTION.sub(mark, text)


def permalink(channel_id: str, message_id: str) -> str:
    """A stable address for a console message, used as citation URL."""
    return f"console://{WORKSPACE_ID}/{channel_id}/{message_id}"


def message_from_line(
    line: str,
    *,
    author: UserRef,
    channel: ChannelRef,
    message_id: str,
    ts: datetime,
    thread_id: str | None = None,
    bot_name: str = "guildhall",
) -> MessagePosted | None:
    """A typed line -> :class:`MessagePosted`; None for a blank line.

    ``@guildhall`` (the bot's name) is written as the bot's mention (:func:`bot_mention`), as a
    platform sends it: the brains see the question without it.
    """
    text = clean_text(line)
    if not text.strip():
        return None
    hit_bot, mentioned = mentions(text, bot_name)
    if hit_bot:
        text = _mark_bot_mentions(text, bot_name)[:MAX_MESSAGE_CHARS]
    return MessagePosted(
        channel=channel,
        author=author,
        message_id=message_id,
        text=text,
        ts=ts,
        thread_id=thread_id,
        mentions_bot=hit_bot,
        mentioned_user_ids=mentioned,
        permalink=permalink(channel.channel_id, message_id),
    )


def command_from_line(
    line: str,
    *,
    user: UserRef,
    channel: ChannelRef,
    interaction_id: str,
    ts: datetime,
    known_commands: Iterable[str] = (),
    is_admin: bool = False,
    thread_id: str | None = None,
) -> CommandInvoked | None:
    """A ``/command args`` line -> :class:`CommandInvoked`; None when it is not a command line.

    ``is_admin`` is the console's fact for :mod:`bot.permissions` (the local operator is admin).
    """
    text = clean_text(line).strip()
    if not is_command_line(text):
        return None
    name, args = split_command(text[1:], known_commands)
    if not name:
        return None
    return CommandInvoked(
        name=name,
        user=user,
        channel=channel,
        interaction_id=interaction_id,
        ts=ts,
        text=args,
        options=parse_options(args),
        is_platform_admin=is_admin,
        thread_id=thread_id,
    )

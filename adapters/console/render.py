"""Pure functions: an outbound action -> the text the console prints.

Plain text only, so a transcript reads the same in a terminal and through a pipe. Every line is
passed through :func:`~adapters.console.normalize.printable`: a stored message can never smuggle a
terminal escape sequence to the operator's screen. The bots write Markdown for Discord and Slack;
:func:`terminal_markdown` turns it into plain text a terminal reader can read (no ANSI styling:
``printable`` would strip it anyway, and a transcript must not depend on whether it was a tty).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adapters.console.normalize import printable, show_links
from bot.events import (
    Action,
    AddReaction,
    Attachment,
    Button,
    ChannelRef,
    Citation,
    CommandReply,
    Event,
    MessagePosted,
    SendDirectMessage,
    SendEphemeral,
    SendMessage,
    UserRef,
    Visibility,
    citations_heading,
)

INDENT = "  "
CODE_INDENT = "    "
_UNSAFE_FILENAME = re.compile(r"[^\w.\-]+", re.UNICODE)
# A mention never holds a "<" (platforms escape it as &lt;): stopping there keeps matching linear.
# Scanning on to the end of the text from every "<@" made a pasted line of "<@<@<@..." cost the
# square of its length (25 s to echo 40,000 characters, the event loop blocked meanwhile).
_CHANNEL_MENTION = re.compile(r"<#([^|<>\s]+)(?:\|([^<>]*))?>")
# A member's (or the bot's) mention as platforms write it, Slack's <@U1|name> or <@U1>; the console
# writes "@guildhall" typed in a message so (normalize.bot_mention).
_USER_MENTION = re.compile(r"<@[!&]?([^|<>\s]+)(?:\|([^<>]*))?>")
MAX_FILENAME_CHARS = 120


def attachment_filename(name: str, fallback: str = "attachment") -> str:
    """A safe file name for an attachment: no folders, no dot-files, no odd characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_FILENAME.sub("_", printable(base)).strip("._")
    return base[-MAX_FILENAME_CHARS:] or fallback


def channel_label(channel: ChannelRef, thread_id: str | None = None) -> str:
    """``#general``, ``#general › thread 12``, or ``DM``."""
    label = "DM" if channel.visibility is Visibility.DM else f"#{channel.name or channel.channel_id}"
    return f"{label} › thread {thread_id}" if thread_id else label


def shown_mentions(text: str) -> str:
    """``text`` with platform-style member mentions (``<@guildhall>``) written as typed (``@guildhall``)."""
    return _USER_MENTION.sub(lambda m: f"@{m.group(2) or m.group(1)}", text)


def member_label(user: UserRef) -> str:
    """A member's display name (falls back to the id)."""
    return user.name or user.user_id


def render_action(
    action: Action,
    *,
    bot_name: str = "guildhall",
    saved: Sequence[Path] = (),
    first_button: int = 1,
) -> str:
    """The text for one action.

    Args:
        action: The action a brain sent.
        bot_name: Who speaks.
        saved: Where the action's attachments were written, in order (the adapter does the I/O).
        first_button: The number of the action's first button for ``/press N``.
    """
    if isinstance(action, SendMessage):
        header = f"[{channel_label(action.channel, action.thread_id)}] {bot_name}:"
    elif isinstance(action, CommandReply):
        cmd = action.command
        who = f" (only visible to {member_label(cmd.user)})" if action.ephemeral else ""
        header = f"[{channel_label(cmd.channel, cmd.thread_id)}] {bot_name} → /{cmd.name}{who}:"
    elif isinstance(action, SendEphemeral):
        header = f"[{channel_label(action.channel)}] {bot_name} (only visible to {member_label(action.user)}):"
    elif isinstance(action, SendDirectMessage):
        header = f"[DM → {member_label(action.user)}] {bot_name}:"
    elif isinstance(action, AddReaction):
        return printable(
            f"[{channel_label(action.channel)}] {bot_name} reacted :{action.emoji}: to {action.message_id}"
        )
    else:
        return printable(f"[{bot_name}] {type(action).__name__}")
    extras = _extras(action)
    return _compose(header, extras[0], extras[1], extras[2], saved, first_button)


def render_posted(event: MessagePosted, *, echo: bool) -> str:
    """The receipt for a message the operator typed: the whole line (``echo``) or just its id.

    A transcript through a pipe echoes (nobody saw the input); a terminal shows only the id that
    ``/thread ID`` needs.
    """
    where = channel_label(event.channel, event.thread_id)
    if echo:
        text = _indent_rest(shown_mentions(event.text))
        return printable(f"[{where}] {member_label(event.author)}: {text}  (id {event.message_id})")
    return f"{INDENT}↳ posted in {where} as {member_label(event.author)} (id {event.message_id})"


@dataclass(frozen=True, slots=True)
class ShownMessage:
    """A stored message as ``/show`` prints it."""

    message_id: str
    author: str
    when: datetime
    text: str


def render_stored(where: str, messages: Sequence[ShownMessage], *, asked: str, more: int = 0) -> str:
    """What ``/show`` prints: the messages of a thread (or one message) under where they are.

    Args:
        where: The channel (and thread) label, ``#help › thread demo-0150``.
        messages: Oldest first.
        asked: The id ``/show`` was given; its message is marked.
        more: Later messages left out.
    """
    count = f"{len(messages) + more} messages" if len(messages) + more != 1 else "1 message"
    lines = [f"[{where}] {count}:"]
    for m in messages:
        mark = " ◀" if m.message_id == asked and len(messages) > 1 else ""
        body = show_links(terminal_markdown(m.text)).replace("\n", "\n" + INDENT * 2)
        lines.append(f"{INDENT}{m.author}, {m.when:%Y-%m-%d %H:%M} (id {m.message_id}){mark}: {body}")
    if more:
        lines.append(f"{INDENT}… and {more} more")
    return printable("\n".join(lines))


def _extras(action: Event) -> tuple[str, tuple[Citation, ...], tuple[Button, ...]]:
    text = getattr(action, "text", "")
    citations: tuple[Citation, ...] = getattr(action, "citations", ())
    buttons: tuple[Button, ...] = getattr(action, "buttons", ())
    return text, citations, buttons


def _compose(
    header: str,
    text: str,
    citations: Sequence[Citation],
    buttons: Sequence[Button],
    saved: Sequence[Path],
    first_button: int,
) -> str:
    # A console link is a dead end on a terminal: it reads as the /show command that prints it.
    body = _indent_rest(show_links(terminal_markdown(text)))
    # A reply that opens with a code block (a table) starts under the header, so its columns line up.
    lines = [f"{header}\n{INDENT}{body}" if body.startswith(CODE_INDENT) else f"{header} {body}".rstrip()]
    if citations:
        if heading := citations_heading(citations):
            lines.append(f"{INDENT}{heading}:")
        for c in citations:
            title = " ".join(c.title.split()) or "source"
            url = show_links(c.url)
            lines.append(f"{INDENT}[{c.number}] {title} — {url}" if url else f"{INDENT}[{c.number}] {title}")
            if c.note:
                lines.append(f"{INDENT}    {' '.join(c.note.split())}")
    for path in saved:
        lines.append(f"{INDENT}📎 {path.name} saved to {path}")
    if buttons:
        labels = "  ".join(f"[{first_button + i}] {b.label}" for i, b in enumerate(buttons))
        lines.append(f"{INDENT}Buttons: {labels}  (type /press N)")
    return printable("\n".join(lines))


def _indent_rest(text: str) -> str:
    return text.replace("\n", "\n" + INDENT)


# -- Markdown for a terminal ---------------------------------------------------------------------
# A small, line-based subset of CommonMark: what the bots actually write (emphasis, code, links,
# headings, quotes, bullets). Anything it does not recognise is printed as written.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}>[ ]?")
_BULLET = re.compile(r"^(\s*)[*+](?=[ \t])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])[ \t]")
# Text kept as written, found left to right: a backslash escape, a code span (a whole run of N
# backticks, never part of one, to the next run of exactly N: retrying shorter counts inside a run
# made a line of backtick runs cost the cube of its length), a link or image, an autolink, a bare URL (without trailing
# punctuation or emphasis markers, so "**https://x**" still loses its stars).
_KEEP = re.compile(
    r"\\(?P<escaped>[`*_\[\]#>~|<])"
    r"|(?<!`)(?P<ticks>`++)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)"
    r"|!?\[(?P<label>[^\]]*)\]\((?P<target>(?:[^()\s]|\([^()\s]*\))+)(?:[ \t]+\"[^\"]*\")?\)"
    r"|<(?P<autolink>(?:https?|mailto|ftp):[^\s<>]+)>"
    r"|(?P<url>https?://[^\s<>]*[^\s<>*_.,;:!?)\]'\"])"
)
# Emphasis markers only count at word boundaries, as CommonMark has it for "_": "snake_case",
# "2*3*4" and a lone "**kwargs" are not emphasis. Longest markers first.
_EMPHASIS = [
    re.compile(rf"(?<![\w{m}]){re.escape(m * n)}(?![\s{m}])(.+?)(?<![\s{m}]){re.escape(m * n)}(?![\w{m}])")
    for n in (3, 2, 1)
    for m in ("*", "_")
]


def terminal_markdown(text: str) -> str:
    """``text`` (Markdown as the bots write it) as plain text for a terminal.

    Emphasis markers are dropped; fenced code blocks become blocks indented by four spaces (the
    fences and their language tag dropped); inline code keeps its backticks, which show where a
    command starts and ends when nothing else can; ``[text](url)`` reads ``text (url)`` (just the
    URL when the text is the URL); headings become plain lines; quotes get a ``│`` bar; ``*`` and
    ``+`` bullets become ``-``; Slack/Discord channel mentions (``<#id|name>``) read ``#name`` and
    member mentions (``<@id|name>``, ``<@id>``) ``@name``.
    Code (fenced, indented or inline) is never changed.
    """
    out: list[str] = []
    fence = ""  # the open fence's marker ("```", "~~~~"), empty outside a code block
    indented_code = False
    previous_blank = True
    for line in text.split("\n"):
        if fence:
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                fence = ""
            else:
                out.append(CODE_INDENT + line if line.strip() else "")
            continue
        opened = _FENCE.match(line)
        if opened and not (opened.group(1)[0] == "`" and "`" in opened.group(2)):
            fence, indented_code = opened.group(1), False
            continue
        # An indented block after a blank line is code (it cannot interrupt a paragraph).
        indented = line.startswith(("    ", "\t")) and not _LIST_ITEM.match(line)
        indented_code = bool(line.strip()) and indented and (indented_code or previous_blank)
        previous_blank = not line.strip()
        if indented_code:
            out.append(line)
            continue
        out.append(_prose_line(line))
    return "\n".join(out)


# Longer lines are printed as written: the emphasis, link and heading patterns scan to the end of the
# line from each opening marker, so their cost grows with the square of its length (seconds for a
# 40,000-character line); no line the bots write for reading is this long.
MAX_MARKDOWN_LINE = 2_000


def _prose_line(line: str) -> str:
    if len(line) > MAX_MARKDOWN_LINE:
        return line
    quotes = 0
    while match := _QUOTE.match(line):
        quotes, line = quotes + 1, line[match.end() :]
    if heading := _HEADING.match(line):
        line = heading.group(1) or ""
    line = _BULLET.sub(r"\1-", line)
    return "│ " * quotes + _inline(line)


def _inline(text: str) -> str:
    # What must stay as written is swapped for placeholders built on a character the line does not
    # contain, emphasis is dropped around them, then they are put back.
    mark = next((chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text), None)
    if mark is None:
        return text  # a line holding every private-use character: printed as written
    kept: list[str] = []

    def keep(value: str) -> str:
        kept.append(value)
        return f"{mark}{len(kept) - 1}{mark}"

    def restore(value: str) -> str:
        return re.sub(f"{mark}(\\d+){mark}", lambda m: kept[int(m.group(1))], value)

    def protect(m: re.Match[str]) -> str:
        if m.group("escaped") is not None:
            return keep(m.group("escaped"))
        if m.group("code") is not None:
            return keep(m.group(0))
        if m.group("target") is not None:
            label, target = _inline(m.group("label")), m.group("target")
            if label in (target, target.split("://", 1)[-1].removeprefix("mailto:").rstrip("/"), ""):
                return keep(target)
            return f"{keep(label)} ({keep(target)})"  # the label is done: no second pass over its code
        return keep(m.group("autolink") or m.group("url"))

    text = _KEEP.sub(protect, text)
    # Replies address channels as platforms do (<#id>); in the console a channel's id is its name.
    text = _CHANNEL_MENTION.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = shown_mentions(text)
    for emphasis in _EMPHASIS:
        text = emphasis.sub(r"\1", text)
    return restore(text)


def describe_attachments(attachments: Sequence[Attachment]) -> str:
    """A one-line summary of attachments that could not be saved."""
    return ", ".join(f"{a.filename} ({a.content_type}, {len(a.data)} bytes)" for a in attachments)

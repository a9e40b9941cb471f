"""Pure functions: an outbound action -> the text the console prints.

Plain text only, so a transcript reads the same in a terminal and through a pipe. Every line is
passed through :func:`~adapters.console.normalize.printable`: a stored message can never smuggle a
terminal escape sequence to the operator's screen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from adapters.console.normalize import printable
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
_UNSAFE_FILENAME = re.compile(r"[^\w.\-]+", re.UNICODE)
_CHANNEL_MENTION = re.compile(r"<#([^|>\s]+)(?:\|([^>]*))?>")
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
        return printable(f"[{where}] {member_label(event.author)}: {_indent_rest(event.text)}  (id {event.message_id})")
    return f"{INDENT}↳ posted in {where} as {member_label(event.author)} (id {event.message_id})"


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
    # Replies address channels as platforms do (<#id>); in the console a channel's id is its name.
    text = _CHANNEL_MENTION.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    lines = [f"{header} {_indent_rest(text)}".rstrip()]
    if citations:
        if heading := citations_heading(citations):
            lines.append(f"{INDENT}{heading}:")
        for c in citations:
            title = " ".join(c.title.split()) or "source"
            lines.append(f"{INDENT}[{c.number}] {title} — {c.url}" if c.url else f"{INDENT}[{c.number}] {title}")
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


def describe_attachments(attachments: Sequence[Attachment]) -> str:
    """A one-line summary of attachments that could not be saved."""
    return ", ".join(f"{a.filename} ({a.content_type}, {len(a.data)} bytes)" for a in attachments)

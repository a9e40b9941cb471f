"""Pure rendering of outbound actions into discord.py call arguments.

Nothing here talks to Discord: the adapter passes the results to ``Messageable.send`` /
``Webhook.send``. Keeping it pure lets the splitting and escaping rules be tested exhaustively.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import discord

from bot.events import Attachment, Button, Citation, citations_heading
from bot.markdown_split import split_message as split_message  # re-exported: the adapter's splitter
from bot.valid_text import clip as clip_text

MESSAGE_LIMIT = 2000  # split_message's default
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TOTAL_LIMIT = 6000  # all embeds of one message together (titles, descriptions, fields ...)
EMBEDS_PER_MESSAGE = 10
# @everyone/@here and role mentions (<@&id>) would ping whole communities; a zero-width space after
# the @ keeps the text readable while Discord no longer parses it as a mention.
_MASS_MENTION = re.compile(r"@(everyone|here)")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_BUTTON_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "danger": discord.ButtonStyle.danger,
    "success": discord.ButtonStyle.success,
}


def neutralize_mentions(text: str) -> str:
    """Defuse ``@everyone``, ``@here`` and role mentions in ``text``.

    Belt and braces with ``AllowedMentions.none()``: the escaped text also stays harmless when it
    is copied or quoted by someone with mention permissions.
    """
    text = _MASS_MENTION.sub("@\u200b\\1", text)
    return _ROLE_MENTION.sub("<@&\u200b\\1>", text)


def citations_embed(citations: Sequence[Citation]) -> discord.Embed | None:
    """One embed listing the numbered sources as links; ``None`` when there are none."""
    if not citations:
        return None
    lines = [_citation_line(c) for c in citations]
    return discord.Embed(title=citations_heading(citations) or None, description=_whole_lines(lines))


def _citation_line(c: Citation, clip: int | None = None) -> str:
    """One numbered line; ``clip`` bounds the title and the note (the link is never cut)."""
    # Only web links are links: a docs file indexed from disk has its path as location, which
    # would show the host's file system as an unclickable markdown link.
    web = c.url.startswith(("http://", "https://"))
    title = _clip(
        neutralize_mentions(c.title or (c.url if web else "") or f"source {c.number}").replace("]", ")"), clip
    )
    line = f"**[{c.number}]** [{title}]({c.url})" if web else f"**[{c.number}]** {title}"
    if c.note:
        line += f" — {_clip(neutralize_mentions(c.note), clip)}"
    return line


def _clip(text: str, clip: int | None) -> str:
    return text if clip is None else clip_text(text, clip)


# Ever shorter titles and notes, until every line fits in one message's embeds.
_CLIPS: tuple[int | None, ...] = (None, 120, 90, 70, 55, 40, 30, 20, 12)


def citations_embeds(citations: Sequence[Citation]) -> list[discord.Embed]:
    """The numbered sources as embeds of one message, every line whole and present.

    One embed holds 4096 characters of description, but a message holds 10 embeds and 6000
    characters in all: a 25-pick digest is split over embeds, and when the lines are longer than
    the message allows, titles and notes are shortened (links never) rather than picks dropped:
    the brain recorded every pick as shown. Only a list that cannot fit even then is cut, with
    "…and N more" (:func:`citations_embed`).
    """
    if not citations:
        return []
    heading = citations_heading(citations) or None
    budget = EMBED_TOTAL_LIMIT - len(heading or "")
    for clip in _CLIPS:
        lines = [_citation_line(c, clip) for c in citations]
        if sum(len(line) + 1 for line in lines) > budget or max(map(len, lines)) > EMBED_DESCRIPTION_LIMIT:
            continue
        groups: list[list[str]] = [[]]
        for line in lines:
            if groups[-1] and len("\n".join([*groups[-1], line])) > EMBED_DESCRIPTION_LIMIT:
                groups.append([])
            groups[-1].append(line)
        if len(groups) <= EMBEDS_PER_MESSAGE:
            return [
                discord.Embed(title=heading if i == 0 else None, description="\n".join(group))
                for i, group in enumerate(groups)
            ]
    embed = citations_embed(citations)
    return [embed] if embed is not None else []


def _whole_lines(lines: Sequence[str], limit: int = EMBED_DESCRIPTION_LIMIT) -> str:
    """As many whole lines as fit in ``limit`` characters, then "…and N more": a link cut in half
    is broken markdown, and a source number without its line is a dead end."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept = list(lines[:-1])
    while kept:
        text = "\n".join([*kept, f"…and {len(lines) - len(kept)} more"])
        if len(text) <= limit:
            return text
        kept.pop()
    return clip_text(lines[0], limit)  # one line longer than the limit: cut it rather than send nothing


def solved_tag(tags: Sequence[discord.ForumTag], names: Sequence[str]) -> discord.ForumTag | None:
    """The forum tag whose name (case-insensitive) is the first of ``names`` the forum defines."""
    by_name = {t.name.strip().casefold(): t for t in tags}
    for name in names:
        if name in by_name:
            return by_name[name]
    return None


def files(attachments: Sequence[Attachment]) -> list[discord.File]:
    """discord.py files for the attachments (charts are PNG bytes in memory)."""
    return [discord.File(io.BytesIO(a.data), filename=a.filename) for a in attachments]


def button_custom_id(button: Button) -> str:
    """The component ``custom_id`` for ``button``; :func:`parse_custom_id` reverses it."""
    return f"{button.action_id}:{button.value}"[:100]


def parse_custom_id(custom_id: str) -> tuple[str, str]:
    """Split a component ``custom_id`` back into ``(action_id, value)``."""
    action_id, _, value = custom_id.partition(":")
    return action_id, value


def buttons_view(buttons: Sequence[Button]) -> discord.ui.View | None:
    """A view holding ``buttons``, only to render them; clicks reach the adapter's interaction hook."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    seen: set[str] = set()
    for b in buttons:
        custom_id = button_custom_id(b)
        # Discord refuses the whole message (400) for a repeated custom_id or a button without a
        # label: a repeat (or a value cut to the same 100 characters) is dropped, a blank label shown as "…".
        if custom_id in seen or len(seen) == 25:
            continue
        seen.add(custom_id)
        style = _BUTTON_STYLES.get(b.style, discord.ButtonStyle.secondary)
        label = clip_text(b.label.strip() or "\u2026", 80)
        view.add_item(discord.ui.Button(label=label, custom_id=custom_id, style=style))
    # Stopped before it is sent: discord.py still renders its components but does not keep it
    # listening (forever, without a timeout) for clicks the adapter's on_interaction handles.
    view.stop()
    return view

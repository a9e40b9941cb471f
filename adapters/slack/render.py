"""Outbound actions -> Slack Web API arguments (pure: no I/O).

Every text that leaves the bot goes through :func:`neutralize` so an answer quoting a message can
never ping ``@channel``/``@here``/``@everyone`` or a user group. Long answers are split to Slack's
limits (3,000 characters per section; per message 50 blocks and :data:`MESSAGE_TEXT_BUDGET`
characters of block text) into several messages.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.events import Attachment, Button, Citation, citations_heading
from bot.markdown_split import split_message
from bot.privacy.mentions import neutralize as neutralize_mentions
from bot.valid_text import clip

SECTION_LIMIT = 3000  # Block Kit section text
BLOCKS_PER_MESSAGE = 50  # chat.postMessage blocks
# chat.postMessage also refuses blocks whose text adds up past an undocumented total, about 12,000
# characters less some for the blocks themselves (msg_blocks_too_long; slackapi/bolt-js #2509,
# #2867). The text of one message's blocks is kept under this, with room to spare.
MESSAGE_TEXT_BUDGET = 11_000
FALLBACK_LIMIT = 3000  # the notification text; Slack truncates ``text`` at 40k anyway
BUTTONS_PER_BLOCK = 25  # actions block elements
_BUTTON_LABEL = 75
_BUTTON_VALUE = 2000
_BUTTON_URL = 3000  # Block Kit button url limit
_ACTION_ID = 255
# A member mention: <@U123> or <@U123|name> (W ids: Enterprise Grid). The label stops at "<" (Slack
# escapes it): running to the end of the text from every "<@U1|" made a long answer quadratic.
_MEMBER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^<>]*))?>")
# Marks a repeated action id made unique within its block (see unique_action_id).
ACTION_ID_SUFFIX = "~"
_ZWSP = "\u200b"

# Bare @here typed into text only pings with link_names, which we never set; defang it anyway in
# case a future caller does.
_BARE = re.compile(r"(?<![\w@])@(here|channel|everyone)\b", re.IGNORECASE)

# Reactions take names; brains may hand us the unicode character.
UNICODE_EMOJI: dict[str, str] = {
    "👍": "+1",
    "👎": "-1",
    "✅": "white_check_mark",
    "❌": "x",
    "👀": "eyes",
    "🎉": "tada",
    "❤️": "heart",
    "❤": "heart",
    "🙏": "pray",
    "🔥": "fire",
    "💡": "bulb",
    "⏳": "hourglass_flowing_sand",
    "🤔": "thinking_face",
    "📌": "pushpin",
}


@dataclass(frozen=True, slots=True)
class SlackPost:
    """One Slack message: notification ``text`` plus ``blocks``."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def neutralize(text: str) -> str:
    """Defuse broadcasts and user-group pings (the shared privacy rule), then bare ``@here``-style words."""
    return _BARE.sub(lambda m: f"@{_ZWSP}{m.group(1)}", neutralize_mentions(text))


def escape(text: str) -> str:
    """Escape the three characters Slack mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Slack's own markup a brain may write on purpose (<@U1>, <#C1|name>, <!here>, <https://x|label>),
# and entities already escaped; every other &, < and > is text.
_SLACK_MARKUP = re.compile(r"(<(?:[@#!][^<>\s|]+|(?:https?|mailto):[^<>\s|]+)(?:\|[^<>\n]*)?>|&(?:amp|lt|gt);)|[&<>]")


# Code is left as written: a fenced block (to its closing fence, or the end) or an inline span.
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)
# mrkdwn has no language tags: ```python would show "python" as the code's first line.
_FENCE_LANGUAGE = re.compile(r"\A```[\w+#.-]+[ \t]*\n")
_MD_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_MD_LINK = re.compile(r"\[([^\[\]\n]+)\]\((https?://[^\s()<>|]+)\)")
_BOLD_WHOLE = re.compile(r"^(\*\*|__)(.+)\1$")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def markdown_to_mrkdwn(text: str) -> str:
    """Translate the markdown models and brains write into Slack mrkdwn, code left alone.

    ``**bold**`` becomes ``*bold*``, ``[text](https://…)`` a ``<https://…|text>`` link (its text
    escaped, so it cannot carry markup), a ``## heading`` a bold line, and a fence's language tag
    is dropped. Run before :func:`escape_text`, which keeps the links as markup.
    """
    out: list[str] = []
    at = 0
    for code in _CODE.finditer(text):
        out.append(_prose_to_mrkdwn(text[at : code.start()]))
        out.append(_FENCE_LANGUAGE.sub("```\n", code.group(0)))
        at = code.end()
    out.append(_prose_to_mrkdwn(text[at:]))
    return "".join(out)


def _prose_to_mrkdwn(text: str) -> str:
    # A heading already bold ("## **Steps**") is bold once, not "**Steps**" in asterisks.
    text = _MD_HEADING.sub(lambda m: "*" + _BOLD_WHOLE.sub(r"\2", m.group(1)) + "*", text)
    text = _MD_BOLD.sub(lambda m: f"*{m.group(1)}*", text)
    return _MD_LINK.sub(lambda m: f"<{m.group(2)}|{escape(m.group(1)).replace('|', '¦')}>", text)


def escape_text(text: str) -> str:
    """``text`` for mrkdwn: ``a < b && c`` or ``List<String>`` (a member's words, code in an answer)
    shown as written, Slack's own mention, channel and link markup kept."""
    return _SLACK_MARKUP.sub(lambda m: m.group(1) or escape(m.group(0)), text)


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split on paragraph, then line, then word boundaries so no chunk exceeds ``limit`` characters;
    a code block cut in two is closed and re-opened, so each section renders on its own."""
    return [chunk for chunk in split_message(text.strip(), limit) if chunk.strip()]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def citation_lines(citations: Sequence[Citation]) -> list[str]:
    """``[1] <permalink|title>`` lines; titles are escaped so ``|`` or ``>`` cannot break the link."""
    lines = []
    for c in sorted(citations, key=lambda c: c.number):
        title = escape(neutralize(c.title or c.url or f"source {c.number}")).replace("|", "¦")
        link = f"<{c.url}|{title}>" if c.url.startswith(("http://", "https://")) else title
        note = f" — {escape(neutralize(c.note))}" if c.note else ""
        lines.append(f"[{c.number}] {link}{note}")
    return lines


def member_mentions(text: str) -> list[str]:
    """The member ids ``text`` mentions (``<@U123>``, ``<@W123|name>``), in order, without repeats."""
    return list(dict.fromkeys(m.group(1) for m in _MEMBER_MENTION.finditer(text)))


def inert_mentions(text: str, notify: Collection[str], names: Mapping[str, str]) -> str:
    """``text`` with every member mention but those of ``notify`` written as a plain ``@name``:
    Slack has no allowed-mentions list, so quoted history or model output would ping the member."""

    def plain(match: re.Match[str]) -> str:
        user_id = match.group(1)
        if user_id in notify:
            return match.group(0)
        return "@" + (match.group(2) or names.get(user_id) or "member")

    return _MEMBER_MENTION.sub(plain, text)


def unique_action_id(action_id: str, taken: set[str]) -> str:
    """``action_id`` made unique within a block: Slack refuses a message (``invalid_blocks``) whose
    block repeats one, and brains give a button group one action (👍 and 👎 are both
    ``qa.feedback``). A repeat gets :data:`ACTION_ID_SUFFIX` and a number, which
    :func:`adapters.slack.normalize.brain_action_id` takes off again."""
    base = action_id[:_ACTION_ID]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        suffix = f"{ACTION_ID_SUFFIX}{n}"
        candidate = action_id[: _ACTION_ID - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def button_elements(buttons: Sequence[Button]) -> list[dict[str, Any]]:
    """Block Kit button elements for one actions block, clipped to Slack's field limits."""
    out = []
    taken: set[str] = set()
    for b in buttons:
        element: dict[str, Any] = {
            "type": "button",
            "action_id": unique_action_id(b.action_id, taken),
            "text": {
                "type": "plain_text",
                "text": clip(neutralize(b.label) or b.action_id, _BUTTON_LABEL),
                "emoji": True,
            },
        }
        if b.value:
            element["value"] = b.value[:_BUTTON_VALUE]
        if b.url and len(b.url) <= _BUTTON_URL:
            # Slack opens the link and still sends block_actions, so the click stays feedback.
            # (A longer url would make Slack refuse the whole message: the button then only reports.)
            element["url"] = b.url
        if b.style in ("primary", "danger"):
            element["style"] = b.style
        out.append(element)
    return out


def render_posts(text: str, citations: Sequence[Citation] = (), buttons: Sequence[Button] = ()) -> list[SlackPost]:
    """Text + citations + buttons -> one or more messages within Slack's limits.

    Citations follow the text as a context-free section of numbered links; buttons go in actions
    blocks on the last message, so they stay under the whole answer.
    """
    safe = escape_text(neutralize(markdown_to_mrkdwn(text)))
    blocks: list[dict[str, Any]] = [_section(chunk) for chunk in split_text(safe)]
    if citations:
        heading = citations_heading(citations)
        source_text = (f"*{heading}*\n" if heading else "") + "\n".join(citation_lines(citations))
        blocks.extend(_section(chunk) for chunk in split_text(source_text))
    elements = button_elements(buttons)
    for i in range(0, len(elements), BUTTONS_PER_BLOCK):
        blocks.append({"type": "actions", "elements": elements[i : i + BUTTONS_PER_BLOCK]})
    if not blocks:
        return [SlackPost(text=safe or " ")]
    posts = []
    for group in _message_groups(blocks):
        fallback = next((b["text"]["text"] for b in group if b["type"] == "section"), safe)
        posts.append(SlackPost(text=fallback[:FALLBACK_LIMIT] or " ", blocks=group))
    return posts


def block_text_length(block: dict[str, Any]) -> int:
    """The characters of text ``block`` shows: a section's text, an actions block's button labels."""
    if block.get("type") == "actions":
        return sum(len(e.get("text", {}).get("text", "")) for e in block.get("elements", []))
    text = block.get("text")
    return len(text.get("text", "")) if isinstance(text, dict) else 0


def _message_groups(blocks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``blocks`` cut, in order, into messages of at most ``BLOCKS_PER_MESSAGE`` blocks and
    ``MESSAGE_TEXT_BUDGET`` characters of text. Whole blocks only: a section, code fences included,
    is never cut, and any one block is under the budget (sections hold 3,000 characters)."""
    groups: list[list[dict[str, Any]]] = [[]]
    used = 0
    for block in blocks:
        size = block_text_length(block)
        if groups[-1] and (len(groups[-1]) == BLOCKS_PER_MESSAGE or used + size > MESSAGE_TEXT_BUDGET):
            groups.append([])
            used = 0
        groups[-1].append(block)
        used += size
    return groups


def post_message_args(
    channel_id: str,
    text: str,
    *,
    thread_ts: str | None = None,
    citations: Sequence[Citation] = (),
    buttons: Sequence[Button] = (),
) -> list[dict[str, Any]]:
    """``chat.postMessage`` keyword arguments, one dict per message to send."""
    out = []
    for post in render_posts(text, citations, buttons):
        args: dict[str, Any] = {"channel": channel_id, "text": post.text, "blocks": post.blocks}
        if thread_ts:
            args["thread_ts"] = thread_ts
        # Citations are permalinks to our own workspace: unfurling them would bury the answer.
        args["unfurl_links"] = False
        args["unfurl_media"] = False
        out.append(args)
    return out


def ephemeral_args(
    channel_id: str,
    user_id: str,
    text: str,
    *,
    thread_ts: str | None = None,
    citations: Sequence[Citation] = (),
    buttons: Sequence[Button] = (),
) -> list[dict[str, Any]]:
    """``chat.postEphemeral`` keyword arguments, one dict per message."""
    out = []
    for post in render_posts(text, citations, buttons):
        args: dict[str, Any] = {"channel": channel_id, "user": user_id, "text": post.text, "blocks": post.blocks}
        if thread_ts:
            args["thread_ts"] = thread_ts
        out.append(args)
    return out


def response_url_bodies(
    text: str, *, ephemeral: bool, citations: Sequence[Citation] = (), buttons: Sequence[Button] = ()
) -> list[dict[str, Any]]:
    """JSON bodies for a slash command's ``response_url`` (up to 5 posts are allowed per command)."""
    response_type = "ephemeral" if ephemeral else "in_channel"
    return [
        {"response_type": response_type, "text": p.text, "blocks": p.blocks, "replace_original": False}
        for p in render_posts(text, citations, buttons)
    ]


def reaction_name(emoji: str) -> str:
    """A reaction name for ``reactions.add``: unicode mapped, colons stripped, tones dropped."""
    emoji = emoji.strip()
    return UNICODE_EMOJI.get(emoji, emoji.strip(":").split("::", 1)[0])


def file_upload_args(
    channel_id: str, attachments: Sequence[Attachment], *, thread_ts: str | None = None
) -> dict[str, Any] | None:
    """``files_upload_v2`` keyword arguments for all attachments at once; None when there are none."""
    if not attachments:
        return None
    args: dict[str, Any] = {
        "channel": channel_id,
        "file_uploads": [{"content": a.data, "filename": a.filename, "title": a.filename} for a in attachments],
    }
    if thread_ts:
        args["thread_ts"] = thread_ts
    return args


HOME_COMMANDS: tuple[tuple[str, str], ...] = (
    ("/ask", "ask the community's knowledge; answers cite the threads they come from"),
    ("/recommend", "threads and people worth your time"),
    ("/leaderboard", "this week's most helpful members"),
    ("/trends", "topics on the rise"),
    ("/optout", "stop Guildhall from indexing, profiling or ranking your messages"),
    ("/optin", "let Guildhall learn from your messages again"),
    ("/forget-me", "erase everything Guildhall stored about you"),
)


def home_view(*, opted_out: bool | None) -> dict[str, Any]:
    """The App Home tab: the member's privacy setting and the commands (``views.publish`` view).

    ``opted_out`` is None when the adapter has no store to read it from.
    """
    if opted_out is None:
        status = "Use `/optout` or `/optin` to choose whether Guildhall learns from your messages."
    elif opted_out:
        status = "*You are opted out*: your messages are not indexed, profiled or ranked. `/optin` to undo."
    else:
        status = "*You are opted in*: your messages help answer questions. `/optout` any time."
    lines = "\n".join(f"`{name}` {escape(text)}" for name, text in HOME_COMMANDS)
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Guildhall"}},
            _section(status),
            {"type": "divider"},
            _section("*Commands*\n" + lines),
        ],
    }

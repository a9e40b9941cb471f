"""The words of a Slack message, as the live adapter and the export importer both read them (pure).

Slack writes a message's ``text`` with three HTML entities (``&lt;`` ``&gt;`` ``&amp;``) and
mentions as ``<@U123>``; apps and workflows may post Block Kit ``blocks`` or legacy
``attachments`` with an empty ``text``. Live events and export day files carry the same message
objects, so one reading here keeps imported history identical to live traffic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeGuard

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")


def unescape(text: str) -> str:
    """Undo Slack's three HTML entities; mentions (``<@U1>``) and links stay as Slack wrote them."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentioned_users(text: str) -> tuple[str, ...]:
    """User ids mentioned as ``<@U123>`` / ``<@U123|name>``, in order, without repeats."""
    return tuple(dict.fromkeys(_MENTION.findall(text)))


def message_text(msg: Mapping[str, Any]) -> str:
    """A message's words: ``text``, or when that is empty (apps and workflows may post blocks or
    legacy attachments only) the words of its blocks and attachments, so they are not lost."""
    text = msg.get("text")
    if isinstance(text, str) and text.strip():
        return unescape(text)
    parts = _blocks_text(msg.get("blocks"))
    attachments = msg.get("attachments")
    for att in attachments if isinstance(attachments, list) else ():
        if isinstance(att, dict):
            parts.extend(unescape(t) for t in (att.get("pretext"), att.get("text") or att.get("fallback")) if _str(t))
            parts.extend(_blocks_text(att.get("blocks")))
    return "\n".join(parts)


def _str(value: Any) -> TypeGuard[str]:
    """A string with something besides whitespace in it."""
    return isinstance(value, str) and bool(value.strip())


def _blocks_text(blocks: Any) -> list[str]:
    """Lines of text in Block Kit ``blocks`` (rich_text, section, header, context); others skipped."""
    lines: list[str] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "rich_text":
            line = "".join(_rich_text(block.get("elements")))
        else:
            texts = [block.get("text"), *(block.get("fields") or ()), *(block.get("elements") or ())]
            # mrkdwn and plain_text objects; mrkdwn is entity-escaped like a message's text.
            line = "\n".join(
                unescape(t["text"])
                for t in texts
                if isinstance(t, dict) and t.get("type") in _TEXT_OBJECTS and _str(t.get("text"))
            )
        if line.strip():
            lines.append(line.strip())
    return lines


_TEXT_OBJECTS = ("mrkdwn", "plain_text")


def _rich_text(elements: Any) -> list[str]:
    """The text of rich_text elements, mentions written as Slack writes them in ``text``."""
    out: list[str] = []
    for el in elements if isinstance(elements, list) else ():
        if not isinstance(el, dict):
            continue
        kind = el.get("type")
        if kind == "text" or kind == "link":
            out.append(str(el.get("text") or el.get("url") or ""))
        elif kind == "user" and el.get("user_id"):
            out.append(f"<@{el['user_id']}>")
        elif kind == "channel" and el.get("channel_id"):
            out.append(f"<#{el['channel_id']}>")
        elif kind == "emoji" and el.get("name"):
            out.append(f":{el['name']}:")
        elif kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            out.extend([*_rich_text(el.get("elements")), "\n"])
        elif kind == "rich_text_list":
            for item in el.get("elements") or ():
                out.extend(["- ", *_rich_text(item.get("elements") if isinstance(item, dict) else None), "\n"])
    return out

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


def message_text(msg: Mapping[str, Any], dropped: list[str] | None = None) -> str:
    """A message's words: ``text``, or when that is empty (apps and workflows may post blocks or
    legacy attachments only) the words of its blocks and attachments, so they are not lost.

    Args:
        msg: The message object (an event's or an export's).
        dropped: Where to describe each part left out because it is not the list Slack writes
            (a block's ``fields`` or ``elements`` given as a number): the rest is still read.
    """
    text = msg.get("text")
    if isinstance(text, str) and text.strip():
        return unescape(text)
    parts = _blocks_text(msg.get("blocks"), dropped, "blocks")
    attachments = msg.get("attachments")
    for index, att in enumerate(attachments if isinstance(attachments, list) else ()):
        if isinstance(att, dict):
            parts.extend(unescape(t) for t in (att.get("pretext"), att.get("text") or att.get("fallback")) if _str(t))
            parts.extend(_blocks_text(att.get("blocks"), dropped, f"attachments[{index}].blocks"))
    return "\n".join(parts)


def _str(value: Any) -> TypeGuard[str]:
    """A string with something besides whitespace in it."""
    return isinstance(value, str) and bool(value.strip())


def _list(value: Any, dropped: list[str] | None, where: str) -> list[Any]:
    """``value`` when it is a list; nothing when absent or empty; else nothing, noted in ``dropped``."""
    if isinstance(value, list):
        return value
    if value and dropped is not None:
        dropped.append(f"{where} ignored (not a list)")
    return []


def _blocks_text(blocks: Any, dropped: list[str] | None = None, where: str = "blocks") -> list[str]:
    """Lines of text in Block Kit ``blocks`` (rich_text, section, header, context); others skipped.
    A wrong-typed ``fields`` or ``elements`` is left out (described in ``dropped``), not the block."""
    lines: list[str] = []
    for index, block in enumerate(blocks if isinstance(blocks, list) else ()):
        if not isinstance(block, dict):
            continue
        here = f"{where}[{index}]"
        if block.get("type") == "rich_text":
            line = "".join(_rich_text(_list(block.get("elements"), dropped, f"{here}.elements"), dropped, here))
        else:
            texts = [
                block.get("text"),
                *_list(block.get("fields"), dropped, f"{here}.fields"),
                *_list(block.get("elements"), dropped, f"{here}.elements"),
            ]
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


def _rich_text(elements: Any, dropped: list[str] | None = None, where: str = "") -> list[str]:
    """The text of rich_text elements, mentions written as Slack writes them in ``text``."""
    out: list[str] = []
    for index, el in enumerate(elements if isinstance(elements, list) else ()):
        if not isinstance(el, dict):
            continue
        here = f"{where}.elements[{index}]"
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
            out.extend([*_rich_text(_list(el.get("elements"), dropped, f"{here}.elements"), dropped, here), "\n"])
        elif kind == "rich_text_list":
            for number, item in enumerate(_list(el.get("elements"), dropped, f"{here}.elements")):
                inner = item.get("elements") if isinstance(item, dict) else None
                item_where = f"{here}.elements[{number}]"
                out.extend(
                    ["- ", *_rich_text(_list(inner, dropped, f"{item_where}.elements"), dropped, item_where), "\n"]
                )
    return out

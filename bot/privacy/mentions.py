"""Neutralize mass mentions in every outbound message, on every platform.

Retrieved community text and LLM output must never ping ``@everyone`` / ``@here`` (Discord), or
``<!channel>`` / ``<!here>`` / ``<!everyone>`` / ``<!subteam^…>`` (Slack), nor role mentions
``<@&id>``. Adapters call :func:`neutralize` on all text they send (Discord additionally passes
``AllowedMentions.none()``), so the rule holds even if a prompt injection slips through.
"""

from __future__ import annotations

import re

_ZWSP = "\u200b"
# Not inside an e-mail address (bob@here.example) or a dotted name.
_DISCORD_MASS = re.compile(r"(?<![\w.+-])@(everyone|here)\b(?!\.\w)", re.IGNORECASE)
_DISCORD_ROLE = re.compile(r"<@&(\d+)>")
_SLACK_SPECIAL = re.compile(r"<!(channel|here|everyone|subteam\^[A-Z0-9]+)(\|[^<>]*)?>", re.IGNORECASE)


def neutralize(text: str) -> str:
    """Return ``text`` with mass and role mentions made inert but still readable."""
    text = _SLACK_SPECIAL.sub(lambda m: "@" + m.group(1).split("^")[0], text)
    text = _DISCORD_ROLE.sub(lambda m: f"@{_ZWSP}role", text)
    return _DISCORD_MASS.sub(lambda m: f"@{_ZWSP}{m.group(1)}", text)

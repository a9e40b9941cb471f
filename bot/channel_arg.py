"""Channel arguments of commands: a channel the platform picked, or a name a member typed.

Discord's channel option and Slack's ``<#C123|name>`` mention come from the platform's own picker:
the id is real even when Guildhall has not seen the channel yet. A ``#name`` typed as plain text is
only a guess, and must be a channel the store knows, or a typo (``/leaderboard year``, ``#nosuch``)
would silently select an empty channel. Commands that take a channel share these rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.store.db import Database

# Slack "<#C123|name>", Discord "<#123>", or a plain "#name" / "name".
_CHANNEL_WORD = re.compile(r"^<#([^|>\s]+)(?:\|[^>]*)?>$|^#?([\w-]+)$")


@dataclass(frozen=True)
class ChannelArgument:
    """A channel named in a command: ``picked`` when the platform chose it (option or mention)."""

    id_or_name: str
    picked: bool


class ChannelLookup(Protocol):
    """The store's one method this module needs."""

    async def find_channel_id(self, platform: str, workspace_id: str, id_or_name: str) -> str | None:
        """A channel id from an id or a plain name; ``None`` when unknown."""
        ...


def channel_word(word: str) -> ChannelArgument | None:
    """The channel a single word names (a platform mention or a typed name); ``None`` when it is not one."""
    match = _CHANNEL_WORD.match(word.strip())
    if match is None:
        return None
    if match.group(1) is not None:
        return ChannelArgument(match.group(1), picked=True)
    return ChannelArgument(match.group(2), picked=False)


def channel_arguments(raw: str) -> list[ChannelArgument]:
    """Channels named in a setting's value (``#help, <#C1|python> ops``), in order, without repeats.

    Slack and Discord send a ``#name`` typed in a command as a mention, which gives the channel's id.
    """
    found: list[ChannelArgument] = []
    for part in raw.replace(",", " ").split():
        argument = channel_word(part) or ChannelArgument(part.lstrip("#"), picked=False)
        if argument.id_or_name and argument.id_or_name not in {a.id_or_name for a in found}:
            found.append(argument)
    return found


def channel_list(raw: str) -> list[str]:
    """The ids (mentions) and names (typed) of :func:`channel_arguments`, as settings store them."""
    return [argument.id_or_name for argument in channel_arguments(raw)]


def picked_channel(option: str) -> ChannelArgument | None:
    """A command's channel option (the platform's picker); ``None`` when empty."""
    value = option.strip().lstrip("#")
    return ChannelArgument(value, picked=True) if value else None


async def resolve_channel(
    store: ChannelLookup, platform: str, workspace_id: str, argument: ChannelArgument
) -> str | None:
    """The channel id ``argument`` stands for: a known channel's id, a picked id as given, or
    ``None`` for a typed name the store does not know."""
    known = await store.find_channel_id(platform, workspace_id, argument.id_or_name)
    if known is not None:
        return known
    return argument.id_or_name if argument.picked else None


async def channel_of_another_workspace(db: Database, platform: str, workspace_id: str, channel_id: str) -> bool:
    """Whether ``channel_id`` is another workspace's: the store files it under another workspace of
    ``platform`` and not under ``workspace_id``. Discord ids are global and a mention can be typed as
    text (``<#123>``), so an admin of one server could name another server's channel, and the bot (a
    member of both) would post there what it found in the first: alerts, boards and shadow drafts
    quote the community. A channel the store records nowhere is not refused: a platform's pick is
    real before Guildhall has seen it.

    Discord only: a Slack channel id names a channel within the workspaces that share it, and the
    bot posts there with that workspace's own token (a Slack Connect channel is stored under the
    team whose events brought it, and is this workspace's channel too)."""
    if platform != "discord":
        return False
    rows = await db.fetchall(
        "SELECT DISTINCT workspace_id FROM channels WHERE platform = ? AND channel_id = ?", (platform, channel_id)
    )
    owners = {str(r[0]) for r in rows}
    return bool(owners) and workspace_id not in owners

"""Access scopes: which units an answer may draw from, decided by where the answer is posted.

The rule (hard, enforced in retrieval): an answer may only use units from channels that every
reader of the answer can read. A question in a public channel draws only from public channels; in a
private channel, from public channels plus that channel; in a DM with the bot, from everything the
asking member can read. Docs units are public to everyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.events import ChannelRef, Visibility
from bot.ml import Unit
from bot.store import Store

DOCS_PLATFORM = "docs"
ANY_WORKSPACE = "*"


@dataclass(frozen=True, slots=True)
class AccessScope:
    """Units an answer may use: one workspace, public channels, plus ``extra_channel_ids``.

    ``workspace_id="*"`` matches public units of every workspace (operator CLI without ``--channel``);
    ``everything=True`` (operator tooling only, never member answers) lifts the rule.
    """

    platform: str
    workspace_id: str
    extra_channel_ids: frozenset[str] = frozenset()
    everything: bool = False

    def allows(self, unit: Unit) -> bool:
        """Whether ``unit`` may be used under this scope."""
        if unit.platform == DOCS_PLATFORM:
            return True
        if self.everything:
            return True
        if self.workspace_id != ANY_WORKSPACE and (
            unit.platform != self.platform or unit.workspace_id != self.workspace_id
        ):
            return False
        return unit.visibility == Visibility.PUBLIC.value or unit.channel_id in self.extra_channel_ids

    def __call__(self, unit: Unit) -> bool:
        return self.allows(unit)


def public_everywhere() -> AccessScope:
    """Public units of every workspace (operator CLI without a channel)."""
    return AccessScope(platform="", workspace_id=ANY_WORKSPACE)


def unrestricted() -> AccessScope:
    """A scope that sees every unit (operators' CLI without ``--as``; never used for member answers)."""
    return AccessScope(platform="", workspace_id="", everything=True)


async def scope_for(store: Store, channel: ChannelRef, user_id: str, role_ids: tuple[str, ...] = ()) -> AccessScope:
    """The scope of an answer posted in ``channel`` to a question by ``user_id``."""
    platform, ws = channel.platform.value, channel.workspace_id
    if channel.visibility is Visibility.PUBLIC:
        return AccessScope(platform, ws)
    if channel.visibility is Visibility.PRIVATE:
        return AccessScope(platform, ws, frozenset({channel.channel_id}))
    # A DM with the bot is read by the asker alone: everything they can read is fair game.
    readable = await store.readable_channel_ids(platform, ws, user_id, role_ids)
    return AccessScope(platform, ws, frozenset(readable | {channel.channel_id}))

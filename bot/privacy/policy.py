"""Channel policy: which channels may be indexed and profiled.

Default: public and restricted channels only (restricted: the community bar a few an overwrite
keeps out; answers still check who may read them). A private channel is indexed only when an admin allowed it
(``privacy.index_private_channels`` in config, or the workspace setting ``index_private_channels``);
DMs are never indexed. Denied channels (``privacy.deny_channels`` / workspace ``deny_channels``)
are never indexed, whatever their visibility. Channels are named by id or by name.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.channel_arg import channel_list
from bot.config import Settings
from bot.events import COMMUNITY_VISIBILITIES
from bot.store import Store


def _channels(entries: Iterable[object]) -> set[str]:
    """The ids and names a channel list names. ``/guildhall config set`` stores them plain, but a
    list written in ``guildhall.toml`` may say ``#secret`` or paste a mention (``<#C1|secret>``),
    and a denied channel must not be indexed for want of a ``#``."""
    return set(channel_list(" ".join(str(entry) for entry in entries)))


async def _denied(store: Store, settings: Settings, platform: str, workspace_id: str) -> set[str]:
    """The ids and names ``deny_channels`` names, deployment-wide and for the workspace."""
    return _channels(settings.privacy.deny_channels) | _channels(
        await store.get_workspace_setting(platform, workspace_id, "deny_channels", []) or []
    )


async def denied_channel_ids(store: Store, settings: Settings, platform: str, workspace_id: str) -> frozenset[str]:
    """Ids of the channels ``deny_channels`` names (by id, or by the name of a stored channel): what
    recommendations and profiles leave out along with the index."""
    deny = await _denied(store, settings, platform, workspace_id)
    if not deny:
        return frozenset()
    named = {c.channel_id for c in await store.list_channels(platform, workspace_id) if c.name.lstrip("#") in deny}
    return frozenset(deny | named)


async def may_index(
    store: Store,
    settings: Settings,
    platform: str,
    workspace_id: str,
    channel_id: str,
    channel_name: str,
    visibility: str,
) -> bool:
    """True when messages of this channel may enter the index, profiles and trend analysis."""
    names = {channel_id, channel_name.lstrip("#")} - {""}
    if names & await _denied(store, settings, platform, workspace_id):
        return False
    if visibility in COMMUNITY_VISIBILITIES:
        return True
    if visibility == "dm":
        return False
    allow = _channels(settings.privacy.index_private_channels) | _channels(
        await store.get_workspace_setting(platform, workspace_id, "index_private_channels", []) or []
    )
    return bool(names & allow)

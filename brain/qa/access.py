"""Access scopes: which units an answer may draw from, decided by where the answer is posted.

The rule (hard, enforced in retrieval): an answer may only use units from channels that every
reader of the answer can read. A question in a public channel draws only from public channels
(never a restricted one, which an overwrite hides from some); in a private or restricted channel,
from public channels plus that channel; in a DM with the bot, from everything the asking member can
read. Docs units are public to everyone. A question in a channel shared with other organisations
(Slack Connect), or asked by someone of another organisation, or in a channel a guest reads,
draws from that channel alone; a guest's question, from the channels the guest reads.

A scope covers one workspace. A Discord DM belongs to no guild (workspace ``@me``), so its scope is
moved to the one guild the member is known to belong to (:func:`discord_dm_guild`); members of
several guilds get the one they posted in last, never a mix of communities.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.events import ChannelRef, Platform, Visibility
from bot.ml import Unit
from bot.permissions import DISCORD_DM_WORKSPACE
from bot.recorder import LEFT_KEY
from bot.store import Store

DOCS_PLATFORM = "docs"
ANY_WORKSPACE = "*"

# Guilds where the store knows the member (a users row: they posted there, live or imported, or
# joined while the bot was there) and has not seen them leave (the recorder's LEFT_KEY, stored as
# JSON ``true``), with their latest post there. Discord user ids are global snowflakes: one id names
# the same person in every guild. A forgotten member keeps a users row (name erased) and their
# posts' timestamps (text erased), so they are still answered from their guild.
_MEMBER_GUILDS = """
SELECT u.workspace_id,
       (SELECT MAX(m.ts) FROM messages m
        WHERE m.platform = u.platform AND m.workspace_id = u.workspace_id AND m.author_id = u.user_id)
FROM users u
WHERE u.platform = ? AND u.user_id = ? AND u.workspace_id <> ?
  AND NOT EXISTS (
      SELECT 1 FROM member_settings s
      WHERE s.platform = u.platform AND s.workspace_id = u.workspace_id AND s.user_id = u.user_id
        AND s.key = ? AND s.value = 'true')
"""


@dataclass(frozen=True, slots=True)
class AccessScope:
    """Units an answer may use: one workspace, public channels, plus ``extra_channel_ids``.

    ``workspace_id="*"`` matches public units of every workspace (operator CLI without ``--channel``);
    ``everything=True`` (operator tooling only, never member answers) lifts the rule.
    ``include_public=False`` (an answer in a channel people of other organisations read) leaves
    public channels and docs out: only ``extra_channel_ids`` answer.
    """

    platform: str
    workspace_id: str
    extra_channel_ids: frozenset[str] = frozenset()
    everything: bool = False
    include_public: bool = True

    def allows(self, unit: Unit) -> bool:
        """Whether ``unit`` may be used under this scope."""
        if self.everything:
            return True
        if unit.platform == DOCS_PLATFORM:
            return self.include_public
        if self.workspace_id != ANY_WORKSPACE and (
            unit.platform != self.platform or unit.workspace_id != self.workspace_id
        ):
            return False
        return self.allows_channel(unit.channel_id, unit.visibility)

    def allows_channel(self, channel_id: str, visibility: str) -> bool:
        """Whether units of a channel of this scope's workspace (its id, and its visibility's value)
        may be used."""
        if self.everything or channel_id in self.extra_channel_ids:
            return True
        return self.include_public and visibility == Visibility.PUBLIC.value

    def __call__(self, unit: Unit) -> bool:
        return self.allows(unit)


def public_everywhere() -> AccessScope:
    """Public units of every workspace (operator CLI without a channel)."""
    return AccessScope(platform="", workspace_id=ANY_WORKSPACE)


def unrestricted() -> AccessScope:
    """A scope that sees every unit (operators' CLI without ``--as``; never used for member answers)."""
    return AccessScope(platform="", workspace_id="", everything=True)


async def discord_dm_guild(store: Store, user_id: str) -> str | None:
    """The guild whose history answers ``user_id``'s DMs with the bot, or ``None`` if none is known.

    Candidates are the guilds where the store knows the member and has not recorded them leaving.
    Of several, the one they posted in most recently wins (where they are active now), then the
    smallest guild id (the oldest guild), so the choice is stable and one community's answer never
    mixes in another's history.
    """
    guilds = await discord_member_guilds(store, user_id)
    if not guilds:
        return None

    def rank(row: tuple[str, float | None]) -> tuple[float, int, str]:
        guild, last_post = row
        return (-float(last_post) if last_post is not None else 0.0, len(guild), guild)

    return min(guilds.items(), key=rank)[0]


async def discord_member_guilds(store: Store, user_id: str) -> dict[str, float | None]:
    """The guilds where the store knows ``user_id`` and has not seen them leave, with the time of
    their latest post there (``None``: none stored); :func:`discord_dm_guild`'s candidates."""
    if not user_id:
        return {}
    rows = await store.db.fetchall(_MEMBER_GUILDS, (Platform.DISCORD.value, user_id, DISCORD_DM_WORKSPACE, LEFT_KEY))
    return {str(r[0]): r[1] for r in rows}


async def shared_with_other_organisations(store: Store, channel: ChannelRef) -> bool:
    """Whether people of other organisations read ``channel``: when the ref or the store says so
    (a command carries no flag, and a process's cache may predate the sharing the store has seen)."""
    if channel.shared_externally:
        return True
    if channel.platform is not Platform.SLACK:
        return False  # only Slack shares channels across organisations (Slack Connect)
    return await store.is_shared_externally(channel.platform.value, channel.workspace_id, channel.channel_id)


async def _guest_scope(store: Store, channel: ChannelRef, user_id: str, role_ids: tuple[str, ...]) -> AccessScope:
    """A guest (Slack) reads only the channels they are in, and reads the answer: in a DM, what they
    read; in a channel, the public channels among those (its members read them too) and itself."""
    platform, ws = channel.platform.value, channel.workspace_id
    readable = await store.readable_channel_ids(platform, ws, user_id, role_ids, guest=True)
    if channel.visibility is not Visibility.DM:
        public = {
            c.channel_id for c in await store.list_channels(platform, ws) if c.visibility == Visibility.PUBLIC.value
        }
        readable &= public
    return AccessScope(platform, ws, frozenset(readable | {channel.channel_id}), include_public=False)


async def scope_for(
    store: Store,
    channel: ChannelRef,
    user_id: str,
    role_ids: tuple[str, ...] = (),
    *,
    guest: bool | None = None,
    external: bool | None = None,
) -> AccessScope:
    """The scope of an answer posted in ``channel`` to a question by ``user_id``.

    ``role_ids`` (Discord) open the role-gated channels of the member's roles; without them those
    channels are simply left out. ``guest`` / ``external``: what the event says of the asker (a
    command's ``users.info``); the store's word counts as well, so the first question after the
    fact is learned is not answered before the recorder has written it.
    """
    platform, ws = channel.platform.value, channel.workspace_id
    if (
        await shared_with_other_organisations(store, channel)
        or external
        or (platform == Platform.SLACK.value and await store.is_external(platform, ws, user_id))
    ):
        # Readers (or the asker) from another organisation (Slack Connect): this channel, nothing else of ours.
        return AccessScope(platform, ws, frozenset({channel.channel_id}), include_public=False)
    if (
        channel.platform is Platform.SLACK
        and channel.visibility is not Visibility.DM
        and await store.guests_in(platform, ws, channel.channel_id, besides=user_id)
    ):
        # A guest reads this channel and the answer, but not the workspace's other channels (nor
        # the asker's, when the asker is a guest too).
        return AccessScope(platform, ws, frozenset({channel.channel_id}), include_public=False)
    if guest or await store.is_guest(platform, ws, user_id):
        return await _guest_scope(store, channel, user_id, role_ids)
    if channel.visibility is Visibility.PUBLIC:
        return AccessScope(platform, ws)
    if channel.visibility in (Visibility.PRIVATE, Visibility.RESTRICTED):
        # Everyone reading the answer reads the channel: public units plus its own.
        return AccessScope(platform, ws, frozenset({channel.channel_id}))
    # A DM with the bot is read by the asker alone: everything they can read is fair game.
    if channel.platform is Platform.DISCORD and ws == DISCORD_DM_WORKSPACE:
        guild = await discord_dm_guild(store, user_id)
        if guild is not None:
            # DMs are never indexed, so the DM channel itself adds nothing to the guild's scope.
            return AccessScope(
                platform, guild, frozenset(await store.readable_channel_ids(platform, guild, user_id, role_ids))
            )
        # No guild is known for the member: only docs (and nothing of any community) may answer.
    readable = await store.readable_channel_ids(platform, ws, user_id, role_ids)
    return AccessScope(platform, ws, frozenset(readable | {channel.channel_id}))

"""Web API lookups about one conversation: its name/visibility and, for private ones, its members.

A private channel's member list is what lets retrieval show its messages to exactly the people who
can read them on Slack. The recorder *replaces* a private channel's access list with the members a
:class:`~bot.events.ChannelSeen` carries, so one must only be published with the real member list;
:func:`read_members` returns None for the members when they could not be read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import NO_ANSWER, TRANSIENT_CODES, log_api_error, log_no_answer
from adapters.slack.normalize import channel_from_conversation
from bot.events import ChannelRef, Visibility

log = logging.getLogger(__name__)

MEMBERS_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ChannelLookup:
    """What ``conversations.info`` told about a channel.

    ``ref`` is None when Slack refused or could not be asked. ``definite`` is False when the call got
    no answer (connection failure, timeout) or a "not now" error (rate limit, Slack's own outage):
    asking again later may succeed, unlike after a missing scope or an unknown channel.
    """

    ref: ChannelRef | None
    definite: bool = True


async def lookup_channel(client: AsyncWebClient, team_id: str, channel_id: str) -> ChannelLookup:
    """``conversations.info`` as a :class:`ChannelLookup`; failures are logged, never raised."""
    try:
        resp = await client.conversations_info(channel=channel_id)
    except SlackApiError as exc:
        code = log_api_error("conversations.info", exc, channel=channel_id)
        return ChannelLookup(None, definite=code not in TRANSIENT_CODES)
    except NO_ANSWER as exc:
        log_no_answer("conversations.info", exc, channel=channel_id)
        return ChannelLookup(None, definite=False)
    conv = resp.get("channel")
    return ChannelLookup(
        channel_from_conversation(conv, team_id) if isinstance(conv, dict) and conv.get("id") else None
    )


async def channel_info(client: AsyncWebClient, team_id: str, channel_id: str) -> ChannelRef | None:
    """``conversations.info`` as a :class:`ChannelRef`; None when Slack refuses (logged with a hint)
    or cannot be reached."""
    return (await lookup_channel(client, team_id, channel_id)).ref


@dataclass(frozen=True, slots=True)
class MembersLookup:
    """What ``conversations.members`` told about a conversation's members.

    ``members`` is None when they could not be read; ``definite`` is False when the call got no
    answer or a "not now" error (as :class:`ChannelLookup`): asking again later may succeed.
    """

    members: tuple[str, ...] | None
    definite: bool = True


async def read_members(client: AsyncWebClient, channel_id: str) -> MembersLookup:
    """Every member of a conversation (``conversations.members``, paginated) as a
    :class:`MembersLookup`; failures are logged, never raised."""
    members: list[str] = []
    cursor = ""
    asked: set[str] = set()
    try:
        while True:
            resp = await client.conversations_members(channel=channel_id, limit=MEMBERS_PAGE, cursor=cursor or None)
            members += [str(m) for m in resp.get("members") or []]
            asked.add(cursor)
            cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return MembersLookup(tuple(members))
            if cursor in asked:
                # Following it would ask for the same page forever; and what was read is not known
                # to be every member, which an access list must be (see the module docstring).
                log.warning("slack conversations.members repeated cursor %r [channel=%s]", cursor, channel_id)
                return MembersLookup(None, definite=False)
    except SlackApiError as exc:
        code = log_api_error("conversations.members", exc, channel=channel_id)
        return MembersLookup(None, definite=code not in TRANSIENT_CODES)
    except NO_ANSWER as exc:
        log_no_answer("conversations.members", exc, channel=channel_id)
        return MembersLookup(None, definite=False)


async def members_if_private(client: AsyncWebClient, channel: ChannelRef) -> tuple[str, ...] | None:
    """Members for private channels and DMs; ``()`` for public ones (no access list needed)."""
    if channel.visibility is Visibility.PUBLIC:
        return ()
    return (await read_members(client, channel.channel_id)).members

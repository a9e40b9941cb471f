"""Slash commands and button clicks: ack within Slack's 3 seconds, then publish.

Slack gives a command 3 seconds before it shows the member an error, so every listener calls
``ack()`` first. Only then does it gather the admin facts (``users.info``, user-group membership,
both cached briefly because a member often runs several commands in a row) and publish
:class:`~bot.events.CommandInvoked`; the answer goes back later through the ``response_url``.
The decision whether a member is an admin is not taken here but in :mod:`bot.permissions`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import NO_ANSWER, TRANSIENT_CODES, log_api_error, log_no_answer
from adapters.slack.normalize import (
    NormalizeContext,
    is_guest,
    normalize_block_actions,
    normalize_command,
    other_organisation,
)
from adapters.slack.payloads import SlashCommandPayload
from bot.events import CommandInvoked, InboundEvent, Visibility

log = logging.getLogger(__name__)

# The commands the manifest declares; any other slash command routed to us is still handled (the
# router answers "unknown command"), so adding one to the manifest needs no code change here.
SLASH_COMMANDS = (
    "/ask",
    "/recommend",
    "/leaderboard",
    "/trends",
    "/experts",
    "/optout",
    "/optin",
    "/forget-me",
    "/guildhall-help",
    "/guildhall",
)

Publish = Callable[[InboundEvent], Awaitable[object]]
ContextFactory = Callable[[AsyncWebClient, str], Awaitable[NormalizeContext]]
# The adapter's ``learn_channel(client, team_id, channel_id, channel_type)``: ``conversations.info``
# once per process per channel, cached in the channels the context carries.
ChannelLearner = Callable[[AsyncWebClient, str, str, str | None], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class AdminFacts:
    """What Slack says about a member's rights.

    ``is_platform_admin`` is None when Slack could not say just now (no answer, a rate limit, an
    outage): ``users.info`` failed, or the member is no workspace admin and an admin user group could
    not be read. The router then asks them to try again instead of refusing an admin who may be one
    (:func:`bot.permissions.admin_rights_unknown`). A lasting refusal (``user_not_found``, a missing
    scope, a configured group that does not exist) is an answer: no admin.
    """

    is_platform_admin: bool | None
    role_ids: tuple[str, ...]
    tz: str = ""  # users.info ``tz`` (IANA name), for the member's digest hour
    guest: bool | None = None  # a single- or multi-channel guest; None when users.info failed
    external: bool | None = None  # of another organisation (Slack Connect); None when not known


class AdminFactsCache:
    """``users.info`` admin/owner flags and admin user-group membership, cached for ``ttl`` seconds.

    Args:
        admin_usergroup_ids: configured admin user groups (``slack.admin_usergroup_ids``).
        ttl: seconds a lookup stays valid; short, so a demoted admin loses rights quickly.
        now: monotonic clock (replaceable in tests).
    """

    def __init__(
        self, admin_usergroup_ids: Sequence[str], *, ttl: float = 60.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._groups = tuple(admin_usergroup_ids)
        self._ttl = ttl
        self._now = now
        # Only answers are cached: a failed lookup is asked again by the member's next command.
        self._users: dict[tuple[str, str], tuple[float, bool, str, bool | None, bool | None]] = {}
        self._group_members: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}
        self.api_calls = 0

    async def facts(self, client: AsyncWebClient, team_id: str, user_id: str) -> AdminFacts:
        """Admin facts for a member; never raises.

        A failed lookup grants nothing (fail closed) and is not cached; one that may work if asked
        again is reported as unknown (``is_platform_admin=None``) rather than as "not an admin".
        """
        admin, tz, guest, external = await self._user_info(client, team_id, user_id)
        roles, groups_read = await self._roles(client, team_id, user_id)
        if admin is False and not groups_read:
            admin = None  # not a workspace admin, but maybe in an admin group we could not read
        return AdminFacts(admin, roles, tz, guest, external)

    async def _user_info(
        self, client: AsyncWebClient, team_id: str, user_id: str
    ) -> tuple[bool | None, str, bool | None, bool | None]:
        """``(is admin or owner, time zone, is a guest, is of another organisation)`` from ``users.info``;
        admin is False when it failed for good, None when asking again may work."""
        key = (team_id, user_id)
        cached = self._users.get(key)
        if cached and self._now() - cached[0] < self._ttl:
            return cached[1], cached[2], cached[3], cached[4]
        self.api_calls += 1
        try:
            resp = await client.users_info(user=user_id)
        except SlackApiError as exc:
            code = log_api_error("users.info", exc)
            return (None if code in TRANSIENT_CODES else False), "", None, None
        except NO_ANSWER as exc:  # the connection failed: the command still runs on what is known
            log_no_answer("users.info", exc)
            return None, "", None, None
        member: dict[str, Any] = resp.get("user") or {}
        admin = bool(member.get("is_admin") or member.get("is_owner") or member.get("is_primary_owner"))
        tz = member.get("tz")
        tz = tz if isinstance(tz, str) else ""
        guest = is_guest(member)
        external = other_organisation(member.get("team_id"), team_id)
        self._users[key] = (self._now(), admin, tz, guest, external)
        return admin, tz, guest, external

    async def _roles(self, client: AsyncWebClient, team_id: str, user_id: str) -> tuple[tuple[str, ...], bool]:
        """The admin user groups the member is in, and False when a group could not be read just now."""
        found = []
        read_all = True
        for group in self._groups:
            key = (team_id, group)
            cached = self._group_members.get(key)
            if cached is None or self._now() - cached[0] >= self._ttl:
                self.api_calls += 1
                try:
                    resp = await client.usergroups_users_list(usergroup=group)
                except SlackApiError as exc:
                    if log_api_error("usergroups.users.list", exc) in TRANSIENT_CODES:
                        read_all = False
                    continue
                except NO_ANSWER as exc:
                    log_no_answer("usergroups.users.list", exc, usergroup=group)
                    read_all = False
                    continue
                cached = (self._now(), frozenset(resp.get("users") or ()))
                self._group_members[key] = cached
            if user_id in cached[1]:
                found.append(group)
        return tuple(found), read_all


def shared_unless_known(cmd: CommandInvoked) -> CommandInvoked:
    """``cmd`` with its channel marked shared with another organisation when Slack did not say.

    When ``conversations.info`` could not describe the channel (no answer, a refusal, a DM or group
    DM the bot is not in, whose other members it cannot see), its readers may include people of
    another organisation (Slack Connect): the answer then uses that conversation's history alone
    (:func:`brain.qa.access.scope_for`), never the workspace's other channels. Only the bot's own
    DM with the asker is read by the asker alone, whose own organisation the admin facts tell.
    """
    channel = cmd.channel
    if channel.shared_externally is not None or channel.visibility is Visibility.DM:
        return cmd
    return dataclasses.replace(cmd, channel=dataclasses.replace(channel, shared_externally=True))


def register_interactions(
    app: AsyncApp,
    *,
    publish: Publish,
    context_for: ContextFactory,
    admin: AdminFactsCache,
    learn_channel: ChannelLearner,
) -> None:
    """Register every slash command and button listener on ``app``.

    A command may come from a channel no event has taught the adapter (commands work where the bot
    is not a member): ``learn_channel`` looks it up first, so a Slack Connect channel is known as
    shared before the command is published.
    """

    async def on_command(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()  # first, always: everything below may take longer than Slack's 3 s
        payload: SlashCommandPayload = body  # type: ignore[assignment]
        team_id = payload.get("team_id", "")
        user_id = payload.get("user_id", "")
        facts = await admin.facts(client, team_id, user_id) if user_id else AdminFacts(False, ())
        channel_id = payload.get("channel_id", "")
        if team_id and isinstance(channel_id, str) and channel_id:
            # conversations.info answers for channels the bot is not in; a learned one is not asked.
            await learn_channel(client, team_id, channel_id, None)
        ctx = await context_for(client, team_id)
        cmd = normalize_command(
            payload,
            ctx,
            is_platform_admin=facts.is_platform_admin,
            role_ids=facts.role_ids,
            tz=facts.tz,
            guest=facts.guest,
            external=facts.external,
        )
        if cmd is None:
            log.warning("slash command without user/channel ignored: %s", payload.get("command"))
            return
        await publish(shared_unless_known(cmd))

    async def on_block_action(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        team_id = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
        ctx = await context_for(client, team_id)
        clicks = normalize_block_actions(body, ctx)
        if clicks:
            # Some buttons act for admins (approve a shadow-mode draft): the clicker's facts ride
            # along as on a slash command (cached lookups, failing closed).
            facts = await admin.facts(client, team_id, clicks[0].user.user_id)
            clicks = [
                dataclasses.replace(c, is_platform_admin=facts.is_platform_admin is True, role_ids=facts.role_ids)
                for c in clicks
            ]
        for click in clicks:
            await publish(click)

    app.command(re.compile(r"^/.+"))(on_command)
    app.action(re.compile(r".+"))(on_block_action)

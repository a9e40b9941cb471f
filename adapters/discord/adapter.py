"""The Discord adapter: owns the discord.py client, publishes inbound events, performs actions.

Inbound, discord.py parses gateway payloads and dispatches ``on_*`` events; the handlers here turn
them into :mod:`bot.events` (:mod:`adapters.discord.normalize`) and publish them. Raw edit, delete
and reaction events are used so messages missing from discord.py's cache still count.

Outbound, one bus subscription per action type renders the action (:mod:`adapters.discord.render`)
and sends it. discord.py's ``HTTPClient`` already waits out 429s; a 429 or ``RateLimited`` that
still reaches us is retried a bounded number of times after its ``retry_after`` (never a busy
loop). A member who cannot be DMed (DMs closed 50007, deleted 10013, no shared server 50278) is
logged once and skipped for ``DM_CLOSED_TTL_S`` (6 h). A message (in a channel or a DM) that fails after some of its parts were sent is
logged, not failed, so a redelivery never sends those parts twice.

At login the application's flags tell which privileged intents the Developer Portal enabled; missing
ones are dropped with one warning instead of letting the gateway close with code 4014. Every gateway
parser is wrapped so a malformed payload is logged and skipped rather than ending the connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
import discord

from adapters.discord import normalize, render
from adapters.discord.commands import PUBLIC_COMMANDS, Options, build_tree, command_text
from bot.bus import EventBus, subscribe_platform_actions
from bot.config import Settings
from bot.events import (
    AddReaction,
    Attachment,
    Button,
    ButtonClicked,
    ChannelRef,
    Citation,
    CommandInvoked,
    CommandReply,
    Event,
    MarkThreadSolved,
    Platform,
    SendDirectMessage,
    SendEphemeral,
    SendMessage,
    UserRef,
    Visibility,
    WorkspaceRef,
    WorkspaceRemoved,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
ClientFactory = Callable[..., discord.Client]
DM_CLOSED = 50007
UNKNOWN_USER = 10013  # the member's account was deleted, or the id is wrong
NO_MUTUAL_GUILDS = 50278  # the member left every server the bot is in
# Why a member cannot be DMed, by error code: each would fail the same way on the next digest or nudge.
UNDELIVERABLE_DM = {DM_CLOSED: "DMs closed", UNKNOWN_USER: "unknown user", NO_MUTUAL_GUILDS: "no server shared"}
UNKNOWN_CHANNEL = 10003  # the channel or thread was deleted
MISSING_PERMISSIONS = 50013  # e.g. no Attach Files in that channel
ENTITY_TOO_LARGE = 40005  # an upload over the server's file size limit
RATE_LIMIT_RETRIES = 3
PRIVATE_REPLY_NOTE = "Only you can see the reply to this command."
COMMAND_FAILED_NOTE = "Sorry, something went wrong on Guildhall's side and this command was not run. Please try again."
MAX_PENDING_INTERACTIONS = 2000  # interaction tokens live 15 minutes; this bounds memory, not time
# An interaction's token lives 15 minutes from its creation; past this age (counted from when it
# reached us, with room for the clock skew and a multi-part answer) it is not tried at all.
INTERACTION_TTL_S = 14.5 * 60
# How Discord refuses a call on an interaction whose token is no longer valid. Past 15 minutes it
# answers 401 with 50027 Invalid Webhook Token (a plain HTTPException in discord.py, not NotFound);
# a dismissed or unknown one, 404 with 10015 Unknown Webhook or 10062 Unknown Interaction.
INVALID_WEBHOOK_TOKEN = 50027
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
INTERACTION_GONE_CODES = frozenset({INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK, UNKNOWN_INTERACTION})
MAX_DM_CLOSED = 10_000
# Members may open their DMs again (or rejoin a server): long enough to spare the API a storm, short
# enough that they get the next day's digest.
DM_CLOSED_TTL_S = 6 * 3600.0
# Reaction names brains use (Slack-style) mapped to the unicode Discord expects.
EMOJI_NAMES = {
    "white_check_mark": "\u2705",
    "heavy_check_mark": "\u2714\ufe0f",
    "thumbsup": "\U0001f44d",
    "+1": "\U0001f44d",
    "eyes": "\U0001f440",
    "tada": "\U0001f389",
    "x": "\u274c",
}
# Portal names of the privileged intents, for the one warning logged when some are not enabled.
MESSAGE_CONTENT = "MESSAGE CONTENT INTENT"
SERVER_MEMBERS = "SERVER MEMBERS INTENT"
# Forum tags (case-insensitive names) that MarkThreadSolved applies when the forum defines one.
SOLVED_TAG_NAMES = ("solved", "resolved", "answered")
MAX_APPLIED_TAGS = 5  # Discord's limit per forum post
THREAD_ARCHIVED = 50083  # Discord refuses edits and reactions in an archived thread


def privileged_intents_help(missing: list[str]) -> str:
    """The warning logged once when the Developer Portal has not enabled ``missing`` intents."""
    return (
        f"discord: the {' and '.join(missing)} is not enabled for this application, so Guildhall "
        "connects without it: it keeps answering mentions, DMs and slash commands, but cannot read "
        "ordinary channel messages (message content) or see new members (server members). To enable: "
        "https://discord.com/developers/applications -> your application -> Bot -> Privileged Gateway "
        f"Intents -> turn on {' and '.join(missing)} -> Save Changes, then restart Guildhall."
    )


def gateway_intents(
    *, privileged: bool = True, message_content: bool | None = None, members: bool | None = None
) -> discord.Intents:
    """The minimum intents: guilds, guild/DM messages and reactions; plus the privileged
    ``message_content`` (read questions) and ``members`` (joins and leaves).

    Args:
        privileged: default for both privileged intents.
        message_content: overrides ``privileged`` for the Message Content intent.
        members: overrides ``privileged`` for the Server Members intent.
    """
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.guild_reactions = True
    intents.dm_reactions = True
    intents.message_content = privileged if message_content is None else message_content
    intents.members = privileged if members is None else members
    return intents


def make_client(settings: Settings, *, intents: discord.Intents | None = None) -> discord.Client:
    """A client, auto-sharded when ``discord.shard_count`` is configured.

    Args:
        settings: ``settings.discord.shard_count`` / ``shard_ids`` select sharding.
        intents: the gateway intents; :func:`gateway_intents` (all we use) when omitted.
    """
    cfg = settings.discord
    intents = intents if intents is not None else gateway_intents()
    # Chunking whole member lists at startup is slow on big guilds and not needed: members arrive
    # with their messages and interactions.
    if cfg.shard_count:
        # Without shard_ids this process runs every shard; with them, its share of a split bot.
        shard_kwargs: dict[str, Any] = {"shard_ids": cfg.shard_ids} if cfg.shard_ids else {}
        return discord.AutoShardedClient(
            intents=intents,
            shard_count=cfg.shard_count,
            **shard_kwargs,
            chunk_guilds_at_startup=False,
            allowed_mentions=discord.AllowedMentions.none(),
        )
    return discord.Client(
        intents=intents, chunk_guilds_at_startup=False, allowed_mentions=discord.AllowedMentions.none()
    )


class _InteractionGone(Exception):
    """An interaction's token died after ``sent`` follow-up parts (maybe none) went out."""

    def __init__(self, sent: int) -> None:
        super().__init__(f"interaction gone after {sent} part(s)")
        self.sent = sent


def _unsent_text(text: str, sent: int) -> str:
    """``text`` less its first ``sent`` parts as :meth:`DiscordAdapter._send_chunks` cut them."""
    if not sent:
        return text
    # The parts are already neutralized; neutralizing again is a no-op.
    return "\n".join(render.split_message(render.neutralize_mentions(text))[sent:])


class RateLimitExhausted(RuntimeError):
    """A call still rate limited after ``RATE_LIMIT_RETRIES`` waits."""


class DiscordAdapter:
    """Connects Guildhall to Discord.

    Args:
        settings: the app settings; ``settings.discord`` holds the token and sharding.
        client: a prepared client (tests inject one driven by recorded payloads); built from the
            settings when omitted.
        sleep: how to wait before retrying a rate-limited call (tests pass a recorder).
        client_factory: builds the replacement client when privileged intents must be dropped
            (tests pass one that records HTTP); :func:`make_client` by default.
        clock: monotonic seconds, for how long an undeliverable member is skipped and an interaction
            may still be answered through (tests pass a fake).
    """

    platform = Platform.DISCORD

    def __init__(
        self,
        settings: Settings,
        *,
        client: discord.Client | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        client_factory: ClientFactory = make_client,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._client_factory = client_factory
        self._warned_intents = False
        self._bus: EventBus | None = None
        self._task: asyncio.Task[None] | None = None
        self._receiving = True  # False once shutdown began: gateway events are no longer published
        # Interaction id -> the interaction and when (``clock``) it reached us: its token's age.
        self._interactions: OrderedDict[str, tuple[discord.Interaction, float]] = OrderedDict()
        # Interactions deferred publicly whose "thinking" message nothing has replaced yet (see _followup).
        self._public_defers: set[str] = set()
        self._clock = clock
        # The THREAD_MEMBERS_UPDATE last handled (see _on_raw_thread_member_remove).
        self._members_update: discord.RawThreadMembersUpdate | None = None
        # Member id -> when DMing them may be tried again (see UNDELIVERABLE_DM).
        self.dm_closed: OrderedDict[str, float] = OrderedDict()
        self.client = client if client is not None else make_client(settings)
        self._install(self.client)

    # -- wiring -------------------------------------------------------------------------------
    def _install(self, client: discord.Client) -> None:
        """Register event handlers and the command tree on ``client``."""
        self.tree = build_tree(client, self._on_command)
        # discord.Client.dispatch looks handlers up as ``on_<event>`` attributes.
        handlers: dict[str, Callable[..., Awaitable[None]]] = {
            "on_message": self._on_message,
            "on_raw_message_edit": self._on_raw_message_edit,
            "on_raw_message_delete": self._on_raw_message_delete,
            "on_raw_bulk_message_delete": self._on_raw_bulk_message_delete,
            "on_raw_reaction_add": self._on_raw_reaction,
            "on_raw_reaction_remove": self._on_raw_reaction,
            "on_member_join": self._on_member_join,
            "on_raw_member_remove": self._on_member_remove,
            "on_thread_create": self._on_thread_create,
            "on_guild_join": self._on_guild,
            "on_guild_available": self._on_guild,
            "on_guild_remove": self._on_guild_remove,
            "on_ready": self._on_ready,
            "on_guild_channel_create": self._on_channel,
            "on_guild_channel_update": self._on_channel_update,
            "on_guild_channel_delete": self._on_channel_delete,
            "on_guild_role_create": self._on_role,
            "on_guild_role_update": self._on_role_update,
            "on_guild_role_delete": self._on_role,
            "on_raw_thread_delete": self._on_raw_thread_delete,
            "on_raw_thread_member_remove": self._on_raw_thread_member_remove,
            "on_interaction": self._on_interaction,
        }
        for name, handler in handlers.items():
            setattr(client, name, handler)
        client.on_error = self._on_error  # type: ignore[method-assign]
        guard_parsers(client)

    async def _on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """discord.py's hook for a handler that raised: log it; the gateway keeps running."""
        log.exception("discord: %s failed; event skipped", event_method)

    def attach(self, bus: EventBus) -> None:
        """Subscribe to Discord's outbound actions on ``bus`` and publish inbound events to it."""
        self._bus = bus
        subscribe_platform_actions(
            bus,
            Platform.DISCORD,
            [
                (SendMessage, self.send_message),
                (SendDirectMessage, self.send_direct_message),
                (SendEphemeral, self.send_ephemeral),
                (AddReaction, self.add_reaction),
                (MarkThreadSolved, self.mark_thread_solved),
                (CommandReply, self.command_reply),
            ],
        )

    async def start(self) -> None:
        """Log in, settle the intents, then connect the gateway in a background task."""
        token = self.settings.discord.token
        if token is None:
            raise ValueError("discord: set DISCORD_TOKEN (the bot token from the Developer Portal)")
        try:
            await self.login(token.get_secret_value())
        except discord.LoginFailure as exc:
            await self.client.close()
            raise ValueError(
                "discord: DISCORD_TOKEN was rejected; copy a fresh one from the Developer Portal "
                "(your application -> Bot -> Reset Token)"
            ) from exc
        except OSError as exc:  # DNS, refused, TLS: aiohttp's connector errors are OSErrors
            await self.client.close()
            raise ValueError(f"discord: cannot reach discord.com ({exc}); check the network or proxy") from exc
        self._task = asyncio.create_task(self._run(token.get_secret_value()), name="discord-gateway")

    async def login(self, token: str) -> None:
        """Log in over REST and drop privileged intents the application has not enabled.

        Discord closes the gateway (code 4014) when a bot asks for a privileged intent the Developer
        Portal has not enabled. The application's flags say which are enabled, so the missing ones
        are dropped before connecting, with one warning that says how to enable them.
        """
        await self.client.login(token)
        missing = self._missing_intents()
        if missing:
            await self._drop_privileged_intents(missing)
            await self.client.login(token)
        await self.sync_command_guilds()

    def _missing_intents(self) -> list[str]:
        """Privileged intents this client asks for that the application's flags do not grant."""
        app = self.client.application
        if app is None:
            return []
        flags = app.flags
        intents = self.client.intents
        missing: list[str] = []
        if intents.message_content and not (flags.gateway_message_content or flags.gateway_message_content_limited):
            missing.append(MESSAGE_CONTENT)
        if intents.members and not (flags.gateway_guild_members or flags.gateway_guild_members_limited):
            missing.append(SERVER_MEMBERS)
        return missing

    async def _drop_privileged_intents(self, missing: list[str]) -> None:
        """Replace the client by one without ``missing`` intents, warning once."""
        if not self._warned_intents:
            log.warning(privileged_intents_help(missing))
            self._warned_intents = True
        intents = self.client.intents
        await self.client.close()
        self.client = self._client_factory(
            self.settings,
            intents=gateway_intents(
                message_content=intents.message_content and MESSAGE_CONTENT not in missing,
                members=intents.members and SERVER_MEMBERS not in missing,
            ),
        )
        self._install(self.client)

    async def sync_command_guilds(self) -> None:
        """Register the commands instantly in ``discord.command_guild_ids`` (for testing servers)."""
        for guild_id in self.settings.discord.command_guild_ids:
            guild = discord.Object(int(guild_id))
            self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                # 50001 Missing Access: the bot was invited without the applications.commands scope.
                log.warning(
                    "discord: cannot sync commands to guild %s (%s); was the bot invited with the "
                    "applications.commands scope?",
                    guild_id,
                    exc,
                )
                continue
            log.info("discord: synced %d commands to guild %s", len(synced), guild_id)

    async def _run(self, token: str) -> None:
        try:
            try:
                await self.client.connect(reconnect=True)
            except discord.PrivilegedIntentsRequired:
                # Backstop for a portal change after login: same warning, reconnect without them.
                await self._drop_privileged_intents([MESSAGE_CONTENT, SERVER_MEMBERS])
                await self.client.login(token)
                await self.client.connect(reconnect=True)
        except Exception:
            log.exception("discord gateway stopped")
            raise

    async def stop_receiving(self) -> None:
        """First step of shutdown: close the gateway (no reconnect), publish nothing more, and keep
        the HTTP session open, so the answers the bus drains afterwards still reach Discord."""
        self._receiving = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        ws = getattr(self.client, "ws", None)
        if ws is not None and getattr(ws, "open", False):
            await ws.close(code=1000)

    async def stop(self) -> None:
        """Close the gateway connection and the HTTP session (after the drain: see :meth:`stop_receiving`)."""
        self._receiving = False
        await self.client.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _publish(self, event: Event | None) -> None:
        if event is not None and self._bus is not None and self._receiving:
            await self._bus.publish(event)

    @property
    def _self_id(self) -> int | None:
        return self.client.user.id if self.client.user is not None else None

    def _channel_ref(self, channel_id: int, guild_id: int | None) -> ChannelRef:
        """The channel of a raw event; an uncached one keeps the event's guild id, and is never
        guessed public (a DM outside a guild, else private until a ChannelSeen says)."""
        channel = self.client.get_channel(channel_id)
        if channel is None:
            visibility = Visibility.DM if guild_id is None else Visibility.PRIVATE
            return ChannelRef(Platform.DISCORD, normalize.workspace_id_from(guild_id), str(channel_id), "", visibility)
        return normalize.channel_ref(channel)

    # -- inbound ------------------------------------------------------------------------------
    async def _on_message(self, message: discord.Message) -> None:
        if not normalize.is_chat(message):
            return  # pins, joins, boosts: not chat
        await self._publish(normalize.message_posted(message, self_id=self._self_id))

    async def _on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._publish(normalize.message_edited(payload, self_id=self._self_id))

    async def _on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        ref = self._channel_ref(payload.channel_id, payload.guild_id)
        for event in normalize.messages_deleted(ref, [payload.message_id]):
            await self._publish(event)

    async def _on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        ref = self._channel_ref(payload.channel_id, payload.guild_id)
        for event in normalize.messages_deleted(ref, payload.message_ids):
            await self._publish(event)

    async def _on_raw_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        ref = self._channel_ref(payload.channel_id, payload.guild_id)
        await self._publish(normalize.reaction(payload, ref, self_id=self._self_id, now=datetime.now(UTC)))

    async def _on_member_join(self, member: discord.Member) -> None:
        await self._publish(normalize.member_joined(member))

    async def _on_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        await self._publish(normalize.member_left(payload, datetime.now(UTC)))

    async def _on_thread_create(self, thread: discord.Thread) -> None:
        await self._publish(normalize.thread_created(thread, self_id=self._self_id))

    async def _on_guild(self, guild: discord.Guild) -> None:
        now = datetime.now(UTC)
        for channel in guild.channels:
            await self._publish(normalize.channel_seen(channel, now))

    async def _on_guild_remove(self, guild: discord.Guild) -> None:
        # discord.py dispatches this for a GUILD_DELETE without ``unavailable``: the bot was kicked
        # or the server deleted. An outage (``unavailable``) is on_guild_unavailable and changes nothing.
        workspace = WorkspaceRef(Platform.DISCORD, normalize.workspace_id_from(guild.id), guild.name or "")
        reason = "removed from the Discord server: kicked, or the server was deleted"
        await self._publish(WorkspaceRemoved(workspace, datetime.now(UTC), reason))

    async def _on_ready(self) -> None:
        # A kick while the bot was offline sends nothing: the guild is just missing from the next
        # READY, and scheduled jobs would keep posting there and failing. discord.py dispatches
        # on_ready once READY and the GUILD_CREATE stream that follows are processed (after every
        # shard's, on an AutoShardedClient), so the cache now names every guild the bot is in; the
        # recorder marks the stored guilds of our shards that it does not name.
        #
        # It fires again after a reconnect that could not resume (a new session, a new READY): the
        # recorder keeps the first mark, so publishing again is harmless. A plain Client empties its
        # cache at each READY; an AutoShardedClient does not, so a guild left while one of its shards
        # was disconnected stays cached until a restart: missed (a mark too few), never wrongly marked.
        shards = connected_shards(self.client)
        if shards is None:
            log.warning("discord: ready, but the shard count is unknown; stored servers are not checked")
            return
        shard_count, shard_ids = shards
        await self._publish(
            normalize.workspaces_connected(self.client.guilds, shard_count, shard_ids, datetime.now(UTC))
        )

    async def _on_channel(self, channel: Any) -> None:
        await self._publish(normalize.channel_seen(channel, datetime.now(UTC)))

    async def _on_channel_update(self, before: Any, after: Any) -> None:
        await self._on_channel(after)

    async def _on_role(self, role: discord.Role) -> None:
        # Who reads a channel follows the roles' server-wide permissions too (@everyone losing View
        # Channels gates every channel at once), and no channel update comes for that: every
        # channel of the guild is seen again, so the store's visibility and access lists follow.
        await self._on_guild(role.guild)

    async def _on_role_update(self, before: discord.Role, after: discord.Role) -> None:
        if before.permissions != after.permissions:  # a new name or colour changes nobody's access
            await self._on_role(after)

    async def _on_channel_delete(self, channel: Any) -> None:
        # A deleted channel's history is gone for its members: it must stop being stored and cited.
        guild = getattr(channel, "guild", None)
        await self._publish(normalize.channel_deleted(channel.id, guild.id if guild else None, datetime.now(UTC)))

    async def _on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        # Raw, so a thread missing from the cache (archived, or from before a restart) is erased too.
        await self._publish(normalize.channel_deleted(payload.thread_id, payload.guild_id, datetime.now(UTC)))

    async def _on_raw_thread_member_remove(self, payload: discord.RawThreadMembersUpdate) -> None:
        # discord.py dispatches this once per removed member, each time with the whole update and
        # no word of which member it is for: the first dispatch publishes every removal, the
        # others (the same object) nothing. It only comes for a cached thread.
        if payload is self._members_update:
            return
        self._members_update = payload
        thread = self.client.get_channel(payload.thread_id)
        removed = payload.data.get("removed_member_ids", [])
        for event in normalize.members_left_private_thread(
            thread, removed, self_id=self._self_id, now=datetime.now(UTC)
        ):
            await self._publish(event)

    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        """Button clicks: acknowledge (deferred update) and publish :class:`ButtonClicked`."""
        if interaction.type is not discord.InteractionType.component or interaction.data is None:
            return
        custom_id = str(interaction.data.get("custom_id", ""))
        action_id, value = render.parse_custom_id(custom_id)
        if not action_id or interaction.channel is None:
            return
        await interaction.response.defer()
        self._remember(interaction)
        guild_id = normalize.workspace_id(interaction.guild)
        is_admin, role_ids = _admin_facts(interaction)
        event = ButtonClicked(
            action_id=action_id,
            value=value,
            user=normalize.user_ref(interaction.user, guild_id, self_id=self._self_id),
            channel=normalize.channel_ref(interaction.channel),
            message_id=str(interaction.message.id) if interaction.message else "",
            interaction_id=str(interaction.id),
            ts=interaction.created_at,
            response_ref=str(interaction.id),
            is_platform_admin=is_admin,
            role_ids=role_ids,
        )
        await self._publish(event)

    async def _on_command(self, interaction: discord.Interaction, name: str, options: Options, text: str) -> None:
        """Publish an already-deferred slash command as :class:`CommandInvoked`.

        The member already sees "thinking…": if the command cannot be handed on (a payload
        discord.py parsed into something unexpected, the bus refusing the event), the thinking
        message becomes :data:`COMMAND_FAILED_NOTE` instead of spinning until the token dies.
        """
        self._remember(interaction)
        if name in PUBLIC_COMMANDS:
            self._public_defers.add(str(interaction.id))
        try:
            await self._publish(self.command_invoked(interaction, name, options, text))
        except Exception:
            log.exception("discord: could not hand on /%s (interaction %s)", name, interaction.id)
            await self._command_failed(interaction)

    async def _command_failed(self, interaction: discord.Interaction) -> None:
        """Tell the member their command failed, in place of its "thinking…" message (which keeps
        the defer's visibility: private for a private command)."""
        ref = str(interaction.id)
        self._interactions.pop(ref, None)  # nothing will answer it
        self._public_defers.discard(ref)
        try:
            await self._retrying(lambda: interaction.edit_original_response(content=COMMAND_FAILED_NOTE))
        except (discord.HTTPException, RateLimitExhausted, OSError, aiohttp.ClientError) as exc:
            log.warning("discord: could not tell the member that interaction %s failed: %r", ref, exc)

    def command_invoked(
        self, interaction: discord.Interaction, name: str, options: Options, text: str | None = None
    ) -> CommandInvoked:
        """The :class:`CommandInvoked` for an interaction (facts only; the router decides)."""
        guild_id = normalize.workspace_id(interaction.guild)
        user = interaction.user
        is_admin, role_ids = _admin_facts(interaction)
        channel = interaction.channel
        if channel is not None:
            channel_ref = normalize.channel_ref(channel)
        else:
            # No channel discord.py could model (a type it does not know): who reads it is unknown,
            # so never public.
            visibility = Visibility.DM if interaction.guild_id is None else Visibility.PRIVATE
            channel_ref = ChannelRef(
                Platform.DISCORD, guild_id, str(interaction.channel_id or ""), "", visibility, visibility_known=False
            )
        return CommandInvoked(
            name=name,
            user=normalize.user_ref(user, guild_id, self_id=self._self_id),
            channel=channel_ref,
            interaction_id=str(interaction.id),
            ts=interaction.created_at,
            text=command_text(options) if text is None else text,
            options=tuple(options),
            response_ref=str(interaction.id),
            is_platform_admin=is_admin,
            role_ids=role_ids,
            thread_id=normalize.thread_id_of(channel) if channel is not None else None,
        )

    def _remember(self, interaction: discord.Interaction) -> None:
        self._interactions[str(interaction.id)] = (interaction, self._clock())
        while len(self._interactions) > MAX_PENDING_INTERACTIONS:
            old_id, _ = self._interactions.popitem(last=False)
            self._public_defers.discard(old_id)

    def _live_interaction(self, ref: str) -> discord.Interaction | None:
        """The remembered interaction ``ref`` while its token can still carry an answer; one older
        than ``INTERACTION_TTL_S`` is forgotten, so the answer goes the no-interaction way at once
        instead of through a request Discord would refuse."""
        remembered = self._interactions.get(ref)
        if remembered is None:
            return None
        interaction, at = remembered
        if self._clock() - at < INTERACTION_TTL_S:
            return interaction
        del self._interactions[ref]
        self._public_defers.discard(ref)
        return None

    # -- outbound -----------------------------------------------------------------------------
    async def send_message(self, action: SendMessage) -> None:
        """Post in a channel, or in the thread when ``thread_id`` is set."""
        target = self.client.get_partial_messageable(int(self._target_id(action)), guild_id=_guild_id(action.channel))
        reference = None
        if action.reply_to:
            reference = discord.MessageReference(
                message_id=int(action.reply_to), channel_id=target.id, fail_if_not_exists=False
            )
        try:
            await self._send_parts(
                f"message to channel {target.id}",
                target.send,
                action.text,
                action.attachments,
                action.citations,
                action.buttons,
                reference=reference,
                notify=action.notify_user_ids,
            )
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_CHANNEL:
                raise
            # The thread (or channel) was deleted, usually by a moderator: retrying cannot succeed
            # (a raised error would be redelivered), and reposting in the parent would undo the deletion.
            log.warning("discord: channel %s no longer exists (error 10003); message dropped", target.id)

    def _target_id(self, action: SendMessage) -> str:
        """Where a message goes: its thread, or the channel.

        Brains written for Slack answer "in the thread of" an unthreaded message by passing its id
        as ``thread_id``. On Discord a message id is not a channel, so unless that id is a known
        thread (a forum post's starter message shares its thread's id) the answer is posted in the
        channel as a reply to the message instead.
        """
        thread_id = action.thread_id
        if thread_id is None:
            return action.channel.channel_id
        if thread_id != action.reply_to or action.channel.is_forum:
            return thread_id
        if isinstance(self.client.get_channel(int(thread_id)), discord.Thread):
            return thread_id
        return action.channel.channel_id

    async def send_direct_message(self, action: SendDirectMessage) -> None:
        """DM a member; one who cannot be DMed (DMs closed, deleted, gone from every server) is
        remembered and skipped for ``DM_CLOSED_TTL_S``."""
        user_id = action.user.user_id
        until = self.dm_closed.get(user_id)
        if until is not None and self._clock() >= until:
            del self.dm_closed[user_id]
        elif until is not None:
            log.debug("discord: not DMing %s, undeliverable a moment ago", user_id)
            return
        try:
            channel = await self._retrying(lambda: self.client.create_dm(discord.Object(int(user_id))))
            await self._send_parts(
                f"DM to user {user_id}", channel.send, action.text, action.attachments, action.citations, action.buttons
            )
        except discord.HTTPException as exc:
            if exc.code in UNDELIVERABLE_DM:
                self._mark_dm_closed(action.user, exc.code)
                return
            if not isinstance(exc, discord.Forbidden):
                raise  # a server error before anything went out: a redelivery may send it whole
            # No redelivery can grant a permission.
            log.warning(
                "discord: DM to user %s refused (%s %s: %s); not retried", user_id, exc.status, exc.code, exc.text
            )

    def _mark_dm_closed(self, user: UserRef, code: int = DM_CLOSED) -> None:
        log.warning(
            "discord: cannot DM user %s (%s, error %s); not retrying", user.user_id, UNDELIVERABLE_DM[code], code
        )
        self.dm_closed[user.user_id] = self._clock() + DM_CLOSED_TTL_S
        while len(self.dm_closed) > MAX_DM_CLOSED:
            self.dm_closed.popitem(last=False)

    async def send_ephemeral(self, action: SendEphemeral) -> None:
        """Answer privately through the interaction; Discord has no other ephemeral path, so a
        message without a live interaction goes to the member's DMs instead."""
        interaction = self._live_interaction(action.response_ref) if action.response_ref else None
        if interaction is None:
            dm = SendDirectMessage(action.user, action.text, action.attachments, action.citations, action.buttons)
            await self.send_direct_message(dm)
            return
        try:
            await self._followup(interaction, action.text, action.attachments, action.citations, action.buttons, True)
        except _InteractionGone as exc:
            # The interaction's token died (15 minutes, or dismissed): the note still reaches the
            # member, privately, as command replies do; only the parts it had not carried yet.
            log.warning("discord: interaction %s gone; sending the private note by DM", action.response_ref)
            text = _unsent_text(action.text, exc.sent)
            dm = SendDirectMessage(action.user, text, action.attachments, action.citations, action.buttons)
            await self.send_direct_message(dm)

    async def command_reply(self, action: CommandReply) -> None:
        """Send a :class:`bot.events.CommandReply` as the deferred interaction's follow-up."""
        interaction = self._live_interaction(action.command.response_ref)
        if interaction is None:
            log.warning("discord: interaction %s expired or unknown; replying outside it", action.command.response_ref)
            await self._reply_without_interaction(action)
            return
        try:
            await self._followup(
                interaction, action.text, action.attachments, action.citations, action.buttons, action.ephemeral
            )
        except _InteractionGone as exc:
            # The interaction's token died (15 minutes, or the member dismissed it): a slow answer
            # must still arrive, where a follow-up would have put it (a private one by DM).
            log.warning("discord: interaction %s gone; replying outside it", action.command.response_ref)
            await self._reply_without_interaction(replace(action, text=_unsent_text(action.text, exc.sent)))

    async def _reply_without_interaction(self, action: CommandReply) -> None:
        """A command's reply once its interaction cannot carry it: privately by DM, publicly in the
        channel it was asked in."""
        cmd = action.command
        if action.ephemeral:
            await self.send_direct_message(
                SendDirectMessage(cmd.user, action.text, action.attachments, action.citations, action.buttons)
            )
            return
        await self.send_message(
            SendMessage(
                channel=cmd.channel,
                text=action.text,
                thread_id=cmd.thread_id,
                citations=action.citations,
                attachments=action.attachments,
                buttons=action.buttons,
            )
        )

    async def _followup(
        self,
        interaction: discord.Interaction,
        text: str,
        attachments: tuple[Attachment, ...],
        citations: tuple[Citation, ...],
        buttons: tuple[Button, ...],
        ephemeral: bool,
    ) -> None:
        """Send the parts as follow-ups, under :meth:`_send_parts`' policy: a failure after the first
        part is logged, not raised, so a redelivery cannot post that part again.

        Discord gives the first follow-up of a public defer the defer's visibility, whatever its
        flags. So while a public defer still shows "thinking" (``_public_defers``), a private reply
        first turns that message into a note (:data:`PRIVATE_REPLY_NOTE`), then follows up. The
        interaction leaves ``_public_defers`` only once the note or a follow-up went out: a failed
        attempt (a 5xx, a rate limit, a dropped connection) that the bus redelivers applies the
        rule again instead of posting the private reply publicly.

        Raises:
            _InteractionGone: the interaction went away after ``sent`` parts (maybe none): the caller
                sends the rest elsewhere.
        """
        ref = str(interaction.id)
        if ephemeral and ref in self._public_defers:
            try:
                await self._retrying(lambda: interaction.edit_original_response(content=PRIVATE_REPLY_NOTE))
            except discord.HTTPException as exc:
                if not _interaction_gone(exc):
                    raise
                raise _InteractionGone(0) from exc
            self._public_defers.discard(ref)
        sent = 0

        async def send(**kwargs: Any) -> Any:
            nonlocal sent
            try:
                message = await interaction.followup.send(ephemeral=ephemeral, **kwargs)
            except discord.HTTPException as exc:
                if not _interaction_gone(exc):
                    raise
                # Not an HTTPException, so _send_parts lets it through instead of dropping the rest.
                raise _InteractionGone(sent) from exc
            sent += 1
            self._public_defers.discard(ref)  # the "thinking" message is replaced now
            return message

        await self._send_parts(
            f"follow-up to interaction {interaction.id}", send, text, attachments, citations, buttons
        )

    async def add_reaction(self, action: AddReaction) -> None:
        """React to a message; Slack-style names are mapped to unicode."""
        channel = self.client.get_partial_messageable(
            int(action.channel.channel_id), guild_id=_guild_id(action.channel)
        )
        message = channel.get_partial_message(int(action.message_id))
        emoji = EMOJI_NAMES.get(action.emoji.strip(":"), action.emoji)
        await self._retrying(lambda: message.add_reaction(emoji))

    async def mark_thread_solved(self, action: MarkThreadSolved) -> None:
        """Mark a solved thread: the forum's "Solved" tag when it has one, and ✅ on the accepted
        answer (or the thread's starter message, whose id is the thread id for forum posts).

        Discord refuses both in an archived thread (400, :data:`THREAD_ARCHIVED`), and old threads
        and forum posts auto-archive: an archived one (by its ``archived`` flag, or by that error
        when our copy is stale) is unarchived for the marking and archived again afterwards. One
        the bot may not unarchive (locked, no Manage Threads) is logged and left as it is.
        """
        thread = await self._solved_thread(action.thread_id)
        if thread is None or not thread.archived:
            try:
                await self._mark_solved(action, thread)
                return
            except discord.HTTPException as exc:
                if exc.code != THREAD_ARCHIVED:
                    raise
            # Archived since our copy was taken (discord.py drops archived threads from its cache
            # on THREAD_UPDATE, so a missed event leaves one that says open), or not looked up.
            log.info("discord: thread %s turned out to be archived; unarchiving it to mark it solved", action.thread_id)
            if thread is None:
                thread = await self._solved_thread(action.thread_id)
            if thread is None:
                log.warning(
                    "discord: thread %s is archived and cannot be looked up; not marked solved", action.thread_id
                )
                return
        await self._while_unarchived(thread, lambda: self._mark_solved(action, thread))

    async def _mark_solved(self, action: MarkThreadSolved, thread: discord.Thread | None) -> None:
        """The solved tag (forum posts only), then ✅ on the accepted answer or the starter message."""
        if thread is not None:
            await self._apply_solved_tag(thread)
        channel = self.client.get_partial_messageable(int(action.thread_id), guild_id=_guild_id(action.channel))
        message = channel.get_partial_message(int(action.accepted_message_id or action.thread_id))
        await self._retrying(lambda: message.add_reaction(EMOJI_NAMES["white_check_mark"]))

    async def _solved_thread(self, thread_id: str) -> discord.Thread | None:
        """The thread to mark: the cached one, else fetched (archived threads are not cached);
        None when it cannot be looked up or is not a thread."""
        thread = self.client.get_channel(int(thread_id))
        if thread is None:
            try:
                thread = await self.client.fetch_channel(int(thread_id))
            except discord.HTTPException as exc:
                log.info("discord: cannot look up thread %s to mark it solved: %s", thread_id, exc)
                return None
        return thread if isinstance(thread, discord.Thread) else None

    async def _while_unarchived(self, thread: discord.Thread, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` with the archived ``thread`` unarchived, then archive it again.

        An unarchive Discord refuses (a locked thread without Manage Threads, a missing permission)
        is logged and ``work`` skipped: no redelivery can change that. A server error is raised, so
        the bus may redeliver; nothing was changed yet.
        """
        try:
            await self._retrying(lambda: thread.edit(archived=False, reason="Guildhall: marking solved"))
        except discord.HTTPException as exc:
            if isinstance(exc, discord.DiscordServerError):
                raise
            why = "it is locked and the bot lacks Manage Threads" if thread.locked else "give the bot Manage Threads"
            log.warning(
                "discord: thread %s is archived and Discord refused to unarchive it (%s %s: %s); %s. Not marked solved",
                thread.id,
                exc.status,
                exc.code,
                exc.text,
                why,
            )
            return
        try:
            await work()
        finally:
            # Archived again whether or not ``work`` succeeded: it was archived before we came.
            try:
                await self._retrying(lambda: thread.edit(archived=True, reason="Guildhall: marked solved"))
            except (discord.HTTPException, RateLimitExhausted) as exc:
                log.warning("discord: could not archive thread %s again after marking it solved: %s", thread.id, exc)

    async def _apply_solved_tag(self, thread: discord.Thread) -> None:
        """Add the parent forum's solved tag to the post, if the forum defines one."""
        if not isinstance(thread.parent, discord.ForumChannel):
            return
        tag = render.solved_tag(thread.parent.available_tags, SOLVED_TAG_NAMES)
        applied = thread.applied_tags
        if tag is None or tag in applied:
            return
        if len(applied) >= MAX_APPLIED_TAGS:
            log.info("discord: post %s already has %d tags; not adding %r", thread.id, len(applied), tag.name)
            return
        try:
            await self._retrying(lambda: thread.add_tags(tag, reason="Guildhall: marked solved"))
        except discord.Forbidden:
            log.warning("discord: cannot tag post %s solved; give the bot Manage Threads in that forum", thread.id)

    async def _send_parts(
        self,
        where: str,
        send: Callable[..., Awaitable[Any]],
        text: str,
        attachments: tuple[Attachment, ...],
        citations: tuple[Citation, ...],
        buttons: tuple[Button, ...],
        *,
        reference: discord.MessageReference | None = None,
        notify: tuple[str, ...] = (),
    ) -> None:
        """:meth:`_send_chunks`, with failures split by whether a part already went out.

        Before any part, the error is raised: nothing was posted, so the bus may redeliver the
        whole message. Once a part was posted, a redelivery would post it again (on the Redis bus,
        up to ``max_deliveries`` times), so the rest is dropped and logged with ``where`` (say
        "DM to user 123"), how many parts went out and why.
        """
        sent = 0

        async def counted(**kwargs: Any) -> Any:
            nonlocal sent
            message = await send(**kwargs)
            sent += 1
            return message

        try:
            await self._send_chunks(counted, text, attachments, citations, buttons, reference=reference, notify=notify)
        except (discord.HTTPException, RateLimitExhausted, OSError, aiohttp.ClientError) as exc:
            # discord.py retries a reset connection a few times, then lets the OSError through
            # (TimeoutError is one too); other transport errors (a server hanging up) it never retries.
            if not sent:
                raise
            cause = f"{exc.status} {exc.code}: {exc.text}" if isinstance(exc, discord.HTTPException) else repr(exc)
            log.warning("discord: %s failed after %d part(s) were sent (%s); the rest is dropped", where, sent, cause)

    async def _send_chunks(
        self,
        send: Callable[..., Awaitable[Any]],
        text: str,
        attachments: tuple[Attachment, ...],
        citations: tuple[Citation, ...],
        buttons: tuple[Button, ...],
        *,
        reference: discord.MessageReference | None = None,
        notify: tuple[str, ...] = (),
    ) -> None:
        """Send ``text`` split to Discord's limit; the embed, files and buttons go with the last part.
        Mentions notify nobody but the members in ``notify``."""
        allowed = discord.AllowedMentions.none()
        if notify:
            allowed = discord.AllowedMentions(
                everyone=False,
                roles=False,
                replied_user=False,
                users=[discord.Object(int(u)) for u in notify if u.isdigit()],
            )
        chunks = render.split_message(render.neutralize_mentions(text)) or [""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            if not chunk and not (last and (attachments or citations or buttons)):
                continue  # nothing to send

            # Built per attempt: discord.py closes files after a send, so a retry needs new ones.
            def arguments(
                chunk: str = chunk, first: bool = i == 0, last: bool = last, with_files: bool = True
            ) -> dict[str, Any]:
                kwargs: dict[str, Any] = {"allowed_mentions": allowed}
                if chunk:
                    kwargs["content"] = chunk
                if first and reference is not None:
                    kwargs["reference"] = reference
                if last:
                    # Every pick of a digest, over several embeds if need be (never "…and N more").
                    embeds = render.citations_embeds(citations)
                    if embeds:
                        kwargs["embeds"] = embeds
                    if attachments and with_files:
                        kwargs["files"] = render.files(attachments)
                    view = render.buttons_view(buttons)
                    if view is not None:
                        kwargs["view"] = view
                return kwargs

            async def attempt(arguments: Callable[..., dict[str, Any]] = arguments) -> Any:
                return await send(**arguments())

            try:
                await self._retrying(attempt)
            except discord.HTTPException as exc:
                if not (last and attachments and _upload_refused(exc)):
                    raise
                # The text must not be lost with the chart, nor the earlier parts sent again by a
                # redelivered action: the last part goes without its files.
                log.warning(
                    "discord: files %s refused (%s %s); sending the message without them",
                    [a.filename for a in attachments],
                    exc.status,
                    exc.code,
                )
                if chunks[-1] or citations or buttons:  # something besides the files to send

                    async def text_only(arguments: Callable[..., dict[str, Any]] = arguments) -> Any:
                        return await send(**arguments(with_files=False))

                    await self._retrying(text_only)

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call``; when a rate limit still reaches us, wait ``retry_after`` and try again."""
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                return await call()
            except discord.RateLimited as exc:
                delay = exc.retry_after
            except discord.HTTPException as exc:
                if exc.status != 429:
                    raise
                delay = _retry_after(exc)
            if attempt == RATE_LIMIT_RETRIES:
                break
            log.info("discord: rate limited, retrying in %.2fs", delay)
            await self._sleep(delay)
        raise RateLimitExhausted(f"discord: still rate limited after {RATE_LIMIT_RETRIES} retries")


def connected_shards(client: discord.Client) -> tuple[int, tuple[int, ...]] | None:
    """``(shard_count, shard_ids)``: which share of the bot's guilds ``client`` is connected to.

    A guild belongs to shard ``(guild_id >> 22) % shard_count``; only the guilds of these shards can
    be judged from what this process sees (the others are another process's). None when the count is
    not known yet (an AutoShardedClient before its shards were launched).
    """
    if isinstance(client, discord.AutoShardedClient):
        # discord.shard.launch_shards fills shard_count from GET /gateway/bot when it was not
        # configured (Discord's recommendation), and runs every shard when shard_ids is None.
        count = client.shard_count
        if not count:
            return None
        return count, tuple(client.shard_ids if client.shard_ids is not None else range(count))
    if client.shard_count and client.shard_id is not None:
        return client.shard_count, (client.shard_id,)  # a plain client told to run one shard
    # Unsharded (make_client without discord.shard_count): Discord sends every guild on the one
    # connection, which is shard 0 of 1.
    return 1, (0,)


def guard_parsers(client: discord.Client) -> None:
    """Make every gateway parser of ``client`` log and skip a payload it cannot parse.

    discord.py calls ``ConnectionState.parsers[EVENT](data)`` from the gateway loop without a guard,
    so one malformed or unexpected payload would end the connection. Wrapped once per client.
    """
    parsers = client._connection.parsers
    for event, parse in list(parsers.items()):
        if not getattr(parse, "__guildhall_guarded__", False):
            parsers[event] = _guarded(event, parse)


def _guarded(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
    def run(data: Any) -> None:
        try:
            parse(data)
        except Exception:
            log.warning("discord: skipped a malformed %s payload", event, exc_info=True)

    run.__guildhall_guarded__ = True  # type: ignore[attr-defined]
    return run


def _guild_id(channel: ChannelRef) -> int | None:
    return int(channel.workspace_id) if channel.workspace_id.isdigit() else None


def _interaction_gone(exc: discord.HTTPException) -> bool:
    """Whether Discord refused a call on an interaction because its token no longer works: expired
    (401, 50027), dismissed or unknown (404: 10015, 10062). Retrying it can never succeed."""
    return isinstance(exc, discord.NotFound) or exc.status == 401 or exc.code in INTERACTION_GONE_CODES


def _upload_refused(exc: discord.HTTPException) -> bool:
    """Whether Discord refused a message for its files: too large, or no Attach Files permission."""
    return exc.status == 413 or exc.code in (ENTITY_TOO_LARGE, MISSING_PERMISSIONS)


def _retry_after(exc: discord.HTTPException) -> float:
    """Seconds to wait from a 429: the ``Retry-After`` header, else 1 s."""
    headers = getattr(exc.response, "headers", None) or {}
    try:
        return max(0.0, float(headers.get("Retry-After", 1.0)))
    except (TypeError, ValueError):
        return 1.0


def _admin_facts(interaction: discord.Interaction) -> tuple[bool, tuple[str, ...]]:
    """Whether the member manages the guild, and their role ids (:mod:`bot.permissions` decides).

    In a DM, the roles are the member's in the guilds shared with the bot (the admin group is
    guild-only, so they never make a DM command an admin one).
    """
    user = interaction.user
    is_admin = False
    if isinstance(user, discord.Member):
        perms = interaction.permissions
        is_admin = perms.manage_guild or perms.administrator
    return is_admin, normalize.member_role_ids(user)

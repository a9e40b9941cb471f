"""The Discord adapter: owns the discord.py client, publishes inbound events, performs actions.

Inbound, discord.py parses gateway payloads and dispatches ``on_*`` events; the handlers here turn
them into :mod:`bot.events` (:mod:`adapters.discord.normalize`) and publish them. Raw edit, delete
and reaction events are used so messages missing from discord.py's cache still count.

Outbound, one bus subscription per action type renders the action (:mod:`adapters.discord.render`)
and sends it. discord.py's ``HTTPClient`` already waits out 429s; a 429 or ``RateLimited`` that
still reaches us is retried a bounded number of times after its ``retry_after`` (never a busy
loop). A member with DMs closed (error 50007) is logged once and remembered, never retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import discord

from adapters.discord import normalize, render
from adapters.discord.commands import Options, build_tree, command_text
from bot.bus import EventBus
from bot.config import Settings
from bot.events import (
    Action,
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
)

log = logging.getLogger(__name__)

T = TypeVar("T")
DM_CLOSED = 50007
RATE_LIMIT_RETRIES = 3
MAX_PENDING_INTERACTIONS = 2000  # interaction tokens live 15 minutes; this bounds memory, not time
MAX_DM_CLOSED = 10_000
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
PRIVILEGED_INTENTS_HELP = (
    "Discord refused the privileged intents (message content / server members). Guildhall keeps "
    "running on mentions, DMs and slash commands, but cannot read ordinary channel messages or see "
    "new members. To enable them: https://discord.com/developers/applications -> your application "
    "-> Bot -> Privileged Gateway Intents -> turn on MESSAGE CONTENT INTENT and SERVER MEMBERS "
    "INTENT -> Save, then restart Guildhall."
)


def gateway_intents(*, privileged: bool = True) -> discord.Intents:
    """The minimum intents: guilds, guild/DM messages and reactions; plus the privileged
    ``message_content`` (read questions) and ``members`` (joins) when ``privileged``."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.guild_reactions = True
    intents.dm_reactions = True
    intents.message_content = privileged
    intents.members = privileged
    return intents


def make_client(settings: Settings, *, privileged: bool = True) -> discord.Client:
    """A client, auto-sharded when ``discord.shard_count`` is configured."""
    cfg = settings.discord
    intents = gateway_intents(privileged=privileged)
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


class DiscordAdapter:
    """Connects Guildhall to Discord.

    Args:
        settings: the app settings; ``settings.discord`` holds the token and sharding.
        client: a prepared client (tests inject one driven by recorded payloads); built from the
            settings when omitted.
        sleep: how to wait before retrying a rate-limited call (tests pass a recorder).
    """

    platform = Platform.DISCORD

    def __init__(
        self,
        settings: Settings,
        *,
        client: discord.Client | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._bus: EventBus | None = None
        self._task: asyncio.Task[None] | None = None
        self._interactions: OrderedDict[str, discord.Interaction] = OrderedDict()
        self.dm_closed: OrderedDict[str, None] = OrderedDict()
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
            "on_thread_create": self._on_thread_create,
            "on_guild_join": self._on_guild,
            "on_guild_available": self._on_guild,
            "on_guild_channel_create": self._on_channel,
            "on_guild_channel_update": self._on_channel_update,
            "on_interaction": self._on_interaction,
        }
        for name, handler in handlers.items():
            setattr(client, name, handler)

    def attach(self, bus: EventBus) -> None:
        """Subscribe to Discord's outbound actions on ``bus`` and publish inbound events to it."""
        self._bus = bus
        subscriptions: list[tuple[type[Action], Callable[[Any], Awaitable[None]]]] = [
            (SendMessage, self.send_message),
            (SendDirectMessage, self.send_direct_message),
            (SendEphemeral, self.send_ephemeral),
            (AddReaction, self.add_reaction),
            (MarkThreadSolved, self.mark_thread_solved),
            (CommandReply, self.command_reply),
        ]
        for action_type, handler in subscriptions:
            bus.subscribe(action_type, self._only_discord(handler), name=f"discord.{action_type.__name__}")

    def _only_discord(self, handler: Callable[[Any], Awaitable[None]]) -> Callable[[Event], Awaitable[None]]:
        async def run(action: Event) -> None:
            if action.platform is Platform.DISCORD:
                await handler(action)

        return run

    async def start(self) -> None:
        """Log in and connect the gateway in a background task."""
        token = self.settings.discord.token
        if token is None:
            raise ValueError("discord: set DISCORD_TOKEN (the bot token from the Developer Portal)")
        self._task = asyncio.create_task(self._run(token.get_secret_value()), name="discord-gateway")

    async def _run(self, token: str) -> None:
        try:
            await self.client.start(token)
        except discord.PrivilegedIntentsRequired:
            log.warning(PRIVILEGED_INTENTS_HELP)
            await self.client.close()
            self.client = make_client(self.settings, privileged=False)
            self._install(self.client)
            await self.client.start(token)
        except Exception:
            log.exception("discord gateway stopped")
            raise

    async def stop(self) -> None:
        """Close the gateway connection and the HTTP session."""
        await self.client.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _publish(self, event: Event | None) -> None:
        if event is not None and self._bus is not None:
            await self._bus.publish(event)

    @property
    def _self_id(self) -> int | None:
        return self.client.user.id if self.client.user is not None else None

    def _channel_ref(self, channel_id: int) -> ChannelRef:
        channel = self.client.get_channel(channel_id)
        if channel is None:
            return ChannelRef(Platform.DISCORD, normalize.DM_WORKSPACE, str(channel_id))
        return normalize.channel_ref(channel)

    # -- inbound ------------------------------------------------------------------------------
    async def _on_message(self, message: discord.Message) -> None:
        if not normalize.is_chat(message):
            return  # pins, joins, boosts: not chat
        await self._publish(normalize.message_posted(message, self_id=self._self_id))

    async def _on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._publish(normalize.message_edited(payload, self_id=self._self_id))

    async def _on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        ref = self._channel_ref(payload.channel_id)
        for event in normalize.messages_deleted(ref, [payload.message_id]):
            await self._publish(event)

    async def _on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        ref = self._channel_ref(payload.channel_id)
        for event in normalize.messages_deleted(ref, payload.message_ids):
            await self._publish(event)

    async def _on_raw_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        ref = self._channel_ref(payload.channel_id)
        await self._publish(normalize.reaction(payload, ref, self_id=self._self_id, now=datetime.now(UTC)))

    async def _on_member_join(self, member: discord.Member) -> None:
        await self._publish(normalize.member_joined(member))

    async def _on_thread_create(self, thread: discord.Thread) -> None:
        await self._publish(normalize.thread_created(thread, self_id=self._self_id))

    async def _on_guild(self, guild: discord.Guild) -> None:
        now = datetime.now(UTC)
        for channel in guild.channels:
            await self._publish(normalize.channel_seen(channel, now))

    async def _on_channel(self, channel: Any) -> None:
        await self._publish(normalize.channel_seen(channel, datetime.now(UTC)))

    async def _on_channel_update(self, before: Any, after: Any) -> None:
        await self._on_channel(after)

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
        event = ButtonClicked(
            action_id=action_id,
            value=value,
            user=normalize.user_ref(interaction.user, guild_id, self_id=self._self_id),
            channel=normalize.channel_ref(interaction.channel),
            message_id=str(interaction.message.id) if interaction.message else "",
            interaction_id=str(interaction.id),
            ts=interaction.created_at,
            response_ref=str(interaction.id),
        )
        await self._publish(event)

    async def _on_command(self, interaction: discord.Interaction, name: str, options: Options) -> None:
        """Publish an already-deferred slash command as :class:`CommandInvoked`."""
        self._remember(interaction)
        await self._publish(self.command_invoked(interaction, name, options))

    def command_invoked(self, interaction: discord.Interaction, name: str, options: Options) -> CommandInvoked:
        """The :class:`CommandInvoked` for an interaction (facts only; the router decides)."""
        guild_id = normalize.workspace_id(interaction.guild)
        user = interaction.user
        is_admin = False
        role_ids: tuple[str, ...] = ()
        if isinstance(user, discord.Member):
            perms = interaction.permissions
            is_admin = perms.manage_guild or perms.administrator
            role_ids = tuple(str(r.id) for r in user.roles if not r.is_default())
        channel = interaction.channel
        if channel is not None:
            channel_ref = normalize.channel_ref(channel)
        else:
            channel_ref = ChannelRef(Platform.DISCORD, guild_id, str(interaction.channel_id or ""))
        return CommandInvoked(
            name=name,
            user=normalize.user_ref(user, guild_id, self_id=self._self_id),
            channel=channel_ref,
            interaction_id=str(interaction.id),
            ts=interaction.created_at,
            text=command_text(options),
            options=tuple(options),
            response_ref=str(interaction.id),
            is_platform_admin=is_admin,
            role_ids=role_ids,
            thread_id=normalize.thread_id_of(channel) if channel is not None else None,
        )

    def _remember(self, interaction: discord.Interaction) -> None:
        self._interactions[str(interaction.id)] = interaction
        while len(self._interactions) > MAX_PENDING_INTERACTIONS:
            self._interactions.popitem(last=False)

    # -- outbound -----------------------------------------------------------------------------
    async def send_message(self, action: SendMessage) -> None:
        """Post in a channel, or in the thread when ``thread_id`` is set."""
        target = self.client.get_partial_messageable(int(self._target_id(action)), guild_id=_guild_id(action.channel))
        reference = None
        if action.reply_to:
            reference = discord.MessageReference(
                message_id=int(action.reply_to), channel_id=target.id, fail_if_not_exists=False
            )
        await self._send_chunks(
            target.send, action.text, action.attachments, action.citations, action.buttons, reference=reference
        )

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
        """DM a member; a member with DMs closed is remembered and skipped from then on."""
        user_id = action.user.user_id
        if user_id in self.dm_closed:
            log.debug("discord: not DMing %s, their DMs are closed", user_id)
            return
        try:
            channel = await self._retrying(lambda: self.client.create_dm(discord.Object(int(user_id))))
            await self._send_chunks(channel.send, action.text, action.attachments, action.citations, action.buttons)
        except discord.Forbidden as exc:
            if exc.code != DM_CLOSED:
                raise
            self._mark_dm_closed(action.user)

    def _mark_dm_closed(self, user: UserRef) -> None:
        log.warning("discord: cannot DM user %s (DMs closed, error 50007); not retrying", user.user_id)
        self.dm_closed[user.user_id] = None
        while len(self.dm_closed) > MAX_DM_CLOSED:
            self.dm_closed.popitem(last=False)

    async def send_ephemeral(self, action: SendEphemeral) -> None:
        """Answer privately through the interaction; Discord has no other ephemeral path, so a
        message without a live interaction goes to the member's DMs instead."""
        interaction = self._interactions.get(action.response_ref) if action.response_ref else None
        if interaction is None:
            dm = SendDirectMessage(action.user, action.text, action.attachments, action.citations, action.buttons)
            await self.send_direct_message(dm)
            return
        await self._followup(interaction, action.text, action.attachments, action.citations, action.buttons, True)

    async def command_reply(self, action: CommandReply) -> None:
        """Send a :class:`bot.events.CommandReply` as the deferred interaction's follow-up."""
        interaction = self._interactions.get(action.command.response_ref)
        if interaction is None:
            log.warning("discord: interaction %s expired or unknown; reply dropped", action.command.response_ref)
            return
        await self._followup(
            interaction, action.text, action.attachments, action.citations, action.buttons, action.ephemeral
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
        async def send(**kwargs: Any) -> Any:
            return await interaction.followup.send(ephemeral=ephemeral, **kwargs)

        await self._send_chunks(send, text, attachments, citations, buttons)

    async def add_reaction(self, action: AddReaction) -> None:
        """React to a message; Slack-style names are mapped to unicode."""
        channel = self.client.get_partial_messageable(
            int(action.channel.channel_id), guild_id=_guild_id(action.channel)
        )
        message = channel.get_partial_message(int(action.message_id))
        emoji = EMOJI_NAMES.get(action.emoji.strip(":"), action.emoji)
        await self._retrying(lambda: message.add_reaction(emoji))

    async def mark_thread_solved(self, action: MarkThreadSolved) -> None:
        """Mark a solved thread with ✅ on the accepted answer (or the thread's starter message,
        whose id is the thread id for forum posts)."""
        channel = self.client.get_partial_messageable(int(action.thread_id), guild_id=_guild_id(action.channel))
        message = channel.get_partial_message(int(action.accepted_message_id or action.thread_id))
        await self._retrying(lambda: message.add_reaction(EMOJI_NAMES["white_check_mark"]))

    async def _send_chunks(
        self,
        send: Callable[..., Awaitable[Any]],
        text: str,
        attachments: tuple[Attachment, ...],
        citations: tuple[Citation, ...],
        buttons: tuple[Button, ...],
        *,
        reference: discord.MessageReference | None = None,
    ) -> None:
        """Send ``text`` split to Discord's limit; the embed, files and buttons go with the last part."""
        chunks = render.split_message(render.neutralize_mentions(text)) or [""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            if not chunk and not (last and (attachments or citations or buttons)):
                continue  # nothing to send

            # Built per attempt: discord.py closes files after a send, so a retry needs new ones.
            def arguments(chunk: str = chunk, first: bool = i == 0, last: bool = last) -> dict[str, Any]:
                kwargs: dict[str, Any] = {"allowed_mentions": discord.AllowedMentions.none()}
                if chunk:
                    kwargs["content"] = chunk
                if first and reference is not None:
                    kwargs["reference"] = reference
                if last:
                    embed = render.citations_embed(citations)
                    if embed is not None:
                        kwargs["embed"] = embed
                    if attachments:
                        kwargs["files"] = render.files(attachments)
                    view = render.buttons_view(buttons)
                    if view is not None:
                        kwargs["view"] = view
                return kwargs

            async def attempt(arguments: Callable[[], dict[str, Any]] = arguments) -> Any:
                return await send(**arguments())

            await self._retrying(attempt)

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
        raise RuntimeError(f"discord: still rate limited after {RATE_LIMIT_RETRIES} retries")


def _guild_id(channel: ChannelRef) -> int | None:
    return int(channel.workspace_id) if channel.workspace_id.isdigit() else None


def _retry_after(exc: discord.HTTPException) -> float:
    """Seconds to wait from a 429: the ``Retry-After`` header, else 1 s."""
    headers = getattr(exc.response, "headers", None) or {}
    try:
        return max(0.0, float(headers.get("Retry-After", 1.0)))
    except (TypeError, ValueError):
        return 1.0

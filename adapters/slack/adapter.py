"""The Slack adapter: owns the Bolt ``AsyncApp`` and its Web API clients.

Inbound, Bolt verifies and parses requests (Socket Mode envelopes or signed HTTP POSTs), acks them,
and calls our listeners, which normalize payloads (:mod:`adapters.slack.normalize`) and publish
events on the bus. Outbound, one bus subscription per action type renders the action
(:mod:`adapters.slack.render`) and calls the Web API. Failures are logged with a hint
(:mod:`adapters.slack.errors`) and never propagate; 429s are retried by slack-sdk's
``AsyncRateLimitErrorRetryHandler``, which waits ``Retry-After`` seconds.

Two ways to run, chosen by ``slack.mode``:

* ``socket`` (default): an outbound WebSocket with the app-level token, no public URL needed;
* ``http``: an aiohttp server on ``slack.http_port`` serving Events API, slash commands and
  interactivity on ``slack.http_path`` (plus the OAuth install pages in multi-workspace mode).

Single-workspace token mode (``SLACK_BOT_TOKEN``) is the default; with ``client_id`` and
``client_secret`` and no bot token, the app runs Bolt's OAuth flow and keeps installations in our
store's database (:mod:`adapters.slack.installation_store`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import normalize, render
from adapters.slack.commands import AdminFactsCache, register_interactions
from adapters.slack.conversations import lookup_channel, read_members
from adapters.slack.errors import NO_ANSWER, error_code, log_api_error
from adapters.slack.identity import fetch_identity
from adapters.slack.installation_store import SQLInstallationStore, SQLOAuthStateStore
from adapters.slack.normalize import (
    CHANNEL_GONE_EVENTS,
    EVENT_HANDLERS,
    NormalizeContext,
    SlackIdentity,
    bot_dm,
    event_team_id,
    normalize_event,
    visibility_from_type,
)
from adapters.slack.payloads import EventEnvelope, SlackMessage
from bot.bus import EventBus, subscribe_platform_actions
from bot.config import Settings
from bot.events import (
    AddReaction,
    Attachment,
    Button,
    ChannelRef,
    ChannelSeen,
    Citation,
    CommandReply,
    InboundEvent,
    MemberLeftChannel,
    Platform,
    SendDirectMessage,
    SendEphemeral,
    SendMessage,
    UserRef,
    Visibility,
    WorkspaceInstalled,
    WorkspaceRef,
    WorkspaceRemoved,
)
from bot.message_ids import slack_ts
from bot.store import Store

log = logging.getLogger(__name__)

# Bot scopes requested by the OAuth flow; manifest.yaml lists the same (a test keeps them equal).
BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "channels:history",
    "channels:read",
    "chat:write",
    "commands",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "mpim:history",
    "mpim:read",
    "reactions:read",
    "reactions:write",
    "usergroups:read",
    "users:read",
)
RATE_LIMIT_RETRIES = 3
# conversations.open errors that say the member cannot be DMed (a bot, a deleted, deactivated or
# hidden account). Slack would answer the same on the next digest tick or nudge, so the member is
# skipped for a while, as the Discord adapter skips members with DMs closed.
UNDELIVERABLE_DM_ERRORS = frozenset({"cannot_dm_bot", "user_not_found", "user_disabled", "user_not_visible"})
UNDELIVERABLE_TTL_S = 6 * 3600.0  # long enough to spare a storm, short enough for a reactivated member
MAX_UNDELIVERABLE = 10_000
# conversations.open is idempotent (it returns the existing DM), so a transient 5xx or lost
# connection is worth trying again; chat.postMessage is not, and is never retried here.
OPEN_DM_BACKOFF_S = (0.5, 2.0)  # waits before the 2nd and 3rd attempts
_HOOKS_PREFIX = "https://hooks.slack.com/"


# Bolt turns to an OAuth flow of its own (installations in files under the home folder, the bot
# token ignored) whenever these two are in the environment and it is given no OAuth settings, so a
# single-workspace install that also exported them never authorized an event. Our settings read
# them already and decide the mode (adapters.slack.adapter module docstring).
_BOLT_OAUTH_ENV = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")


@contextlib.contextmanager
def _bolt_oauth_env_hidden() -> Iterator[None]:
    """Keep :data:`_BOLT_OAUTH_ENV` out of ``os.environ`` while Bolt's app is built (no await inside)."""
    saved = {name: os.environ.pop(name) for name in _BOLT_OAUTH_ENV if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


# Slack's answers to apps.connections.open that no retry changes: the app-level token is wrong.
_APP_TOKEN_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "not_allowed_token_type"}
)


class SlackAdapter:
    """Connects Guildhall to Slack.

    Args:
        settings: the app's settings; ``settings.slack`` holds tokens, mode and ports.
        store: the store, needed for multi-workspace (OAuth) installations.
        client_base_url: Web API base URL override (tests point it at a fake server);
            defaults to ``settings.slack.api_base_url`` or Slack's.
        clock: monotonic seconds, for how long an undeliverable member is skipped (tests pass a fake).
    """

    platform = Platform.SLACK

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        client_base_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # No I/O here: building Bolt's app and clients only stores configuration.
        self.settings = settings
        cfg = settings.slack
        self._base_url = client_base_url or cfg.api_base_url or AsyncWebClient.BASE_URL
        self._bus: EventBus | None = None
        self._store = store
        self.client = self._new_client(cfg.bot_token.get_secret_value() if cfg.bot_token else None)
        self.oauth_enabled = bool(cfg.client_id and cfg.client_secret and not cfg.bot_token)
        self.installation_store: SQLInstallationStore | None = None
        oauth_settings = None
        if self.oauth_enabled:
            if store is None:
                raise ValueError(
                    "slack: multi-workspace OAuth (client_id/client_secret) needs the store for installations"
                )
            assert cfg.client_id is not None and cfg.client_secret is not None
            self.installation_store = SQLInstallationStore(store.db, cfg.client_id)
            oauth_settings = AsyncOAuthSettings(
                client_id=cfg.client_id,
                client_secret=cfg.client_secret.get_secret_value(),
                scopes=list(BOT_SCOPES),
                installation_store=self.installation_store,
                state_store=SQLOAuthStateStore(store.db),
                callback_options=AsyncCallbackOptions(success=self._on_installed, failure=self._on_install_failed),
            )
        try:
            with _bolt_oauth_env_hidden():
                self.app = AsyncApp(
                    # Bolt resets the level of the logger named after the app; "guildhall" would
                    # silence the project's own "guildhall.*" loggers, hence a name of its own.
                    name="guildhall-slack",
                    client=self.client,
                    signing_secret=cfg.signing_secret.get_secret_value() if cfg.signing_secret else "",
                    oauth_settings=oauth_settings,
                    # Our own events are dropped by _skip_own_events instead, which lets the deletes
                    # of our messages through (Bolt's filter takes previous_message.user for theirs).
                    ignoring_self_events_enabled=False,
                )
        except BoltError as exc:
            # Bolt words its refusals for its own constructor ("SLACK_BOT_TOKEN or `token` argument
            # ... is required"); `guildhall run` shows a ValueError as one line, naming our settings.
            problems = cfg.connection_problems()
            raise ValueError(
                "; ".join(problems) if problems else f"slack: the Slack app cannot be set up: {exc}"
            ) from exc
        self.admin_facts = AdminFactsCache(cfg.admin_usergroup_ids)
        self._identities: dict[str, SlackIdentity] = {}
        self._channels: dict[str, dict[str, ChannelRef]] = {}
        self._looked_up: set[tuple[str, str]] = set()
        # Private channels whose members Slack did not answer for: asked again at their next event.
        self._members_unknown: set[tuple[str, str]] = set()
        self._team_clients: dict[str, AsyncWebClient] = {}
        self._clock = clock
        # (team, member) -> when DMing them may be tried again; see UNDELIVERABLE_DM_ERRORS.
        self.undeliverable: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self.http_port: int | None = None
        self._register_listeners()

    # -- wiring ------------------------------------------------------------------------------------
    def _new_client(self, token: str | None) -> AsyncWebClient:
        return AsyncWebClient(
            token=token,
            base_url=self._base_url,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            ],
        )

    def _register_listeners(self) -> None:
        self.app.middleware(_skip_own_events)
        for event_type in (*EVENT_HANDLERS, *CHANNEL_GONE_EVENTS):
            self.app.event(event_type)(self._on_event)
        self.app.event("app_home_opened")(self._on_home_opened)
        self.app.event("member_left_channel")(self._on_member_left)
        for event_type in RENAME_EVENTS:
            self.app.event(event_type)(self._on_channel_renamed)
        self.app.event("app_uninstalled")(self._on_uninstalled)
        self.app.event("tokens_revoked")(self._on_tokens_revoked)
        register_interactions(
            self.app,
            publish=self._publish,
            context_for=self._context_for,
            admin=self.admin_facts,
            learn_channel=self.learn_channel,
        )

    def attach(self, bus: EventBus) -> None:
        """Publish inbound events on ``bus`` and perform its Slack actions."""
        self._bus = bus
        subscribe_platform_actions(
            bus,
            Platform.SLACK,
            [
                (SendMessage, self._send_message),
                (SendDirectMessage, self._send_dm),
                (SendEphemeral, self._send_ephemeral),
                (CommandReply, self._command_reply),
                (AddReaction, self._add_reaction),
            ],
        )

    async def _publish(self, event: InboundEvent) -> bool:
        if self._bus is None:
            raise RuntimeError("SlackAdapter.attach(bus) must be called before events arrive")
        return await self._bus.publish(event)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect over Socket Mode, or serve HTTP on ``slack.http_port`` (0 picks a free port);
        then, with a single workspace's bot token, check it (:meth:`_check_bot_token`)."""
        cfg = self.settings.slack
        problems = cfg.connection_problems()
        if problems:
            raise ValueError("; ".join(problems))
        if cfg.mode == "socket" and cfg.app_token is not None:
            await self._check_app_token(cfg.app_token.get_secret_value())
            self._socket = AsyncSocketModeHandler(self.app, cfg.app_token.get_secret_value(), web_client=self.client)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: connected in socket mode")
        else:
            await self._serve_http()
        await self._check_bot_token()

    async def _check_app_token(self, app_token: str) -> None:
        """Ask Slack once for a Socket Mode URL with the app token before connecting.

        slack-sdk's Socket Mode connect retries every failure for ever (a traceback every 10 s), so a
        wrong, revoked or mistyped ``SLACK_APP_TOKEN`` (a bot token where the app-level one belongs)
        hung the start without a word; Slack's refusal becomes the one-line configuration error
        here. No answer (Slack slow or unreachable) and any other answer (rate limited, a Slack
        outage) are left to the connect's own retries, as before this check.
        """
        try:
            await self.client.apps_connections_open(app_token=app_token)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response is not None else ""
            if error in _APP_TOKEN_REFUSED:
                raise ValueError(
                    f"Slack refused SLACK_APP_TOKEN ({error}): Socket Mode needs the app-level token "
                    "(xapp-…, scope connections:write) from the app's Basic Information page"
                ) from exc
            log.warning("slack: apps.connections.open answered %s; Socket Mode keeps trying", error or exc)
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:  # NO_ANSWER; OSError: timeouts too
            # No answer is no refusal: the connect's own retries wait for Slack, as before this check.
            log.warning(
                "slack: apps.connections.open got no answer (%s: %s); Socket Mode keeps trying",
                type(exc).__name__,
                exc,
            )

    async def _serve_http(self) -> None:
        cfg = self.settings.slack
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host="0.0.0.0", port=cfg.http_port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only through the server's sockets
        sockets = getattr(server, "sockets", None) or []
        self.http_port = int(sockets[0].getsockname()[1]) if sockets else cfg.http_port
        log.info("slack: serving HTTP on port %s at %s", self.http_port, cfg.http_path)

    async def _check_bot_token(self) -> None:
        """Single-workspace mode: ``auth.test`` with the bot token, published as presence.

        The call succeeds only while the app is installed, so a removal noted before this start
        (the app uninstalled, then installed again and the process restarted with the new token)
        ends now instead of at the workspace's next message. The answer is the identity the first
        event would fetch anyway, cached here, so the check costs no extra call. A failure is
        logged and changes nothing: Slack says again at the first event.
        """
        if self.oauth_enabled or self.settings.slack.bot_token is None or self._bus is None:
            return
        try:
            ident = await self.identity(self.client, "")
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:  # OSError: timeouts too
            log.warning("slack: auth.test at start failed (%s); the bot token is checked again at the first event", exc)
            return
        if not ident.bot_user_id or not ident.team_id:
            return  # fetch_identity logged Slack's error (invalid_auth, token_revoked, ...)
        workspace = WorkspaceRef(Platform.SLACK, ident.team_id, ident.team_name)
        await self._publish(WorkspaceInstalled(workspace, datetime.now(UTC), "the Slack bot token works (auth.test)"))

    async def _on_installed(self, args: AsyncSuccessArgs) -> BoltResponse:
        """Bolt's OAuth flow stored an installation: publish :class:`WorkspaceInstalled` (a removal
        noted at an earlier uninstall ends at once, not at the workspace's next message), then
        answer with Bolt's own success page, which the installer sees unchanged."""
        installation = args.installation
        team_id = installation.team_id or ""
        if installation.is_enterprise_install or not team_id:
            # An org-wide install names no workspace: each shows itself with its first event.
            log.info("slack: the app was installed org-wide (enterprise %s)", installation.enterprise_id or "?")
        else:
            log.info("slack: the app was installed in workspace %s (%s)", team_id, installation.team_name or "")
            # What this process cached for the team belongs to the previous installation (its token,
            # its bot identity, members its DMs could not reach): start afresh.
            self._forget_workspace(team_id)
            for key in [k for k in self.undeliverable if k[0] == team_id]:
                del self.undeliverable[key]
            workspace = WorkspaceRef(Platform.SLACK, team_id, installation.team_name or "")
            when = datetime.fromtimestamp(installation.installed_at, UTC)
            try:
                await self._publish(WorkspaceInstalled(workspace, when, "the Slack app was installed (OAuth)"))
            except Exception:  # the installation is saved: the installer still sees it succeed
                log.exception("slack: the installation in workspace %s could not be published", team_id)
        return await args.default.success(args)

    async def _on_install_failed(self, args: AsyncFailureArgs) -> BoltResponse:
        """Bolt's own failure page (installer cancelled, bad state or code, storage error), logged."""
        log.warning("slack: an installation through the OAuth flow failed: %s", args.reason)
        return await args.default.failure(args)

    async def stop_receiving(self) -> None:
        """First step of shutdown: close the Socket Mode connection or the HTTP endpoint (Slack
        redelivers what it did not get an ack for). The Web API client stays usable, so the
        answers the bus drains afterwards are still posted."""
        await self._close_inbound()

    async def stop(self) -> None:
        """Disconnect (if :meth:`stop_receiving` did not) and close HTTP sessions."""
        await self._close_inbound()

    async def _close_inbound(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def web_app(self) -> web.Application:
        """The aiohttp application of HTTP mode: one POST endpoint, plus OAuth pages when enabled."""
        path = self.settings.slack.http_path
        app = web.Application()
        app.router.add_post(path, self._handle_post)
        flow = self.app.oauth_flow
        if flow is not None:
            app.router.add_get(flow.install_path, self._handle_install)
            app.router.add_get(flow.redirect_uri_path, self._handle_oauth_redirect)
        return app

    async def _handle_post(self, request: web.Request) -> web.Response:
        try:
            bolt_req = await to_bolt_request(request)
        except ValueError:  # Bolt parses JSON before verifying the signature; bad JSON is a 400, not a 500
            return web.Response(status=400, text="malformed body")
        # Bolt checks the signature and the timestamp's age (5 minutes) and answers 401 itself.
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_req))

    async def _handle_install(self, request: web.Request) -> web.Response:
        assert self.app.oauth_flow is not None
        return await to_aiohttp_response(await self.app.oauth_flow.handle_installation(await to_bolt_request(request)))

    async def _handle_oauth_redirect(self, request: web.Request) -> web.Response:
        assert self.app.oauth_flow is not None
        return await to_aiohttp_response(await self.app.oauth_flow.handle_callback(await to_bolt_request(request)))

    # -- workspace identity and channel cache ------------------------------------------------------
    async def identity(self, client: AsyncWebClient, team_id: str) -> SlackIdentity:
        """Who the bot is in ``team_id`` (``auth.test``, once per workspace per process)."""
        known = self._identities.get(team_id)
        if known is not None:
            return known
        try:
            ident = await fetch_identity(client, team_id)
        except NO_ANSWER as exc:
            # Asked from event and command listeners, after Bolt's ack: raising there lost the
            # event. It goes on without the bot's identity (Bolt still drops the bot's own
            # messages) and the next event asks again.
            log.warning(
                "slack: auth.test got no answer (%s: %s); asking again at the next event", type(exc).__name__, exc
            )
            return SlackIdentity(team_id)
        if not ident.bot_user_id:
            return ident  # a failed lookup is retried on the next event instead of being cached
        self._identities[ident.team_id] = ident
        return ident

    def channels(self, team_id: str) -> dict[str, ChannelRef]:
        """Channels learned so far in a workspace (id -> ref)."""
        return self._channels.setdefault(team_id, {})

    async def _context_for(self, client: AsyncWebClient, team_id: str) -> NormalizeContext:
        return NormalizeContext(await self.identity(client, team_id), self.channels(team_id))

    def learn_dm(self, team_id: str, user_id: str, channel_id: str) -> None:
        """Remember ``channel_id`` as the bot's own DM with ``user_id``.

        Only there is a slash command's answer read by the invoking member alone, so only there may
        it draw on everything they can read (:func:`~adapters.slack.normalize.command_visibility`);
        Slack's ``directmessage`` placeholder does not tell this DM from one between two members.
        """
        known = self.channels(team_id)
        previous = known.get(channel_id)
        known[channel_id] = bot_dm(team_id, channel_id, user_id, previous.name if previous else "")

    async def learn_channel(
        self, client: AsyncWebClient, team_id: str, channel_id: str, channel_type: str | None
    ) -> bool:
        """Look a channel up once (``conversations.info``, members if private) and publish :class:`ChannelSeen`.

        When the lookup fails (missing scope, not a member) the event's ``channel_type`` is cached
        instead, so visibility is never guessed as public; and no ChannelSeen is published for a
        private channel whose members are unknown, because it would empty its access list.

        Returns:
            Whether a :class:`ChannelSeen` was published.
        """
        known = self.channels(team_id)
        if channel_id in known and (team_id, channel_id) in self._members_unknown:
            return await self._read_members_again(client, known[channel_id])
        if channel_id in known or (team_id, channel_id) in self._looked_up:
            return False
        # Asked once per process even when Slack refuses, so a missing scope costs one call, not one per event.
        self._looked_up.add((team_id, channel_id))
        lookup = await lookup_channel(client, team_id, channel_id)
        ref = lookup.ref
        if not lookup.definite:
            # No answer (connection lost, rate limit): the next event asks again, and the event's
            # channel_type is not cached, which would end the lookups. This event uses it anyway.
            self._looked_up.discard((team_id, channel_id))
            return False
        if ref is None:
            visibility = visibility_from_type(channel_type)
            if visibility is not None:
                known[channel_id] = ChannelRef(Platform.SLACK, team_id, channel_id, "", visibility)
            return False  # unknown channels stay unknown: normalize.py treats them as private
        known[channel_id] = ref
        if ref.visibility is not Visibility.PUBLIC:
            return await self._read_members_again(client, ref)
        name = (await self.identity(client, team_id)).team_name
        await self._publish(ChannelSeen(channel=ref, ts=datetime.now(UTC), workspace_name=name))
        return True

    async def _read_members_again(self, client: AsyncWebClient, ref: ChannelRef) -> bool:
        """Read a private channel's members and publish them (:class:`ChannelSeen`); when Slack
        did not answer, ask again at the channel's next event. Until then only its posters read it
        through the bot (fail-closed), and its members who never posted were left out for the life
        of the process. A lasting refusal (a missing scope) is asked once."""
        key = (ref.workspace_id, ref.channel_id)
        lookup = await read_members(client, ref.channel_id)
        if lookup.members is None:
            if lookup.definite:
                self._members_unknown.discard(key)
            else:
                self._members_unknown.add(key)
            return False
        self._members_unknown.discard(key)
        name = (await self.identity(client, ref.workspace_id)).team_name
        await self._publish(
            ChannelSeen(channel=ref, ts=datetime.now(UTC), member_ids=lookup.members, workspace_name=name)
        )
        return True

    async def _channel_went_private(
        self, client: AsyncWebClient, team_id: str, channel_id: str, channel_type: str | None
    ) -> None:
        """A channel cached as public now arrives as private (``channel_convert_to_private``).

        The cache would otherwise keep it public for the life of the process, and the store and the
        index (which re-index on a :class:`ChannelSeen` that changes visibility) would keep citing
        its history in public answers. So it is looked up again; when its members cannot be read,
        it is still published as private with an empty access list: its posters are added back as
        they post, which is the safe side of a privacy change.
        """
        known = self.channels(team_id)
        previous = known.pop(channel_id, None)
        self._looked_up.discard((team_id, channel_id))
        if await self.learn_channel(client, team_id, channel_id, channel_type):
            return
        log.warning(
            "slack: %s became private but its members could not be read; its access list is emptied", channel_id
        )
        ref = ChannelRef(Platform.SLACK, team_id, channel_id, previous.name if previous else "", Visibility.PRIVATE)
        known[channel_id] = ref
        await self._publish(ChannelSeen(channel=ref, ts=datetime.now(UTC)))

    async def _on_event(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        envelope: EventEnvelope = body  # type: ignore[assignment]
        team_id = event_team_id(body)
        event = body.get("event") or {}
        channel_id = _event_channel(event)
        if event.get("type") in CHANNEL_GONE_EVENTS:
            ctx = await self._context_for(client, team_id)
            for inbound in normalize_event(envelope, ctx):
                await self._publish(inbound)
            if channel_id:
                # Forgotten after normalizing, which names the channel as it was known.
                self.channels(team_id).pop(channel_id, None)
            return
        if channel_id:
            cached = self.channels(team_id).get(channel_id)
            said = visibility_from_type(event.get("channel_type"))
            if cached is not None and cached.visibility is Visibility.PUBLIC and said is Visibility.PRIVATE:
                await self._channel_went_private(client, team_id, channel_id, event.get("channel_type"))
            else:
                await self.learn_channel(client, team_id, channel_id, event.get("channel_type"))
        ctx = await self._context_for(client, team_id)
        member = _dm_member(event, ctx.identity.bot_user_id)
        if channel_id and member:
            self.learn_dm(team_id, member, channel_id)
        shared = body.get("is_ext_shared_channel")
        if channel_id:
            self._note_shared(team_id, channel_id, shared)
        if isinstance(shared, bool):
            ctx = dataclasses.replace(ctx, shared_channel=shared)
        for inbound in normalize_event(envelope, ctx):
            await self._publish(inbound)

    def _note_shared(self, team_id: str, channel_id: str, shared: Any) -> None:
        """Keep the cached channel's Slack Connect flag as the envelope says (``is_ext_shared_channel``):
        a channel shared after it was looked up (or whose lookup failed) is known from its next
        event on, and its refs carry the flag to the store and to the answer's scope."""
        known = self.channels(team_id)
        ref = known.get(channel_id)
        if isinstance(shared, bool) and ref is not None and ref.shared_externally is not shared:
            known[channel_id] = dataclasses.replace(ref, shared_externally=shared)

    async def _on_member_left(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        """Someone left (or was removed from) a channel: re-read a private channel's member list, so
        the access list stops showing them its messages. Public channels keep no list."""
        event = body.get("event") or {}
        channel_id = event.get("channel")
        if not isinstance(channel_id, str) or not channel_id:
            log.warning("slack: member_left_channel without a channel id skipped")
            return
        team_id = event_team_id(body)
        if channel_id not in self.channels(team_id):
            # First sight: learn_channel reads the members (as they are now) and publishes them.
            await self.learn_channel(client, team_id, channel_id, event.get("channel_type"))
            return
        ref = self.channels(team_id)[channel_id]
        if ref.visibility is Visibility.PUBLIC:
            return
        user_id = event.get("user")
        if isinstance(user_id, str) and user_id:
            # The leaver is off the access list at once, whatever the re-read below gets: when Slack
            # did not answer it, they kept reading the channel's history through the bot.
            leaver = UserRef(Platform.SLACK, team_id, user_id)
            await self._publish(MemberLeftChannel(user=leaver, ts=datetime.now(UTC), channel=ref))
        # Never a guessed list (it replaces the stored one): without an answer, the next event asks.
        await self._read_members_again(client, ref)

    async def _on_channel_renamed(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        """``channel_rename`` / ``group_rename``: the cached ref and the stored row take the new name.

        Without this, answers' "try #channel" hints, digests and reports named the old channel
        until a restart. The payload says nothing reliable about visibility, so it is never read
        from it: a cached channel keeps the visibility it has, and an unknown one is looked up
        (``learn_channel``). A private channel is published with its members read again, as a
        :class:`ChannelSeen` replaces its access list; when they cannot be read nothing is
        published (its access list stays as it is), and the cache's new name goes out with the
        members at the channel's next event.
        """
        event = body.get("event") or {}
        conv = event.get("channel")
        channel_id = conv.get("id") if isinstance(conv, dict) else None
        name = conv.get("name") if isinstance(conv, dict) else None
        if not isinstance(channel_id, str) or not channel_id or not isinstance(name, str) or not name:
            log.warning("slack: %s without a channel id or name skipped", event.get("type"))
            return
        team_id = event_team_id(body)
        known = self.channels(team_id)
        cached = known.get(channel_id)
        if cached is None:
            # A lookup refused earlier is asked again: the rename may be the only event from it.
            self._looked_up.discard((team_id, channel_id))
            await self.learn_channel(client, team_id, channel_id, None)
            return
        ref = dataclasses.replace(cached, name=name)
        known[channel_id] = ref
        if ref.visibility is not Visibility.PUBLIC:
            await self._read_members_again(client, ref)
            return
        workspace_name = (await self.identity(client, team_id)).team_name
        await self._publish(ChannelSeen(channel=ref, ts=datetime.now(UTC), workspace_name=workspace_name))

    async def _on_uninstalled(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        """The app was uninstalled from a workspace: its stored tokens are deleted, what this
        process cached for it (Web API client, identity, channels) is forgotten, and
        :class:`WorkspaceRemoved` stops the scheduled jobs posting there."""
        team_id = event_team_id(body)
        log.warning("slack: the app was uninstalled from workspace %s", team_id)
        if self.installation_store is not None:
            await self.app.default_app_uninstalled_event_listener()(context=context)
        self._forget_workspace(team_id)
        await self._publish_removed(body, team_id, "the Slack app was uninstalled")

    async def _on_tokens_revoked(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        """Tokens of a workspace were revoked: the stored ones are deleted, and a cached client
        holding the revoked bot token is dropped so the next action loads a fresh installation."""
        team_id = event_team_id(body)
        tokens = event.get("tokens")
        bot_revoked = isinstance(tokens, dict) and bool(tokens.get("bot"))
        log.warning("slack: tokens revoked in workspace %s (bot token: %s)", team_id, bot_revoked)
        if self.installation_store is not None and isinstance(tokens, dict):
            await self.app.default_tokens_revoked_event_listener()(event=event, context=context)
        if bot_revoked:
            # Only the bot token matters: a revoked user token (an admin's) leaves the bot working.
            self._forget_workspace(team_id)
            await self._publish_removed(body, team_id, "the Slack bot token was revoked")

    async def _publish_removed(self, body: dict[str, Any], team_id: str, reason: str) -> None:
        """Publish :class:`WorkspaceRemoved`, timed by the envelope's ``event_time`` (so a Slack
        retry is the same event and is dropped as a duplicate)."""
        if not team_id:
            log.warning("slack: %s, but the event names no workspace; nothing recorded", reason)
            return
        event_time = body.get("event_time")
        when = datetime.now(UTC)
        if isinstance(event_time, (int, float)) and not isinstance(event_time, bool) and event_time > 0:
            try:
                when = datetime.fromtimestamp(event_time, UTC)
            except (OverflowError, OSError, ValueError):  # an absurd time: now will do
                pass
        await self._publish(WorkspaceRemoved(WorkspaceRef(Platform.SLACK, team_id), when, reason))

    def _forget_workspace(self, team_id: str) -> None:
        self._team_clients.pop(team_id, None)
        self._identities.pop(team_id, None)
        self._channels.pop(team_id, None)
        self._looked_up = {key for key in self._looked_up if key[0] != team_id}
        self._members_unknown = {key for key in self._members_unknown if key[0] != team_id}

    async def _on_home_opened(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        # The Home tab is drawn from the store on every open, so it shows a fresh /optout state.
        user_id = event.get("user")
        if event.get("tab") != "home" or not isinstance(user_id, str):
            return
        opted_out = None
        if self._store is not None:
            opted_out = await self._store.is_opted_out(Platform.SLACK.value, event_team_id(body), user_id)
        await self._call(
            "views.publish", client.views_publish, user_id=user_id, view=render.home_view(opted_out=opted_out)
        )

    # -- outbound ----------------------------------------------------------------------------------
    async def client_for(self, team_id: str) -> AsyncWebClient:
        """The Web API client holding the bot token of ``team_id``."""
        if not self.oauth_enabled or self.installation_store is None:
            return self.client
        client = self._team_clients.get(team_id)
        if client is None:
            # No enterprise named: the store finds the team's install in whichever Enterprise Grid
            # org it was made (Bolt saves a Grid workspace's own install under its org's id). An
            # org-wide install names no team, so it is not found from the team alone.
            bot = await self.installation_store.async_find_bot(enterprise_id=None, team_id=team_id)
            if bot is None or not bot.bot_token:
                log.warning("slack: no installation for team %s; install the app there first", team_id)
                return self.client
            client = self._new_client(bot.bot_token)
            self._team_clients[team_id] = client
        return client

    async def _call(self, method: str, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any | None:
        try:
            return await fn(**kwargs)
        except SlackApiError as exc:
            log_api_error(method, exc, channel=str(kwargs.get("channel", "")))
            return None

    async def _post(
        self,
        client: AsyncWebClient,
        channel_id: str,
        text: str,
        *,
        team_id: str = "",
        thread_ts: str | None = None,
        citations: Sequence[Citation] = (),
        buttons: Sequence[Button] = (),
        attachments: Sequence[Attachment] = (),
        skip: int = 0,
    ) -> None:
        """Post ``text`` as one or more messages, then upload ``attachments``.

        ``skip``: how many leading parts were already delivered another way (a ``response_url``).
        ``team_id``: the workspace, to publish what was posted as the bot's messages (:meth:`_publish_own`).

        An ``ok: false`` answer stops the rest (``not_in_channel`` & co. would fail for every part)
        and is logged. A lost connection (after slack_sdk's own retry) is raised while nothing was
        posted, so the bus may redeliver the whole message; once a part was posted, a redelivery
        would post it again, so the rest is dropped and logged instead.
        """
        parts = render.post_message_args(
            channel_id, text, thread_ts=_ts_or_none(thread_ts), citations=citations, buttons=buttons
        )
        answers: list[Any] = []
        done = await self._send_parts(
            "chat.postMessage", client.chat_postMessage, parts, skip=skip, where=channel_id, answers=answers
        )
        try:
            await self._publish_own(client, team_id, channel_id, answers)
        except Exception:  # posted already: failing the action would have the bus post it again
            log.exception("slack: could not record the bot's own message in %s", channel_id)
        if done:
            await self._upload(client, channel_id, attachments, thread_ts=thread_ts)

    async def _publish_own(self, client: AsyncWebClient, team_id: str, channel_id: str, answers: list[Any]) -> None:
        """Publish the messages we posted, as ``chat.postMessage`` answered them, as a bot's
        messages: our own message events are dropped (``_skip_own_events``), and without
        them in the store a 👍 on an answer could not be told from one on anything else (Discord's
        gateway echoes the bot's messages; this is the same record)."""
        if not answers or not team_id:
            return
        ctx = await self._context_for(client, team_id)
        for answer in answers:
            message = answer.get("message") if isinstance(answer, Mapping) else None
            if not isinstance(message, dict):
                continue
            posted_in = answer.get("channel")
            own = normalize.normalize_message(
                cast(SlackMessage, message),
                posted_in if isinstance(posted_in, str) else channel_id,
                None,
                ctx,
                own=True,
            )
            if own is not None:
                await self._publish(own)

    async def _send_parts(
        self,
        method: str,
        fn: Callable[..., Awaitable[Any]],
        parts: Sequence[dict[str, Any]],
        *,
        skip: int,
        where: str,
        answers: list[Any] | None = None,
    ) -> bool:
        """Send ``parts[skip:]`` with ``fn`` (``skip``: parts already delivered another way); True
        when all went out. An ``ok: false`` answer stops the rest (it is logged, and would fail for
        every part). A lost connection is raised while nothing was sent, so the bus may redeliver
        the whole message; once a part went out, a redelivery would send it again, so the rest is
        dropped and logged with ``where`` instead."""
        for sent, args in enumerate(parts[skip:], start=skip):  # ``sent``: parts already delivered
            try:
                posted = await self._call(method, fn, **args)
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                if not sent:
                    raise
                log.warning(
                    "slack: %s to %s failed after %d part(s) were sent (%r); the rest is dropped",
                    method,
                    where,
                    sent,
                    exc,
                )
                return False
            if posted is None:
                return False
            if answers is not None:
                answers.append(posted.data if hasattr(posted, "data") else posted)
        return True

    async def _upload(
        self,
        client: AsyncWebClient,
        channel_id: str,
        attachments: Sequence[Attachment],
        *,
        thread_ts: str | None = None,
    ) -> None:
        args = render.file_upload_args(channel_id, attachments, thread_ts=_ts_or_none(thread_ts))
        if args is None:
            return
        try:
            await self._call("files.upload_v2", client.files_upload_v2, **args)
        except (SlackClientError, aiohttp.ClientError) as exc:
            # The upload URL refused the file after the text was posted: failing the action would
            # have the bus deliver it again and post the text twice.
            log.warning("slack: files.upload_v2 failed for %s (%s); the text was posted without it", channel_id, exc)

    async def _open_dm(self, client: AsyncWebClient, user: UserRef) -> str | None:
        key = (user.workspace_id, user.user_id)
        until = self.undeliverable.get(key)
        if until is not None:
            if self._clock() < until:
                log.debug("slack: not DMing %s in %s, undeliverable a moment ago", user.user_id, user.workspace_id)
                return None
            del self.undeliverable[key]
        try:
            resp = await self._conversations_open(client, user)
        except SlackApiError as exc:
            # Named by member: conversations.open has no channel yet, and "which member?" is what an
            # admin asks first.
            code = log_api_error("conversations.open", exc, user=user.user_id, team=user.workspace_id)
            if code in UNDELIVERABLE_DM_ERRORS:
                self.undeliverable[key] = self._clock() + UNDELIVERABLE_TTL_S
                while len(self.undeliverable) > MAX_UNDELIVERABLE:
                    self.undeliverable.popitem(last=False)
            return None
        channel = resp.get("channel") or {}
        channel_id = channel.get("id")
        if not isinstance(channel_id, str) or not channel_id:
            return None
        self.learn_dm(user.workspace_id, user.user_id, channel_id)
        return channel_id

    async def _conversations_open(self, client: AsyncWebClient, user: UserRef) -> Any:
        """``conversations.open``, tried again after a 5xx or a lost connection (bounded).

        slack_sdk retries neither a 5xx nor a connection lost a second time; without this, one
        transient failure drops the DM (or, for a private answer's files, fails an action whose
        text was already posted).
        """
        for wait in (*OPEN_DM_BACKOFF_S, None):
            try:
                return await client.conversations_open(users=user.user_id)
            except SlackApiError as exc:
                if wait is None or exc.response.status_code < 500:
                    raise
                cause = f"HTTP {exc.response.status_code}"
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                if wait is None:
                    raise
                cause = repr(exc)
            log.info("slack: conversations.open for %s failed (%s); trying again in %.1fs", user.user_id, cause, wait)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _inert(self, text: str, team_id: str, notify: Sequence[str] = ()) -> str:
        """``text`` with member mentions that are not meant to notify written as names."""
        names: dict[str, str] = {}
        for user_id in render.member_mentions(text):
            if user_id not in notify and self._store is not None:
                user = await self._store.get_user(Platform.SLACK.value, team_id, user_id)
                if user is not None and user.name:
                    names[user_id] = user.name
        return render.inert_mentions(text, notify, names)

    async def _send_message(self, action: SendMessage) -> None:
        client = await self.client_for(action.channel.workspace_id)
        await self._post(
            client,
            action.channel.channel_id,
            await self._inert(action.text, action.channel.workspace_id, action.notify_user_ids),
            team_id=action.channel.workspace_id,
            thread_ts=action.thread_id,
            citations=action.citations,
            buttons=action.buttons,
            attachments=action.attachments,
        )

    async def _send_dm(self, action: SendDirectMessage) -> None:
        client = await self.client_for(action.user.workspace_id)
        channel_id = await self._open_dm(client, action.user)
        if channel_id:
            await self._post(
                client,
                channel_id,
                await self._inert(action.text, action.user.workspace_id),
                team_id=action.user.workspace_id,
                citations=action.citations,
                buttons=action.buttons,
                attachments=action.attachments,
            )

    async def _send_ephemeral(self, action: SendEphemeral) -> None:
        action = replace(action, text=await self._inert(action.text, action.channel.workspace_id))
        bodies = render.response_url_bodies(
            action.text, ephemeral=True, citations=action.citations, buttons=action.buttons
        )
        delivered = await self._respond(action.response_ref, bodies) if action.response_ref else 0
        client = await self.client_for(action.channel.workspace_id)
        if delivered < len(bodies):
            await self._ephemeral(
                client,
                action.channel.channel_id,
                action.user,
                action.text,
                action.citations,
                action.buttons,
                skip=delivered,
            )
        # A response_url carries no files: they go by DM however the text went.
        if action.attachments:
            await self._dm_files(client, action.user, action.attachments)

    async def _ephemeral(
        self,
        client: AsyncWebClient,
        channel_id: str,
        user: UserRef,
        text: str,
        citations: Sequence[Citation],
        buttons: Sequence[Button],
        thread_ts: str | None = None,
        *,
        skip: int = 0,
    ) -> None:
        """Show ``text`` to ``user`` only, in parts, as :meth:`_post` posts (same failure policy).

        ``skip``: how many leading parts were already delivered another way (a ``response_url``);
        they count as sent, so a lost connection after them is logged, not raised for redelivery.
        """
        parts = render.ephemeral_args(
            channel_id, user.user_id, text, thread_ts=_ts_or_none(thread_ts), citations=citations, buttons=buttons
        )
        where = f"{user.user_id} in {channel_id}"
        await self._send_parts("chat.postEphemeral", client.chat_postEphemeral, parts, skip=skip, where=where)

    async def _dm_files(self, client: AsyncWebClient, user: UserRef, attachments: Sequence[Attachment]) -> None:
        # Files cannot be ephemeral: a private answer's chart goes to the member's DM instead.
        channel_id = await self._open_dm(client, user)
        if channel_id:
            await self._upload(client, channel_id, attachments)

    async def _command_reply(self, action: CommandReply) -> None:
        cmd = action.command
        action = replace(action, text=await self._inert(action.text, cmd.channel.workspace_id))
        bodies = render.response_url_bodies(
            action.text, ephemeral=action.ephemeral, citations=action.citations, buttons=action.buttons
        )
        client = await self.client_for(cmd.channel.workspace_id)
        delivered = await self._respond(cmd.response_ref, bodies) if cmd.response_ref else 0
        if delivered < len(bodies):
            # No (or an expired, or a used-up) response_url: the Web API reaches the member too,
            # with the parts the response_url did not take (the same cut: render_posts).
            if action.ephemeral:
                await self._ephemeral(
                    client,
                    cmd.channel.channel_id,
                    cmd.user,
                    action.text,
                    action.citations,
                    action.buttons,
                    cmd.thread_id,
                    skip=delivered,
                )
            else:
                await self._post(
                    client,
                    cmd.channel.channel_id,
                    action.text,
                    team_id=cmd.channel.workspace_id,
                    thread_ts=cmd.thread_id,
                    citations=action.citations,
                    buttons=action.buttons,
                    skip=delivered,
                )
        if action.attachments:
            if action.ephemeral:
                await self._dm_files(client, cmd.user, action.attachments)
            else:
                await self._upload(client, cmd.channel.channel_id, action.attachments, thread_ts=cmd.thread_id)

    def _trusted_response_url(self, url: str) -> bool:
        # Only Slack's hooks host (or the configured fake/proxy API host) may receive our answers:
        # a forged response_url must not turn the bot into an HTTP client for arbitrary hosts.
        if url.startswith(_HOOKS_PREFIX):
            return True
        base = urlsplit(self._base_url)
        target = urlsplit(url)
        return base.netloc != "slack.com" and (target.scheme, target.netloc) == (base.scheme, base.netloc)

    async def _respond(self, response_url: str, bodies: Sequence[dict[str, Any]]) -> int:
        """Answer through a ``response_url``; how many of ``bodies`` it took, in order.

        Fewer than all when it is untrusted, expired or used up part-way: the caller sends the rest
        through the Web API (sending them all again would repeat the parts already shown).
        """
        if not self._trusted_response_url(response_url):
            log.warning("slack: refusing to post to an untrusted response_url host")
            return 0
        hook = AsyncWebhookClient(
            response_url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]
        )
        for sent, body in enumerate(bodies):
            try:
                resp = await hook.send_dict(body)
            except Exception as exc:  # noqa: BLE001 - any transport failure falls back to the Web API
                log.warning("slack: response_url failed after %d part(s) (%r); the rest goes by the Web API", sent, exc)
                return sent
            if resp.status_code != 200:
                log.warning(
                    "slack: response_url answered %s %s after %d part(s); the rest goes by the Web API",
                    resp.status_code,
                    resp.body,
                    sent,
                )
                return sent
        return len(bodies)

    async def _add_reaction(self, action: AddReaction) -> None:
        client = await self.client_for(action.channel.workspace_id)
        try:
            await client.reactions_add(
                channel=action.channel.channel_id,
                timestamp=slack_ts(action.message_id),
                name=render.reaction_name(action.emoji),
            )
        except SlackApiError as exc:
            if error_code(exc) == "already_reacted":
                return  # a redelivered AddReaction: the reaction is there, which is what was asked
            log_api_error("reactions.add", exc, channel=action.channel.channel_id)


# Events about one of our messages that must reach us although they name the bot: a delete (Bolt reads
# its user from ``previous_message``) and a change (a thread root's ``tombstone``, a delete for us).
# normalize.py drops our own edits among the changes.
OWN_EVENTS_KEPT = frozenset({"message_deleted", "message_changed"})
# As in Bolt's own filter: joins and leaves of the bot itself are news.
SELF_EVENTS_KEPT = frozenset({"member_joined_channel", "member_left_channel"})
# A public channel renamed, a private one renamed (Slack's two events carry the same payload).
RENAME_EVENTS = ("channel_rename", "group_rename")


async def _skip_own_events(
    body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
) -> BoltResponse | None:
    """Bolt's self-event filter (``ignoring_self_events_enabled``), less the deletes and changes of our
    own messages: without them, deleting an answer in Slack left its stored copy (which may quote
    members) in place. normalize.py drops our posts, edits and reactions again."""
    event = body.get("event")
    auth = context.authorize_result
    if isinstance(event, dict) and auth is not None:
        user_id, bot_id = context.user_id, event.get("bot_id")
        own = (user_id is not None and user_id == auth.bot_user_id) or (bot_id is not None and bot_id == auth.bot_id)
        kept = event.get("type") in SELF_EVENTS_KEPT or (
            event.get("type") == "message" and event.get("subtype") in OWN_EVENTS_KEPT
        )
        if own and not kept:
            return BoltResponse(status=200, body="")
    await next()
    return None


def _ts_or_none(thread_id: str | None) -> str | None:
    # Guildhall's thread ids are "<channel>:<ts>" (bot.message_ids); Slack's thread_ts is the ts.
    return slack_ts(thread_id) if thread_id else None


def _event_channel(event: dict[str, Any]) -> str | None:
    if event.get("type") in ("reaction_added", "reaction_removed"):
        channel = (event.get("item") or {}).get("channel")
    else:
        channel = event.get("channel")
    return channel if isinstance(channel, str) and channel else None


def _dm_member(event: dict[str, Any], bot_user_id: str) -> str | None:
    """The member at the other end of the bot's DM an event comes from; None for other events.

    Slack sends ``channel_type: im`` only from the bot's own DMs, so whoever writes there is it.
    """
    author = event.get("user")
    if event.get("channel_type") != "im" or not isinstance(author, str) or author in ("", bot_user_id):
        return None
    return author

"""The one home of discord.py private hooks used by the Discord adapter tests.

Inbound: real gateway payloads (shapes from ``discord/types/*.py``) fed to discord.py's own parsers,
``client._connection.parse_*``. Outbound: :class:`RecordingHTTP` replaces ``client.http.request``
(REST calls such as channel messages, DMs, reactions) and the default ``AsyncWebhookAdapter.request``
(interaction callbacks and follow-ups go through ``discord/webhook/async_.py``, not ``HTTPClient``).
It answers with realistic JSON and can fail a route once with a 429 or a 403/50007. Pinned to
discord.py 2.7 (``pyproject.toml``); if these hooks move, only this file changes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import types
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import discord
import pytest
from discord.http import HTTPClient, Route
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

GUILD_ID = "900000000000000001"
BOT_ID = "900000000000000002"
APP_ID = BOT_ID
ADMIN_ROLE_ID = "900000000000000003"
MOD_ROLE_ID = "900000000000000004"
GENERAL_ID = "900000000000000010"
PRIVATE_ID = "900000000000000011"
FORUM_ID = "900000000000000012"
THREAD_ID = "900000000000000020"
ALICE_ID = "900000000000000100"
BOB_ID = "900000000000000101"
OTHER_BOT_ID = "900000000000000102"
SOLVED_TAG_ID = "900000000000000030"
VIEW_CHANNEL = 1 << 10
MANAGE_GUILD = 1 << 5
TIMESTAMP = "2026-11-20T10:00:00.000000+00:00"
# Application flags: the Developer Portal's privileged intent toggles (``discord.ApplicationFlags``).
GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 15
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
ALL_INTENTS_ENABLED = GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED

_ids = itertools.count(950000000000000000)
_low_bits = itertools.count()


def next_id() -> str:
    """A fresh snowflake string."""
    return str(next(_ids))


def id_at(timestamp: str) -> str:
    """A fresh snowflake whose time is ``timestamp`` (ISO 8601); its low bits count the ids made, so
    two messages of one millisecond differ, as Discord's do."""
    return str(discord.utils.time_snowflake(datetime.fromisoformat(timestamp)) + next(_low_bits) % (1 << 22))


def user_payload(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    """A ``discord.types.user.User``."""
    return {
        "id": user_id,
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
        "bot": bot,
    }


def member_payload(user_id: str, name: str, *, roles: list[str] | None = None, bot: bool = False) -> dict[str, Any]:
    """A ``discord.types.member.MemberWithUser``."""
    return {
        "user": user_payload(user_id, name, bot=bot),
        "roles": roles or [],
        "joined_at": TIMESTAMP,
        "deaf": False,
        "mute": False,
        "flags": 0,
    }


def role_payload(role_id: str, name: str, permissions: int) -> dict[str, Any]:
    """A ``discord.types.role.Role``."""
    return {
        "id": role_id,
        "name": name,
        "color": 0,
        "hoist": False,
        "position": 0,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel_payload(
    channel_id: str, name: str, *, overwrites: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A ``discord.types.channel.TextChannel``."""
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": GUILD_ID,
        "name": name,
        "position": 0,
        "permission_overwrites": overwrites or [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


def forum_channel_payload(channel_id: str, name: str, *, tags: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A ``discord.types.channel.ForumChannel`` (``tags``: its ``available_tags``)."""
    return {
        **text_channel_payload(channel_id, name),
        "type": 15,
        "available_tags": tags or [],
        "default_reaction_emoji": None,
        "default_sort_order": None,
        "default_forum_layout": 0,
        "flags": 0,
    }


def forum_tag_payload(tag_id: str, name: str) -> dict[str, Any]:
    """A ``discord.types.channel.ForumTag``."""
    return {"id": tag_id, "name": name, "moderated": False, "emoji_id": None, "emoji_name": None}


def thread_payload(
    thread_id: str, parent_id: str, name: str, owner_id: str, *, archived: bool = False
) -> dict[str, Any]:
    """A ``discord.types.threads.Thread`` (public thread, type 11)."""
    return {
        "id": thread_id,
        "type": 11,
        "guild_id": GUILD_ID,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": archived,
            "auto_archive_duration": 1440,
            "archive_timestamp": TIMESTAMP,
            "locked": False,
            "create_timestamp": TIMESTAMP,
        },
    }


def guild_create_payload() -> dict[str, Any]:
    """A GUILD_CREATE: #general (public), #staff (only the mod role and Bob), #help (forum)."""
    staff_overwrites = [
        {"id": GUILD_ID, "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)},
        {"id": MOD_ROLE_ID, "type": 0, "allow": str(VIEW_CHANNEL), "deny": "0"},
        {"id": BOB_ID, "type": 1, "allow": str(VIEW_CHANNEL), "deny": "0"},
    ]
    return {
        "id": GUILD_ID,
        "name": "Guildhall Test",
        "icon": None,
        "owner_id": BOB_ID,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": [
            role_payload(GUILD_ID, "@everyone", VIEW_CHANNEL | (1 << 11)),
            role_payload(ADMIN_ROLE_ID, "Admin", MANAGE_GUILD),
            role_payload(MOD_ROLE_ID, "Mod", 0),
        ],
        "channels": [
            text_channel_payload(GENERAL_ID, "general"),
            text_channel_payload(PRIVATE_ID, "staff", overwrites=staff_overwrites),
            forum_channel_payload(FORUM_ID, "help", tags=[forum_tag_payload(SOLVED_TAG_ID, "Solved")]),
        ],
        "threads": [thread_payload(THREAD_ID, GENERAL_ID, "Install trouble", ALICE_ID)],
        "members": [
            member_payload(BOT_ID, "guildhall", bot=True),
            member_payload(ALICE_ID, "alice"),
            member_payload(BOB_ID, "bob", roles=[ADMIN_ROLE_ID]),
        ],
        "member_count": 3,
        "large": False,
        "unavailable": False,
        "joined_at": TIMESTAMP,
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def app_info_payload(flags: int = ALL_INTENTS_ENABLED) -> dict[str, Any]:
    """GET /oauth2/applications/@me (``discord.types.appinfo.AppInfo``); ``flags`` hold the intents."""
    return {
        "id": APP_ID,
        "name": "Guildhall",
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user_payload(BOB_ID, "bob"),
        "verify_key": "0" * 64,
        "flags": flags,
    }


def rest_guild_payload() -> dict[str, Any]:
    """GET /guilds/{id}: the guild without the gateway-only channels, threads and members."""
    gateway_only = {"channels", "threads", "members", "member_count", "large", "unavailable", "joined_at"}
    gateway_only |= {"voice_states", "presences", "stage_instances", "guild_scheduled_events", "soundboard_sounds"}
    return {k: v for k, v in guild_create_payload().items() if k not in gateway_only}


def message_payload(
    channel_id: str,
    content: str,
    *,
    author: dict[str, Any] | None = None,
    message_id: str | None = None,
    guild_id: str | None = GUILD_ID,
    mentions: list[dict[str, Any]] | None = None,
    message_type: int = 0,
    timestamp: str = TIMESTAMP,
) -> dict[str, Any]:
    """A ``discord.types.message.Message`` as in MESSAGE_CREATE (with ``member`` in guilds).

    Without ``message_id`` the id is a snowflake of ``timestamp``, as Discord's are: discord.py takes
    a message's time (``created_at``) from its id, not from ``timestamp``."""
    author = author or user_payload(ALICE_ID, "alice")
    data: dict[str, Any] = {
        "id": message_id or id_at(timestamp),
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": timestamp,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": mentions or [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": message_type,
        "flags": 0,
    }
    if guild_id is not None:
        data["guild_id"] = guild_id
        data["member"] = {k: v for k, v in member_payload(author["id"], author["username"]).items() if k != "user"}
    return data


def history_responder(messages: list[dict[str, Any]]) -> Callable[[Route, dict[str, Any]], Any]:
    """Answer GET /channels/{id}/messages like Discord: the ``limit`` oldest ids after ``after``,
    newest first, as REST does (no ``member`` object, unlike the gateway)."""

    def answer(route: Route, params: dict[str, Any]) -> list[dict[str, Any]]:
        in_channel = [m for m in messages if m["channel_id"] == str(route.channel_id)]
        after = int(params.get("after", 0))
        newer = sorted((m for m in in_channel if int(m["id"]) > after), key=lambda m: int(m["id"]))
        page = newer[: int(params.get("limit", 50))]
        return [{k: v for k, v in m.items() if k not in {"member", "guild_id"}} for m in reversed(page)]

    return answer


def interaction_payload(
    name: str,
    options: list[dict[str, Any]] | None = None,
    *,
    user_id: str = ALICE_ID,
    permissions: int = VIEW_CHANNEL,
    roles: list[str] | None = None,
    channel_id: str = GENERAL_ID,
    group: str | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE for a chat-input command (``group`` for ``/guildhall <name>``)."""
    data: dict[str, Any] = {"id": next_id(), "name": name, "type": 1, "options": options or []}
    if group is not None:
        data = {
            "id": next_id(),
            "name": group,
            "type": 1,
            "options": [{"name": name, "type": 1, "options": options or []}],
        }
    member = member_payload(user_id, "alice" if user_id == ALICE_ID else "bob", roles=roles)
    member["permissions"] = str(permissions)
    return {
        "id": next_id(),
        "application_id": APP_ID,
        "type": 2,
        "data": data,
        "guild_id": GUILD_ID,
        "channel_id": channel_id,
        "channel": {"id": channel_id, "type": 0, "name": "general", "guild_id": GUILD_ID},
        "member": member,
        "token": "tok-" + next_id(),
        "version": 1,
        "app_permissions": str((1 << 53) - 1),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD_ID},
        "context": 0,
        "attachment_size_limit": 26214400,
    }


def dm_interaction_payload(
    name: str, options: list[dict[str, Any]] | None = None, *, user_id: str, user_name: str, channel_id: str
) -> dict[str, Any]:
    """An INTERACTION_CREATE for a chat-input command run in a DM with the bot: no ``guild_id``,
    a ``user`` instead of a ``member``, a DM channel (type 1), context 1 (bot DM)."""
    payload = interaction_payload(name, options, user_id=user_id, channel_id=channel_id)
    for guild_only in ("guild_id", "member", "guild_locale"):
        del payload[guild_only]
    user = user_payload(user_id, user_name)
    payload["user"] = user
    payload["channel"] = {"id": channel_id, "type": 1, "recipients": [user], "last_message_id": None}
    payload["authorizing_integration_owners"] = {"1": user_id}
    payload["context"] = 1
    return payload


# ------------------------------------------------------------------------------- HTTP recording


@dataclass
class Call:
    """One request discord.py would have sent."""

    method: str
    path: str  # the route template, e.g. ``/channels/{channel_id}/messages``
    url: str
    json: Any
    files: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def flags(self) -> int:
        """Message flags (64 = ephemeral), from the body or a deferral's ``data``."""
        body = self.json or {}
        return int(body.get("flags") or (body.get("data") or {}).get("flags") or 0)


class FakeResponse:
    """Enough of ``aiohttp.ClientResponse`` for ``discord.HTTPException``."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers or {}


class RecordingHTTP:
    """Records REST and webhook requests and answers like Discord would."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.dm_channel_id = next_id()
        self.app_flags = ALL_INTENTS_ENABLED  # what GET /oauth2/applications/@me reports
        self._failures: list[tuple[str, str, Exception]] = []
        self._responders: dict[tuple[str, str], Callable[[Route, dict[str, Any]], Any]] = {}

    def respond(self, method: str, path: str, responder: Callable[[Route, dict[str, Any]], Any]) -> None:
        """Answer ``method path`` (route template) with ``responder(route, params)``."""
        self._responders[(method, path)] = responder

    def fail_once(self, method: str, path: str, exc: Exception) -> None:
        """Make the next request to ``method path`` (route template) raise ``exc``."""
        self._failures.append((method, path, exc))

    def rate_limit_once(self, method: str, path: str, retry_after: float = 0.25) -> None:
        """The next request to ``method path`` raises what discord.py raises when a 429's wait
        exceeds ``max_ratelimit_timeout``: :class:`discord.RateLimited` (it absorbs shorter ones)."""
        self.fail_once(method, path, discord.RateLimited(retry_after))

    def dms_closed_once(self) -> None:
        """The next channel message fails like a DM to a member with DMs closed (403, code 50007)."""
        body = {"message": "Cannot send messages to this user", "code": 50007}
        exc = discord.Forbidden(FakeResponse(403, "Forbidden"), body)  # type: ignore[arg-type]
        self.fail_once("POST", "/channels/{channel_id}/messages", exc)

    def sent(self, method: str, path: str) -> list[Call]:
        """Successful calls to a route template."""
        return [c for c in self.calls if c.method == method and c.path == path]

    def _record(self, route: Route, body: Any, files: list[str], params: dict[str, Any] | None = None) -> Call:
        call = Call(route.method, route.path, route.url, body, files, dict(params or {}))
        for i, (method, path, exc) in enumerate(self._failures):
            if method == route.method and path == route.path:
                del self._failures[i]
                raise exc
        self.calls.append(call)
        return call

    async def request(self, route: Route, *, files: Any = None, form: Any = None, **kwargs: Any) -> Any:
        """Stands in for ``discord.http.HTTPClient.request``."""
        body = kwargs.get("json")
        if body is None and form:
            body = _payload_json(form)
        call = self._record(route, body, [f.filename for f in files or []], kwargs.get("params"))
        responder = self._responders.get((route.method, route.path))
        if responder is not None:
            return responder(route, kwargs.get("params") or {})
        return self._answer(call, route)

    async def webhook_request(
        self,
        route: Route,
        session: Any,
        *,
        payload: Any = None,
        multipart: Any = None,
        files: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Stands in for ``AsyncWebhookAdapter.request`` (interaction callbacks, follow-ups)."""
        body = payload if payload is not None else _payload_json(multipart or [])
        call = self._record(route, body, [f.filename for f in files or []])
        if route.path.endswith("/callback"):
            return {
                "interaction": {"id": str(route.webhook_id), "type": 2, "response_message_loading": True},
                "resource": {"type": (body or {}).get("type", 5)},
            }
        return self._answer(call, route)

    def _answer(self, call: Call, route: Route) -> Any:
        if call.method == "GET" and call.path == "/users/@me":  # login
            return user_payload(BOT_ID, "guildhall", bot=True)
        if call.method == "GET" and call.path == "/oauth2/applications/@me":  # login, intents check
            return app_info_payload(self.app_flags)
        if call.method == "PUT" and call.path.endswith("/commands"):  # command sync echoes with ids
            guild_id = getattr(route, "guild_id", None)
            extra = {"guild_id": str(guild_id)} if guild_id else {}
            return [{**c, "id": next_id(), "application_id": APP_ID, "version": "1", **extra} for c in call.json]
        if call.method == "POST" and call.path == "/users/@me/channels":
            recipient = (call.json or {}).get("recipient_id", ALICE_ID)
            return {
                "id": self.dm_channel_id,
                "type": 1,
                "recipients": [user_payload(str(recipient), "member")],
                "last_message_id": None,
            }
        if call.method in {"POST", "PATCH"} and ("messages" in call.path or call.path.startswith("/webhooks/")):
            channel_id = str(getattr(route, "channel_id", None) or GENERAL_ID)
            content = (call.json or {}).get("content", "")
            return message_payload(
                channel_id, content, author=user_payload(BOT_ID, "guildhall", bot=True), guild_id=None
            )
        return None


def _payload_json(form: list[dict[str, Any]]) -> dict[str, Any] | None:
    for part in form:
        if part.get("name") == "payload_json":
            loaded: dict[str, Any] = json.loads(part["value"])
            return loaded
    return None


def install(client: discord.Client, monkeypatch: pytest.MonkeyPatch) -> RecordingHTTP:
    """Route ``client``'s REST and webhook traffic into a :class:`RecordingHTTP`; set our bot user."""
    http = RecordingHTTP()
    monkeypatch.setattr(client.http, "request", http.request)
    monkeypatch.setattr(async_context.get(), "request", http.webhook_request)
    state = client._connection
    state.user = discord.ClientUser(state=state, data=user_payload(BOT_ID, "guildhall", bot=True))  # type: ignore[arg-type]
    state.application_id = int(APP_ID)
    return http


def feed(client: discord.Client, event: str, payload: dict[str, Any]) -> None:
    """Feed a gateway dispatch (``MESSAGE_CREATE`` ...) to discord.py's real parser, exactly as
    ``DiscordWebSocket.received_message`` does: ``client._connection.parsers[event](data)``."""
    client._connection.parsers[event](payload)


def stored_views(client: discord.Client) -> int:
    """How many views discord.py keeps listening for clicks (``ConnectionState._view_store``)."""
    store = client._connection._view_store
    return len(store._views) + len(store._synced_message_views)


def record_every_client(monkeypatch: pytest.MonkeyPatch) -> RecordingHTTP:
    """Route every ``HTTPClient``'s REST calls into one :class:`RecordingHTTP`: for CLI commands that
    build their own client (``guildhall discord sync-commands``, ``guildhall import discord``)."""
    http = RecordingHTTP()

    async def request(_client: HTTPClient, route: Route, **kwargs: Any) -> Any:
        return await http.request(route, **kwargs)

    monkeypatch.setattr(HTTPClient, "request", request)
    return http


def serve_guild(
    http: RecordingHTTP,
    messages: list[dict[str, Any]],
    *,
    active_threads: Sequence[dict[str, Any]] = (),
    archived_threads: Sequence[dict[str, Any]] = (),
    forbidden_channels: Collection[str] = (),
) -> None:
    """Answer the REST reads of a backfill of :func:`guild_create_payload`'s guild: the guild, its
    channels, active and archived threads, and paged channel history (``forbidden_channels``: 403)."""
    guild = guild_create_payload()
    http.respond("GET", "/guilds/{guild_id}", lambda route, params: rest_guild_payload())
    http.respond("GET", "/guilds/{guild_id}/channels", lambda route, params: guild["channels"])
    http.respond(
        "GET",
        "/guilds/{guild_id}/threads/active",
        lambda route, params: {"threads": list(active_threads), "members": []},
    )

    def archived(route: Route, params: dict[str, Any]) -> dict[str, Any]:
        mine = [t for t in archived_threads if t["parent_id"] == str(route.channel_id)]
        return {"threads": mine, "members": [], "has_more": False}

    http.respond("GET", "/channels/{channel_id}/threads/archived/public", archived)
    pages = history_responder(messages)

    def history(route: Route, params: dict[str, Any]) -> Any:
        if str(route.channel_id) in forbidden_channels:
            body = {"message": "Missing Access", "code": 50001}
            raise discord.Forbidden(FakeResponse(403, "Forbidden"), body)  # type: ignore[arg-type]
        return pages(route, params)

    http.respond("GET", "/channels/{channel_id}/messages", history)


# ------------------------------------------------------------------------ transport (aiohttp) fake


class TransportResponse:
    """Enough of ``aiohttp.ClientResponse`` for discord.py's request loops (``json_or_text``)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = {200: "OK", 429: "Too Many Requests"}.get(status, "")
        self.body = body
        self.headers = {"content-type": "application/json", **(headers or {})}

    async def text(self, encoding: str = "utf-8") -> str:
        return json.dumps(self.body)

    async def __aenter__(self) -> TransportResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@dataclass
class Sent:
    """One request that reached the (fake) network."""

    method: str
    url: str
    json: Any
    status: int


class FakeSession:
    """Stands in for the ``aiohttp.ClientSession`` under discord.py's real ``HTTPClient.request``
    and ``AsyncWebhookAdapter.request``, so discord.py's own rate-limit handling runs."""

    closed = False

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.dm_channel_id = next_id()
        self._scripted: list[tuple[str, str, TransportResponse]] = []

    def rate_limit_once(self, method: str, url_suffix: str, retry_after: float = 0.0) -> None:
        """The next ``method`` request whose URL ends with ``url_suffix`` gets Discord's 429."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False, "code": 0}
        # ``Via`` marks a 429 as Discord's own (not a Cloudflare ban), which discord.py retries.
        headers = {"Via": "1.1 google", "Retry-After": str(retry_after)}
        self._scripted.append((method, url_suffix, TransportResponse(429, body, headers)))

    def fail_once(self, method: str, url_suffix: str, status: int, code: int, message: str) -> None:
        """The next ``method`` request whose URL ends with ``url_suffix`` gets Discord's error
        ``status`` with JSON error ``code`` (discord.py picks the exception from the status)."""
        self._scripted.append((method, url_suffix, TransportResponse(status, {"message": message, "code": code})))

    def request(self, method: str, url: str, **kwargs: Any) -> TransportResponse:
        data = kwargs.get("data")
        body = json.loads(data) if isinstance(data, str) else None
        response = self._response(method, url, body)
        self.sent.append(Sent(method, url, body, response.status))
        return response

    def _response(self, method: str, url: str, body: Any) -> TransportResponse:
        for i, (m, suffix, response) in enumerate(self._scripted):
            if m == method and url.endswith(suffix):
                del self._scripted[i]
                return response
        if url.endswith("/callback"):
            return TransportResponse(
                200,
                {
                    "interaction": {"id": next_id(), "type": 2, "response_message_loading": True},
                    "resource": {"type": (body or {}).get("type", 5)},
                },
            )
        if url.endswith("/users/@me/channels"):  # open a DM: the DM channel
            recipient = user_payload(str((body or {}).get("recipient_id", ALICE_ID)), "member")
            return TransportResponse(200, {"id": self.dm_channel_id, "type": 1, "recipients": [recipient]})
        channel_id = url.split("/channels/")[1].split("/")[0] if "/channels/" in url else GENERAL_ID
        content = (body or {}).get("content", "")
        bot = user_payload(BOT_ID, "guildhall", bot=True)
        return TransportResponse(200, message_payload(channel_id, content, author=bot, guild_id=None))

    async def close(self) -> None:
        return None


def use_transport(client: discord.Client, monkeypatch: pytest.MonkeyPatch) -> FakeSession:
    """Undo :func:`install`'s request recorders: discord.py's real ``HTTPClient.request`` and
    webhook ``request`` run again, over a :class:`FakeSession` instead of the network."""
    session = FakeSession()
    monkeypatch.setattr(client.http, "request", types.MethodType(HTTPClient.request, client.http))
    webhooks = async_context.get()
    monkeypatch.setattr(webhooks, "request", types.MethodType(AsyncWebhookAdapter.request, webhooks))
    monkeypatch.setattr(client.http, "_HTTPClient__session", session)
    over = asyncio.Event()
    over.set()
    monkeypatch.setattr(client.http, "_global_over", over)
    return session

"""A small fake Slack Web API (aiohttp, port 0) and helpers for driving a real Bolt ``AsyncApp``.

The fake answers with recorded-shape JSON (the fields Slack documents for each method), records
every call, and can be scripted to fail a method with ``ok: false`` or ``429`` + ``Retry-After``.
Messages are held to Slack's limits: Block Kit's (``invalid_blocks``) and the total text of a
message's blocks (``msg_blocks_too_long``).
It also serves ``response_url`` hooks and the upload URL of ``files_upload_v2``.

Bolt-private details used by tests live here only (pinned by ``slack-bolt>=1.27,<2``):
:func:`settle_bolt` waits for the listener tasks Bolt starts after acking.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from bot.config import Settings

TEAM_ID = "T0ACME"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_URL = "https://acme.slack.com/"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Call:
    """One Web API call as the fake saw it."""

    method: str
    args: dict[str, Any]
    token: str = ""


@dataclass
class Scripted:
    """A canned reply used instead of the normal one."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlackAPI:
    """The fake server. ``url`` is the Web API base URL to give ``AsyncWebClient(base_url=...)``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.hook_posts: list[tuple[str, dict[str, Any]]] = []
        self.uploads: list[tuple[str, bytes]] = []
        self.upload_fails = 0  # the next N file uploads answer 500, as an upload URL can
        self.users: dict[str, dict[str, Any]] = {
            "UADMIN": {"id": "UADMIN", "name": "ada", "is_admin": True, "is_owner": False},
            "UOWNER": {"id": "UOWNER", "name": "otto", "is_admin": False, "is_owner": True},
            "UALICE": {"id": "UALICE", "name": "alice", "is_admin": False, "is_owner": False},
        }
        self.usergroups: dict[str, list[str]] = {}
        self.conversations: dict[str, dict[str, Any]] = {
            "CGENERAL": {"id": "CGENERAL", "name": "general", "is_channel": True, "is_private": False},
            "CHELP": {"id": "CHELP", "name": "help", "is_channel": True, "is_private": False},
            "GSECRET": {"id": "GSECRET", "name": "secret", "is_group": True, "is_private": True},
        }
        self.members: dict[str, list[str]] = {"GSECRET": ["UALICE", "UBOB", "UCAROL"]}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.replies: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.page_size = 2  # small, so pagination is exercised
        self.expired_hooks: set[str] = set()
        self._scripted: dict[str, list[Scripted]] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        # Socket Mode: the connected WebSocket and the envelope acks the client sent back.
        self.socket: web.WebSocketResponse | None = None
        self.socket_connected = asyncio.Event()
        self.socket_acks: dict[str, dict[str, Any]] = {}
        self._ack_arrived = asyncio.Condition()

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> FakeSlackAPI:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/hooks/{name}", self._hook)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def hook_url(self, name: str = "cmd1") -> str:
        """A ``response_url`` served by this fake."""
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    # -- scripting ---------------------------------------------------------------------------------
    def fail(self, method: str, error: str, times: int = 1, **extra: Any) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        for _ in range(times):
            self._scripted.setdefault(method, []).append(Scripted(200, {"ok": False, "error": error, **extra}))

    def rate_limit(self, method: str, retry_after: int = 0, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with ``Retry-After``."""
        for _ in range(times):
            self._scripted.setdefault(method, []).append(
                Scripted(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
            )

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Arguments of every call of ``method``, in order."""
        return [c.args for c in self.calls if c.method == method]

    # -- handlers ----------------------------------------------------------------------------------
    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            ctype = request.headers.get("Content-Type", "")
            if "json" in ctype:
                args.update(json.loads(raw or b"{}"))
            elif raw:
                args.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.calls.append(Call(method, args, token or str(args.get("token", ""))))
        queue = self._scripted.get(method)
        if queue:
            s = queue.pop(0)
            return web.json_response(s.body, status=s.status, headers=s.headers)
        if method in _BLOCK_METHODS and (problem := block_problem(args.get("blocks"))):
            return web.json_response({"ok": False, "error": "invalid_blocks", "errors": [problem]})
        if method in _BLOCK_METHODS and blocks_text_length(args.get("blocks")) > MSG_BLOCKS_TEXT_LIMIT:
            return web.json_response({"ok": False, "error": "msg_blocks_too_long"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(args))

    async def _hook(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.json()
        self.hook_posts.append((name, body))
        if name in self.expired_hooks:
            return web.Response(status=404, text="expired_url")
        if problem := block_problem(body.get("blocks")):
            return web.Response(status=400, text=f"invalid_blocks: {problem}")
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        if self.upload_fails:
            self.upload_fails -= 1
            return web.Response(status=500, text="upload failed")
        self.uploads.append((request.match_info["file_id"], await request.read()))
        return web.Response(text="OK - 1")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.socket = ws
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0GUILD"}})
        self.socket_connected.set()
        async for frame in ws:
            if frame.type == web.WSMsgType.TEXT:
                ack = json.loads(frame.data)
                async with self._ack_arrived:
                    self.socket_acks[str(ack.get("envelope_id"))] = ack
                    self._ack_arrived.notify_all()
        return ws

    async def socket_send(self, envelope_id: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Deliver a Socket Mode envelope and wait for the client's ack of it."""
        assert self.socket is not None, "no Socket Mode client connected"
        await self.socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
            }
        )
        async with self._ack_arrived:
            await self._ack_arrived.wait_for(lambda: envelope_id in self.socket_acks)
        return self.socket_acks[envelope_id]

    # -- recorded-shape method replies -------------------------------------------------------------
    def _next_ts(self) -> str:
        return f"{1767600000 + next(self._ts)}.000100"

    def _m_oauth_v2_access(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("code") != "good-code":
            return {"ok": False, "error": "invalid_code"}
        return {
            "ok": True,
            "access_token": "xoxb-beta",
            "token_type": "bot",
            "scope": "commands,chat:write",
            "bot_user_id": "UBOTBETA",
            "app_id": "A0GUILD",
            "team": {"name": "Beta", "id": "T0BETA"},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": "UINSTALLER"},
        }

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.calls and self.calls[-1].token == "xoxb-beta":
            return {
                "ok": True,
                "url": "https://beta.slack.com/",
                "team": "Beta",
                "user": "guildhall",
                "team_id": "T0BETA",
                "user_id": "UBOTBETA",
                "bot_id": "BBOTBETA",
            }
        return {
            "ok": True,
            "url": TEAM_URL,
            "team": "Acme",
            "user": "guildhall",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": args.get("text", ""), "ts": ts}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": message}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": {"id": "D" + str(args.get("users", "X")).lstrip("U")}}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        conv = self.conversations.get(str(args.get("channel")))
        if conv is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": conv}

    def _m_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel"))
        if channel not in self.members:
            return {"ok": False, "error": "channel_not_found"}
        page = self._page([{"id": m} for m in self.members[channel]], args, "members")
        page["members"] = [m["id"] for m in page["members"]]
        return page

    def _page(self, items: list[dict[str, Any]], args: dict[str, Any], key: str) -> dict[str, Any]:
        start = int(args.get("cursor") or 0)
        limit = min(int(args.get("limit") or self.page_size), self.page_size)
        page = items[start : start + limit]
        nxt = str(start + limit) if start + limit < len(items) else ""
        return {"ok": True, key: page, "has_more": bool(nxt), "response_metadata": {"next_cursor": nxt}}

    def _m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._page(list(self.conversations.values()), args, "channels")

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel"))
        if channel not in self.conversations:
            return {"ok": False, "error": "channel_not_found"}
        # Slack returns newest first, between ``oldest`` and ``latest`` (both exclusive by default).
        items = sorted(self.history.get(channel, []), key=lambda m: float(m["ts"]), reverse=True)
        return self._page(_between(items, args), args, "messages")

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        items = self.replies.get((str(args.get("channel")), str(args.get("ts"))), [])
        # The parent always comes first; ``oldest``/``latest`` bound the replies after it.
        parent = [m for m in items if m.get("ts") == args.get("ts")]
        return self._page(parent + _between([m for m in items if m not in parent], args), args, "messages")

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"team_id": TEAM_ID, "deleted": False, "is_bot": False, **user}}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup"))
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": self.usergroups[group]}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": {"id": "V1", "type": "home", **(args.get("view") or {})}}

    def _m_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ts)}"
        return {"ok": True, "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(args.get("files", "[]"))
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}


# --------------------------------------------------------------------------- payload builders


_BLOCK_METHODS = {"chat.postMessage", "chat.postEphemeral", "chat.update"}
# Slack refuses a message whose blocks' text adds up past about this (undocumented; Slack's staff
# in slackapi/bolt-js #2509 said 12,000 text characters, some refused well before 13,300).
MSG_BLOCKS_TEXT_LIMIT = 12_000


def block_problem(blocks: Any) -> str | None:
    """Why Slack would refuse ``blocks`` (``invalid_blocks``), by its documented Block Kit limits;
    None when they pass. Checks what Guildhall sends: sections, context and actions blocks."""
    if blocks is None or blocks == "":
        return None
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "more than 50 blocks"
    for n, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "section":
            text = block.get("text", {}).get("text", "")
            if not 1 <= len(text) <= 3000:
                return f"block {n}: section text must be 1-3000 characters"
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                return f"block {n}: 1-25 elements"
            ids = [e.get("action_id") for e in elements if e.get("action_id") is not None]
            if len(ids) != len(set(ids)):
                return f"block {n}: action_id must be unique within the block"
            for e in elements:
                if e.get("type") == "button" and len(e.get("text", {}).get("text", "")) > 75:
                    return f"block {n}: button text over 75 characters"
        elif kind == "context" and len(block.get("elements", [])) > 10:
            return f"block {n}: more than 10 context elements"
    return None


def blocks_text_length(blocks: Any) -> int:
    """Every ``text`` string in ``blocks`` (a list, or its JSON) added up: sections, button labels,
    context elements."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks) if blocks else None
    return _text_length(blocks)


def _text_length(node: Any) -> int:
    if isinstance(node, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else _text_length(v) for k, v in node.items())
    if isinstance(node, list):
        return sum(_text_length(item) for item in node)
    return 0


def envelope(event: dict[str, Any], *, event_id: str = "Ev0001", team_id: str = TEAM_ID) -> dict[str, Any]:
    """An Events API ``event_callback`` body (what HTTP mode POSTs and Socket Mode delivers)."""
    return {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": "A0GUILD",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": _event_time(event),
        "authorizations": [{"team_id": team_id, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def _event_time(event: dict[str, Any]) -> int:
    try:
        return int(float(event.get("event_ts") or event.get("ts") or 0)) or 1767600000
    except (TypeError, ValueError):  # malformed on purpose in some tests
        return 1767600000


def message_event(
    text: str,
    *,
    ts: str = "1767600000.000100",
    user: str = "UALICE",
    channel: str = "CGENERAL",
    channel_type: str = "channel",
    **extra: Any,
) -> dict[str, Any]:
    """A ``message`` event as Slack sends it."""
    return {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
        **extra,
    }


def slash_form(
    command: str,
    text: str = "",
    *,
    user: str = "UALICE",
    response_url: str = "",
    trigger: str = "13345224609.738474920.8088930838d88f008e0",
) -> dict[str, str]:
    """A slash command's form fields."""
    return {
        "token": "verification-token",
        "team_id": TEAM_ID,
        "team_domain": "acme",
        "channel_id": "CGENERAL",
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0GUILD",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger,
    }


def signed_headers(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None, content_type: str
) -> dict[str, str]:
    """Slack's request signature: HMAC-SHA256 over ``v0:{timestamp}:{body}``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": content_type}


def form_body(fields: dict[str, str]) -> str:
    """URL-encode a slash-command form."""
    return urlencode(fields)


async def settle_bolt() -> None:
    """Wait for the listener tasks Bolt starts after acking (process_before_response=False).

    Bolt runs each listener in ``asyncio.ensure_future(run_ack_function_asynchronously(...))``
    created before ``async_dispatch`` returns, so the tasks are visible right away.
    """
    current = asyncio.current_task()
    while True:
        pending = [
            t
            for t in asyncio.all_tasks()
            if t is not current
            and not t.done()
            and getattr(t.get_coro(), "__name__", "") == "run_ack_function_asynchronously"
        ]
        if not pending:
            return
        await asyncio.gather(*pending, return_exceptions=True)


def _between(items: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, Any]]:
    """``items`` with ``oldest < ts < latest`` (Slack's history bounds; either may be absent)."""
    oldest = float(args["oldest"]) if args.get("oldest") else float("-inf")
    latest = float(args["latest"]) if args.get("latest") else float("inf")
    return [m for m in items if oldest < float(m["ts"]) < latest]


def adapter_settings(tmp_path: Path) -> Settings:
    """Settings for a Slack adapter against the fake Web API: no brains, scripted LLM, in-memory store."""
    return Settings.model_validate(
        {
            "data_dir": str(tmp_path),
            "store": {"url": "sqlite://:memory:"},
            "vectors": {"path": str(tmp_path / "chroma")},
            "llm": {"backend": "scripted", "warmup": False},
            "brains": [],
            "slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING_SECRET},
        }
    )

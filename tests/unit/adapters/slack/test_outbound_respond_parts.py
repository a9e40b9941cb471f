"""Multi-part command answers and private notes: no part is shown twice, none is lost.

A real ``SlackAdapter`` (Bolt ``AsyncApp`` + ``AsyncWebClient``) against the fake Web API and its
``response_url`` hooks. A ``response_url`` that takes part one and then refuses (Slack answers 404
``used_url`` / ``expired_url``) leaves only the rest to the Web API; a connection lost on a later
``chat.postEphemeral`` is logged, not raised for a redelivery that would repeat part one; and a
transient failure of ``conversations.open`` (idempotent) is tried again instead of losing the DM.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.slack import adapter as slack_adapter
from adapters.slack import render
from adapters.slack.adapter import SlackAdapter
from bot.app import GuildhallApp
from bot.events import (
    Attachment,
    ChannelRef,
    CommandInvoked,
    CommandReply,
    Event,
    Platform,
    SendDirectMessage,
    SendEphemeral,
    UserRef,
    Visibility,
)
from tests.slack_fakes import TEAM_ID, FakeSlackAPI, Scripted, adapter_settings

GENERAL = ChannelRef(Platform.SLACK, TEAM_ID, "CGENERAL", "general", Visibility.PUBLIC)
ALICE = UserRef(Platform.SLACK, TEAM_ID, "UALICE", "alice")
# More block text than one message may carry (render.MESSAGE_TEXT_BUDGET): eight ~2,500-character
# sections, four to a message: two parts. (It was 60 sections, two messages while 50 blocks were
# the only limit per message; Slack refuses such messages with msg_blocks_too_long.)
LONG = "\n".join(f"{i}. " + "word " * 500 for i in range(8))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class Line:
    """Wraps the fake's handlers: a hook that refuses from its ``hook_refuses_from``-th post on, and
    listed 1-based attempts of Web API methods that get no answer (the server hangs up)."""

    api: Callable[[web.Request], Awaitable[web.Response]]
    hook: Callable[[web.Request], Awaitable[web.Response]]
    hook_refuses_from: int = 0  # 0: never
    hook_posts: int = 0
    drop: dict[str, set[int]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    delivered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # answered Web API calls

    async def on_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await request.json() if "json" in request.headers.get("Content-Type", "") else {}
        response = await self.api(request)
        self.attempts[method] = self.attempts.get(method, 0) + 1
        if self.attempts[method] in self.drop.get(method, set()):
            assert request.transport is not None
            request.transport.close()
        else:
            self.delivered.setdefault(method, []).append(args)
        return response

    async def on_hook(self, request: web.Request) -> web.Response:
        self.hook_posts += 1
        if self.hook_refuses_from and self.hook_posts >= self.hook_refuses_from:
            return web.Response(status=404, text="used_url")
        return await self.hook(request)


@dataclass
class Env:
    app: GuildhallApp
    fake: FakeSlackAPI
    line: Line

    async def send(self, action: Event) -> None:
        """Publish ``action``, then once more if it failed: what the Redis bus's redelivery does."""
        await self.app.bus.publish(action)
        await self.app.bus.drain()
        if self.app.bus.stats.failed:
            await self.app.bus.publish(action)
            await self.app.bus.drain()

    def texts(self, method: str) -> list[str]:
        return [args["text"] for args in self.line.delivered.get(method, [])]


@pytest.fixture
async def env(make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    monkeypatch.setattr(slack_adapter, "OPEN_DM_BACKOFF_S", (0.0, 0.0))  # no waiting in tests
    fake = FakeSlackAPI()
    line = Line(fake._api, fake._hook)
    # Before start(), which routes /api/ and /hooks/ to them.
    fake._api = line.on_api  # type: ignore[method-assign]
    fake._hook = line.on_hook  # type: ignore[method-assign]
    await fake.start()
    settings = adapter_settings(tmp_path)
    app, _ = await make_app(settings_override=settings, brains=[])
    app.add_adapter(SlackAdapter(settings, store=app.store, client_base_url=fake.url))
    yield Env(app, fake, line)
    await fake.stop()


def _command(fake: FakeSlackAPI) -> CommandInvoked:
    return CommandInvoked(
        name="ask",
        user=ALICE,
        channel=GENERAL,
        interaction_id="T1",
        ts=datetime(2026, 1, 5, tzinfo=UTC),
        text="how?",
        response_ref=fake.hook_url(),
    )


def _parts(ephemeral: bool) -> list[str]:
    return [body["text"] for body in render.response_url_bodies(LONG, ephemeral=ephemeral)]


def test_the_answer_is_two_parts() -> None:
    assert len(_parts(ephemeral=False)) == 2


async def test_a_public_reply_whose_response_url_is_used_up_after_part_one_posts_only_part_two(env: Env) -> None:
    env.line.hook_refuses_from = 2
    await env.send(CommandReply(_command(env.fake), LONG, ephemeral=False))
    first, second = _parts(ephemeral=False)
    assert [body["text"] for _, body in env.fake.hook_posts] == [first]
    assert env.texts("chat.postMessage") == [second]  # not part one again
    assert env.app.bus.stats.failed == 0


async def test_a_private_reply_whose_response_url_fails_after_part_one_shows_only_part_two(env: Env) -> None:
    env.line.hook_refuses_from = 2
    await env.send(CommandReply(_command(env.fake), LONG, ephemeral=True))
    first, second = _parts(ephemeral=True)
    assert [body["text"] for _, body in env.fake.hook_posts] == [first]
    [note] = env.line.delivered["chat.postEphemeral"]
    assert note["text"] == second and note["user"] == "UALICE"


async def test_a_private_note_whose_response_url_fails_after_part_one_shows_only_part_two(env: Env) -> None:
    env.line.hook_refuses_from = 2
    await env.send(SendEphemeral(GENERAL, ALICE, LONG, response_ref=env.fake.hook_url()))
    assert env.texts("chat.postEphemeral") == [_parts(ephemeral=True)[1]]


async def test_a_private_note_answered_through_its_response_url_still_gets_its_files(env: Env) -> None:
    # A response_url takes no files: they used to be dropped silently when it took the text.
    chart = Attachment("chart.png", "image/png", PNG)
    await env.send(SendEphemeral(GENERAL, ALICE, "your chart", response_ref=env.fake.hook_url(), attachments=(chart,)))
    assert [body["text"] for _, body in env.fake.hook_posts] == ["your chart"]
    assert [data for _, data in env.fake.uploads] == [PNG]
    assert env.fake.calls_to("conversations.open")[0]["users"] == "UALICE"


async def test_a_connection_lost_on_a_later_ephemeral_part_never_shows_part_one_twice(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.line.drop["chat.postEphemeral"] = {2, 3}  # part two and slack_sdk's one retry of it
    with caplog.at_level(logging.WARNING, logger="adapters.slack"):
        await env.send(SendEphemeral(GENERAL, ALICE, LONG))
    assert len(env.line.delivered["chat.postEphemeral"]) == 1
    assert env.app.bus.stats.failed == 0
    [line] = [r.getMessage() for r in caplog.records if "part(s)" in r.getMessage()]
    assert "UALICE" in line and "1 part(s)" in line


async def test_a_connection_lost_on_the_first_ephemeral_part_still_fails_the_action(env: Env) -> None:
    env.line.drop["chat.postEphemeral"] = {1, 2}  # nothing shown: a redelivery may send it whole
    await env.app.bus.publish(SendEphemeral(GENERAL, ALICE, "short"))
    await env.app.bus.drain()
    assert env.app.bus.stats.failed == 1


async def test_a_server_error_opening_the_dm_is_tried_again(env: Env) -> None:
    env.fake._scripted["conversations.open"] = [Scripted(503, {"ok": False, "error": "service_unavailable"})]
    await env.send(SendDirectMessage(ALICE, "your digest"))
    assert len(env.fake.calls_to("conversations.open")) == 2
    assert env.texts("chat.postMessage") == ["your digest"]


async def test_a_lost_connection_opening_the_dm_is_tried_again(env: Env) -> None:
    env.line.drop["conversations.open"] = {1, 2}  # the first attempt and slack_sdk's own retry
    await env.app.bus.publish(SendDirectMessage(ALICE, "your digest"))
    await env.app.bus.drain()
    assert env.texts("chat.postMessage") == ["your digest"]
    assert env.app.bus.stats.failed == 0


async def test_opening_the_dm_gives_up_after_a_bounded_number_of_attempts(env: Env) -> None:
    failing = Scripted(500, {"ok": False, "error": "internal_error"})
    env.fake._scripted["conversations.open"] = [failing] * 10
    await env.send(SendDirectMessage(ALICE, "your digest"))
    assert len(env.fake.calls_to("conversations.open")) == len(slack_adapter.OPEN_DM_BACKOFF_S) + 1
    assert "chat.postMessage" not in env.line.delivered
    assert env.app.bus.stats.failed == 0  # logged, as any conversations.open error is

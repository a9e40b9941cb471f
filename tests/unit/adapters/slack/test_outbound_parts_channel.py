"""A long Slack answer whose connection drops part-way: no part is ever posted twice.

A real ``SlackAdapter`` (Bolt ``AsyncApp`` + ``AsyncWebClient`` with its connection-retry handler)
against the fake Web API, whose ``chat.postMessage`` hangs up without answering on chosen attempts:
the ``aiohttp.ServerDisconnectedError`` slack_sdk raises once its own retry is spent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.slack import render
from adapters.slack.adapter import SlackAdapter
from bot.app import GuildhallApp
from bot.events import ChannelRef, Event, Platform, SendDirectMessage, SendMessage, UserRef, Visibility
from tests.slack_fakes import TEAM_ID, FakeSlackAPI, adapter_settings

GENERAL = ChannelRef(Platform.SLACK, TEAM_ID, "CGENERAL", "general", Visibility.PUBLIC)
ALICE = UserRef(Platform.SLACK, TEAM_ID, "UALICE", "alice")
# More block text than one message may carry (render.MESSAGE_TEXT_BUDGET): eight ~2,500-character
# sections, four to a message: two chat.postMessage calls. (It was 60 sections, two messages while 50 blocks were
# the only limit per message; Slack refuses such messages with msg_blocks_too_long.)
LONG = "\n".join(f"{i}. " + "word " * 500 for i in range(8))


@dataclass
class HangingUp:
    """Wraps the fake's Web API handler: listed ``chat.postMessage`` attempts get no answer."""

    api: Callable[[web.Request], Awaitable[web.Response]]
    drop: set[int] = field(default_factory=set)  # 1-based attempt numbers
    attempts: int = 0
    delivered: list[dict[str, Any]] = field(default_factory=list)  # posts the client got an answer to

    async def __call__(self, request: web.Request) -> web.Response:
        response = await self.api(request)
        if request.match_info["method"] != "chat.postMessage":
            return response
        self.attempts += 1
        if self.attempts in self.drop:
            assert request.transport is not None
            request.transport.close()  # the client sees the server hang up
        else:
            self.delivered.append(await request.json())
        return response


@dataclass
class Env:
    app: GuildhallApp
    fake: FakeSlackAPI
    line: HangingUp

    async def send(self, action: Event) -> None:
        """Publish ``action``, then once more if it failed: what the Redis bus's redelivery does."""
        await self.app.bus.publish(action)
        await self.app.bus.drain()
        if self.app.bus.stats.failed:
            await self.app.bus.publish(action)
            await self.app.bus.drain()


@pytest.fixture
async def env(make_app: Any, tmp_path: Path) -> AsyncIterator[Env]:
    fake = FakeSlackAPI()
    line = HangingUp(fake._api)
    fake._api = line  # type: ignore[method-assign]  # before start(), which routes /api/ to it
    await fake.start()
    settings = adapter_settings(tmp_path)
    app, _ = await make_app(settings_override=settings, brains=[])
    app.add_adapter(SlackAdapter(settings, store=app.store, client_base_url=fake.url))
    yield Env(app, fake, line)
    await fake.stop()


def test_the_answer_is_two_messages() -> None:
    assert len(render.post_message_args("CGENERAL", LONG)) == 2


async def test_a_connection_lost_on_the_second_part_never_posts_the_first_part_twice(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.line.drop = {2, 3}  # part two and slack_sdk's one retry of it
    with caplog.at_level(logging.WARNING, logger="adapters.slack"):
        await env.send(SendMessage(GENERAL, LONG, thread_id="CGENERAL:1700000000.000100"))
    [first] = env.line.delivered  # part one once; the rest is dropped, not retried
    assert first["channel"] == "CGENERAL" and first["thread_ts"] == "1700000000.000100"
    assert env.app.bus.stats.failed == 0
    [line] = [r.getMessage() for r in caplog.records if "part(s)" in r.getMessage()]
    assert "CGENERAL" in line and "1 part(s)" in line and "ServerDisconnected" in line


async def test_a_dm_losing_its_connection_on_the_second_part_is_not_sent_twice(env: Env) -> None:
    env.line.drop = {2, 3}
    await env.send(SendDirectMessage(ALICE, LONG))
    assert len(env.line.delivered) == 1
    assert env.app.bus.stats.failed == 0


async def test_a_connection_lost_on_the_first_part_still_fails_the_action(env: Env) -> None:
    # Nothing was posted: a redelivery (bounded by the bus) may still send the whole answer.
    env.line.drop = {1, 2}
    await env.app.bus.publish(SendMessage(GENERAL, LONG))
    await env.app.bus.drain()
    assert env.app.bus.stats.failed == 1
    assert env.line.delivered == []

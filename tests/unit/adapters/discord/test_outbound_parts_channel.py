"""A long channel answer that Discord stops taking part-way: no part is ever posted twice.

discord.py's real HTTP layer with the recording fake (``fakes.py``): each part of a channel message
is one ``POST /channels/{id}/messages``. ``HTTPClient.request`` is where discord.py has already
waited out its own 5xx and 429 retries, so an error raised there is what the adapter finally sees.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import discord
import pytest
from discord.http import Route

from bot.events import ChannelRef, Platform, SendMessage, Visibility
from tests.unit.adapters.discord.fakes import GENERAL_ID, GUILD_ID, THREAD_ID, FakeResponse
from tests.unit.adapters.discord.harness import Env, drain

MESSAGES = "/channels/{channel_id}/messages"
GENERAL = ChannelRef(Platform.DISCORD, GUILD_ID, GENERAL_ID, "general", Visibility.PUBLIC)
# Three parts at Discord's 2000-character limit.
LONG = "Here is how to fix it\n" + "\n".join(f"{i}. step {i}: " + "x" * 60 for i in range(80))


def _fail_messages_from(env: Env, monkeypatch: pytest.MonkeyPatch, n: int, exc: Exception) -> None:
    """The ``n``-th message post (1-based) and every later one raise ``exc``."""
    recorder = env.http.request
    posts = 0

    async def request(route: Route, **kwargs: Any) -> Any:
        nonlocal posts
        if route.method == "POST" and route.path == MESSAGES:
            posts += 1
            if posts >= n:
                raise exc
        return await recorder(route, **kwargs)

    monkeypatch.setattr(env.client.http, "request", request)


def _server_error() -> discord.DiscordServerError:
    return discord.DiscordServerError(FakeResponse(503, "Service Unavailable"), "upstream connect error")  # type: ignore[arg-type]


async def _redelivered(env: Env, action: SendMessage) -> None:
    """Publish ``action``, then once more whenever it failed: the Redis bus's redelivery."""
    await env.app.bus.publish(action)
    await drain(env.app)
    if env.app.bus.stats.failed:
        await env.app.bus.publish(action)
        await drain(env.app)


async def test_a_server_error_on_a_later_part_never_posts_the_first_part_twice(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _fail_messages_from(env, monkeypatch, 2, _server_error())
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        await _redelivered(env, SendMessage(GENERAL, LONG, thread_id=THREAD_ID))
    [first] = env.http.sent("POST", MESSAGES)  # part one once; the failed rest is not retried
    assert LONG.startswith(first.json["content"])
    assert env.app.bus.stats.failed == 0
    # The admin learns where, how far it got and why.
    [line] = [r.getMessage() for r in caplog.records if "part(s)" in r.getMessage()]
    assert THREAD_ID in line and "1 part(s)" in line and "503" in line


async def test_a_rate_limit_outlasting_the_retries_on_a_later_part_is_logged_not_failed(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_messages_from(env, monkeypatch, 3, discord.RateLimited(0.5))
    await _redelivered(env, SendMessage(GENERAL, LONG))
    assert len(env.http.sent("POST", MESSAGES)) == 2  # parts one and two, once each
    assert env.app.bus.stats.failed == 0
    assert env.sleeps.delays == [0.5, 0.5, 0.5]  # bounded: RATE_LIMIT_RETRIES waits, then given up


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError(104, "Connection reset by peer"),  # discord.py retried it, then gave up
        aiohttp.ServerDisconnectedError(),  # which discord.py never retries
    ],
)
async def test_a_connection_lost_on_a_later_part_is_logged_not_failed(
    env: Env, monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> None:
    _fail_messages_from(env, monkeypatch, 2, exc)
    await _redelivered(env, SendMessage(GENERAL, LONG))
    assert len(env.http.sent("POST", MESSAGES)) == 1
    assert env.app.bus.stats.failed == 0


async def test_a_server_error_on_the_first_part_still_fails_the_action(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing went out: a redelivery (bounded by the bus) may still send the whole answer.
    _fail_messages_from(env, monkeypatch, 1, _server_error())
    await env.app.bus.publish(SendMessage(GENERAL, LONG))
    await drain(env.app)
    assert env.app.bus.stats.failed == 1
    assert env.http.sent("POST", MESSAGES) == []


async def test_a_rate_limit_outlasting_the_retries_on_the_first_part_still_fails_the_action(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_messages_from(env, monkeypatch, 1, discord.RateLimited(0.5))
    await env.app.bus.publish(SendMessage(GENERAL, "short answer"))
    await drain(env.app)
    assert env.app.bus.stats.failed == 1

"""DMs Discord refuses: remembered when the member cannot be reached, never sent twice in part.

discord.py's real HTTP layer with the recording fake (``fakes.py``): a DM is ``POST
/users/@me/channels`` then ``POST /channels/{id}/messages`` per part.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
import pytest
from discord.http import Route

from adapters.discord.adapter import DM_CLOSED_TTL_S
from bot.events import Platform, SendDirectMessage, UserRef
from tests.unit.adapters.discord.fakes import ALICE_ID, GUILD_ID, FakeResponse
from tests.unit.adapters.discord.harness import Env, drain

OPEN_DM = "/users/@me/channels"
MESSAGES = "/channels/{channel_id}/messages"
ALICE = UserRef(Platform.DISCORD, GUILD_ID, ALICE_ID, "alice")
LONG = "Your digest\n" + "\n".join(f"{i}. a thread you may like " + "x" * 60 for i in range(40))


def _fail_nth_message(
    env: Env, monkeypatch: pytest.MonkeyPatch, n: int, exc: Exception, *, and_after: bool = False
) -> None:
    """The ``n``-th message post (1-based) raises ``exc`` (and every later one, ``and_after``)."""
    recorder = env.http.request
    posts = 0

    async def request(route: Route, **kwargs: Any) -> Any:
        nonlocal posts
        if route.method == "POST" and route.path == MESSAGES:
            posts += 1
            if posts == n or (and_after and posts > n):
                raise exc
        return await recorder(route, **kwargs)

    monkeypatch.setattr(env.client.http, "request", request)


@pytest.mark.parametrize(
    ("exc_type", "status", "code", "message"),
    [
        (discord.NotFound, 404, 10013, "Unknown User"),
        (discord.Forbidden, 403, 50278, "Cannot send messages to this user due to having no mutual guilds"),
    ],
)
async def test_a_member_who_cannot_be_dmed_is_logged_once_and_not_asked_again(
    env: Env,
    caplog: pytest.LogCaptureFixture,
    exc_type: type[discord.HTTPException],
    status: int,
    code: int,
    message: str,
) -> None:
    exc = exc_type(FakeResponse(status, message), {"message": message, "code": code})  # type: ignore[arg-type]
    env.http.fail_once("POST", OPEN_DM, exc)
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        await env.app.bus.publish(SendDirectMessage(ALICE, "your digest"))
        await drain(env.app)
        await env.app.bus.publish(SendDirectMessage(ALICE, "your next digest"))
        await drain(env.app)
    assert env.app.bus.stats.failed == 0  # no traceback, nothing for a redelivery to retry
    assert env.http.sent("POST", OPEN_DM) == []  # the next digest did not ask Discord again
    assert env.http.sent("POST", MESSAGES) == []
    [line] = [r.getMessage() for r in caplog.records if str(code) in r.getMessage()]
    assert ALICE_ID in line


async def test_a_member_with_dms_closed_is_tried_again_after_a_while(env: Env) -> None:
    now = [1000.0]
    env.adapter._clock = lambda: now[0]
    env.http.dms_closed_once()
    await env.app.bus.publish(SendDirectMessage(ALICE, "your digest"))
    await drain(env.app)
    now[0] += DM_CLOSED_TTL_S + 1  # she opened her DMs since
    await env.app.bus.publish(SendDirectMessage(ALICE, "your next digest"))
    await drain(env.app)
    [sent] = env.http.sent("POST", MESSAGES)
    assert sent.json["content"] == "your next digest"


async def test_a_dm_failing_after_its_first_part_never_sends_that_part_twice(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # discord.py already retried the 503 itself; failing the action would have a redelivery (Redis
    # bus) post part one again.
    _fail_nth_message(env, monkeypatch, 2, discord.DiscordServerError(FakeResponse(503, "Unavailable"), "upstream"))  # type: ignore[arg-type]
    assert len(LONG) > 2000
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        await env.app.bus.publish(SendDirectMessage(ALICE, LONG))
        await drain(env.app)
    [first] = env.http.sent("POST", MESSAGES)
    assert LONG.startswith(first.json["content"])
    assert env.app.bus.stats.failed == 0
    assert any(ALICE_ID in r.getMessage() and "503" in r.getMessage() for r in caplog.records)


async def test_a_dm_still_rate_limited_after_its_first_part_is_not_failed(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_nth_message(env, monkeypatch, 2, discord.RateLimited(0.5), and_after=True)
    await env.app.bus.publish(SendDirectMessage(ALICE, LONG))
    await drain(env.app)
    assert len(env.http.sent("POST", MESSAGES)) == 1
    assert env.app.bus.stats.failed == 0
    assert env.sleeps.delays == [0.5, 0.5, 0.5]  # bounded: RATE_LIMIT_RETRIES waits, then given up


async def test_a_forbidden_dm_for_another_reason_is_logged_not_failed(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"message": "Missing Access", "code": 50001}
    env.http.fail_once("POST", MESSAGES, discord.Forbidden(FakeResponse(403, "Forbidden"), body))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        await env.app.bus.publish(SendDirectMessage(ALICE, "your digest"))
        await drain(env.app)
    assert env.app.bus.stats.failed == 0  # a redelivery cannot grant a permission
    assert any(ALICE_ID in r.getMessage() and "50001" in r.getMessage() for r in caplog.records)


async def test_a_server_error_before_anything_was_sent_still_fails_the_action(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing went out, so a redelivery (bounded by the bus) may send the whole DM later.
    _fail_nth_message(env, monkeypatch, 1, discord.DiscordServerError(FakeResponse(503, "Unavailable"), "upstream"))  # type: ignore[arg-type]
    await env.app.bus.publish(SendDirectMessage(ALICE, "your digest"))
    await drain(env.app)
    assert env.app.bus.stats.failed == 1
    assert env.http.sent("POST", MESSAGES) == []

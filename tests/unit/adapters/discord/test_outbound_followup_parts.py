"""A long command answer that Discord stops taking part-way: no follow-up part is posted twice.

discord.py's real webhook layer with the recording fake (``fakes.py``): each part of a command reply
or ephemeral note is one ``POST /webhooks/{id}/{token}``. A 5xx after the first part is logged, not
raised (a redelivery would post that part again); an interaction that dies after the first part
hands only the parts it did not carry to the channel or the member's DMs.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
import pytest
from discord.http import Route
from discord.webhook.async_ import async_context

from bot.events import ChannelRef, Platform, SendEphemeral, UserRef, Visibility
from tests.unit.adapters.discord.fakes import ALICE_ID, GENERAL_ID, GUILD_ID, FakeResponse, feed, interaction_payload
from tests.unit.adapters.discord.harness import Env, drain

MESSAGES = "/channels/{channel_id}/messages"
FOLLOWUP = "/webhooks/{webhook_id}/{webhook_token}"
GENERAL = ChannelRef(Platform.DISCORD, GUILD_ID, GENERAL_ID, "general", Visibility.PUBLIC)
ALICE = UserRef(Platform.DISCORD, GUILD_ID, ALICE_ID, "alice")
# Three parts at Discord's 2000-character limit, each line telling where it belongs.
NOTE = "\n".join(f"line {i}: " + "y" * 60 for i in range(80))


def _gone() -> discord.NotFound:
    return discord.NotFound(FakeResponse(404, "Not Found"), {"code": 10015, "message": "Unknown Webhook"})  # type: ignore[arg-type]


def _server_error() -> discord.DiscordServerError:
    return discord.DiscordServerError(FakeResponse(503, "Service Unavailable"), "upstream connect error")  # type: ignore[arg-type]


def _fail_second_followup(env: Env, monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    """The first follow-up goes through, the second raises ``exc``, as Discord would after its retries."""
    original = env.http.webhook_request
    posts = 0

    async def request(route: Route, session: Any, **kwargs: Any) -> Any:
        nonlocal posts
        if route.method == "POST" and route.path == FOLLOWUP:
            posts += 1
            if posts == 2:
                raise exc
        return await original(route, session, **kwargs)

    monkeypatch.setattr(async_context.get(), "request", request)


async def _ask(env: Env, question: str) -> str:
    """Run ``/ask question``; the interaction's id (its ``response_ref``)."""
    payload = interaction_payload("ask", [{"name": "question", "type": 3, "value": question}])
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    return str(payload["id"])


async def test_a_server_error_on_a_later_follow_up_part_is_logged_not_failed(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _fail_second_followup(env, monkeypatch, _server_error())
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        await _ask(env, "long")
    [first] = env.http.sent("POST", FOLLOWUP)
    assert first.json["content"] == "x" * 2000
    # Failed, the action would be redelivered and part one posted again.
    assert env.app.bus.stats.failed == 0
    assert env.http.sent("POST", MESSAGES) == []
    assert any("1 part(s)" in r.getMessage() and "503" in r.getMessage() for r in caplog.records)


async def test_an_interaction_dying_after_part_one_posts_only_the_rest_in_the_channel(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_second_followup(env, monkeypatch, _gone())
    await _ask(env, "long")
    followups = [c.json["content"] for c in env.http.sent("POST", FOLLOWUP)]
    posts = [c.json["content"] for c in env.http.sent("POST", MESSAGES)]
    assert followups == ["x" * 2000]
    assert "".join(followups + posts).replace("\n", "") == "x" * 6000  # every x once, none twice
    assert env.app.bus.stats.failed == 0


async def test_a_private_note_whose_interaction_dies_part_way_sends_only_the_rest_by_dm(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = await _ask(env, "slow")  # the interaction stays known: a later note may still use it
    env.http.calls.clear()
    _fail_second_followup(env, monkeypatch, _gone())
    await env.app.bus.publish(SendEphemeral(GENERAL, ALICE, NOTE, response_ref=ref))
    await drain(env.app)
    [first] = [c.json["content"] for c in env.http.sent("POST", FOLLOWUP)]
    dms = [c.json["content"] for c in env.http.sent("POST", MESSAGES)]
    assert len(env.http.sent("POST", "/users/@me/channels")) == 1
    lines = (first + "\n" + "\n".join(dms)).split("\n")
    assert lines == NOTE.split("\n")  # each line once, in order
    assert env.app.bus.stats.failed == 0

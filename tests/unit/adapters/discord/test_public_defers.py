"""Private replies to publicly deferred commands (/ask, /leaderboard).

Discord gives the first follow-up of a public defer the defer's visibility, whatever its flags: a
private reply first turns the public "thinking…" message into a note (PATCH @original), then follows
up. That rule must hold on every attempt: a failed attempt the bus redelivers must not send the
private reply as the first follow-up, which Discord would show to the whole channel.
"""

from __future__ import annotations

import aiohttp
import discord
import pytest

from adapters.discord.adapter import PRIVATE_REPLY_NOTE, RATE_LIMIT_RETRIES
from bot.events import CommandReply, Event
from tests.unit.adapters.discord.fakes import FakeResponse, feed, interaction_payload
from tests.unit.adapters.discord.harness import Env, drain

FOLLOWUP = "/webhooks/{webhook_id}/{webhook_token}"
ORIGINAL = FOLLOWUP + "/messages/@original"
EPHEMERAL = 64


def _server_error() -> list[Exception]:
    return [discord.DiscordServerError(FakeResponse(503, "Service Unavailable"), {"message": "upstream", "code": 0})]  # type: ignore[arg-type]


def _rate_limited() -> list[Exception]:
    return [discord.RateLimited(0.5) for _ in range(RATE_LIMIT_RETRIES + 1)]  # RateLimitExhausted


def _transport_error() -> list[Exception]:
    return [aiohttp.ServerDisconnectedError()]


def _webhook_calls(env: Env) -> list[tuple[str, str, int]]:
    """``(method, content, flags)`` of every follow-up and edit of the original response, in order."""
    return [
        (c.method, (c.json or {}).get("content", ""), c.flags) for c in env.http.calls if c.path in (FOLLOWUP, ORIGINAL)
    ]


@pytest.mark.parametrize("failures", [_server_error, _rate_limited, _transport_error], ids=["5xx", "429", "transport"])
async def test_a_redelivered_private_reply_still_hides_the_public_defer_first(env: Env, failures: object) -> None:
    replies: list[Event] = []

    async def keep(event: Event) -> None:
        replies.append(event)

    env.app.bus.subscribe(CommandReply, keep, name="test.replies")
    for exc in failures():  # type: ignore[operator]
        env.http.fail_once("PATCH", ORIGINAL, exc)
    feed(
        env.client,
        "INTERACTION_CREATE",
        interaction_payload("ask", [{"name": "question", "type": 3, "value": "private"}]),
    )
    await drain(env.app)
    [reply] = replies
    assert isinstance(reply, CommandReply) and reply.ephemeral
    assert env.app.bus.stats.failed == 1 and _webhook_calls(env) == []  # nothing went out
    # What the Redis bus does with a failed action (up to max_deliveries): deliver it again.
    await env.adapter.command_reply(reply)
    assert _webhook_calls(env) == [("PATCH", PRIVATE_REPLY_NOTE, 0), ("POST", "only for you", EPHEMERAL)]


async def test_a_private_reply_redelivered_after_the_note_went_out_does_not_edit_it_again(env: Env) -> None:
    replies: list[Event] = []

    async def keep(event: Event) -> None:
        replies.append(event)

    env.app.bus.subscribe(CommandReply, keep, name="test.replies")
    env.http.fail_once("POST", FOLLOWUP, _server_error()[0])
    feed(
        env.client,
        "INTERACTION_CREATE",
        interaction_payload("ask", [{"name": "question", "type": 3, "value": "private"}]),
    )
    await drain(env.app)
    [reply] = replies
    assert isinstance(reply, CommandReply)
    await env.adapter.command_reply(reply)
    assert _webhook_calls(env) == [("PATCH", PRIVATE_REPLY_NOTE, 0), ("POST", "only for you", EPHEMERAL)]


async def test_a_private_note_before_a_public_answer_is_not_the_public_defers_first_follow_up(env: Env) -> None:
    """The echo brain sends a private note through /ask's interaction, then answers publicly."""
    feed(
        env.client,
        "INTERACTION_CREATE",
        interaction_payload("ask", [{"name": "question", "type": 3, "value": "whisper"}]),
    )
    await drain(env.app)
    assert _webhook_calls(env) == [
        ("PATCH", PRIVATE_REPLY_NOTE, 0),
        ("POST", "just for you", EPHEMERAL),
        ("POST", "answer to whisper", 0),
    ]

"""An answer that outlives its interaction's 15-minute token still arrives, and a private one stays private.

Through discord.py's real webhook layer over the fake session (``fakes.use_transport``): past 15
minutes Discord answers a follow-up with 401 and code 50027 "Invalid Webhook Token", which discord.py
raises as a plain ``HTTPException`` (not ``NotFound``). A dismissed or unknown interaction answers
404 (10015 Unknown Webhook, 10062 Unknown Interaction). All of them mean the same: the answer goes
to the channel when public, to the member's DMs when private, never to a channel.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters.discord.adapter import INTERACTION_TTL_S
from bot.events import CommandInvoked, CommandReply, SendEphemeral
from tests.unit.adapters.discord.fakes import APP_ID, GENERAL_ID, FakeSession, feed, interaction_payload, use_transport
from tests.unit.adapters.discord.harness import Env, drain

EXPIRED = (401, 50027, "Invalid Webhook Token")
GONE = [EXPIRED, (404, 10015, "Unknown Webhook"), (404, 10062, "Unknown Interaction")]


def _ask(question: str) -> dict[str, Any]:
    return interaction_payload("ask", [{"name": "question", "type": 3, "value": question}])


def _followup(payload: dict[str, Any]) -> str:
    return f"/webhooks/{APP_ID}/{payload['token']}"


def _contents(session: FakeSession, url_suffix: str) -> list[str]:
    """What reached Discord (2xx) at URLs ending with ``url_suffix``."""
    return [s.json.get("content", "") for s in session.sent if s.url.endswith(url_suffix) and s.status == 200]


@pytest.mark.parametrize(("status", "code", "message"), GONE)
async def test_a_public_answer_whose_interaction_is_gone_is_posted_in_the_channel(
    env: Env, monkeypatch: pytest.MonkeyPatch, status: int, code: int, message: str
) -> None:
    session = use_transport(env.client, monkeypatch)
    payload = _ask("slow")
    session.fail_once("POST", _followup(payload), status, code, message)
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    assert _contents(session, f"/channels/{GENERAL_ID}/messages") == ["answer to slow"]
    assert env.app.bus.stats.failed == 0


@pytest.mark.parametrize("refused", ["PATCH", "POST"])
async def test_a_private_answer_whose_token_expired_goes_by_dm_never_to_the_channel(
    env: Env, monkeypatch: pytest.MonkeyPatch, refused: str
) -> None:
    """/ask is deferred publicly: a private reply first turns the public "thinking" message into a
    note (PATCH @original), then follows up; either may be the first call past the 15 minutes."""
    session = use_transport(env.client, monkeypatch)
    payload = _ask("private")
    suffix = _followup(payload) + ("/messages/@original" if refused == "PATCH" else "")
    session.fail_once(refused, suffix, *EXPIRED)
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    assert _contents(session, f"/channels/{session.dm_channel_id}/messages") == ["only for you"]
    assert _contents(session, f"/channels/{GENERAL_ID}/messages") == []
    assert env.app.bus.stats.failed == 0


async def test_a_private_note_whose_token_expired_goes_by_dm(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    session = use_transport(env.client, monkeypatch)
    payload = _ask("whisper")  # a private note through the interaction, then the public answer
    session.fail_once("POST", _followup(payload), *EXPIRED)
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    assert _contents(session, f"/channels/{session.dm_channel_id}/messages") == ["just for you"]
    assert "just for you" not in _contents(session, f"/channels/{GENERAL_ID}/messages")
    assert env.app.bus.stats.failed == 0


async def _asked_long_ago(env: Env, monkeypatch: pytest.MonkeyPatch) -> tuple[FakeSession, CommandInvoked]:
    """``/ask`` answered at once, then the clock moved past the token's useful life."""
    session = use_transport(env.client, monkeypatch)
    now = [1000.0]
    env.adapter._clock = lambda: now[0]
    feed(env.client, "INTERACTION_CREATE", _ask("slow"))
    await drain(env.app)
    [command] = env.seen.of(CommandInvoked)
    now[0] += INTERACTION_TTL_S + 1
    session.sent.clear()
    return session, command


async def test_a_reply_to_an_interaction_older_than_its_token_skips_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, command = await _asked_long_ago(env, monkeypatch)
    await env.app.bus.publish(CommandReply(command, "late answer", ephemeral=False))
    await env.app.bus.publish(CommandReply(command, "late secret", ephemeral=True))
    await drain(env.app)
    assert [s.url for s in session.sent if "/webhooks/" in s.url] == []  # no doomed request
    assert _contents(session, f"/channels/{GENERAL_ID}/messages") == ["late answer"]
    assert _contents(session, f"/channels/{session.dm_channel_id}/messages") == ["late secret"]


async def test_a_private_note_to_an_interaction_older_than_its_token_goes_by_dm(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, command = await _asked_long_ago(env, monkeypatch)
    await env.app.bus.publish(
        SendEphemeral(command.channel, command.user, "late note", response_ref=command.response_ref)
    )
    await drain(env.app)
    assert [s.url for s in session.sent if "/webhooks/" in s.url] == []
    assert _contents(session, f"/channels/{session.dm_channel_id}/messages") == ["late note"]

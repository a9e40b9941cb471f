"""Outbound sends that Discord refuses in part: the text still arrives, once, or is dropped with a log."""

from __future__ import annotations

import logging
from typing import Any

import discord
import pytest
from discord.http import Route

from bot.events import Attachment, ChannelRef, Platform, SendMessage, Visibility
from tests.unit.adapters.discord.fakes import GENERAL_ID, GUILD_ID, THREAD_ID, FakeResponse
from tests.unit.adapters.discord.harness import PNG, Env, drain

MESSAGES = "/channels/{channel_id}/messages"
GENERAL = ChannelRef(Platform.DISCORD, GUILD_ID, GENERAL_ID, "general", Visibility.PUBLIC)
CHART = Attachment("leaderboard.png", "image/png", PNG)


def _refuse_uploads(env: Env, monkeypatch: pytest.MonkeyPatch, exc: discord.HTTPException) -> None:
    """Discord answers every request carrying files with ``exc`` (no Attach Files, file too large)."""
    recorder = env.http.request

    async def request(route: Route, *, files: Any = None, **kwargs: Any) -> Any:
        if files:
            raise exc
        return await recorder(route, files=files, **kwargs)

    monkeypatch.setattr(env.client.http, "request", request)


@pytest.mark.parametrize(
    ("exc_type", "status", "code", "message"),
    [
        (discord.Forbidden, 403, 50013, "Missing Permissions"),
        (discord.HTTPException, 413, 40005, "Request entity too large"),
    ],
)
async def test_a_refused_chart_still_sends_every_part_of_the_text_once(
    env: Env,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    exc_type: type[discord.HTTPException],
    status: int,
    code: int,
    message: str,
) -> None:
    _refuse_uploads(env, monkeypatch, exc_type(FakeResponse(status, message), {"message": message, "code": code}))  # type: ignore[arg-type]
    text = "This week's helpers\n" + "\n".join(f"{i}. member {i} " + "x" * 60 for i in range(40))
    assert len(text) > 2000  # two parts: the chart goes with the second
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        await env.app.bus.publish(SendMessage(GENERAL, text, attachments=(CHART,)))
        await drain(env.app)
    sent = env.http.sent("POST", MESSAGES)
    assert len(sent) == 2  # each part once, in order, the second without the chart
    assert "\n".join(s.json["content"] for s in sent) == text
    assert env.app.bus.stats.failed == 0  # nothing raised for a redelivery to send twice
    assert "leaderboard.png" in caplog.text


async def test_a_chart_alone_that_is_refused_sends_no_empty_message(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    exc = discord.HTTPException(FakeResponse(413, "Request entity too large"), {"message": "too large", "code": 40005})  # type: ignore[arg-type]
    _refuse_uploads(env, monkeypatch, exc)
    await env.app.bus.publish(SendMessage(GENERAL, "", attachments=(CHART,)))
    await drain(env.app)
    assert env.http.sent("POST", MESSAGES) == []  # Discord would refuse an empty message (50006)
    assert env.app.bus.stats.failed == 0


async def test_an_answer_to_a_deleted_thread_is_dropped_with_a_log(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    body = {"message": "Unknown Channel", "code": 10003}
    env.http.fail_once("POST", MESSAGES, discord.NotFound(FakeResponse(404, "Not Found"), body))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        await env.app.bus.publish(SendMessage(GENERAL, "the answer", thread_id=THREAD_ID))
        await drain(env.app)
    assert env.app.bus.stats.failed == 0  # a redelivery could never succeed: nothing is retried
    assert env.http.sent("POST", MESSAGES) == []  # not reposted in the parent channel either
    assert THREAD_ID in caplog.text and "10003" in caplog.text


async def test_other_not_found_errors_still_fail_the_action(env: Env) -> None:
    body = {"message": "Unknown Webhook", "code": 10015}
    env.http.fail_once("POST", MESSAGES, discord.NotFound(FakeResponse(404, "Not Found"), body))  # type: ignore[arg-type]
    await env.app.bus.publish(SendMessage(GENERAL, "the answer", thread_id=THREAD_ID))
    await drain(env.app)
    assert env.app.bus.stats.failed == 1

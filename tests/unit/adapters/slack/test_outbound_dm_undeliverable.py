"""A DM Slack cannot deliver: one log line naming the member, and no new call on the next tick.

A real ``SlackAdapter`` (Bolt ``AsyncApp`` + ``AsyncWebClient``) against the fake Web API, driven
through the bus like the digest and nudge brains drive it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.adapter import UNDELIVERABLE_TTL_S, SlackAdapter
from bot.app import GuildhallApp
from bot.events import Platform, SendDirectMessage, UserRef
from tests.slack_fakes import TEAM_ID, FakeSlackAPI, adapter_settings

GONE = UserRef(Platform.SLACK, TEAM_ID, "UGONE", "gone")
ALICE = UserRef(Platform.SLACK, TEAM_ID, "UALICE", "alice")


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Env:
    app: GuildhallApp
    adapter: SlackAdapter
    fake: FakeSlackAPI
    clock: Clock

    async def dm(self, user: UserRef, text: str) -> None:
        await self.app.bus.publish(SendDirectMessage(user, text))
        await self.app.bus.drain()


@pytest.fixture
async def env(make_app: Any, tmp_path: Path) -> AsyncIterator[Env]:
    fake = await FakeSlackAPI().start()
    settings = adapter_settings(tmp_path)
    app, _ = await make_app(settings_override=settings, brains=[])
    clock = Clock()
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake.url, clock=clock)
    app.add_adapter(adapter)
    yield Env(app, adapter, fake, clock)
    await fake.stop()


@pytest.mark.parametrize("error", ["cannot_dm_bot", "user_not_found", "user_disabled", "user_not_visible"])
async def test_an_undeliverable_member_is_logged_by_name_and_not_asked_again_on_the_next_tick(
    env: Env, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    env.fake.fail("conversations.open", error)
    with caplog.at_level(logging.WARNING, logger="adapters.slack"):
        await env.dm(GONE, "your digest")
        await env.dm(GONE, "your next digest")
    assert len(env.fake.calls_to("conversations.open")) == 1  # the second tick did not ask Slack again
    assert env.fake.calls_to("chat.postMessage") == []
    lines = [r.getMessage() for r in caplog.records if error in r.getMessage()]
    assert len(lines) == 1 and "UGONE" in lines[0]
    assert env.app.bus.stats.failed == 0
    # Another member is unaffected.
    await env.dm(ALICE, "hello alice")
    assert [c["users"] for c in env.fake.calls_to("conversations.open")] == ["UGONE", "UALICE"]
    assert len(env.fake.calls_to("chat.postMessage")) == 1


async def test_an_undeliverable_member_is_tried_again_after_a_while(env: Env) -> None:
    env.fake.fail("conversations.open", "user_disabled")
    await env.dm(GONE, "your digest")
    env.clock.now += UNDELIVERABLE_TTL_S + 1  # reactivated by an admin since
    await env.dm(GONE, "your next digest")
    assert len(env.fake.calls_to("conversations.open")) == 2
    [post] = env.fake.calls_to("chat.postMessage")
    assert "your next digest" in str(post)


@pytest.mark.parametrize("error", ["missing_scope", "not_allowed_token_type", "restricted_action", "account_inactive"])
async def test_a_workspace_wide_failure_is_not_pinned_on_the_member(
    env: Env, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    # The app or token is at fault, not the member: once an admin fixes it, the next tick reaches them.
    env.fake.fail("conversations.open", error, needed="im:write")
    with caplog.at_level(logging.WARNING, logger="adapters.slack"):
        await env.dm(GONE, "your digest")
        await env.dm(GONE, "your next digest")
    assert len(env.fake.calls_to("conversations.open")) == 2
    assert len(env.fake.calls_to("chat.postMessage")) == 1
    [line] = [r.getMessage() for r in caplog.records if error in r.getMessage()]
    assert "UGONE" in line
    assert env.app.bus.stats.failed == 0

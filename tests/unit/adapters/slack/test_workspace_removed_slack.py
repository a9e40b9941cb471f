"""A Slack workspace that removes the app, through a real Bolt ``AsyncApp`` against the fake Web API:
``app_uninstalled`` (and ``tokens_revoked`` naming the bot) publish WorkspaceRemoved, and the
workspace's next live event after a reinstall ends it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adapters.slack.installation_store import SQLInstallationStore
from bot.events import InboundEvent, Platform, WorkspaceRef, WorkspaceRemoved
from bot.recorder import removed_workspaces
from bot.store import Store
from tests.slack_fakes import BOT_USER_ID, TEAM_ID, FakeSlackAPI, envelope, message_event
from tests.unit.adapters.slack.test_lifecycle_slack import Wired, _installation, _oauth_settings, wire


async def installed(
    fake: FakeSlackAPI, store: Store, tmp_path: Path
) -> tuple[Wired, list[InboundEvent], SQLInstallationStore]:
    """An OAuth-mode adapter with one installation saved, and the WorkspaceRemoved events it publishes."""
    slack = wire(_oauth_settings(tmp_path), store, fake)
    seen: list[InboundEvent] = []

    async def collect(event: InboundEvent) -> None:
        seen.append(event)

    slack.bus.subscribe(WorkspaceRemoved, collect, name="test.seen")
    installs = slack.adapter.installation_store
    assert installs is not None
    await installs.async_save(_installation("xoxb-acme"))
    return slack, seen, installs


async def test_an_uninstall_is_published_and_a_reinstall_ends_it(
    fake: FakeSlackAPI, store: Store, tmp_path: Path
) -> None:
    slack, seen, installs = await installed(fake, store, tmp_path)

    bye = envelope({"type": "app_uninstalled", "event_ts": "1767600200.000100"}, event_id="EvBye")
    await slack.dispatch(bye)
    await slack.dispatch(bye)  # Slack's retry: the same fact, recorded once

    [event] = [e for e in seen if isinstance(e, WorkspaceRemoved)]
    assert event.workspace == WorkspaceRef(Platform.SLACK, TEAM_ID)
    assert event.ts.timestamp() == 1767600200
    assert await removed_workspaces(store.db) == {("slack", TEAM_ID): 1767600200.0}

    # Installed again: the first message after it shows the bot is back.
    await installs.async_save(_installation("xoxb-acme-2"))
    await slack.dispatch(envelope(message_event("we're back", ts="1767600300.000100"), event_id="Ev2"))
    assert await removed_workspaces(store.db) == {}


async def test_a_revoked_bot_token_is_a_removal_and_a_revoked_user_token_is_not(
    fake: FakeSlackAPI, store: Store, tmp_path: Path
) -> None:
    slack = wire(_oauth_settings(tmp_path), store, fake)
    installs = slack.adapter.installation_store
    assert installs is not None
    await installs.async_save(_installation("xoxb-acme"))

    user_only = {"type": "tokens_revoked", "tokens": {"oauth": ["UADMIN"]}, "event_ts": "1767600100.0"}
    await slack.dispatch(envelope(user_only, event_id="EvUser"))
    assert await removed_workspaces(store.db) == {}

    bot = {"type": "tokens_revoked", "tokens": {"oauth": ["UADMIN"], "bot": [BOT_USER_ID]}, "event_ts": "1767600200.0"}
    await slack.dispatch(envelope(bot, event_id="EvBot"))
    assert await removed_workspaces(store.db) == {("slack", TEAM_ID): 1767600200.0}


async def test_an_uninstall_naming_no_workspace_is_logged_and_records_nothing(
    fake: FakeSlackAPI, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A malformed body (no team id anywhere) must not crash the listener nor mark some workspace."""
    slack, seen, installs = await installed(fake, store, tmp_path)
    body = envelope({"type": "app_uninstalled", "event_ts": "1767600200.000100"}, event_id="EvNoTeam")
    for key in ("team_id", "authorizations"):
        del body[key]
    with caplog.at_level(logging.WARNING):
        await slack.dispatch(body)
    assert seen == [] and await removed_workspaces(store.db) == {}
    assert "names no workspace; nothing recorded" in caplog.text
    # ... nor delete some workspace's tokens.
    assert await installs.async_find_installation(enterprise_id=None, team_id=TEAM_ID) is not None

"""A workspace of an Enterprise Grid org, installed on its own through OAuth, gets its bot token.

Slack's ``oauth.v2.access`` names the org of such a workspace, so Bolt saves the installation under
``(enterprise_id="E…", team_id="T…")``. Outbound actions only know the team: the lookup by team must
find that row, or every answer goes out with no token (``not_authed``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from adapters.slack.installation_store import SQLInstallationStore
from bot.events import ChannelRef, Platform, SendMessage, Visibility
from bot.store import Store
from tests.slack_fakes import BOT_USER_ID, TEAM_ID, FakeSlackAPI
from tests.store_backends import fresh_store
from tests.unit.adapters.slack.test_lifecycle_slack import _oauth_settings, wire

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("GUILDHALL_TEST_STORE") == "postgresql" else [])
GENERAL = ChannelRef(Platform.SLACK, TEAM_ID, "CGENERAL", "general", Visibility.PUBLIC)


def _installation(token: str, *, enterprise_id: str | None, installed_at: float) -> Installation:
    return Installation(
        app_id="A0GUILD",
        enterprise_id=enterprise_id,
        team_id=TEAM_ID,
        bot_token=token,
        bot_id="BBOT",
        bot_user_id=BOT_USER_ID,
        bot_scopes=["chat:write"],
        user_id="UADMIN",
        is_enterprise_install=False,
        installed_at=installed_at,
    )


async def test_an_answer_in_a_grid_workspace_goes_out_with_its_bot_token(
    fake: FakeSlackAPI, store: Store, tmp_path: Path
) -> None:
    slack = wire(_oauth_settings(tmp_path), store, fake)
    installs = slack.adapter.installation_store
    assert installs is not None
    await installs.async_save(_installation("xoxb-grid", enterprise_id="E0ORG", installed_at=1000.0))
    await slack.bus.publish(SendMessage(channel=GENERAL, text="hello"))
    await slack.bus.drain()
    [post] = [c for c in fake.calls if c.method == "chat.postMessage"]
    assert post.token == "xoxb-grid" and post.args["channel"] == "CGENERAL"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_lookup_by_team_finds_the_newest_install_in_any_enterprise(backend: str) -> None:
    async with fresh_store(backend) as store:
        await _check_lookup_by_team(SQLInstallationStore(store.db, "c"))


async def _check_lookup_by_team(s: SQLInstallationStore) -> None:
    # Installed before the workspace joined the org, then again (new token) once it was in it.
    await s.async_save(_installation("xoxb-before", enterprise_id=None, installed_at=1000.0))
    await s.async_save(_installation("xoxb-grid", enterprise_id="E0ORG", installed_at=2000.0))
    bot = await s.async_find_bot(enterprise_id=None, team_id=TEAM_ID)
    assert bot is not None and bot.bot_token == "xoxb-grid"
    found = await s.async_find_installation(enterprise_id=None, team_id=TEAM_ID, user_id="UADMIN")
    assert found is not None and found.enterprise_id == "E0ORG" and found.bot_token == "xoxb-grid"
    # Bolt names the enterprise of a request: that lookup stays exact.
    before = await s.async_find_bot(enterprise_id="", team_id=TEAM_ID)
    assert before is not None and before.bot_token == "xoxb-before"
    assert await s.async_find_bot(enterprise_id="E0OTHER", team_id=TEAM_ID) is None


async def test_an_org_wide_install_is_not_taken_for_a_workspace_install(store: Store) -> None:
    s = SQLInstallationStore(store.db, "c")
    org = _installation("xoxb-org", enterprise_id="E0ORG", installed_at=1000.0)
    org.is_enterprise_install = True
    await s.async_save(org)
    # Stored without a team: a lookup by team alone cannot tell which org the team is in.
    assert await s.async_find_bot(enterprise_id=None, team_id=TEAM_ID) is None
    bot = await s.async_find_bot(enterprise_id="E0ORG", team_id=TEAM_ID, is_enterprise_install=True)
    assert bot is not None and bot.bot_token == "xoxb-org"

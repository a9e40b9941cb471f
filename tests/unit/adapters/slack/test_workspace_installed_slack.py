"""A Slack workspace the bot is back in, through a real Bolt ``AsyncApp`` against the fake Web API.

After an uninstall the workspace is marked removed (scheduled jobs skip it). Installing the app
again through the OAuth flow publishes WorkspaceInstalled, which ends the removal at once, before
any message arrives, and leaves Bolt's own install pages unchanged. In single-workspace mode the
bot token's ``auth.test`` at start is the same presence.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.oauth.installation_store.models.installation import Installation

from adapters.slack.adapter import SlackAdapter
from bot.bus import InProcessBus
from bot.config import Settings
from bot.events import InboundEvent, Platform, WorkspaceInstalled, WorkspaceRef, WorkspaceRemoved
from bot.recorder import Recorder, removed_workspaces
from bot.store import Store
from tests.slack_fakes import SIGNING_SECRET, TEAM_ID, FakeSlackAPI, envelope
from tests.unit.adapters.slack.test_lifecycle_slack import Wired, _oauth_settings, wire

BETA = "T0BETA"  # the workspace the fake's oauth.v2.access installs (code "good-code")


def _beta_installation(token: str) -> Installation:
    return Installation(
        app_id="A0GUILD",
        team_id=BETA,
        team_name="Beta",
        bot_token=token,
        bot_id="BBOTBETA",
        bot_user_id="UBOTBETA",
        bot_scopes=["chat:write"],
        user_id="UINSTALLER",
        installed_at=1000.0,
    )


def _collect(slack: Wired) -> list[InboundEvent]:
    seen: list[InboundEvent] = []

    async def collect(event: InboundEvent) -> None:
        seen.append(event)

    slack.bus.subscribe(InboundEvent, collect, name="test.seen")
    return seen


async def _uninstall(slack: Wired, when: int) -> None:
    bye = envelope({"type": "app_uninstalled", "event_ts": f"{when}.000100"}, event_id="EvBye", team_id=BETA)
    await slack.dispatch(bye)


async def _install(client: TestClient, *, state: str | None = None) -> tuple[int, str, str]:
    """Open the install page, then come back to the redirect URL as Slack sends the installer.
    Returns the callback's status, body and Set-Cookie header."""
    async with client.get("/slack/install") as resp:
        assert resp.status == 200
        issued = resp.cookies["slack-app-oauth-state"].value
    # The state travels in the URL and in the browser's cookie (aiohttp's jar skips IP hosts).
    cookie = {"Cookie": f"slack-app-oauth-state={issued}"}
    params = {"code": "good-code", "state": state or issued}
    async with client.get("/slack/oauth_redirect", params=params, headers=cookie) as resp:
        return resp.status, await resp.text(), resp.headers.get("Set-Cookie", "")


async def test_an_oauth_reinstall_ends_the_removal_before_any_message(
    fake: FakeSlackAPI, store: Store, tmp_path: Path
) -> None:
    slack = wire(_oauth_settings(tmp_path), store, fake)
    seen = _collect(slack)
    installs = slack.adapter.installation_store
    assert installs is not None
    await installs.async_save(_beta_installation("xoxb-beta-old"))
    removed_at = int(time.time()) - 60  # before the reinstall below, whatever today's date
    await _uninstall(slack, removed_at)
    assert await removed_workspaces(store.db) == {("slack", BETA): float(removed_at)}

    async with TestClient(TestServer(slack.adapter.web_app())) as client:
        # A failed callback (a forged state) is Bolt's own failure page and says nothing about presence.
        status, _, _ = await _install(client, state="forged")
        assert status in (400, 401)
        await slack.bus.drain()
        assert not [e for e in seen if isinstance(e, WorkspaceInstalled)]

        status, page, set_cookie = await _install(client)
    await slack.bus.drain()

    # Bolt's default success page, as if no callback were configured.
    flow = slack.adapter.app.oauth_flow
    assert flow is not None
    assert status == 200
    assert page == flow.settings.redirect_uri_page_renderer.render_success_page(
        app_id="A0GUILD", team_id=BETA, is_enterprise_install=False, enterprise_url=None
    )
    assert set_cookie.startswith("slack-app-oauth-state=deleted")

    [installed] = [e for e in seen if isinstance(e, WorkspaceInstalled)]
    assert installed.workspace == WorkspaceRef(Platform.SLACK, BETA, "Beta")
    assert installed.ts.timestamp() > removed_at
    # No message, reaction or command came from Beta: the install alone ended the removal.
    assert {type(e) for e in seen} == {WorkspaceRemoved, WorkspaceInstalled}
    assert await removed_workspaces(store.db) == {}
    assert await store.db.fetchall(
        "SELECT name FROM workspaces WHERE platform = 'slack' AND workspace_id = ?", (BETA,)
    ) == [("Beta",)]


async def test_a_reinstall_drops_what_was_cached_for_the_previous_installation(
    fake: FakeSlackAPI, store: Store, tmp_path: Path
) -> None:
    slack = wire(_oauth_settings(tmp_path), store, fake)
    installs = slack.adapter.installation_store
    assert installs is not None
    await installs.async_save(_beta_installation("xoxb-beta-old"))
    assert (await slack.adapter.client_for(BETA)).token == "xoxb-beta-old"
    # Members the old installation could not DM (say, it lacked im:write): the new one may.
    slack.adapter.undeliverable[(BETA, "U0CAROL")] = float("inf")
    slack.adapter.undeliverable[("T0OTHER", "U0DAN")] = float("inf")

    async with TestClient(TestServer(slack.adapter.web_app())) as client:
        status, _, _ = await _install(client)  # reinstalled (new scopes): Slack hands out xoxb-beta
    assert status == 200
    assert (await slack.adapter.client_for(BETA)).token == "xoxb-beta"
    assert list(slack.adapter.undeliverable) == [("T0OTHER", "U0DAN")]


async def test_an_installation_that_cannot_be_published_still_shows_success(
    fake: FakeSlackAPI, store: Store, tmp_path: Path
) -> None:
    # Not attached to a bus: publishing raises. The installation is saved, so the page says so.
    adapter = SlackAdapter(_oauth_settings(tmp_path), store=store, client_base_url=fake.url)
    async with TestClient(TestServer(adapter.web_app())) as client:
        status, page, _ = await _install(client)
    assert status == 200 and "Thank you!" in page
    assert adapter.installation_store is not None
    assert await adapter.installation_store.async_find_bot(enterprise_id=None, team_id=BETA) is not None


def _token_settings(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "brains": [],
            "data_dir": str(tmp_path),
            "slack": {"bot_token": "xoxb-acme", "signing_secret": SIGNING_SECRET, "mode": "http", "http_port": 0},
        }
    )


async def _started(settings: Settings, store: Store, fake: FakeSlackAPI, removed_at: float) -> SlackAdapter:
    bus = InProcessBus()
    Recorder(store).attach(bus)
    adapter = SlackAdapter(settings, store=store, client_base_url=fake.url)
    adapter.attach(bus)
    # The app was uninstalled before this process started (a reinstall gave the new token).
    removal = WorkspaceRemoved(WorkspaceRef(Platform.SLACK, TEAM_ID), datetime.fromtimestamp(removed_at, UTC))
    await bus.publish(removal)
    await bus.drain()
    assert await removed_workspaces(store.db) == {("slack", TEAM_ID): removed_at}
    await adapter.start()
    await bus.drain()
    return adapter


async def test_a_single_workspace_bot_started_with_a_working_token_is_back(
    fake: FakeSlackAPI, store: Store, tmp_path: Path
) -> None:
    adapter = await _started(_token_settings(tmp_path), store, fake, float(int(time.time()) - 60))
    try:
        assert await removed_workspaces(store.db) == {}
        assert await store.db.fetchall(
            "SELECT name FROM workspaces WHERE platform = 'slack' AND workspace_id = ?", (TEAM_ID,)
        ) == [("Acme",)]
        # The start's auth.test answer is the identity the first event uses: no second call for it.
        assert (await adapter.identity(adapter.client, TEAM_ID)).bot_user_id == "UBOT"
        assert len(fake.calls_to("auth.test")) == 1
    finally:
        await adapter.stop()


async def test_a_single_workspace_bot_whose_token_is_revoked_stays_removed(
    fake: FakeSlackAPI, store: Store, tmp_path: Path
) -> None:
    fake.fail("auth.test", "token_revoked")
    removed_at = float(int(time.time()) - 60)
    adapter = await _started(_token_settings(tmp_path), store, fake, removed_at)
    try:
        assert await removed_workspaces(store.db) == {("slack", TEAM_ID): removed_at}
    finally:
        await adapter.stop()

"""An admin command whose admin facts Slack could not give just now (``users.info`` or an admin
user group failed with ``internal_error``) is neither run nor refused: the member is asked to try
again, no refusal is audited, and the failure is not cached. Real Bolt app, fake Web API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.adapter import SlackAdapter
from adapters.slack.commands import AdminFactsCache
from bot.app import GuildhallApp
from bot.config import Settings
from tests.slack_fakes import TEAM_ID, FakeSlackAPI, adapter_settings, settle_bolt, slash_form

REFUSED = "is for community admins"
TRY_AGAIN = "couldn't check your admin rights with Slack"


class Slack:
    """An app with the Slack adapter against ``fake``; ``run`` one slash command, get its reply."""

    def __init__(self, app: GuildhallApp, adapter: SlackAdapter, fake: FakeSlackAPI) -> None:
        self.app, self.adapter, self.fake = app, adapter, fake
        self._n = 0

    async def run(self, command: str, text: str, *, user: str) -> str:
        self._n += 1
        hook = f"c{self._n}"
        body = slash_form(command, text, user=user, response_url=self.fake.hook_url(hook), trigger=f"trigger.{self._n}")
        await self.adapter.app.async_dispatch(AsyncBoltRequest(mode="socket_mode", body=dict(body)))
        await settle_bolt()
        await self.app.bus.drain()
        [reply] = [b["text"] for name, b in self.fake.hook_posts if name == hook]
        return str(reply)


async def slack_app(make_app: Any, tmp_path: Path, fake: FakeSlackAPI, **slack: Any) -> Slack:
    settings: Settings = adapter_settings(tmp_path)
    if slack:
        settings = settings.model_copy(update={"slack": settings.slack.model_copy(update=slack)})
    app, _ = await make_app(settings_override=settings)
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake.url)
    app.add_adapter(adapter)
    return Slack(app, adapter, fake)


async def refusals(app: GuildhallApp) -> list[dict[str, Any]]:
    return [e for e in await app.store.audit_entries() if e["action"] == "/guildhall status" and not e["allowed"]]


async def test_a_workspace_admin_whose_lookup_failed_is_asked_to_try_again_not_refused(
    make_app: Any, tmp_path: Path, fake: FakeSlackAPI
) -> None:
    slack = await slack_app(make_app, tmp_path, fake)
    fake.fail("users.info", "internal_error")

    reply = await slack.run("/guildhall", "status", user="UADMIN")
    assert TRY_AGAIN in reply and REFUSED not in reply
    assert await refusals(slack.app) == []

    # The failure was not cached: Slack answers now, and the admin's command runs.
    reply = await slack.run("/guildhall", "status", user="UADMIN")
    assert TRY_AGAIN not in reply and REFUSED not in reply
    [entry] = await slack.app.store.audit_entries()
    assert entry["actor_id"] == "UADMIN" and entry["allowed"]


async def test_a_member_slack_says_is_no_admin_is_still_refused(
    make_app: Any, tmp_path: Path, fake: FakeSlackAPI
) -> None:
    slack = await slack_app(make_app, tmp_path, fake, admin_usergroup_ids=["SMISSING"])  # no_such_subteam: for good
    reply = await slack.run("/guildhall", "status", user="UALICE")
    assert REFUSED in reply
    fake.fail("users.info", "user_not_found")
    reply = await slack.run("/guildhall", "status", user="UOWNER")
    assert REFUSED in reply
    assert len(await refusals(slack.app)) == 2


async def test_a_member_of_an_admin_group_that_could_not_be_read_is_asked_to_try_again(
    make_app: Any, tmp_path: Path, fake: FakeSlackAPI
) -> None:
    slack = await slack_app(make_app, tmp_path, fake, admin_usergroup_ids=["SADMINS"])
    fake.usergroups["SADMINS"] = ["UALICE"]
    fake.fail("usergroups.users.list", "internal_error")
    assert TRY_AGAIN in await slack.run("/guildhall", "status", user="UALICE")
    assert await refusals(slack.app) == []
    reply = await slack.run("/guildhall", "status", user="UALICE")
    assert TRY_AGAIN not in reply and REFUSED not in reply


async def test_unknown_admin_facts_grant_nothing(fake: FakeSlackAPI) -> None:
    """The cache reports "unknown" (None), never "admin", and asks again next time."""
    cache = AdminFactsCache([])
    client = AsyncWebClient(token="x", base_url=fake.url)
    fake.fail("users.info", "internal_error")
    facts = await cache.facts(client, TEAM_ID, "UADMIN")
    assert facts.is_platform_admin is None and facts.role_ids == ()
    assert (await cache.facts(client, TEAM_ID, "UADMIN")).is_platform_admin is True
    assert len(fake.calls_to("users.info")) == 2

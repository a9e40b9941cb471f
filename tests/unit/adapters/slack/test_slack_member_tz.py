"""Slack tells us a member's time zone (users.info ``tz``): it rides on UserRef to the store."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.commands import AdminFactsCache
from adapters.slack.normalize import NormalizeContext, SlackIdentity, normalize_command, normalize_event
from adapters.slack.render import button_elements
from bot.events import Button, MemberJoined
from tests.slack_fakes import BOT_ID, BOT_USER_ID, TEAM_ID, TEAM_URL, FakeSlackAPI, envelope, slash_form

ME = SlackIdentity(TEAM_ID, BOT_USER_ID, BOT_ID, TEAM_URL)


def test_team_join_carries_the_members_zone() -> None:
    member: dict[str, Any] = {"id": "UNEW", "real_name": "New", "tz": "America/Los_Angeles", "tz_offset": -28800}
    [event] = normalize_event(envelope({"type": "team_join", "user": member}), NormalizeContext(ME))  # type: ignore[arg-type]
    assert isinstance(event, MemberJoined) and event.user.tz == "America/Los_Angeles"
    [no_tz] = normalize_event(envelope({"type": "team_join", "user": {"id": "U2", "tz": None}}), NormalizeContext(ME))  # type: ignore[arg-type]
    assert isinstance(no_tz, MemberJoined) and no_tz.user.tz == ""


async def test_slash_command_user_gets_the_zone_from_users_info(fake: FakeSlackAPI) -> None:
    fake.users["UALICE"] = {**fake.users.get("UALICE", {}), "id": "UALICE", "tz": "Europe/Berlin"}
    cache = AdminFactsCache([], ttl=60, now=lambda: 0.0)
    client = AsyncWebClient(token="x", base_url=fake.url)
    facts = await cache.facts(client, TEAM_ID, "UALICE")
    assert facts.tz == "Europe/Berlin"
    assert (await cache.facts(client, TEAM_ID, "UALICE")).tz == "Europe/Berlin"  # from the cache
    cmd = normalize_command(slash_form("/recommend"), NormalizeContext(ME), tz=facts.tz)  # type: ignore[arg-type]
    assert cmd is not None and cmd.user.tz == "Europe/Berlin"
    fake.fail("users.info", "ratelimited")
    assert (await cache.facts(client, TEAM_ID, "UOTHER")).tz == ""


def test_open_button_is_a_link_that_still_reports_the_click() -> None:
    [element] = button_elements([Button("recommend.open.1", "Open 1", "C1|C1:1.2", url="https://acme.slack.com/x")])
    assert element["url"] == "https://acme.slack.com/x" and element["action_id"] == "recommend.open.1"
    [plain] = button_elements([Button("qa.feedback", "👍", "up")])
    assert "url" not in plain
    [too_long] = button_elements([Button("a", "b", url="https://x/" + "y" * 3000)])
    assert "url" not in too_long  # Slack would refuse the whole message


async def test_slash_command_user_is_a_guest_when_users_info_says_so(fake: FakeSlackAPI) -> None:
    fake.users["UGUEST"] = {"id": "UGUEST", "name": "gus", "is_restricted": False, "is_ultra_restricted": True}
    cache = AdminFactsCache([], ttl=60, now=lambda: 0.0)
    client = AsyncWebClient(token="x", base_url=fake.url)
    facts = await cache.facts(client, TEAM_ID, "UGUEST")
    assert facts.guest is True and (await cache.facts(client, TEAM_ID, "UALICE")).guest is None  # no flags: unknown
    cmd = normalize_command(slash_form("/ask", "hi", user="UGUEST"), NormalizeContext(ME), guest=facts.guest)  # type: ignore[arg-type]
    assert cmd is not None and cmd.user.guest is True


async def test_slash_command_user_of_another_organisation_is_external(fake: FakeSlackAPI) -> None:
    """users.info names the person's own team: a Slack Connect partner's is not ours. An Enterprise
    Grid org id (``E…``) says nothing either way."""
    fake.users["UPARTNER"] = {"id": "UPARTNER", "name": "pat", "team_id": "T0OTHER"}
    fake.users["UGRID"] = {"id": "UGRID", "name": "gil", "team_id": "E0ORG"}
    fake.users["UALICE"] = {**fake.users["UALICE"], "team_id": TEAM_ID}
    cache = AdminFactsCache([], ttl=60, now=lambda: 0.0)
    client = AsyncWebClient(token="x", base_url=fake.url)
    assert (await cache.facts(client, TEAM_ID, "UPARTNER")).external is True
    assert (await cache.facts(client, TEAM_ID, "UALICE")).external is False
    assert (await cache.facts(client, TEAM_ID, "UGRID")).external is None
    facts = await cache.facts(client, TEAM_ID, "UPARTNER")
    cmd = normalize_command(slash_form("/ask", "hi", user="UPARTNER"), NormalizeContext(ME), external=facts.external)  # type: ignore[arg-type]
    assert cmd is not None and cmd.user.external is True

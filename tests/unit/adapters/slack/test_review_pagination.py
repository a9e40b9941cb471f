"""Cursor pagination against a Web API that hands back a cursor it already gave.

Slack documents ``next_cursor`` as opaque; a proxy, a cache or Slack itself answering a page again
must not keep the bot asking for the same page forever (each call also costs rate-limit budget).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.backfill import SlackBackfill
from adapters.slack.conversations import read_members
from adapters.slack.normalize import SlackIdentity
from bot.events import InboundEvent, MessagePosted
from tests.slack_fakes import BOT_ID, BOT_USER_ID, TEAM_ID, TEAM_URL, FakeSlackAPI

ME = SlackIdentity(TEAM_ID, BOT_USER_ID, BOT_ID, TEAM_URL)


class LoopingCursorAPI(FakeSlackAPI):
    """A fake whose second page names, as its next cursor, the cursor that fetched it."""

    def _page(self, items: list[dict[str, Any]], args: dict[str, Any], key: str) -> dict[str, Any]:
        page = super()._page(items, args, key)
        if args.get("cursor"):
            page["response_metadata"] = {"next_cursor": str(args["cursor"])}
            page["has_more"] = True
        return page


@pytest.fixture
async def looping() -> AsyncIterator[LoopingCursorAPI]:
    f = await LoopingCursorAPI().start()
    f.history["CGENERAL"] = [
        {"type": "message", "user": "UALICE", "text": f"message {n}", "ts": f"17676000{n:02d}.000100"}
        for n in range(1, 6)
    ]
    yield f
    await f.stop()


async def test_backfill_stops_at_a_repeated_cursor(looping: LoopingCursorAPI) -> None:
    events: list[InboundEvent] = []

    async def publish(e: InboundEvent) -> None:
        events.append(e)

    client = AsyncWebClient(token="xoxb-test", base_url=looping.url)
    backfill = SlackBackfill(client, publish, ME, page_size=2)
    report = await asyncio.wait_for(backfill.run(["CGENERAL"]), timeout=5)
    texts = {e.text for e in events if isinstance(e, MessagePosted)}
    # The two pages Slack did give are published, once the repeat is seen the channel is done.
    assert texts == {"message 5", "message 4", "message 3", "message 2"}
    assert len(looping.calls_to("conversations.history")) == 2
    assert report.channels[0].error == ""


async def test_list_channels_stops_at_a_repeated_cursor(looping: LoopingCursorAPI) -> None:
    async def publish(e: InboundEvent) -> None:
        pass

    looping.conversations["CTHIRD"] = {"id": "CTHIRD", "name": "third", "is_channel": True}
    client = AsyncWebClient(token="xoxb-test", base_url=looping.url)
    found = await asyncio.wait_for(SlackBackfill(client, publish, ME).list_channels(), timeout=5)
    assert [c.channel_id for c in found] == ["CGENERAL", "CHELP", "GSECRET", "CTHIRD"]
    assert len(looping.calls_to("conversations.list")) == 2


async def test_members_read_through_a_repeated_cursor_are_not_a_member_list(looping: LoopingCursorAPI) -> None:
    # A list cut short by the loop is not the channel's member list: publishing it would replace
    # the private channel's access list with part of it (conversations.py's rule).
    looping.members["GSECRET"] = ["UALICE", "UBOB", "UCAROL", "UDAN", "UEVE"]
    client = AsyncWebClient(token="xoxb-test", base_url=looping.url)
    lookup = await asyncio.wait_for(read_members(client, "GSECRET"), timeout=5)
    assert lookup.members is None
    assert lookup.definite is False
    assert len(looping.calls_to("conversations.members")) == 2

"""A member's time zone travels on UserRef (wire format included) and lands in users.tz."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from bot.events import CommandInvoked, MemberJoined, MemberUpdated, Platform, UserRef, from_json, to_json
from bot.testing import make_message, user
from bot.testing.builders import BASE_TIME, command


def test_user_ref_tz_round_trips_and_old_events_still_decode() -> None:
    u = UserRef(Platform.SLACK, "T1", "U1", "Ann", tz="America/Los_Angeles")
    event = MemberJoined(user=u, ts=BASE_TIME)
    back = from_json(to_json(event))
    assert isinstance(back, MemberJoined) and back.user.tz == "America/Los_Angeles"
    # An event written before the field existed (a Redis stream across an upgrade).
    old = json.loads(to_json(event))
    del old["user"]["tz"]
    legacy = from_json(json.dumps(old))
    assert isinstance(legacy, MemberJoined) and legacy.user.tz == ""
    # A profile fact, not identity: the same member with and without a known zone.
    assert dataclasses.replace(u, tz="") == u and hash(dataclasses.replace(u, tz="")) == hash(u)


async def test_recorder_stores_the_zone_and_keeps_it_when_unknown(make_app: Any) -> None:
    app, adapter = await make_app()
    tokyo = dataclasses.replace(user("ann"), tz="Asia/Tokyo")
    await adapter.inject(MemberJoined(user=tokyo, ts=BASE_TIME))
    await app.bus.drain()
    row = await app.store.get_user("console", "local", "ann")
    assert row is not None and row.tz == "Asia/Tokyo"
    await adapter.inject(make_message("hi", author="ann"))  # no zone on this ref: keep the stored one
    await app.bus.drain()
    row = await app.store.get_user("console", "local", "ann")
    assert row is not None and row.tz == "Asia/Tokyo"
    # A slash command whose users.info lookup found a zone (Slack) updates it, name untouched.
    cmd = command("recommend", author=dataclasses.replace(user("ann"), name="", tz="Europe/Berlin"))
    assert isinstance(cmd, CommandInvoked)
    await adapter.inject(cmd)
    await app.bus.drain()
    row = await app.store.get_user("console", "local", "ann")
    assert row is not None and row.tz == "Europe/Berlin" and row.name == "ann"


async def test_forget_me_erases_the_zone_with_the_name(make_app: Any) -> None:
    """Where a member lives is personal data: /forget-me blanks it as it blanks the name."""
    app, adapter = await make_app()
    await adapter.inject(MemberJoined(user=dataclasses.replace(user("ann"), tz="Asia/Tokyo"), ts=BASE_TIME))
    await app.bus.drain()
    await adapter.inject(command("forget-me", "confirm", author="ann"))
    await app.bus.drain()
    row = await app.store.get_user("console", "local", "ann")
    assert row is not None and row.name == "" and row.tz is None


async def test_a_profile_change_updates_name_and_zone_and_a_forgotten_members_is_dropped(make_app: Any) -> None:
    app, adapter = await make_app()
    await adapter.inject(MemberJoined(user=dataclasses.replace(user("ann"), tz="Asia/Tokyo"), ts=BASE_TIME))
    moved = dataclasses.replace(user("ann"), name="Ann B.", tz="America/Denver")
    await adapter.inject(MemberUpdated(user=moved, ts=BASE_TIME))
    await app.bus.drain()
    row = await app.store.get_user("console", "local", "ann")
    assert row is not None and (row.name, row.tz) == ("Ann B.", "America/Denver")
    await adapter.inject(command("forget-me", "confirm", author="ann"))
    await app.bus.drain()
    await adapter.inject(MemberUpdated(user=moved, ts=BASE_TIME))
    await app.bus.drain()
    row = await app.store.get_user("console", "local", "ann")
    assert row is not None and row.name == "" and row.tz is None  # not stored again

"""An alerts channel shared with another organisation (Slack Connect), or read by a guest, gets no
alerts or boards: they quote terms, link messages and name members. Before, they were posted there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.events import ChannelRef, ChannelSeen, CommandReply, Platform, SendMessage, UserRef, Visibility
from bot.store import UserRow
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, command
from brain.activity.brain import ActivityBrain
from tests.unit.activity.test_alerts import seed_burst
from tests.unit.activity.test_leaderboard import seed


async def scan_posts(
    make_app: Any, settings: Any, *, shared: bool, guest: bool = False
) -> tuple[list[SendMessage], list[str]]:
    clock = FakeClock(BASE_TIME)
    tuned = settings.model_copy(
        update={"activity": settings.activity.model_copy(update={"alerts_channel_id": "staff"})}
    )
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=tuned)
    staff = ChannelRef(Platform.CONSOLE, "local", "staff", "staff", Visibility.PRIVATE, shared_externally=shared)
    await adapter.inject(ChannelSeen(staff))
    if guest:
        await app.store.upsert_users([UserRow("console", "local", "gus", "Gus", guest=True)])
        await adapter.inject(make_message("a guest's note in the staff room", author="gus", chan=staff))
    await seed_burst(adapter, clock)
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    await brain.trend_scan()
    await app.bus.drain()
    return [a for a in adapter.of_type(SendMessage) if isinstance(a, SendMessage)], await brain.status(
        "console", "local"
    )


async def test_a_shared_alerts_channel_gets_no_alerts(make_app: Any, settings: Any) -> None:
    posts, status = await scan_posts(make_app, settings, shared=True)
    assert posts == []
    assert "shared with another organisation" in status[0]


async def test_an_alerts_channel_of_our_own_gets_them(make_app: Any, settings: Any) -> None:
    posts, _ = await scan_posts(make_app, settings, shared=False)
    assert [p.channel.channel_id for p in posts if "poetry lock" in p.text] == ["staff"]


async def test_a_board_asked_for_in_a_shared_channel_is_for_the_asker_alone(make_app: Any) -> None:
    """Before, /leaderboard in a Slack Connect channel was posted for everyone there: member names
    and scores for another organisation."""
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    connect = ChannelRef(Platform.CONSOLE, "local", "connect", "partners", Visibility.PUBLIC, shared_externally=True)
    await adapter.inject(ChannelSeen(connect))
    await seed(adapter)
    await app.bus.drain()
    await adapter.inject(command("leaderboard", "week", chan=connect))
    await adapter.inject(command("leaderboard", "week"))
    await app.bus.drain()
    shared, own = adapter.of_type(CommandReply)[-2:]
    by_channel = {r.command.channel.channel_id: r for r in (shared, own)}
    assert "helper" in by_channel["connect"].text and by_channel["connect"].ephemeral
    assert "helper" in by_channel["general"].text and not by_channel["general"].ephemeral


async def test_people_of_another_organisation_get_no_board(make_app: Any) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await seed(adapter)
    await app.store.upsert_users([UserRow("console", "local", "partner", "Pat", external=True)])
    await app.bus.drain()
    await adapter.inject(command("leaderboard", "week", author="partner"))
    await app.bus.drain()
    [reply] = adapter.of_type(CommandReply)
    assert reply.text == "Leaderboards are for members of this workspace."


async def test_trends_are_not_for_guests_or_people_of_another_organisation(make_app: Any) -> None:
    """Findings quote terms and link messages of channels they do not read. Before, /trends gave a
    Slack Connect partner the workspace's trends."""
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock)
    await seed_burst(adapter, clock, burst="zorblax layoffs list final")
    await app.store.upsert_users([UserRow("console", "local", "gus", "Gus", guest=True)])
    await app.bus.drain()
    partner = UserRef(Platform.CONSOLE, "local", "pat", "pat", external=True)
    for who in (partner, "gus", "alice"):
        await adapter.inject(command("trends", author=who))
        await app.bus.drain()
    by_user = {r.command.user.user_id: r.text for r in adapter.of_type(CommandReply)}
    assert by_user["pat"] == by_user["gus"] == "Trends are for members of this workspace."
    assert "zorblax" in by_user["alice"]


async def test_an_alerts_channel_a_guest_reads_gets_no_alerts(make_app: Any, settings: Any) -> None:
    posts, status = await scan_posts(make_app, settings, shared=False, guest=True)
    assert [p for p in posts if "poetry lock" in p.text] == []
    assert "a guest reads the alerts channel" in status[0]


async def test_a_board_asked_for_where_a_guest_reads_is_for_the_asker_alone(make_app: Any) -> None:
    """A guest is refused the board; a member asking in a channel the guest reads got it posted for
    everyone there, the guest included."""
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await seed(adapter)
    await app.store.upsert_users([UserRow("console", "local", "gus", "Gus", guest=True)])
    await adapter.inject(make_message("hello from the guest account here", author="gus", chan="python", minutes=30))
    await app.bus.drain()
    await adapter.inject(command("leaderboard", "week", chan="python"))
    await adapter.inject(command("leaderboard", "week"))
    await app.bus.drain()
    by_channel = {r.command.channel.channel_id: r for r in adapter.of_type(CommandReply)}
    assert "helper" in by_channel["python"].text and by_channel["python"].ephemeral
    assert "helper" in by_channel["general"].text and not by_channel["general"].ephemeral

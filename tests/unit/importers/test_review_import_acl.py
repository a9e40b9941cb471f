"""Re-importing an older export over a private channel's access list that changed since: the
stored list (the live adapter's, newer than any export) stays; a fresh store still takes the
export's list."""

from __future__ import annotations

import json
from pathlib import Path

from bot.events import ChannelRef, ChannelSeen, EventSource, Platform, Visibility
from bot.importers.discord_export import import_discord_export
from bot.importers.slack_export import import_slack_export
from tests.unit.importers.test_discord_export import BOB, export, msg
from tests.unit.importers.test_slack_export import zip_folder


def _slack_export_zip(tmp_path: Path) -> Path:
    """A zipped Slack export of workspace T9 whose private #mods (G1) lists ana (U1) and bob (U2);
    only ana posts there, so only the ``members`` list can give bob access."""
    root = tmp_path / "export"
    (root / "mods").mkdir(parents=True)
    (root / "users.json").write_text(
        json.dumps(
            [
                {"id": "U1", "team_id": "T9", "name": "ana"},
                {"id": "U2", "team_id": "T9", "name": "bob"},
                {"id": "U3", "team_id": "T9", "name": "cy"},
            ]
        )
    )
    (root / "channels.json").write_text(json.dumps([]))
    (root / "groups.json").write_text(json.dumps([{"id": "G1", "name": "mods", "members": ["U1", "U2"]}]))
    (root / "mods" / "2023-11-14.json").write_text(
        json.dumps([{"type": "message", "user": "U1", "text": "the ban list is ...", "ts": "1700000000.000100"}])
    )
    return zip_folder(root, tmp_path / "export.zip")


async def test_reimporting_an_older_slack_export_keeps_the_live_access_list(make_app, tmp_path: Path) -> None:
    path = _slack_export_zip(tmp_path)
    app, _ = await make_app()
    store = app.store

    first = await import_slack_export(path, app.bus, progress=False)
    await app.bus.drain()
    assert first.errors == []
    # A fresh store takes the export's list: both members read #mods, cy does not.
    assert "G1" in await store.readable_channel_ids("slack", "T9", "U1")
    assert "G1" in await store.readable_channel_ids("slack", "T9", "U2")
    assert "G1" not in await store.readable_channel_ids("slack", "T9", "U3")

    # Since the export: bob left #mods and cy joined, as the live adapter reports it.
    live = ChannelRef(Platform.SLACK, "T9", "G1", "mods", Visibility.PRIVATE, allowed_user_ids=("U1", "U3"))
    await app.bus.publish(ChannelSeen(live, member_ids=("U1", "U3")))
    await app.bus.drain()
    assert "G1" not in await store.readable_channel_ids("slack", "T9", "U2")

    again = await import_slack_export(path, app.bus, progress=False)
    await app.bus.drain()
    assert again.errors == []
    assert "G1" not in await store.readable_channel_ids("slack", "T9", "U2")  # left: not let back in
    assert "G1" in await store.readable_channel_ids("slack", "T9", "U3")  # joined since: not locked out
    assert "G1" in await store.readable_channel_ids("slack", "T9", "U1")


async def test_a_live_access_list_still_replaces_the_stored_one(make_app, tmp_path: Path) -> None:
    app, _ = await make_app()
    await import_slack_export(_slack_export_zip(tmp_path), app.bus, progress=False)
    await app.bus.drain()
    live = ChannelRef(Platform.SLACK, "T9", "G1", "mods", Visibility.PRIVATE, allowed_user_ids=("U1",))
    await app.bus.publish(ChannelSeen(live, member_ids=("U1",)))
    await app.bus.drain()
    assert "G1" not in await app.store.readable_channel_ids("slack", "T9", "U2")
    assert await app.store.has_channel_access("slack", "T9", "G1")
    assert not await app.store.has_channel_access("slack", "T9", "C404")


async def test_reimporting_a_private_discord_export_keeps_the_live_roles_and_denials(make_app, tmp_path: Path) -> None:
    staff = tmp_path / "staff.json"
    staff.write_text(
        json.dumps(export({"id": "C7", "type": "GuildTextChat", "name": "staff"}, [msg("1", "00", BOB, "hi")]))
    )
    app, _ = await make_app()
    store = app.store
    # The live adapter: #staff is read by role R1 (held by 55); bob ("20") is kept out by his own
    # overwrite since he posted the exported message.
    live = ChannelRef(
        Platform.DISCORD,
        "G1",
        "C7",
        "staff",
        Visibility.PRIVATE,
        allowed_user_ids=("10",),
        allowed_role_ids=("R1",),
        denied_user_ids=("20",),
    )
    await app.bus.publish(ChannelSeen(live, source=EventSource.LIVE))
    await app.bus.drain()

    summary = await import_discord_export([staff], app.bus, progress=False, private=True)
    await app.bus.drain()
    assert summary.errors == []
    assert "C7" not in await store.readable_channel_ids("discord", "G1", "20")  # still denied
    assert "C7" in await store.readable_channel_ids("discord", "G1", "55", ["R1", "G1"])  # role kept
    assert "C7" in await store.readable_channel_ids("discord", "G1", "10")  # ana, listed live

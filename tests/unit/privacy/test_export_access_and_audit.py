"""A member's data export lists the private channels whose access lists name them and the audit
entries about them, in words; what a Discord member only did as an admin, or only reads, is reached
in every server; ``/forget-me`` keeps both (access facts, the admins' record) and says so."""

from __future__ import annotations

import dataclasses

from bot.events import ChannelRef, ChannelSeen, Platform, UserRef, Visibility
from bot.testing import channel, command, make_message, user
from bot.testing.builders import BASE_TIME

ACME, BETA = "900000000000000001", "900000000000000002"


async def test_the_export_names_private_channels_read_and_kept_out_of(make_app) -> None:
    app, adapter = await make_app()
    secret = dataclasses.replace(
        channel("staff"), visibility=Visibility.PRIVATE, allowed_user_ids=("ana",), denied_user_ids=("bo",)
    )
    await adapter.inject(ChannelSeen(secret, ts=BASE_TIME, member_ids=("ana", "cy")))
    await app.bus.drain()
    core = app.brain("core")
    ana = (await core.export(user("ana")))["channel_access"]  # type: ignore[attr-defined]
    assert ana == [{"channel_id": "staff", "channel": "staff", "access": "reads"}]
    bo = (await core.export(user("bo")))["channel_access"]  # type: ignore[attr-defined]
    assert bo == [{"channel_id": "staff", "channel": "staff", "access": "kept out"}]

    # Kept by /forget-me: bo's denial keeps the channel's answers from him (he can still /ask).
    await core.forget(user("bo"))  # type: ignore[attr-defined]
    assert (await core.export(user("bo")))["channel_access"] == bo  # type: ignore[attr-defined]


async def test_the_export_lists_what_the_member_did_and_what_admins_did_about_them(make_app) -> None:
    app, adapter = await make_app(brains=["activity"])
    await adapter.inject(make_message("hello", author="bo", message_id="m1"))
    # The config names bo by the id the store learnt from that message: let it be recorded first
    # (the bus does not order a message's recording before another member's command).
    await app.bus.drain()
    await adapter.inject(command("guildhall config", "set leaderboard_exclude bo", author="ana", admin=True))
    await adapter.inject(command("optout", author="bo"))
    await app.bus.drain()
    core = app.brain("core")

    bo = await core.export(user("bo"))  # type: ignore[attr-defined]
    entries = {e["action"]: e for e in bo["audit"]}
    assert {a: e["as"] for a, e in entries.items()} == {"config leaderboard_exclude": "subject", "optout": "actor"}
    # What an admin did about them comes without the admin or the rest of the entry.
    assert set(entries["config leaderboard_exclude"]) == {"ts", "action", "allowed", "as"}
    assert bo["activity"]["excluded_from_leaderboard"] is True

    ana = await core.export(user("ana"))  # type: ignore[attr-defined]
    entries = {e["action"]: e for e in ana["audit"]}
    assert {a: e["as"] for a, e in entries.items()} == {
        "/guildhall config": "actor",
        "config leaderboard_exclude": "actor",
    }
    assert entries["config leaderboard_exclude"]["detail"]["added"] == ["bo"]
    assert "excluded_from_leaderboard" not in ana.get("activity", {})

    # The audit log is the admins' record: kept by /forget-me (bo is off the exclude list, though).
    await core.forget(user("bo"))  # type: ignore[attr-defined]
    after = await core.export(user("bo"))  # type: ignore[attr-defined]
    assert sorted(e["action"] for e in after["audit"]) == ["config leaderboard_exclude", "forget-me", "optout"]
    assert "excluded_from_leaderboard" not in after.get("activity", {})


def alice(ws: str) -> UserRef:
    return user("alice", platform=Platform.DISCORD, workspace=ws)


async def test_a_server_where_the_member_only_reads_or_ran_admin_commands_is_reached(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(
        make_message(
            "hi from acme", author=alice(ACME), chan=channel("general", platform=Platform.DISCORD, workspace=ACME)
        )
    )
    # In Beta alice reads a private channel and ran an admin command, and nothing else.
    staff = ChannelRef(Platform.DISCORD, BETA, "700", "staff", Visibility.PRIVATE)
    await adapter.inject(ChannelSeen(staff, ts=BASE_TIME, member_ids=("alice",)))
    gamma = "900000000000000003"
    await adapter.inject(
        command(
            "guildhall status",
            author=alice(gamma),
            chan=channel("ops", platform=Platform.DISCORD, workspace=gamma),
            admin=True,
        )
    )
    await app.bus.drain()
    assert await app.store.db.fetchall("SELECT 1 FROM users WHERE workspace_id IN (?, ?)", (BETA, gamma)) == []

    export = await app.brain("core").export(alice(ACME))  # type: ignore[attr-defined]
    assert export["other_workspaces"][BETA]["channel_access"][0]["access"] == "reads"
    assert export["other_workspaces"][gamma]["audit"][0]["action"] == "/guildhall status"

"""An admin of one Discord server cannot point alerts or shadow drafts at another server's channel.

Discord ids are global and a mention can be typed as text (``<#222>``): `/guildhall config set
alerts_channel <#222>` in server A, naming a channel the bot knows in server B, made the bot post
A's alerts, leaderboard and moderators' drafts into B. Refused when set; a value stored before is
not used (nothing is posted).
"""

from __future__ import annotations

from bot.events import ChannelRef, ChannelSeen, CommandReply, Platform, Visibility
from bot.testing import command, user

D = Platform.DISCORD
A_GENERAL = ChannelRef(D, "A", "111", "a-general", Visibility.PUBLIC)
B_STAFF = ChannelRef(D, "B", "222", "b-staff", Visibility.PUBLIC)
ADMIN_A = user("alice", platform=D, workspace="A")


async def two_servers(make_app):
    app, adapter = await make_app(brains=["activity", "community"])
    await adapter.inject(ChannelSeen(channel=A_GENERAL, workspace_name="Guild A"))
    await adapter.inject(ChannelSeen(channel=B_STAFF, workspace_name="Guild B"))
    await app.bus.drain()  # recorded first: the recorder and the commands run on separate queues
    return app, adapter


async def run(app, adapter, name: str, text: str = "", options: dict[str, str] | None = None) -> str:
    await adapter.inject(command(name, text, author=ADMIN_A, chan=A_GENERAL, admin=True, options=options))
    await app.bus.drain()
    return adapter.of_type(CommandReply)[-1].text


async def test_config_set_refuses_a_channel_of_another_server(make_app) -> None:
    app, adapter = await two_servers(make_app)
    for key in ("alerts_channel", "moderators_channel"):
        reply = await run(app, adapter, "guildhall config", f"set {key} <#222>")
        assert reply.startswith("Not changed:") and "another server" in reply, reply
        assert await app.store.get_workspace_setting("discord", "A", key) is None
    # Picked in the command's channel option, or typed as a mention in the text.
    reply = await run(app, adapter, "guildhall alerts-channel", options={"channel": "222"})
    assert "another server" in reply and "Nothing changed" in reply
    reply = await run(app, adapter, "guildhall alerts-channel", "<#222>")
    assert "another server" in reply
    assert await app.store.get_workspace_setting("discord", "A", "alerts_channel") is None
    # The server's own channel is taken.
    assert await run(app, adapter, "guildhall config", "set alerts_channel <#111>") == "`alerts_channel` is now <#111>."


async def test_a_channel_of_another_server_stored_before_is_not_used(make_app) -> None:
    app, _ = await two_servers(make_app)
    for key in ("alerts_channel", "moderators_channel"):
        await app.store.set_workspace_setting("discord", "A", key, "222")
    assert await app.brain("activity")._alerts_channel("discord", "A") is None
    assert await app.brain("community")._moderators_channel(A_GENERAL) is None
    # Its own channel still is.
    for key in ("alerts_channel", "moderators_channel"):
        await app.store.set_workspace_setting("discord", "A", key, "111")
    target = await app.brain("activity")._alerts_channel("discord", "A")
    assert target is not None and target.channel_id == "111"
    mods = await app.brain("community")._moderators_channel(A_GENERAL)
    assert mods is not None and mods.channel_id == "111"


async def test_a_slack_connect_channel_stored_under_the_partner_team_is_not_refused(make_app) -> None:
    # Events of a shared channel arrive once, under one team: the channel is this workspace's too,
    # and the bot posts there with this workspace's token (the cross-server refusal is Discord's).
    from bot.events import ChannelRef, ChannelSeen, CommandReply, Platform, Visibility
    from bot.testing import command, user

    slack = Platform.SLACK
    shared = ChannelRef(slack, "T2", "C9", "shared-eng", Visibility.PUBLIC, shared_externally=True)
    here = ChannelRef(slack, "T1", "C1", "general", Visibility.PUBLIC)
    app, adapter = await make_app(brains=["activity"])
    await adapter.inject(ChannelSeen(channel=shared))
    await adapter.inject(ChannelSeen(channel=here))
    await app.bus.drain()
    admin = user("U1", platform=slack, workspace="T1")
    await adapter.inject(
        command("guildhall config", "set alerts_channel <#C9|shared-eng>", author=admin, chan=here, admin=True)
    )
    await app.bus.drain()
    assert not adapter.of_type(CommandReply)[-1].text.startswith("Not changed"), adapter.of_type(CommandReply)[-1].text
    assert await app.brain("activity")._alerts_channel_id("slack", "T1") == "C9"  # type: ignore[attr-defined]

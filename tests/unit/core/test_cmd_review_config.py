"""Admin configuration, found wanting in review: what the audit log keeps of a change, channel lists
that survive a rename, forums and unknown keys refused, help that says only what is true."""

from __future__ import annotations

from bot.events import (
    ButtonClicked,
    ChannelRef,
    ChannelSeen,
    CommandInvoked,
    CommandReply,
    Platform,
    SendEphemeral,
    UserRef,
    Visibility,
)
from bot.permissions import admin_rights_unknown, is_admin
from bot.privacy.policy import may_index
from bot.testing import channel, command, make_message, user
from bot.testing.builders import BASE_TIME
from brain.community.brain import SOLVED_ACTION

D = Platform.DISCORD
ADMIN = user("alice", platform=D, workspace="A")


def chan(cid: str, name: str, **kwargs) -> ChannelRef:
    return ChannelRef(D, "A", cid, name, Visibility.PUBLIC, **kwargs)


async def config(app, adapter, text: str, *, author=ADMIN, chan_ref=None) -> str:
    where = chan_ref or chan("100", "general")
    await adapter.inject(command("guildhall config", text, author=author, chan=where, admin=True))
    await app.bus.drain()
    return adapter.of_type(CommandReply)[-1].text


async def test_slack_config_changes_are_audited_with_what_changed(make_app) -> None:
    app, adapter = await make_app()
    u, c = user("U1", platform=Platform.SLACK, workspace="T1"), channel("C1", platform=Platform.SLACK, workspace="T1")
    for text in ("set retention_days 30", "set retention_days 7", "unset retention_days"):
        await config(app, adapter, text, author=u, chan_ref=c)
    entries = [e for e in await app.store.audit_entries() if e["actor_id"] == "U1"]
    router = sorted(e["detail"]["text"] for e in entries if e["action"] == "/guildhall config")
    assert router == ["set retention_days", "set retention_days", "unset retention_days"]
    changes = {(e["detail"]["before"], e["detail"]["after"]) for e in entries if e["action"] == "config retention_days"}
    assert changes == {(None, 30), (30, 7), (7, None)}


async def test_alerts_channel_changes_are_audited(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(command("guildhall alerts-channel", "here", chan="mods", admin=True))
    await app.bus.drain()
    entries = await app.store.audit_entries()
    assert [e["detail"]["text"] for e in entries if e["action"] == "/guildhall alerts-channel"] == ["here"]
    [change] = [e["detail"] for e in entries if e["action"] == "config alerts_channel"]
    assert (change["before"], change["after"]) == (None, "mods")


async def test_a_refused_admin_command_keeps_no_text(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(command("guildhall config", "set retention_days 1 my password", author="mallory"))
    await app.bus.drain()
    [entry] = [e for e in await app.store.audit_entries() if e["actor_id"] == "mallory"]
    assert not entry["allowed"] and "text" not in entry["detail"]


async def test_channel_lists_keep_working_after_a_rename(make_app) -> None:
    app, adapter = await make_app(brains=["community"])
    await adapter.inject(ChannelSeen(channel=chan("111", "secret")))
    await adapter.inject(ChannelSeen(channel=chan("112", "help")))
    await app.bus.drain()
    assert await config(app, adapter, "set deny_channels secret") == '`deny_channels` is now [<#111>, "secret"].'
    assert await config(app, adapter, "set shadow_channels #help") == "`shadow_channels` is now [<#112>]."
    assert await app.store.get_workspace_setting("discord", "A", "deny_channels") == ["111", "secret"]
    assert await app.store.get_workspace_setting("discord", "A", "shadow_channels") == ["112"]
    await adapter.inject(ChannelSeen(channel=chan("111", "secret-archive")))
    await adapter.inject(ChannelSeen(channel=chan("112", "help-desk")))
    await app.bus.drain()
    assert not await may_index(app.store, app.settings, "discord", "A", "111", "secret-archive", "public")
    # The deny list also keeps the name: a channel called so later is denied too.
    assert not await may_index(app.store, app.settings, "discord", "A", "113", "secret", "public")
    assert await app.brain("community").is_shadow_channel(chan("112", "help-desk"))
    shown = await config(app, adapter, "show deny_channels")
    assert '`deny_channels` = [<#111>, "secret"]' in shown


async def test_a_name_two_channels_share_covers_both(make_app) -> None:
    # Discord allows one name in two categories: storing one id left the other out of shadow mode.
    app, adapter = await make_app(brains=["community"])
    for cid in ("201", "202"):
        await adapter.inject(ChannelSeen(channel=chan(cid, "support")))
    await app.bus.drain()
    await config(app, adapter, "set shadow_channels support")
    assert await app.store.get_workspace_setting("discord", "A", "shadow_channels") == ["201", "202"]
    community = app.brain("community")
    assert await community.is_shadow_channel(chan("201", "support"))
    assert await community.is_shadow_channel(chan("202", "support"))
    # A channel's id names that channel alone, even when another channel is called by it.
    await adapter.inject(ChannelSeen(channel=chan("303", "201")))
    await app.bus.drain()
    await config(app, adapter, "set qa_help_channels 201")
    assert await app.store.get_workspace_setting("discord", "A", "qa_help_channels") == ["201"]


async def test_a_forum_cannot_be_the_alerts_channel(make_app) -> None:
    app, adapter = await make_app(brains=["activity"])
    await adapter.inject(ChannelSeen(channel=chan("300", "questions", is_forum=True)))
    await app.bus.drain()
    reply = await config(app, adapter, "set alerts_channel questions")
    assert reply.startswith("Not changed:") and "forum" in reply
    await adapter.inject(
        command("guildhall alerts-channel", "#questions", author=ADMIN, chan=chan("100", "g"), admin=True)
    )
    await app.bus.drain()
    assert "forum" in adapter.of_type(CommandReply)[-1].text
    assert await app.store.get_workspace_setting("discord", "A", "alerts_channel") is None


async def test_config_show_of_an_unknown_key_says_so(make_app) -> None:
    app, adapter = await make_app()
    reply = await config(app, adapter, "show nonsense")
    assert "Unknown setting 'nonsense'" in reply and "retention_days" in reply and "**Settings**" not in reply


async def test_alerts_channel_help_offers_none_only_where_it_works(make_app, settings) -> None:
    configured = settings.model_copy(
        update={"activity": settings.activity.model_copy(update={"alerts_channel_id": "general"})}
    )
    app, adapter = await make_app(brains=["activity"], settings_override=configured)
    await adapter.inject(command("guildhall alerts-channel", "", admin=True))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1].text
    assert "alerts_channel none" not in reply and "config unset alerts_channel" in reply


async def test_help_on_discord_does_not_offer_here_for_alerts_channel(make_app) -> None:
    app, adapter = await make_app(brains=["activity"])
    await adapter.inject(command("help", author=ADMIN, chan=chan("100", "general")))
    await app.bus.drain()
    [line] = [li for li in adapter.of_type(CommandReply)[-1].text.splitlines() if "alerts-channel" in li]
    assert "| here" not in line and "(or here)" not in line and "pick a channel" in line
    await adapter.inject(command("help"))  # the console types text: `here` is offered there
    await app.bus.drain()
    [line] = [li for li in adapter.of_type(CommandReply)[-1].text.splitlines() if "alerts-channel" in li]
    assert "| here" in line


async def test_a_repeated_forget_me_erases_and_counts_no_markers(make_app) -> None:
    app, adapter = await make_app(brains=["qa", "activity", "recommend", "community"])
    await adapter.inject(make_message("hello there", author="bob"))
    await app.bus.drain()
    core = app.brain("core")
    await core.forget(user("bob"))
    again = await core.forget(user("bob"))
    assert again.total == 0, again.counts
    assert await app.store.get_member_setting("console", "local", "bob", "forgotten", False) is True
    assert (await core.forget(user("ghost"))).total == 0
    assert (await core.forget(user("ghost"))).total == 0


def test_a_slack_connect_member_is_never_our_admin(settings) -> None:
    slack = settings.model_copy(update={"slack": settings.slack.model_copy(update={"admin_usergroup_ids": ["S1"]})})
    guest = UserRef(Platform.SLACK, "T1", "U9", "them", external=True)
    where = channel("C1", platform=Platform.SLACK, workspace="T1")
    for platform_admin in (True, None):
        cmd = CommandInvoked(
            "guildhall config", guest, where, "i1", BASE_TIME, is_platform_admin=platform_admin, role_ids=("S1",)
        )
        assert not is_admin(cmd, slack)
        assert not admin_rights_unknown(cmd, slack)  # refused, not "try again"


async def test_only_an_admin_marks_solved_when_the_asker_is_unknown(make_app) -> None:
    app, adapter = await make_app(brains=["qa", "community"])
    # The question's root was never stored (posted before the bot joined): who asked is unknown.
    await adapter.inject(make_message("try pip freeze", author="bob", message_id="z2", thread_id="z1"))
    await app.bus.drain()
    await adapter.inject(ButtonClicked(SOLVED_ACTION, "z1", user("mallory"), channel("general"), "z9", "c1"))
    await app.bus.drain()
    assert "only an admin" in adapter.of_type(SendEphemeral)[-1].text
    solved = "SELECT solved_message_id FROM threads WHERE thread_id = 'z1'"
    assert await app.store.db.fetchone(solved) in (None, (None,))
    click = ButtonClicked(SOLVED_ACTION, "z1", user("gus"), channel("general"), "z9", "c2", is_platform_admin=True)
    await adapter.inject(click)
    await app.bus.drain()
    assert await app.store.db.fetchone(solved) == ("z2",)

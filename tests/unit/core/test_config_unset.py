"""`/guildhall config unset KEY`, `none` for channel lists, and channel settings stored as channel ids."""

from __future__ import annotations

from bot.events import ChannelRef, ChannelSeen, CommandReply, Platform, Visibility
from bot.testing import command, make_message, user


async def config(app, adapter, text: str, *, author=None) -> str:
    await adapter.inject(command("guildhall config", text, admin=True, **({"author": author} if author else {})))
    await app.bus.drain()
    return adapter.of_type(CommandReply)[-1].text


async def setting(app, key: str, platform: str = "console", ws: str = "local"):
    return await app.store.get_workspace_setting(platform, ws, key)


async def test_unset_goes_back_to_the_default(make_app) -> None:
    app, adapter = await make_app()
    await config(app, adapter, "set digest_size 3")
    assert await config(app, adapter, "unset digest_size") == "`digest_size` is back to its default: 5."
    assert await setting(app, "digest_size") is None
    assert "was not set here" in await config(app, adapter, "reset digest_size")
    assert "unknown setting 'nonsense'" in await config(app, adapter, "unset nonsense")
    # Discord's config action offers show and set only: `set KEY default` unsets too.
    await adapter.inject(ChannelSeen(ChannelRef(Platform.CONSOLE, "local", "help", "help", Visibility.PUBLIC)))
    await app.bus.drain()  # recorded first: the recorder and the commands run on separate queues
    await config(app, adapter, "set shadow_channels help")
    assert "back to its default" in await config(app, adapter, "set shadow_channels default")
    assert await setting(app, "shadow_channels") is None
    assert "unset KEY" in await config(app, adapter, "frobnicate")  # the usage names it


async def test_none_empties_a_channel_list(make_app) -> None:
    app, adapter = await make_app()
    for name in ("help", "none"):  # a shadow channel must be one it knows
        await adapter.inject(ChannelSeen(ChannelRef(Platform.CONSOLE, "local", name, name, Visibility.PUBLIC)))
    await app.bus.drain()  # recorded first: the recorder and the commands run on separate queues
    await config(app, adapter, "set shadow_channels #help")
    for word in ("none", "OFF", "-", "[]", '""'):
        await config(app, adapter, "set shadow_channels #help")
        assert await config(app, adapter, f"set shadow_channels {word}") == "`shadow_channels` is now []."
        assert await setting(app, "shadow_channels") == []
    # A channel really called "none" is still #none.
    assert (await config(app, adapter, "set shadow_channels #none")).startswith('`shadow_channels` is now ["none"].')


async def test_none_turns_off_what_unset_means_off(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(make_message("hello", chan="mods"))
    await app.bus.drain()
    await config(app, adapter, "set alerts_channel #mods")
    assert await config(app, adapter, "set alerts_channel none") == (
        "`alerts_channel` is off now (none: trend alerts are not posted)."
    )
    assert await setting(app, "alerts_channel") is None
    await config(app, adapter, "set retention_days 30")
    assert await config(app, adapter, "set retention_days off") == "`retention_days` is off now (keep forever)."
    assert await setting(app, "retention_days") is None
    # Drafts need a channel: none is refused, and says what unset gives.
    reply = await config(app, adapter, "set moderators_channel none")
    assert reply.startswith("Not changed: moderators_channel can't be turned off") and "the alerts channel" in reply


async def test_none_is_refused_when_the_deployment_sets_the_value(make_app, settings) -> None:
    privacy = settings.privacy.model_copy(update={"retention_days": 90})
    app, adapter = await make_app(settings_override=settings.model_copy(update={"privacy": privacy}))
    reply = await config(app, adapter, "set retention_days off")
    assert reply.startswith("Not changed: this deployment sets retention_days to 90")
    assert (
        await config(app, adapter, "unset retention_days")
        == "`retention_days` was not set here; it stays at its default: 90."
    )


async def test_channel_settings_store_the_channel_id(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(make_message("hello", chan="mods"))
    await app.bus.drain()
    # Console: a typed #name of a known channel (console channel ids are their names).
    assert await config(app, adapter, "set moderators_channel #mods") == "`moderators_channel` is now <#mods>."
    assert await setting(app, "moderators_channel") == "mods"
    # A typed name nobody knows, or two words, would send drafts nowhere: refused.
    assert await config(app, adapter, "set moderators_channel #nosuch") == (
        "Not changed: I don't know a channel #nosuch here."
    )
    assert "expects one channel" in await config(app, adapter, "set alerts_channel lol what")
    assert await setting(app, "alerts_channel") is None
    # Slack's mention of a channel the bot has not seen: the platform's pick, stored as its id.
    admin = user("UADMIN", platform=Platform.SLACK, workspace="T1")
    assert await config(app, adapter, "set alerts_channel <#GSECRET|secret>", author=admin) == (
        "`alerts_channel` is now <#GSECRET>."
    )
    assert await setting(app, "alerts_channel", "slack", "T1") == "GSECRET"
    # Discord's mention of a channel: its id; a known channel's name gives its id.
    staff = ChannelRef(Platform.DISCORD, "G1", "555", "staff", Visibility.PRIVATE)
    await adapter.inject(make_message("hi", author=user("9", platform=Platform.DISCORD, workspace="G1"), chan=staff))
    await app.bus.drain()
    mod = user("9", platform=Platform.DISCORD, workspace="G1")
    await config(app, adapter, "set moderators_channel <#777>", author=mod)
    assert await setting(app, "moderators_channel", "discord", "G1") == "777"
    await config(app, adapter, "set alerts_channel #staff", author=mod)
    assert await setting(app, "alerts_channel", "discord", "G1") == "555"
    shown = await config(app, adapter, "show", author=mod)
    assert "• `moderators_channel` = <#777>" in shown and "• `alerts_channel` = <#555>" in shown

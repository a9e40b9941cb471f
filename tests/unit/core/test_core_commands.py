"""Core commands through the shared command path: privacy, admin refusal, unknown commands."""

from __future__ import annotations

import re

from bot.events import ChannelSeen, CommandReply
from bot.testing import channel, command, make_message


def last_reply(adapter) -> CommandReply:
    replies = adapter.of_type(CommandReply)
    assert replies, "no command reply"
    return replies[-1]


async def test_non_admin_is_refused_ephemerally_and_audited(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(command("guildhall config", "set digest_size 3", author="mallory"))
    await app.bus.drain()
    reply = last_reply(adapter)
    assert reply.ephemeral and "for community admins" in reply.text
    assert await app.store.get_workspace_setting("console", "local", "digest_size") is None
    entry = (await app.store.audit_entries())[0]
    assert entry["actor_id"] == "mallory" and entry["allowed"] is False


async def test_admin_can_change_config_with_validation(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(command("guildhall config", "set digest_size 3", admin=True))
    await adapter.inject(command("guildhall config", "set digest_size lots", admin=True))
    await adapter.inject(command("guildhall config", "set nonsense 1", admin=True))
    await app.bus.drain()
    texts = [r.text for r in adapter.of_type(CommandReply)]
    assert await app.store.get_workspace_setting("console", "local", "digest_size") == 3
    assert any("Not changed" in t and "digest_size" in t for t in texts)
    assert any("unknown setting" in t for t in texts)


async def test_numeric_settings_out_of_range_are_refused_by_name(make_app) -> None:
    app, adapter = await make_app()
    for text in ("set exploration_share 2", "set retention_days 0", "set retention_days soon"):
        await adapter.inject(command("guildhall config", text, admin=True))
    await adapter.inject(command("guildhall config", "set exploration_share 0.5", admin=True))
    await app.bus.drain()
    # Commands are handled concurrently, so replies arrive in whatever order the store answers.
    texts = " | ".join(r.text for r in adapter.of_type(CommandReply))
    assert "exploration_share must be between 0 and 1" in texts
    assert "retention_days must be between 1 and 36600" in texts
    assert "retention_days expects a whole number" in texts
    assert await app.store.get_workspace_setting("console", "local", "retention_days") is None
    assert await app.store.get_workspace_setting("console", "local", "exploration_share") == 0.5


async def test_times_and_unbounded_numbers_are_refused_before_they_break_a_job(make_app) -> None:
    # Each was accepted once, and then failed the job that reads it: the digests of every
    # workspace, the human-first wait of every help question, the hourly retention purge.
    app, adapter = await make_app()
    for text in (
        "set digest_time 7pm",
        "set digest_time 99:99",
        "set human_first_minutes inf",
        "set human_first_minutes 1e12",
        "set exploration_share nan",
        "set retention_days 99999999999999",
    ):
        await adapter.inject(command("guildhall config", text, admin=True))
    await app.bus.drain()
    texts = " | ".join(r.text for r in adapter.of_type(CommandReply))
    assert texts.count("digest_time expects a time of day as HH:MM") == 2
    assert texts.count("human_first_minutes must be between 0 and 10080") == 2
    assert "exploration_share must be between 0 and 1" in texts and "retention_days must be between" in texts
    for key in ("digest_time", "human_first_minutes", "exploration_share", "retention_days"):
        assert await app.store.get_workspace_setting("console", "local", key) is None
    await adapter.inject(command("guildhall config", "set digest_time 7:05", admin=True))
    await app.bus.drain()
    assert await app.store.get_workspace_setting("console", "local", "digest_time") == "07:05"


async def test_a_bad_value_stored_before_the_checks_falls_back_to_the_default(make_app, caplog) -> None:
    from bot.core_brain import workspace_config

    app, _ = await make_app()
    await app.store.set_workspace_setting("console", "local", "digest_time", "7pm")
    await app.store.set_workspace_setting("console", "local", "retention_days", 99999999999999)
    assert await workspace_config(app.store, "console", "local", "digest_time", "09:00") == "09:00"
    assert await workspace_config(app.store, "console", "local", "retention_days", None) is None
    assert await workspace_config(app.store, "console", "local", "digest_size", 5) == 5  # unset
    assert "ignoring digest_time = '7pm'" in caplog.text
    assert await app.brain("core").purge_expired() == {}  # no retention: nothing purged, no crash


async def test_optout_then_optin(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(command("optout", author="ana"))
    await app.bus.drain()
    assert await app.store.is_opted_out("console", "local", "ana")
    await adapter.inject(command("optin", author="ana"))
    await app.bus.drain()
    assert not await app.store.is_opted_out("console", "local", "ana")


async def test_forget_me_needs_confirmation_then_erases_text(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(make_message("my api is at internal.example", author="ana", message_id="f1"))
    await adapter.inject(make_message("unrelated", author="bob", message_id="f2"))
    await adapter.inject(command("forget-me", author="ana"))
    await app.bus.drain()
    assert "confirm" in last_reply(adapter).text
    assert (await app.store.get_message("console", "local", "f1")).text != ""  # type: ignore[union-attr]
    await adapter.inject(command("forget-me", "confirm", author="ana"))
    await app.bus.drain()
    gone = await app.store.get_message("console", "local", "f1")
    kept = await app.store.get_message("console", "local", "f2")
    assert gone is not None and gone.text == "" and gone.deleted
    assert kept is not None and kept.text == "unrelated"
    rows = await app.store.db.fetchall("SELECT COUNT(*) FROM messages WHERE text LIKE ?", ("%internal.example%",))
    assert rows[0][0] == 0
    audit = [e for e in await app.store.audit_entries() if e["action"] == "forget-me"]
    assert audit and "internal.example" not in str(audit)


async def test_unknown_command_and_a_crashing_handler_get_answers(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(command("definitely-not-a-command"))
    await app.bus.drain()
    assert "Unknown command" in last_reply(adapter).text


async def test_config_show_gives_each_keys_value_and_says_which_are_defaults(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(command("guildhall config", "set digest_size 3", admin=True))
    await app.bus.drain()
    await adapter.inject(command("guildhall config", "show", admin=True))
    await app.bus.drain()
    lines = {line.split("`")[1]: line for line in last_reply(adapter).text.splitlines() if line.startswith("• `")}
    assert lines["digest_size"] == "• `digest_size` = 3"  # set here: no default marker
    # Not set: the deployment's value, marked as the default, or what unset means.
    assert lines["digest_time"] == '• `digest_time` = "09:00" _(default)_'
    assert lines["exploration_share"] == "• `exploration_share` = 0.2 _(default)_"
    assert lines["retention_days"] == "• `retention_days` = keep forever _(default)_"
    assert lines["moderators_channel"] == "• `moderators_channel` = the alerts channel _(default)_"
    assert lines["shadow_channels"] == "• `shadow_channels` = none _(default)_"


async def test_status_reports_every_brain_without_loading_anything(make_app) -> None:
    app, adapter = await make_app(brains=["qa", "recommend", "activity", "community"])

    async def status() -> list[str]:
        await adapter.inject(command("guildhall status", admin=True))
        await app.bus.drain()
        reply = last_reply(adapter)
        assert reply.ephemeral and reply.text.startswith("**Guildhall status**")
        return reply.text.splitlines()[1:]

    assert "• Index: not loaded yet (it loads with the first question or `/guildhall index`)" in await status()
    await adapter.inject(make_message("asyncio timeouts, anyone?", author="ana", message_id="s1"))
    await adapter.inject(make_message("use asyncio.timeout()", author="bob", message_id="s2", minutes=1))
    await adapter.inject(command("optout", author="bob"))
    await adapter.inject(ChannelSeen(channel("help")))  # a shadow channel must be one it knows
    await app.bus.drain()  # recorded first: the recorder and the commands run on separate queues
    await adapter.inject(command("guildhall config", "set shadow_channels help", admin=True))
    await adapter.inject(command("guildhall config", "set retention_days 30", admin=True))
    await app.bus.drain()
    lines = await status()
    assert lines[0] == "• Brains: qa, recommend, activity, community"
    assert lines[1].startswith("• History: 2 messages by 2 members in 1 channel (latest ")
    assert lines[2] == "• Privacy: 1 member opted out · retention: 30 days"
    assert "• Answers (last 7 days): 0 answered, 0 abstained · feedback 👍 0 / 👎 0" in lines
    # Loaded by the messages' touches; how many changes still wait depends on whether the index's
    # start-up work (a background task that flushes when done) has run yet.
    assert any(
        re.fullmatch(r"• Index: \d+ thread, \d+ conversation and \d+ doc units( · \d+ changes waiting)?", line)
        for line in lines
    )
    assert "• Digest: 0 members subscribed (default off) · 5 threads daily at 09:00, each member's time zone" in lines
    assert any(line.startswith("• Trend alerts: no channel set") for line in lines)
    assert "• Shadow mode: #help · 0 drafts waiting" in lines
    # A question applies the waiting changes: the two messages are one conversation window.
    await adapter.inject(command("ask", "how do I time out an await?", author="cy"))
    await app.bus.drain()
    lines = await status()
    assert "• Index: 0 thread, 1 conversation and 0 doc units" in lines
    assert any(line.startswith("• Answers (last 7 days): ") and "0 answered, 0 abstained" not in line for line in lines)


async def test_status_is_for_admins_only(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(command("guildhall status", author="mallory"))
    await app.bus.drain()
    assert "for community admins" in last_reply(adapter).text


async def test_alerts_channel_must_name_a_channel_it_knows(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(make_message("hello", chan="mods"))  # #mods is known from its history
    await app.bus.drain()
    await adapter.inject(command("guildhall alerts-channel", "#nosuch", admin=True))
    await app.bus.drain()
    assert "I don't know a channel #nosuch here" in last_reply(adapter).text
    assert await app.store.get_workspace_setting("console", "local", "alerts_channel") is None
    await adapter.inject(command("guildhall alerts-channel", "#mods", admin=True))
    await adapter.inject(command("guildhall alerts-channel", "<#CSTAFF|staff>", admin=True))  # Slack's mention
    await app.bus.drain()
    texts = [r.text for r in adapter.of_type(CommandReply)]
    assert "Trend alerts will be posted in <#mods>." in texts and "Trend alerts will be posted in <#CSTAFF>." in texts


async def test_alerts_channel_refuses_a_forum_it_is_run_in(make_app) -> None:
    """Run in a forum post, the command names the forum, which takes no plain messages: `here` is refused."""
    app, adapter = await make_app()
    await adapter.inject(command("guildhall alerts-channel", "here", chan=channel("help", is_forum=True), admin=True))
    await app.bus.drain()
    assert "text channel" in last_reply(adapter).text
    assert await app.store.get_workspace_setting("console", "local", "alerts_channel") is None
    await adapter.inject(make_message("hello", chan="mods"))  # #mods is known from its history
    await app.bus.drain()  # recorded first: the recorder and the commands run on separate queues
    await adapter.inject(command("guildhall alerts-channel", "#mods", chan=channel("help", is_forum=True), admin=True))
    await app.bus.drain()
    assert last_reply(adapter).text == "Trend alerts will be posted in <#mods>."  # a text channel named there


async def test_channel_lists_take_platform_mentions_and_note_unknown_names(make_app) -> None:
    from bot.privacy.policy import may_index

    app, adapter = await make_app()
    await adapter.inject(make_message("hello", chan="general"))
    await app.bus.drain()
    # Slack escapes a typed #name in a slash command as <#C123|name>, Discord as <#123>.
    await adapter.inject(
        command("guildhall config", "set deny_channels <#CSECRET|secret>, #general <#42> nosuch", admin=True)
    )
    await app.bus.drain()
    reply = last_reply(adapter).text
    assert reply.startswith('`deny_channels` is now ["CSECRET", "general", "42", "nosuch"].')
    assert "Note: I don't know #nosuch here yet" in reply  # a mention is the platform's pick: real
    stored = await app.store.get_workspace_setting("console", "local", "deny_channels")
    assert stored == ["CSECRET", "general", "42", "nosuch"]
    # The denied channel, named by its mention, is really denied.
    assert not await may_index(app.store, app.settings, "console", "local", "CSECRET", "secret", "public")
    assert await may_index(app.store, app.settings, "console", "local", "python", "python", "public")


def test_platform_command_names_are_the_slack_adapters_aliases_reversed() -> None:
    from adapters.slack.normalize import COMMAND_ALIASES
    from bot.commands import PLATFORM_COMMAND_NAMES
    from bot.events import Platform

    assert {v: k for k, v in PLATFORM_COMMAND_NAMES[Platform.SLACK].items()} == COMMAND_ALIASES


async def test_help_names_the_help_command_as_each_platform_types_it(make_app) -> None:
    from bot.events import Platform
    from bot.testing import user

    # Slack keeps /help for itself: ours is /guildhall-help there (the adapter maps it back).
    app, adapter = await make_app()
    slack = user("U1", platform=Platform.SLACK, workspace="T1")
    await adapter.inject(command("help", author=slack))
    await app.bus.drain()
    lines = last_reply(adapter).text.splitlines()
    assert "• `/guildhall-help` — What Guildhall can do and how to use it" in lines
    assert not any("`/help`" in line for line in lines)
    assert any(line.startswith("• `/optout`") for line in lines)  # the others keep their names
    await adapter.inject(command("guildhall nosuch", author=slack))
    await app.bus.drain()
    assert last_reply(adapter).text.startswith(
        "Unknown command `/guildhall nosuch`. Try `/guildhall-help` for the list. `/guildhall` commands: `/guildhall "
    )
    # Elsewhere it is /help.
    await adapter.inject(command("nosuch"))
    await adapter.inject(command("help"))
    await app.bus.drain()
    texts = [r.text for r in adapter.of_type(CommandReply)][-2:]
    assert "Unknown command `/nosuch`. Try `/help` for the list." in texts
    assert any("• `/help` — What Guildhall can do" in t for t in texts)


async def test_optin_after_forget_me_says_the_erasure_stays(make_app) -> None:
    # Erasure is permanent: the bot keeps dropping the member's messages, and says so.
    app, adapter = await make_app()
    await adapter.inject(make_message("before", author="bob", message_id="b1"))
    await adapter.inject(command("forget-me", "confirm", author="bob"))
    await app.bus.drain()
    await adapter.inject(command("optin", author="bob"))
    await app.bus.drain()
    text = last_reply(adapter).text
    assert "Welcome back" not in text
    assert text.startswith("You asked Guildhall to forget you, and that is permanent")
    assert await app.store.get_member_setting("console", "local", "bob", "forgotten") is True
    assert await app.store.is_opted_out("console", "local", "bob")
    await adapter.inject(make_message("after", author="bob", message_id="b2"))
    await app.bus.drain()
    assert await app.store.get_message("console", "local", "b2") is None
    refused = [e for e in await app.store.audit_entries() if e["action"] == "optin"]
    assert refused and refused[0]["allowed"] is False


async def test_a_guild_admin_role_does_not_make_discord_dm_commands_admin(make_app, settings) -> None:
    # In a DM the Discord adapter passes the member's roles in every shared guild (they open
    # role-gated channels for /ask); an admin role of one guild must not make the member an admin
    # of the DM workspace, which every member's DMs with the bot share.
    import dataclasses

    from bot.events import Platform
    from bot.testing.builders import user

    discord = settings.discord.model_copy(update={"admin_role_ids": ["900"]})
    app, adapter = await make_app(settings_override=settings.model_copy(update={"discord": discord}))
    in_dm = command(
        "guildhall config", "set digest_size 3", author=user("42", platform=Platform.DISCORD, workspace="@me")
    )
    await adapter.inject(dataclasses.replace(in_dm, role_ids=("900",)))
    in_guild = command(
        "guildhall config", "set digest_size 4", author=user("42", platform=Platform.DISCORD, workspace="1")
    )
    await adapter.inject(dataclasses.replace(in_guild, role_ids=("900",)))
    await app.bus.drain()
    assert await app.store.get_workspace_setting("discord", "@me", "digest_size") is None
    assert await app.store.get_workspace_setting("discord", "1", "digest_size") == 4


async def test_a_huge_channel_list_is_refused(make_app) -> None:
    # 20,000 channels were stored, and the confirmation (every name, 350,000 characters) could not
    # be posted on any platform.
    app, adapter = await make_app()
    huge = " ".join(f"#c{i}" for i in range(20_000))
    await adapter.inject(command("guildhall config", f"set deny_channels {huge}", admin=True))
    await app.bus.drain()
    reply = last_reply(adapter)
    assert "Not changed" in reply.text and "at most" in reply.text and len(reply.text) < 500
    assert await app.store.get_workspace_setting("console", "local", "deny_channels") is None
    await adapter.inject(command("guildhall config", "set deny_channels #a #b", admin=True))
    await app.bus.drain()
    assert await app.store.get_workspace_setting("console", "local", "deny_channels") == ["a", "b"]


async def test_an_unknown_guildhall_subcommand_answers_with_the_subcommands(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(command("guildhall frobnicate", "now", admin=True))
    await app.bus.drain()
    reply = last_reply(adapter)
    assert "Unknown command `/guildhall frobnicate`" in reply.text
    assert "`/guildhall config`" in reply.text and "`/guildhall status`" in reply.text


async def test_status_names_shadow_and_help_channels_stored_by_id(make_app) -> None:
    # A typed channel name is stored as its id: the status shows the name members know.
    import dataclasses

    app, adapter = await make_app(brains=["qa", "community"])
    desk = dataclasses.replace(channel("C77"), name="help-desk")
    await adapter.inject(ChannelSeen(desk))
    await app.bus.drain()  # recorded first: the recorder and the commands run on separate queues
    await adapter.inject(command("guildhall config", "set shadow_channels help-desk", admin=True))
    await adapter.inject(command("guildhall config", "set qa_help_channels help-desk", admin=True))
    await app.bus.drain()
    assert await app.store.get_workspace_setting("console", "local", "shadow_channels") == ["C77"]
    await adapter.inject(command("guildhall status", admin=True))
    await app.bus.drain()
    lines = last_reply(adapter).text.splitlines()
    assert "• Shadow mode: #help-desk · 0 drafts waiting" in lines
    assert any(line.startswith("• Help channels: #help-desk") for line in lines), lines

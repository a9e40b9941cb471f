"""A Discord user id names one person in every guild and in DMs with the bot (workspace ``@me``):
``/optout``, ``/optin`` and ``/forget-me`` act in all of them. Slack ids are per team: one team only."""

from __future__ import annotations

from bot.events import ChannelRef, ChannelSeen, CommandReply, Platform, UserRef, Visibility
from bot.testing import channel, command, make_message, user
from bot.testing.builders import BASE_TIME

GUILD = "900000000000000001"
DM = "@me"
DM_CHANNEL = ChannelRef(Platform.DISCORD, DM, "960000000000000001", "", Visibility.DM)


def alice(workspace: str) -> UserRef:
    return user("alice", platform=Platform.DISCORD, workspace=workspace)


def in_guild(name: str) -> ChannelRef:
    return channel(name, platform=Platform.DISCORD, workspace=GUILD)


async def seed(app, adapter) -> None:
    """Alice posted in the guild (named Acme) and wrote to the bot in a DM."""
    await adapter.inject(ChannelSeen(in_guild("general"), ts=BASE_TIME, workspace_name="Acme"))
    await adapter.inject(make_message("guild words", author=alice(GUILD), chan=in_guild("general"), message_id="g1"))
    await adapter.inject(make_message("my DM to the bot", author=alice(DM), chan=DM_CHANNEL, message_id="d1"))
    await app.bus.drain()


def reply(adapter) -> str:
    return adapter.of_type(CommandReply)[-1].text


async def test_discord_dm_workspace_is_the_adapters() -> None:
    from adapters.discord.normalize import DM_WORKSPACE
    from bot.core_brain import DISCORD_DM_WORKSPACE

    assert DISCORD_DM_WORKSPACE == DM_WORKSPACE


async def test_optout_and_forget_me_in_a_dm_cover_the_guild(make_app) -> None:
    app, adapter = await make_app(brains=["activity", "recommend", "community"])
    await seed(app, adapter)
    await adapter.inject(command("optout", author=alice(DM), chan=DM_CHANNEL))
    await app.bus.drain()
    assert await app.store.is_opted_out("discord", GUILD, "alice")
    assert await app.store.is_opted_out("discord", DM, "alice")
    assert "opted out in your direct messages with Guildhall and Acme" in reply(adapter)

    await adapter.inject(command("forget-me", "confirm", author=alice(DM), chan=DM_CHANNEL))
    await app.bus.drain()
    assert "erased (in your direct messages with Guildhall and Acme)" in reply(adapter)
    for ws, mid in ((GUILD, "g1"), (DM, "d1")):
        row = await app.store.get_message("discord", ws, mid)
        assert row is not None and row.text == "" and row.deleted
        assert await app.store.get_member_setting("discord", ws, "alice", "forgotten") is True
    assert alice(GUILD) in await app.services.get("forgotten")
    # Each workspace's erasure is audited there, without content.
    audited = {(e["workspace_id"], e["action"]) for e in await app.store.audit_entries()}
    assert {(GUILD, "forget-me"), (DM, "forget-me")} <= audited
    # What alice posts in the guild afterwards is dropped there too.
    await adapter.inject(make_message("after", author=alice(GUILD), chan=in_guild("general"), message_id="g2"))
    await app.bus.drain()
    assert await app.store.get_message("discord", GUILD, "g2") is None


async def test_forget_me_in_the_guild_erases_the_dm_and_its_questions(make_app) -> None:
    app, adapter = await make_app(brains=["qa"])
    await seed(app, adapter)
    await adapter.inject(command("ask", "how do I rotate my keys?", author=alice(DM), chan=DM_CHANNEL))
    await app.bus.drain()
    asked = "SELECT COUNT(*) FROM qa_answers WHERE platform = 'discord' AND workspace_id = ? AND asker_id = 'alice'"
    assert (await app.store.db.fetchone(asked, (DM,)))[0] >= 1  # type: ignore[index]
    await adapter.inject(command("forget-me", "confirm", author=alice(GUILD), chan=in_guild("general")))
    await app.bus.drain()
    dm = await app.store.get_message("discord", DM, "d1")
    assert dm is not None and dm.text == "" and dm.deleted
    assert (await app.store.db.fetchone(asked, (DM,)))[0] == 0  # type: ignore[index]
    assert "erased (in Acme and your direct messages with Guildhall)" in reply(adapter)


async def test_optin_acts_everywhere_but_never_undoes_an_erasure(make_app) -> None:
    app, adapter = await make_app()
    await seed(app, adapter)
    await adapter.inject(command("optout", author=alice(GUILD), chan=in_guild("general")))
    await app.bus.drain()
    await adapter.inject(command("optin", author=alice(DM), chan=DM_CHANNEL))
    await app.bus.drain()
    assert not await app.store.is_opted_out("discord", GUILD, "alice")
    assert "Welcome back in your direct messages with Guildhall and Acme" in reply(adapter)


async def test_slack_ids_are_per_team(make_app) -> None:
    app, adapter = await make_app()
    for team, mid in (("T1", "s1"), ("T2", "s2")):
        ana = user("U1", platform=Platform.SLACK, workspace=team)
        await adapter.inject(make_message("slack words", author=ana, message_id=mid))
    await app.bus.drain()
    await adapter.inject(command("forget-me", "confirm", author=user("U1", platform=Platform.SLACK, workspace="T1")))
    await adapter.inject(command("optout", author=user("U1", platform=Platform.SLACK, workspace="T1")))
    await app.bus.drain()
    assert (await app.store.get_message("slack", "T1", "s1")).text == ""  # type: ignore[union-attr]
    assert (await app.store.get_message("slack", "T2", "s2")).text == "slack words"  # type: ignore[union-attr]
    assert not await app.store.is_opted_out("slack", "T2", "U1")
    assert not any("direct messages" in r.text for r in adapter.of_type(CommandReply))  # one team named


async def test_a_guild_joined_after_forget_me_does_not_bring_the_members_words_back(make_app) -> None:
    from bot.events import EventSource

    app, adapter = await make_app(brains=["qa", "activity"])
    await seed(app, adapter)
    await adapter.inject(command("forget-me", "confirm", author=alice(DM), chan=DM_CHANNEL))
    await app.bus.drain()
    # The bot is added to a second guild where alice posted long ago; its backfill (and her live
    # messages there) carry the same global Discord user id.
    other = channel("general", platform=Platform.DISCORD, workspace="900000000000000002")
    old = make_message(
        "alice's old zebrafish secret", author=alice(other.workspace_id), chan=other, source=EventSource.BACKFILL
    )
    assert await app.bus.publish(old) is False
    await adapter.inject(make_message("alice again", author=alice(other.workspace_id), chan=other))
    await app.bus.drain()
    assert await app.store.db.fetchall("SELECT text FROM messages WHERE author_id = 'alice' AND text <> ''") == []
    # `/optin` there does not promise that her messages count again.
    await adapter.inject(command("optin", author=alice(other.workspace_id), chan=other))
    await app.bus.drain()
    assert "Welcome back" not in reply(adapter) and "permanent" in reply(adapter)


async def test_a_discord_forget_made_by_another_process_covers_every_guild(make_app) -> None:
    from bot.privacy.forgotten import ForgottenMembers

    app, _ = await make_app()
    await app.store.set_member_setting("discord", GUILD, "alice", "forgotten", True)
    forgotten = ForgottenMembers()
    assert [u.user_id for u in await forgotten.load(app.store)] == ["alice"]
    assert alice("900000000000000002") in forgotten
    assert user("alice", platform=Platform.SLACK, workspace=GUILD) not in forgotten  # Slack ids are per team


async def test_a_data_access_request_covers_the_members_dms_and_other_guilds(make_app) -> None:
    app, adapter = await make_app(brains=["qa"])
    await seed(app, adapter)
    await adapter.inject(command("ask", "how do I rotate my zebrafish keys?", author=alice(DM), chan=DM_CHANNEL))
    await app.bus.drain()
    data = await app.brain("core").export(alice(GUILD))  # type: ignore[attr-defined]
    assert [m["text"] for m in data["messages"]] == ["guild words"]
    dm = data["other_workspaces"][DM]
    assert [m["text"] for m in dm["messages"]] == ["my DM to the bot"]
    assert "how do I rotate my zebrafish keys?" in [q["question"] for q in dm["qa"]["questions"]]
    # Slack ids are per team: nothing of another team is added.
    slack = await app.brain("core").export(user("alice", platform=Platform.SLACK, workspace="T1"))  # type: ignore[attr-defined]
    assert "other_workspaces" not in slack

"""A Discord user id is one person in every server: privacy commands reach every server where any
brain holds something of the member (not only stored messages), and an opt-out follows the member
to servers where they act later."""

from __future__ import annotations

import pytest

from bot.events import ChannelRef, ChannelSeen, CommandReply, Platform, UserRef
from bot.testing import ScriptedLLM, channel, command, make_message, user
from bot.testing.builders import BASE_TIME

ACME, BETA, GAMMA = "900000000000000001", "900000000000000002", "900000000000000003"
NAMES = {ACME: "Acme", BETA: "Beta", GAMMA: "Gamma"}


def alice(ws: str) -> UserRef:
    return user("alice", platform=Platform.DISCORD, workspace=ws)


def chan(ws: str) -> ChannelRef:
    return channel("general", platform=Platform.DISCORD, workspace=ws)


async def guilds(adapter, *workspaces: str) -> None:
    for ws in workspaces:
        await adapter.inject(ChannelSeen(chan(ws), ts=BASE_TIME, workspace_name=NAMES[ws]))


async def test_forget_and_export_reach_a_server_where_the_member_only_asked(make_app) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("The vault is rotated weekly."))
    await guilds(adapter, ACME, BETA)
    bob = user("bob", platform=Platform.DISCORD, workspace=BETA)
    await adapter.inject(make_message("the vault code rotates weekly", author=bob, chan=chan(BETA), message_id="b1"))
    await adapter.inject(make_message("alice posts in acme", author=alice(ACME), chan=chan(ACME), message_id="a1"))
    await app.bus.drain()
    # In Beta alice only used /ask: a command, never a stored message, reaction or profile row.
    await adapter.inject(command("ask", "zebra 4711: when is the vault rotated?", author=alice(BETA), chan=chan(BETA)))
    await app.bus.drain()

    export = await app.brain("core").export(alice(ACME))  # type: ignore[attr-defined]
    asked = export["other_workspaces"][BETA]["qa"]["questions"]
    assert [q["question"] for q in asked] == ["zebra 4711: when is the vault rotated?"]

    await adapter.inject(command("forget-me", "confirm", author=alice(ACME), chan=chan(ACME)))
    await app.bus.drain()
    assert "Beta" in adapter.of_type(CommandReply)[-1].text
    assert await app.store.db.fetchall("SELECT question FROM qa_answers WHERE asker_id = 'alice'") == []
    audited = {(e["workspace_id"], e["action"]) for e in await app.store.audit_entries()}
    assert (BETA, "forget-me") in audited


# A row each brain keeps of a member, in a server where nothing else of them is stored (their
# messages there expired, or they never posted there).
BRAIN_ROWS = {
    "community": [
        "INSERT INTO community_pings (platform, workspace_id, user_id, day, count) "
        "VALUES ('discord', ?, 'alice', '2024-03-01', 1)",
        "INSERT INTO community_drafts (draft_id, platform, workspace_id, channel_json, message_id, asker_id, "
        "answer, citations_json, status, ts) VALUES ('d1', 'discord', ?, '{}', 'q1', 'alice', 'a', '[]', 'pending', 1)",
    ],
    "activity": [
        "INSERT INTO activity_rollup (platform, workspace_id, day, channel_id, user_id, messages) "
        "VALUES ('discord', ?, '2024-03-01', 'c1', 'alice', 1)",
        "INSERT INTO activity_reactions (platform, workspace_id, message_id, user_id, emoji, ts) "
        "VALUES ('discord', ?, 'm1', 'alice', 'x', 1)",
        "INSERT INTO activity_contrib (platform, workspace_id, message_id, channel_id, author_id, day, ts) "
        "VALUES ('discord', ?, 'm2', 'c1', 'alice', '2024-03-01', 1)",
    ],
    "recommend": [
        "INSERT INTO recommend_profiles (platform, workspace_id, user_id, vector, updated_ts, events) "
        "VALUES ('discord', ?, 'alice', '[]', 1, 1)",
        "INSERT INTO recommend_shown (platform, workspace_id, user_id, thread_id, channel_id, shown_ts) "
        "VALUES ('discord', ?, 'alice', 't1', 'c1', 1)",
        "INSERT INTO recommend_feedback (platform, workspace_id, user_id, thread_id, channel_id, kind, ts) "
        "VALUES ('discord', ?, 'alice', 't1', 'c1', 'up', 1)",
    ],
}


@pytest.mark.parametrize("brain", sorted(BRAIN_ROWS))
async def test_every_server_where_a_brain_holds_the_member_is_reached(make_app, brain: str) -> None:
    app, adapter = await make_app(brains=[brain])
    await adapter.inject(make_message("alice posts in acme", author=alice(ACME), chan=chan(ACME), message_id="a1"))
    await app.bus.drain()
    core = app.brain("core")
    for n, sql in enumerate(BRAIN_ROWS[brain]):
        ws = f"91000000000000000{n}"  # one server per table: each table alone must be enough
        await app.store.db.execute(sql, (ws,))
        reached = {m.workspace_id for m in await core.member_everywhere(alice(ACME))}  # type: ignore[attr-defined]
        assert ws in reached, sql
    await core.forget(alice(ACME))  # type: ignore[attr-defined]
    for n, sql in enumerate(BRAIN_ROWS[brain]):
        table = sql.split()[2]
        left = await app.store.db.fetchall(
            f"SELECT COUNT(*) FROM {table} WHERE workspace_id = ? AND "
            f"{'author_id' if table == 'activity_contrib' else 'asker_id' if table == 'community_drafts' else 'user_id'}"
            " = 'alice'",
            (f"91000000000000000{n}",),
        )
        assert left == [(0,)], table


async def test_an_opt_out_follows_the_member_to_a_server_met_later(make_app) -> None:
    app, adapter = await make_app(brains=["qa", "activity"], llm=ScriptedLLM("NOT_FOUND"))
    await guilds(adapter, ACME)
    await adapter.inject(make_message("alice posts in acme", author=alice(ACME), chan=chan(ACME), message_id="a1"))
    await app.bus.drain()
    await adapter.inject(command("optout", author=alice(ACME), chan=chan(ACME)))
    await app.bus.drain()
    # Later the bot joins Beta (or alice posts there for the first time).
    await guilds(adapter, BETA)
    await adapter.inject(
        make_message("alice's zebra 4711 plan in beta", author=alice(BETA), chan=chan(BETA), message_id="a2", minutes=5)
    )
    await app.bus.drain()
    assert await app.store.is_opted_out("discord", BETA, "alice")
    indexer = await app.brain("qa").indexer()  # type: ignore[attr-defined]
    await indexer.flush()
    assert indexer.units_with_author("discord", BETA, "alice") == []
    counted = await app.store.db.fetchall(
        "SELECT COUNT(*) FROM activity_rollup WHERE workspace_id = ? AND user_id = 'alice'", (BETA,)
    )
    assert counted == [(0,)]
    audited = {(e["workspace_id"], e["action"]) for e in await app.store.audit_entries()}
    assert (BETA, "optout") in audited


async def test_optin_clears_the_opt_out_everywhere_and_it_no_longer_follows(make_app) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    await guilds(adapter, ACME, BETA)
    await adapter.inject(make_message("alice posts in acme", author=alice(ACME), chan=chan(ACME), message_id="a1"))
    await app.bus.drain()
    await adapter.inject(command("optout", author=alice(ACME), chan=chan(ACME)))
    await app.bus.drain()
    await adapter.inject(make_message("in beta while out", author=alice(BETA), chan=chan(BETA), message_id="b1"))
    await app.bus.drain()
    assert await app.store.is_opted_out("discord", BETA, "alice")
    await adapter.inject(command("optin", author=alice(ACME), chan=chan(ACME)))
    await app.bus.drain()
    assert not await app.store.is_opted_out("discord", BETA, "alice")
    await guilds(adapter, GAMMA)
    await adapter.inject(
        make_message("gamma words after optin", author=alice(GAMMA), chan=chan(GAMMA), message_id="c1")
    )
    await app.bus.drain()
    assert not await app.store.is_opted_out("discord", GAMMA, "alice")
    indexer = await app.brain("qa").indexer()  # type: ignore[attr-defined]
    await indexer.flush()
    assert indexer.units_with_author("discord", GAMMA, "alice")


async def test_an_opt_out_made_by_another_process_follows_once_loaded(make_app) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    # Another process (a worker behind Redis) handled /optout; this one reads it within a minute.
    await app.store.set_member_setting("discord", ACME, "alice", "opted_out", True)
    await (await app.services.get("forgotten")).load(app.store)
    await guilds(adapter, BETA)
    await adapter.inject(make_message("beta words", author=alice(BETA), chan=chan(BETA), message_id="b1"))
    await app.bus.drain()
    assert await app.store.is_opted_out("discord", BETA, "alice")


async def test_a_slack_opt_out_stays_in_its_team(make_app) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM("NOT_FOUND"))
    t1 = channel("general", platform=Platform.SLACK, workspace="T1")
    t2 = channel("general", platform=Platform.SLACK, workspace="T2")
    await adapter.inject(make_message("hi", author=user("U1", platform=Platform.SLACK, workspace="T1"), chan=t1))
    await app.bus.drain()
    await adapter.inject(command("optout", author=user("U1", platform=Platform.SLACK, workspace="T1"), chan=t1))
    await app.bus.drain()
    # Slack ids are per team: U1 in T2 is someone else.
    await adapter.inject(
        make_message("other team", author=user("U1", platform=Platform.SLACK, workspace="T2"), chan=t2, message_id="s2")
    )
    await app.bus.drain()
    assert await app.store.is_opted_out("slack", "T1", "U1")
    assert not await app.store.is_opted_out("slack", "T2", "U1")

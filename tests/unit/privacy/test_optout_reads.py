"""What the Discord opt-out gate reads: a member is looked up until the store knows them in the
server, then no more. A member who only reacts is known there too (the recorder gives them a
``users`` row), and that row is reached by ``/optout`` and erased by ``/forget-me`` like any other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from bot.app import GuildhallApp
from bot.events import ChannelRef, ChannelSeen, CommandReply, Platform, ReactionAdded, UserRef
from bot.testing import FakeAdapter, channel, command, make_message, user
from bot.testing.builders import BASE_TIME

ACME, BETA = "900000000000000001", "900000000000000002"
REACTIONS = 12


def member(name: str, ws: str) -> UserRef:
    return user(name, platform=Platform.DISCORD, workspace=ws)


def chan(ws: str) -> ChannelRef:
    return channel("general", platform=Platform.DISCORD, workspace=ws)


def reaction(ws: str, n: int) -> ReactionAdded:
    """alice's ``n``-th reaction, to bob's message in ``ws``."""
    return ReactionAdded(chan(ws), "m1", member("alice", ws), f"emoji{n}", BASE_TIME, "bob")


def gate_reads_of(app: GuildhallApp, monkeypatch: pytest.MonkeyPatch, user_id: str) -> list[int]:
    """A list that grows by one at each read of the gate's look-up naming ``user_id``."""
    db: Any = app.store.db
    real = db.fetchall
    reads: list[int] = []

    async def counting(sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if "FROM member_settings" in sql and "FROM users" in sql and user_id in params:
            reads.append(1)
        rows: list[Any] = await real(sql, params)
        return rows

    monkeypatch.setattr(db, "fetchall", counting)
    return reads


async def a_server_where_bob_posted(adapter: FakeAdapter, app: GuildhallApp, ws: str) -> None:
    await adapter.inject(ChannelSeen(chan(ws), ts=BASE_TIME, workspace_name=ws))
    await adapter.inject(make_message("bob's question", author=member("bob", ws), chan=chan(ws), message_id="m1"))
    await app.bus.drain()


async def test_a_member_who_only_reacts_is_looked_up_until_the_store_knows_them(
    make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, adapter = await make_app()
    await a_server_where_bob_posted(adapter, app, BETA)
    reads = gate_reads_of(app, monkeypatch, "alice")
    for n in range(REACTIONS):
        await adapter.inject(reaction(BETA, n))
        await app.bus.drain()
    # Her first reaction is looked up; the next one finds her users row (stored with the first)
    # and the pair is remembered. Before the recorder stored reactors, every reaction read.
    assert len(reads) <= 2, f"{len(reads)} reads for {REACTIONS} reactions"
    stored = await app.store.db.fetchall("SELECT COUNT(*) FROM reactions WHERE user_id = 'alice'")
    assert stored == [(REACTIONS,)]


async def test_a_reactors_row_keeps_what_is_stored_and_is_reached_and_erased(make_app) -> None:
    app, adapter = await make_app()
    await a_server_where_bob_posted(adapter, app, ACME)
    await a_server_where_bob_posted(adapter, app, BETA)
    ci = UserRef(Platform.DISCORD, BETA, "ci", "CI", True)
    await adapter.inject(make_message("build passed", author=ci, chan=chan(BETA), message_id="m2"))
    await app.bus.drain()
    # A reaction's ref may carry no name and say "not a bot" (a Discord removal, Slack): it never
    # overwrites a stored row.
    await adapter.inject(ReactionAdded(chan(BETA), "m1", UserRef(Platform.DISCORD, BETA, "ci", ""), "eyes", BASE_TIME))
    await adapter.inject(reaction(BETA, 0))
    await app.bus.drain()
    stored_ci, alice = (
        await app.store.get_user("discord", BETA, "ci"),
        await app.store.get_user("discord", BETA, "alice"),
    )
    assert stored_ci is not None and (stored_ci.name, stored_ci.is_bot) == ("CI", True)
    assert alice is not None and alice.name == "alice"
    # alice posts in Acme and opts out there: Beta, where she only reacted, has the setting too.
    await adapter.inject(make_message("alice in acme", author=member("alice", ACME), chan=chan(ACME), message_id="a1"))
    await adapter.inject(command("optout", author=member("alice", ACME), chan=chan(ACME)))
    await app.bus.drain()
    assert await app.store.is_opted_out("discord", BETA, "alice")
    await adapter.inject(command("forget-me", "confirm", author=member("alice", ACME), chan=chan(ACME)))
    await app.bus.drain()
    assert "erased" in adapter.of_type(CommandReply)[-1].text  # type: ignore[attr-defined]
    assert await app.store.db.fetchall(
        "SELECT workspace_id, name FROM users WHERE user_id = 'alice' ORDER BY workspace_id"
    ) == [(ACME, ""), (BETA, "")]


async def test_a_bot_seen_only_through_a_nameless_reaction_gets_no_row_nor_digests(make_app) -> None:
    """A Discord reaction removal names no member (and says "not a bot" for a bot): a row from it
    made a bot a member the digest went to, with the digest on by default."""
    from bot.events import ReactionRemoved

    app, adapter = await make_app()
    await a_server_where_bob_posted(adapter, app, BETA)
    pollbot = UserRef(Platform.DISCORD, BETA, "pollbot", "")  # what a removal carries
    await adapter.inject(ReactionRemoved(chan(BETA), "m1", pollbot, "one", BASE_TIME))
    # In one batch, the profile of an add is kept over the nameless removal after it.
    await app.bus.publish_many(
        [
            ReactionAdded(
                chan(BETA), "m1", UserRef(Platform.DISCORD, BETA, "votebot", "VoteBot", True), "a", BASE_TIME
            ),
            ReactionRemoved(chan(BETA), "m1", UserRef(Platform.DISCORD, BETA, "votebot", ""), "a", BASE_TIME),
        ]
    )
    await app.bus.drain()
    assert await app.store.get_user("discord", BETA, "pollbot") is None
    votebot = await app.store.get_user("discord", BETA, "votebot")
    assert votebot is not None and (votebot.name, votebot.is_bot) == ("VoteBot", True)

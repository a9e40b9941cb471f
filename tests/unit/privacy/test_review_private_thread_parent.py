"""A Discord private thread follows its parent channel's access, also when the parent changes later.

A private thread is stored as a private channel of its own (its owner, known members and posters,
``parent_id``); the parent's overwrite denials were copied onto it only when it was created. Before,
a member the parent shut out later (an overwrite of their own, a denied role, the parent made
private without them) kept reading the thread through the bot: QA scopes and recommendations,
although Discord hides a private thread from anyone who cannot view its parent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.events import ChannelRef, ChannelSeen, Platform, ThreadCreated, UserRef, Visibility
from bot.testing import make_message, user
from bot.testing.builders import BASE_TIME
from brain.qa.access import scope_for

LATER = BASE_TIME + timedelta(hours=1)  # a ChannelSeen's id holds its time: a later one is a new fact

GUILD = "900000000000000001"  # also the @everyone role's id
PARENT, THREAD, PUBLIC_THREAD, SIBLING = (
    "910000000000000001",
    "910000000000000002",
    "910000000000000003",
    "910000000000000004",
)
HIDDEN_ROLE, OTHER_ROLE = "920000000000000001", "920000000000000002"
ALICE, CAROL = "930000000000000001", "930000000000000002"


def member(user_id: str) -> UserRef:
    return user(user_id, platform=Platform.DISCORD, workspace=GUILD)


def parent_ref(visibility: Visibility = Visibility.PUBLIC, **access: Any) -> ChannelRef:
    """#python as the adapter's ``channel_ref`` reports it (restricted: @everyone plus denials)."""
    return ChannelRef(Platform.DISCORD, GUILD, PARENT, "python", visibility, **access)


def thread_ref(thread_id: str = THREAD, parent_id: str = PARENT) -> ChannelRef:
    """A private thread as ``private_thread_ref`` reports it, under a parent with no denials."""
    return ChannelRef(
        Platform.DISCORD,
        GUILD,
        thread_id,
        "incident",
        Visibility.PRIVATE,
        allowed_user_ids=(ALICE,),
        parent_id=parent_id,
    )


async def open_private_thread(adapter: Any, thread_id: str = THREAD, parent_id: str = PARENT) -> None:
    """Alice opens a private thread; Alice and Carol post in it (posting makes a reader)."""
    ref = thread_ref(thread_id, parent_id)
    await adapter.inject(ThreadCreated(ref, thread_id, "incident", member(ALICE), BASE_TIME))
    for author in (ALICE, CAROL):
        await adapter.inject(make_message("rotating keys", author=member(author), chan=ref, thread_id=thread_id))


async def readable(app: Any, user_id: str, *roles: str) -> set[str]:
    """What ``user_id`` reads in the guild; ``roles`` given: their roles are known (@everyone added)."""
    return await app.store.readable_channel_ids("discord", GUILD, user_id, (GUILD, *roles) if roles else ())


async def started(make_app: Any) -> tuple[Any, Any]:
    """An app where #python (public) holds Alice's private thread, Carol posting in it."""
    app, adapter = await make_app()
    await adapter.inject(ChannelSeen(parent_ref(), ts=BASE_TIME, workspace_name="Acme"))
    await open_private_thread(adapter)
    await app.bus.drain()
    assert THREAD in await readable(app, CAROL, OTHER_ROLE)  # as Discord shows it to her
    return app, adapter


async def test_a_member_the_parent_denies_later_loses_its_private_thread(make_app: Any) -> None:
    app, adapter = await started(make_app)
    denied = parent_ref(Visibility.RESTRICTED, allowed_role_ids=(GUILD,), denied_user_ids=(CAROL,))
    await adapter.inject(ChannelSeen(denied, ts=LATER))
    await app.bus.drain()
    assert THREAD not in await readable(app, CAROL, OTHER_ROLE)
    assert THREAD not in await readable(app, CAROL)  # roles unknown (a digest)
    assert {PARENT, THREAD} <= await readable(app, ALICE, OTHER_ROLE)  # others read both as before


async def test_a_dm_question_of_a_member_the_parent_denies_later_is_not_answered_from_the_thread(
    make_app: Any,
) -> None:
    """The reported path: a DM question is answered from the member's guild, scoped by what they read."""
    app, adapter = await started(make_app)
    dm = ChannelRef(Platform.DISCORD, "@me", "940000000000000001", "", Visibility.DM)
    scope = await scope_for(app.store, dm, CAROL, (GUILD, OTHER_ROLE))
    assert scope.workspace_id == GUILD and scope.allows_channel(THREAD, Visibility.PRIVATE.value)
    denied = parent_ref(Visibility.RESTRICTED, allowed_role_ids=(GUILD,), denied_user_ids=(CAROL,))
    await adapter.inject(ChannelSeen(denied, ts=LATER))
    await app.bus.drain()
    scope = await scope_for(app.store, dm, CAROL, (GUILD, OTHER_ROLE))
    assert not scope.allows_channel(THREAD, Visibility.PRIVATE.value)
    assert not scope.allows_channel(PARENT, Visibility.RESTRICTED.value)


async def test_a_role_the_parent_denies_later_closes_its_private_thread_to_holders(make_app: Any) -> None:
    app, adapter = await started(make_app)
    denied = parent_ref(Visibility.RESTRICTED, allowed_role_ids=(GUILD,), denied_role_ids=(HIDDEN_ROLE,))
    await adapter.inject(ChannelSeen(denied, ts=LATER))
    await app.bus.drain()
    assert THREAD not in await readable(app, CAROL, HIDDEN_ROLE)
    assert THREAD not in await readable(app, ALICE, HIDDEN_ROLE, OTHER_ROLE)  # even its owner
    assert THREAD in await readable(app, CAROL, OTHER_ROLE)  # not holding it, she still views #python


async def test_a_parent_made_private_without_the_member_closes_its_private_thread(make_app: Any) -> None:
    app, adapter = await started(make_app)
    await adapter.inject(ChannelSeen(parent_ref(Visibility.PRIVATE, allowed_user_ids=(ALICE,)), ts=LATER))
    await app.bus.drain()
    assert THREAD not in await readable(app, CAROL, OTHER_ROLE)
    assert {PARENT, THREAD} <= await readable(app, ALICE, OTHER_ROLE)


async def test_a_parent_made_private_for_a_role_opens_the_thread_to_its_readers_only(make_app: Any) -> None:
    app, adapter = await started(make_app)
    gated = parent_ref(Visibility.PRIVATE, allowed_role_ids=(OTHER_ROLE,))
    await adapter.inject(ChannelSeen(gated, ts=LATER))
    await app.bus.drain()
    assert THREAD in await readable(app, CAROL, OTHER_ROLE)
    assert THREAD not in await readable(app, CAROL, HIDDEN_ROLE)
    assert THREAD not in await readable(app, CAROL)  # roles unknown: the parent's role stays closed


async def test_a_private_thread_of_a_public_unchanged_parent_stays_readable(make_app: Any) -> None:
    app, adapter = await started(make_app)
    await adapter.inject(ChannelSeen(parent_ref(), ts=LATER))  # seen again, still public
    await app.bus.drain()
    for roles in ((OTHER_ROLE,), ()):
        assert {PARENT, THREAD} <= await readable(app, CAROL, *roles)
        assert {PARENT, THREAD} <= await readable(app, ALICE, *roles)
    assert THREAD not in await readable(app, "930000000000000009", OTHER_ROLE)  # never in it: as before


async def test_a_private_thread_whose_parent_the_store_does_not_hold_keeps_its_own_list(make_app: Any) -> None:
    app, adapter = await make_app()
    unknown_parent = "910000000000000099"
    await open_private_thread(adapter, SIBLING, unknown_parent)
    await app.bus.drain()
    assert SIBLING in await readable(app, CAROL, OTHER_ROLE)
    assert SIBLING not in await readable(app, "930000000000000009", OTHER_ROLE)


async def test_public_threads_and_forum_posts_follow_their_parent_as_before(make_app: Any) -> None:
    """A public thread (or forum post) is stored under its parent's row, with no row of its own."""
    app, adapter = await make_app()
    await adapter.inject(ChannelSeen(parent_ref(), ts=BASE_TIME, workspace_name="Acme"))
    await adapter.inject(ThreadCreated(parent_ref(), PUBLIC_THREAD, "help", member(ALICE), BASE_TIME))
    await adapter.inject(
        make_message("public answer", author=member(CAROL), chan=parent_ref(), thread_id=PUBLIC_THREAD)
    )
    await open_private_thread(adapter)
    await app.bus.drain()
    assert await app.store.get_channel("discord", GUILD, PUBLIC_THREAD) is None
    assert PARENT in await readable(app, CAROL, OTHER_ROLE)
    assert PARENT in await readable(app, "930000000000000009")  # anyone, roles known or not
    denied = parent_ref(Visibility.RESTRICTED, allowed_role_ids=(GUILD,), denied_user_ids=(CAROL,))
    await adapter.inject(ChannelSeen(denied, ts=LATER))
    await app.bus.drain()
    # The parent's public thread is the parent's to read, as before; the private one goes with it.
    assert await readable(app, ALICE, OTHER_ROLE) >= {PARENT, THREAD}
    assert PARENT in await readable(app, "930000000000000009", OTHER_ROLE)
    assert PARENT not in await readable(app, CAROL, OTHER_ROLE)


async def test_slack_private_channels_and_discord_dms_are_unaffected(make_app: Any) -> None:
    app, adapter = await make_app()
    team = "T1"
    slack_private = ChannelRef(Platform.SLACK, team, "C1", "ops", Visibility.PRIVATE)
    slack_public = ChannelRef(Platform.SLACK, team, "C2", "general", Visibility.PUBLIC)
    await adapter.inject(ChannelSeen(slack_private, ts=BASE_TIME, member_ids=("U1",), workspace_name="Acme"))
    await adapter.inject(ChannelSeen(slack_public, ts=BASE_TIME))
    slack_user = user("U2", platform=Platform.SLACK, workspace=team)
    await adapter.inject(make_message("deploy notes", author=slack_user, chan=slack_private))
    dm = ChannelRef(Platform.DISCORD, "@dm", "940000000000000001", "", Visibility.DM)
    await adapter.inject(
        make_message("hi bot", author=user(ALICE, platform=Platform.DISCORD, workspace="@dm"), chan=dm)
    )
    await app.bus.drain()
    assert await app.store.readable_channel_ids("slack", team, "U1") == {"C1", "C2"}
    assert await app.store.readable_channel_ids("slack", team, "U2") == {"C1", "C2"}
    assert await app.store.readable_channel_ids("slack", team, "U3") == {"C2"}
    assert await app.store.readable_channel_ids("discord", "@dm", ALICE) == {"940000000000000001"}

"""Slack guests read only the channels they are in: their answers and recommendations draw from
those alone. Before, a guest's DM (or a question they asked) was answered from every public
channel of the workspace."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.events import ChannelRef, ChannelSeen, Platform, UserRef, Visibility
from bot.store import UserRow
from bot.testing import ScriptedLLM, make_message
from brain.qa.access import scope_for
from tests.unit.qa.test_access_dm import allowing_private, echo_first_source, post

S = Platform.SLACK
TEAM = "T1"
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
GENERAL = ChannelRef(S, TEAM, "CGEN", "general", Visibility.PUBLIC)
PROJECT = ChannelRef(S, TEAM, "CPRJ", "project-x", Visibility.PUBLIC)
CONTRACT = ChannelRef(S, TEAM, "GCON", "contractors", Visibility.PRIVATE, allowed_user_ids=("UGUEST", "UBOB"))
DM = ChannelRef(S, TEAM, "DGUEST", "", Visibility.DM, allowed_user_ids=("UGUEST",))


def member(user_id: str) -> UserRef:
    return UserRef(S, TEAM, user_id, user_id)


async def guest_app(make_app: Any, settings: Any) -> Any:
    """#contractors is indexed (an admin allowed it), so only the scope keeps it from others."""
    tuned = allowing_private(settings, "contractors")
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(echo_first_source), settings_override=tuned)
    await post(
        app,
        adapter,
        *(ChannelSeen(c, NOW) for c in (GENERAL, PROJECT, CONTRACT)),
        make_message("the payroll export runs on the 25th from the finance sheet", author=member("UBOB"), chan=GENERAL),
        make_message("project x ships the beta on friday", author=member("UGUEST"), chan=PROJECT, message_id="1.2"),
        make_message("contractor invoices go to billing@", author=member("UBOB"), chan=CONTRACT, message_id="1.3"),
    )
    await app.store.upsert_users([UserRow("slack", TEAM, "UGUEST", "Gus", guest=True)])
    return app


async def test_a_guest_reads_only_the_channels_they_are_in(make_app: Any, settings: Any) -> None:
    app = await guest_app(make_app, settings)
    assert await app.store.readable_channel_ids("slack", TEAM, "UGUEST") == {"CPRJ", "GCON"}
    assert {"CGEN", "CPRJ"} <= await app.store.readable_channel_ids("slack", TEAM, "UBOB")


async def test_a_guests_dm_is_answered_from_their_channels_alone(make_app: Any, settings: Any) -> None:
    app = await guest_app(make_app, settings)
    scope = await scope_for(app.store, DM, "UGUEST")
    assert scope.include_public is False and scope.extra_channel_ids == {"CPRJ", "GCON", "DGUEST"}
    retriever = await app.brain("qa").retriever()
    found = [s.unit.text for s in await retriever.search("payroll export finance sheet", scope, k=10)]
    assert all("payroll" not in t for t in found)
    found = [s.unit.text for s in await retriever.search("contractor invoices billing", scope, k=10)]
    assert any("billing@" in t for t in found)


async def test_a_guests_question_in_a_channel_uses_public_channels_they_read_and_that_channel(
    make_app: Any, settings: Any
) -> None:
    """Members of #project-x read the answer too: the guest's private channels stay out."""
    app = await guest_app(make_app, settings)
    scope = await scope_for(app.store, PROJECT, "UGUEST")
    assert scope.include_public is False and scope.extra_channel_ids == {"CPRJ"}


async def test_a_members_question_where_a_guest_posted_is_answered_from_that_channel_alone(
    make_app: Any, settings: Any
) -> None:
    """The guest reads the answer too: before, it drew on every public channel, #general included."""
    app = await guest_app(make_app, settings)
    scope = await scope_for(app.store, PROJECT, "UBOB")  # the guest posted in #project-x
    assert (scope.include_public, scope.extra_channel_ids) == (False, frozenset({"CPRJ"}))
    assert (await scope_for(app.store, GENERAL, "UBOB")).include_public is True  # no guest there


async def test_a_private_channel_listing_a_guest_is_answered_from_itself_alone(make_app: Any, settings: Any) -> None:
    """The guest never posted in #contractors, but its member list names them: they read the answer."""
    app = await guest_app(make_app, settings)
    scope = await scope_for(app.store, CONTRACT, "UBOB")
    assert (scope.include_public, scope.extra_channel_ids) == (False, frozenset({"GCON"}))


async def test_a_guests_question_where_another_guest_reads_uses_that_channel_alone(
    make_app: Any, settings: Any
) -> None:
    """Guest A posted in #general too; guest B, who reads only #project-x, reads A's answer there."""
    app = await guest_app(make_app, settings)
    await post(
        app,
        app.adapters[0],
        make_message("salary bands are in the hr sheet", author=member("UGUEST"), chan=GENERAL, message_id="9.1"),
        make_message("hi from guest two", author=member("UG2"), chan=PROJECT, message_id="9.2"),
    )
    await app.store.upsert_users([UserRow("slack", TEAM, "UG2", "G2", guest=True)])
    scope = await scope_for(app.store, PROJECT, "UGUEST")
    assert (scope.include_public, scope.extra_channel_ids) == (False, frozenset({"CPRJ"}))

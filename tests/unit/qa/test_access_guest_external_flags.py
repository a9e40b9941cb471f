"""Guest and external flags are access facts: they hold for a forgotten member too, reach the
answer's scope from the command itself (before the recorder writes them), and a known external
person is answered from the channel they ask in alone. Regression tests for a review's findings."""

from __future__ import annotations

from typing import Any

from bot.events import CommandInvoked, UserRef
from bot.store import UserRow
from brain.qa.access import scope_for
from tests.unit.qa.test_access_dm import post
from tests.unit.qa.test_access_guest import DM, GENERAL, NOW, TEAM, S, guest_app


async def test_a_forgotten_member_made_a_guest_is_scoped_as_a_guest(make_app: Any, settings: Any) -> None:
    app = await guest_app(make_app, settings)
    bob = UserRef(S, TEAM, "UBOB", "bob")
    await app.store.upsert_users([UserRow("slack", TEAM, "UBOB", "bob", guest=False)])
    (await app.services.get("forgotten")).add(bob)
    as_guest = UserRef(S, TEAM, "UBOB", "bob", guest=True)
    await post(
        app, app.adapters[0], CommandInvoked(name="help", user=as_guest, channel=DM, interaction_id="t1", ts=NOW)
    )
    assert await app.store.is_guest("slack", TEAM, "UBOB")
    assert (await scope_for(app.store, DM, "UBOB")).include_public is False


async def test_the_commands_own_flags_scope_the_answer_before_the_store_knows(make_app: Any, settings: Any) -> None:
    app = await guest_app(make_app, settings)
    assert (await scope_for(app.store, GENERAL, "UNEW")).include_public is True
    as_guest = await scope_for(app.store, GENERAL, "UNEW", guest=True)
    assert (as_guest.include_public, as_guest.extra_channel_ids) == (False, frozenset({"CGEN"}))
    as_external = await scope_for(app.store, GENERAL, "UNEW", external=True)
    assert (as_external.include_public, as_external.extra_channel_ids) == (False, frozenset({"CGEN"}))


async def test_a_known_external_person_is_answered_from_where_they_ask_alone(make_app: Any, settings: Any) -> None:
    app = await guest_app(make_app, settings)
    await app.store.upsert_users([UserRow("slack", TEAM, "UPARTNER", "Pat", external=True)])
    scope = await scope_for(app.store, DM, "UPARTNER")
    assert (scope.include_public, scope.extra_channel_ids) == (False, frozenset({DM.channel_id}))

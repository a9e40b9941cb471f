"""WorkspaceInstalled (a Slack app installed again, a bot token that works at start) is presence:
the recorder ends a removal older than it at once and records the workspace's name."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.bus_redis import family_of
from bot.events import Platform, WorkspaceInstalled, WorkspaceRef, WorkspaceRemoved, from_json, to_json
from bot.recorder import Recorder, removed_workspaces
from bot.store import Store
from tests.store_backends import fresh_store

TEAM = WorkspaceRef(Platform.SLACK, "T0ACME")
MONDAY = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    # The removal is plain SQL in the recorder's transaction: PostgreSQL too, when the suite runs on it.
    async with fresh_store(os.environ.get("GUILDHALL_TEST_STORE", "sqlite")) as s:
        yield s


async def _name(store: Store) -> str:
    row = await store.db.fetchone("SELECT name FROM workspaces WHERE platform = 'slack' AND workspace_id = 'T0ACME'")
    assert row is not None
    return str(row[0])


def test_the_event_round_trips_and_travels_with_the_removal() -> None:
    event = WorkspaceInstalled(WorkspaceRef(Platform.SLACK, "T0ACME", "Zoë's team 🛠"), MONDAY, "installed")
    back = from_json(to_json(event))
    assert back == event and type(back) is WorkspaceInstalled
    assert back.event_id == f"slack:T0ACME:installed:{MONDAY.isoformat()}"
    # Installed, removed, installed again: two installs, not one redelivered.
    assert WorkspaceInstalled(TEAM, MONDAY + timedelta(days=1)).event_id != event.event_id
    # The same stream as the removal, so an uninstall and the reinstall after it keep their order.
    assert family_of(WorkspaceInstalled) == family_of(WorkspaceRemoved) == "members"


async def test_an_install_newer_than_the_removal_ends_it_and_names_the_workspace(store: Store) -> None:
    recorder = Recorder(store)
    await recorder.handle_batch([WorkspaceRemoved(TEAM, MONDAY, "uninstalled")])
    # An install from before the removal (delivered late) says nothing about now.
    await recorder.handle_batch([WorkspaceInstalled(TEAM, MONDAY - timedelta(minutes=1))])
    assert await removed_workspaces(store.db) == {("slack", "T0ACME"): MONDAY.timestamp()}

    back = WorkspaceRef(Platform.SLACK, "T0ACME", "Acme")
    await recorder.handle_batch([WorkspaceInstalled(back, MONDAY + timedelta(minutes=1), "reinstalled")])
    assert await removed_workspaces(store.db) == {}
    assert await _name(store) == "Acme"
    # A nameless one (auth.test that named no team) keeps the stored name.
    await recorder.handle_batch([WorkspaceInstalled(TEAM, MONDAY + timedelta(minutes=2))])
    assert await _name(store) == "Acme"


async def test_in_one_batch_the_later_fact_wins(store: Store) -> None:
    recorder = Recorder(store)
    later = MONDAY + timedelta(minutes=1)
    await recorder.handle_batch([WorkspaceRemoved(TEAM, MONDAY), WorkspaceInstalled(TEAM, later)])
    assert await removed_workspaces(store.db) == {}

    await recorder.handle_batch([WorkspaceInstalled(TEAM, later), WorkspaceRemoved(TEAM, later + timedelta(minutes=1))])
    assert await removed_workspaces(store.db) == {("slack", "T0ACME"): (later + timedelta(minutes=1)).timestamp()}

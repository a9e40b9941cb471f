"""An OAuth ``state`` is consumed once even by two callbacks arriving together (a double-clicked
"Allow", a replayed redirect): the row is deleted first and only the deleter succeeds."""

from __future__ import annotations

import asyncio
import time

from adapters.slack.installation_store import SQLOAuthStateStore
from bot.store import Store


async def test_two_concurrent_callbacks_with_one_state_succeed_once(store: Store) -> None:
    states = SQLOAuthStateStore(store.db)
    state = await states.async_issue()
    results = await asyncio.gather(*(states.async_consume(state) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]


async def test_an_expired_state_fails_and_is_removed(store: Store) -> None:
    states = SQLOAuthStateStore(store.db)
    await store.db.execute("INSERT INTO slack_oauth_states (state, expires_at) VALUES (?, ?)", ("old", time.time() - 1))
    assert await states.async_consume("old") is False
    assert await store.db.fetchone("SELECT 1 FROM slack_oauth_states WHERE state = ?", ("old",)) is None

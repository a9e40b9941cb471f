"""The store on SQLite and PostgreSQL alike: paging at equal keys, deletion that is one-way, long
parameter lists and text PostgreSQL refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import MessageRow, Store
from tests.store_backends import fresh_store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    async with fresh_store(request.param) as s:
        yield s


def msg(mid: str, text: str = "hello", *, workspace_id: str = "T1", ts: float = 1000.0, **kw: object) -> MessageRow:
    return MessageRow(
        platform="slack",
        workspace_id=workspace_id,
        message_id=mid,
        channel_id="C1",
        author_id="U1",
        ts=ts,
        text=text,
        **kw,  # type: ignore[arg-type]
    )


async def test_iter_messages_pages_through_workspaces_sharing_a_message_id_and_time(store: Store) -> None:
    # The same demo imported into five workspaces: one id and one time in each.
    await store.upsert_messages([msg("m1", workspace_id=f"W{i}", ts=50.0) for i in range(5)])
    await store.upsert_messages([msg("m0", ts=10.0), msg("m2", ts=90.0)])

    streamed = [(m.workspace_id, m.message_id) async for m in store.iter_messages(batch=2)]

    assert len(streamed) == 7
    assert sorted(streamed) == sorted({*streamed})
    assert {ws for ws, mid in streamed if mid == "m1"} == {f"W{i}" for i in range(5)}
    assert [mid for _, mid in streamed] == ["m0", *["m1"] * 5, "m2"]


async def test_an_upsert_of_a_deleted_message_erases_the_stored_one_even_when_edited(store: Store) -> None:
    await store.upsert_messages([msg("m1", "first draft")])
    assert await store.edit_message("slack", "T1", "m1", "secret edit", 2000.0)

    await store.upsert_messages([msg("m1", "first draft", deleted=True)])

    stored = await store.get_message("slack", "T1", "m1")
    assert stored is not None
    assert stored.deleted
    assert stored.text == ""
    assert await store.thread_messages("slack", "T1", "m1") == []
    # ... and a later redelivery of the live post does not bring it back.
    await store.upsert_messages([msg("m1", "first draft")])
    again = await store.get_message("slack", "T1", "m1")
    assert again is not None and again.deleted and again.text == ""


async def test_a_query_with_ten_thousand_parameters_runs_on_both_backends(store: Store) -> None:
    await store.upsert_messages([msg("m5"), msg("m9999")])
    ids = [f"m{i}" for i in range(12_000)]

    rows = await store.db.fetchall(
        f"SELECT message_id FROM messages WHERE message_id IN ({', '.join('?' * len(ids))}) ORDER BY message_id",
        ids,
    )

    assert rows == [("m5",), ("m9999",)]


async def test_a_workspace_name_with_nul_is_stored_alike_on_both_backends(store: Store) -> None:
    await store.upsert_workspace("slack", "T1", "Acme\x00Corp")

    assert await store.db.fetchall("SELECT name FROM workspaces") == [("Acme\ufffdCorp",)]

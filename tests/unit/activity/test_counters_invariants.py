"""Counter invariants on every store backend, over a random but reproducible stream of chat events.

The same stream must give the same rollups whatever the batch size (live batches are whatever the
bus hands over), when every event is delivered twice, and with large batches that exercise the
chunked lookups (SQLite) and the planner-statistics bootstrap (PostgreSQL). Rollups must always
equal the sum of the per-message contribution rows, deleted messages contribute nothing, and no
counter goes negative.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.events import Event, MessageDeleted, MessageEdited, ReactionAdded, ReactionRemoved
from bot.store import Store
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.counters import ActivityCounters
from brain.activity.scoring import COUNTERS
from tests.store_backends import fresh_store

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("GUILDHALL_TEST_STORE") == "postgresql" else [])

TEXTS = (
    "how do I pin a dependency with poetry?",
    "try running poetry lock with no update",
    "thanks, that worked!",
    "ok",
    "👍",
    "Как исправить ошибку импорта модуля?",
    "here is a longer explanation of what goes wrong " * 20,
    "",
    "\x00\u202e weird control characters and 🎉 emoji here",
)
EMOJI = ("white_check_mark", "+1", "tada", "heart", "✅", "👍🏽", ":thumbsup::skin-tone-2:")


def random_stream(n: int, seed: int, *, discord_replies: bool = False) -> list[Event]:
    """Posts, replies, thanks, reactions (helpful and not, self, bots), edits and deletes, some of
    them about messages that never existed or arrive before their message.

    With ``discord_replies`` replies carry no thread, only the message they reply to (Discord's
    Reply button in a channel without threads): a root, or any message posted before."""
    rng = random.Random(seed)
    members = [f"u{i}" for i in range(12)]
    events: list[Event] = []
    roots: list[tuple[str, str]] = []  # (message id, author)
    posted: list[tuple[str, str]] = []
    for i in range(n):
        at = BASE_TIME + timedelta(seconds=i * rng.choice((1, 5, 40)))
        chan = rng.choice(("help", "general"))
        r = rng.random()
        if r < 0.45 or not posted:
            mid = f"m{i}"
            author = rng.choice(members)
            if roots and rng.random() < 0.6:
                root, asker = rng.choice(roots)
                author = asker if rng.random() < 0.25 else author
                text = rng.choice(TEXTS)
                if discord_replies:
                    target = root if rng.random() < 0.5 else rng.choice(posted)[0]
                    reply = make_message(text, author=author, chan=chan, message_id=mid, ts=at)
                    events.append(dataclasses.replace(reply, reply_to=target))
                else:
                    events.append(make_message(text, author=author, chan=chan, message_id=mid, thread_id=root, ts=at))
            else:
                bot = rng.random() < 0.05
                who = user(author, bot=bot)
                events.append(make_message(rng.choice(TEXTS), author=who, chan=chan, message_id=mid, ts=at))
                roots.append((mid, author))
            posted.append((mid, author))
        elif r < 0.8:
            target, target_author = rng.choice(posted)
            who = target_author if rng.random() < 0.1 else rng.choice(members)
            cls = ReactionAdded if rng.random() < 0.8 else ReactionRemoved
            reactor = user(who, bot=rng.random() < 0.03)
            events.append(cls(channel=channel(chan), message_id=target, user=reactor, emoji=rng.choice(EMOJI), ts=at))
        elif r < 0.92:
            target = rng.choice(posted)[0] if rng.random() < 0.9 else f"ghost{i}"
            events.append(MessageEdited(channel=channel(chan), message_id=target, text=rng.choice(TEXTS), edited_at=at))
        else:
            # Mostly real messages; sometimes one posted later (delete before post) or never.
            target = rng.choice(posted)[0] if rng.random() < 0.8 else f"m{i + rng.randrange(1, 30)}"
            events.append(MessageDeleted(channel=channel(chan), message_id=target, deleted_at=at))
    return events


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def rollups(store: Store) -> dict[tuple[str, ...], tuple[int, ...]]:
    rows = await store.db.fetchall(f"SELECT day, channel_id, user_id, {', '.join(COUNTERS)} FROM activity_rollup")
    out = {}
    for r in rows:
        values = tuple(int(v) for v in r[3:])
        if any(values):
            out[(str(r[0]), str(r[1]), str(r[2]))] = values
    return out


async def check_consistency(store: Store) -> None:
    """Rollups are exactly the sums of the contribution rows; tombstones and deletes hold zero."""
    sums = ", ".join(f"SUM({c})" for c in COUNTERS)
    from_contrib = await store.db.fetchall(
        f"SELECT day, channel_id, author_id, {sums} FROM activity_contrib GROUP BY day, channel_id, author_id"
    )
    expected = {
        (str(r[0]), str(r[1]), str(r[2])): tuple(int(v) for v in r[3:])
        for r in from_contrib
        if any(int(v) for v in r[3:])
    }
    assert await rollups(store) == expected
    deleted = await store.db.fetchall(
        f"SELECT {', '.join(COUNTERS)} FROM activity_contrib WHERE deleted = 1 AND ({' + '.join(COUNTERS)}) <> 0"
    )
    assert deleted == []
    negative = await store.db.fetchall(
        f"SELECT * FROM activity_rollup WHERE {' OR '.join(f'{c} < 0' for c in COUNTERS)}"
    )
    assert negative == []


async def apply_in_batches(store: Store, events: Sequence[Event], batch: int) -> None:
    counters = ActivityCounters(store, ZoneInfo("Europe/Berlin"))
    for i in range(0, len(events), batch):
        await counters.apply(events[i : i + batch])


async def snapshot(backend: str, events: Sequence[Event], batch: int) -> dict[tuple[str, ...], tuple[int, ...]]:
    async with fresh_store(backend) as store:
        await apply_in_batches(store, events, batch)
        await check_consistency(store)
        return await rollups(store)


async def test_rollups_do_not_depend_on_batch_size_or_redelivery(backend: str) -> None:
    events = random_stream(1_500, seed=5)
    one_by_one = await snapshot(backend, events, 1)
    assert sum(v[COUNTERS.index("helpful")] for v in one_by_one.values()) > 0  # the stream exercises every rule
    assert sum(v[COUNTERS.index("answered")] for v in one_by_one.values()) > 0
    assert await snapshot(backend, events, 7) == one_by_one
    # One batch bigger than the SQLite lookup chunk and the PostgreSQL statistics threshold.
    assert await snapshot(backend, events, len(events)) == one_by_one
    twice = [e for event in events for e in (event, event)]
    assert await snapshot(backend, twice, 64) == one_by_one
    # A whole replay after the fact (a restarted worker re-reading its stream) changes nothing either.
    assert await snapshot(backend, [*events, *events], 200) == one_by_one


async def test_discord_reply_chains_do_not_depend_on_batch_size_or_redelivery(backend: str) -> None:
    """Replies to replies resolve to their conversation's root the same way in every batching."""
    events = random_stream(1_200, seed=13, discord_replies=True)
    one_by_one = await snapshot(backend, events, 1)
    assert sum(v[COUNTERS.index("helpful")] for v in one_by_one.values()) > 0
    assert sum(v[COUNTERS.index("answered")] for v in one_by_one.values()) > 0
    assert await snapshot(backend, events, 9) == one_by_one
    assert await snapshot(backend, events, len(events)) == one_by_one
    assert await snapshot(backend, [e for event in events for e in (event, event)], 64) == one_by_one
    assert await snapshot(backend, [*events, *events], 200) == one_by_one


async def test_messages_count_only_what_survives(backend: str) -> None:
    """A simple ledger check: counted messages == long enough, human, not deleted, under the cap."""
    events = random_stream(800, seed=9)
    async with fresh_store(backend) as store:
        await apply_in_batches(store, events, 50)
        row = await store.db.fetchone("SELECT SUM(messages) FROM activity_rollup")
        live = await store.db.fetchone(
            "SELECT COUNT(*) FROM activity_contrib WHERE deleted = 0 AND capped = 0 AND words >= 4 AND author_id <> ''"
        )
        assert row is not None and live is not None
        assert int(row[0] or 0) == int(live[0]) > 0


async def test_reaction_added_and_removed_in_one_batch_leaves_no_trace(backend: str) -> None:
    def react(cls: type[ReactionAdded] | type[ReactionRemoved], second: int) -> Event:
        return cls(channel("help"), "x", user("fan"), "tada", BASE_TIME + timedelta(seconds=second))

    async with fresh_store(backend) as store:
        counters = ActivityCounters(store, ZoneInfo("UTC"))
        post = make_message("here is a long enough answer", author="author", chan="help", message_id="x")
        await counters.apply([post, react(ReactionAdded, 1), react(ReactionRemoved, 2)])
        assert await store.db.fetchall("SELECT * FROM activity_reactions") == []
        await counters.apply([react(ReactionAdded, 3)])  # a new reaction, not a redelivery
        assert (await rollups(store))[("2026-01-05", "help", "author")][COUNTERS.index("reactions")] == 1
        # Removed and put back within one batch: still exactly one stored reaction, counted once.
        await counters.apply([react(ReactionRemoved, 4), react(ReactionAdded, 5)])
        assert len(await store.db.fetchall("SELECT * FROM activity_reactions")) == 1
        assert (await rollups(store))[("2026-01-05", "help", "author")][COUNTERS.index("reactions")] == 1
        await check_consistency(store)

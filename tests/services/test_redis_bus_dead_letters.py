"""What the Redis bus's dead letters keep of a failure, and what ``/forget-me`` leaves of a member
in them, against the real Redis on this machine."""

from __future__ import annotations

import re

import pytest

from bot.bus_redis import RedisStreamsBus
from bot.events import MessagePosted, Platform, UserRef
from bot.testing import channel, make_message
from tests.services.conftest import URL

pytestmark = pytest.mark.services

ANA = UserRef(Platform.SLACK, "T1", "U0ANA42", "Ana Lind")
BOB = UserRef(Platform.SLACK, "T1", "U0BOB77", "Bob Stone")
GENERAL = channel("C1", platform=Platform.SLACK, workspace="T1")
HERE = re.escape("tests/services/test_redis_bus_dead_letters.py")


def make_bus(prefix: str) -> RedisStreamsBus:
    return RedisStreamsBus(URL, prefix=prefix, block_ms=20, claim_idle_ms=100, max_deliveries=1)


async def test_a_dead_letter_keeps_the_failure_type_and_place_but_not_the_members_words(prefix: str) -> None:
    bus = make_bus(prefix)

    async def handler(e: MessagePosted) -> None:
        raise ValueError(f"cannot parse {e.text!r} from {e.author.user_id} ({e.author.name}) in {e.channel.channel_id}")

    bus.subscribe(MessagePosted, handler, name="parser")
    await bus.start()
    await bus.publish(make_message("my vault code is QX7-4711\nsecond line", author=ANA, chan=GENERAL))
    await bus.drain(timeout=20)
    [letter] = await bus.dead_letters()
    error = letter["error"]
    assert re.fullmatch(
        rf"ValueError at {HERE}:\d+ in handler: cannot parse '\[redacted\]' from \[redacted\] \(\[redacted\]\) in C1",
        error,
    ), error
    assert "QX7" not in error and "U0ANA42" not in error and "Lind" not in error
    assert "QX7-4711" in letter["json"]  # the event itself is kept, for a replay
    await bus.close()


async def test_forgetting_a_member_scrubs_them_from_other_members_dead_letters(prefix: str) -> None:
    """Bob's handler failed quoting Ana's message (the one his replied to): after Ana's /forget-me
    Bob's dead letter is still there and replayable, but its error no longer names or quotes her."""
    bus = make_bus(prefix)
    seen: list[MessagePosted] = []
    fail = True

    async def handler(e: MessagePosted) -> None:
        if e.author == BOB and fail:
            parent = seen[-1]
            raise ValueError(f"no thread under {parent.text!r} by {parent.author.user_id} ({parent.author.name})")
        if e.text.startswith("poison"):
            raise RuntimeError(f"bad: {e.text}")
        seen.append(e)

    bus.subscribe(MessagePosted, handler, name="threads")
    await bus.start()
    await bus.publish(make_message("the vault code is QX7-4711, do not share", author=ANA, chan=GENERAL))
    await bus.publish(make_message("poison from ana", author=ANA, chan=GENERAL))
    await bus.publish(make_message("replying to ana", author=BOB, chan=GENERAL, message_id="b1"))
    await bus.drain(timeout=20)
    # Letters an earlier version wrote (repr(exc)): one quoting part of her text, one naming nobody.
    await bus._redis.xadd(
        bus.dlq_stream,
        {"json": b"", "group": "old", "error": "KeyError('U0ANA42 said: the vault code is QX7')", "ts": "1"},
    )
    await bus._redis.xadd(bus.dlq_stream, {"json": b"", "group": "other", "error": "TimeoutError()", "ts": "2"})
    before = await bus.dead_letters()
    assert len(before) == 4 and "QX7-4711" in before[1]["error"]  # Bob's names her: the gap

    assert await bus.forget_author(ANA) == 3  # her two messages in the stream and her dead letter

    after = await bus.dead_letters()
    for letter in after:
        assert not any(s in letter["error"] for s in ("QX7", "vault", "U0ANA42", "Ana", "Lind")), letter["error"]
    assert [d["group"] for d in after] == ["other", "threads", "old"]  # none lost; the scrubbed moved last
    assert after[0] == before[3]  # a letter naming nobody keeps its id
    bobs, old = after[1], after[2]
    assert re.fullmatch(
        rf"ValueError at {HERE}:\d+ in handler: no thread under '\[redacted\]' by \[redacted\] \(\[redacted\]\)",
        bobs["error"],
    ), bobs["error"]
    assert old["error"] == "KeyError('[redacted] said: [redacted]')"
    assert {k: v for k, v in bobs.items() if k not in ("id", "error")} == {
        k: v for k, v in before[1].items() if k not in ("id", "error")
    }
    fail = False
    assert await bus.replay_dead_letter(bobs["id"])
    await bus.drain(timeout=20)
    assert seen[-1].author == BOB and seen[-1].text == "replying to ana"
    await bus.close()


async def test_the_scrub_leaves_a_letter_replayed_or_changed_since_it_was_read(prefix: str) -> None:
    """The rewrite checks the letter is still there with the error read: a `dlq replay` between the
    read and the rewrite must not bring the replayed letter back, nor a changed one lose its change."""
    from bot.bus_redis import _SCRUB_LUA

    bus = make_bus(prefix)
    added = await bus._redis.xadd(bus.dlq_stream, {"json": b"{}", "error": "ValueError('U0ANA42')"})
    letter = added.decode() if isinstance(added, bytes) else added
    stale = await bus._redis.eval(_SCRUB_LUA, 1, bus.dlq_stream, letter, "ValueError('other')", "x", 100)
    gone = await bus._redis.eval(_SCRUB_LUA, 1, bus.dlq_stream, "1-1", "ValueError('U0ANA42')", "x", 100)
    assert stale == 0 and gone == 0
    assert [(d["id"], d["error"]) for d in await bus.dead_letters()] == [(letter, "ValueError('U0ANA42')")]
    await bus.close()

"""What the Redis bus's dead letters keep of a failure, and what ``/forget-me`` leaves of a member
in them, against the real Redis on this machine."""

from __future__ import annotations

import asyncio
import logging
import re
import tracemalloc
from typing import Any

import pytest

from bot.bus_redis import RedisStreamsBus
from bot.events import MessagePosted, Platform, UserRef, to_json
from bot.testing import channel, make_message
from tests.services.conftest import URL

pytestmark = pytest.mark.services

ANA = UserRef(Platform.SLACK, "T1", "U0ANA42", "Ana Lind")
BOB = UserRef(Platform.SLACK, "T1", "U0BOB77", "Bob Stone")
GENERAL = channel("C1", platform=Platform.SLACK, workspace="T1")
HERE = re.escape("tests/services/test_redis_bus_dead_letters.py")


def make_bus(prefix: str) -> RedisStreamsBus:
    return RedisStreamsBus(URL, prefix=prefix, block_ms=20, claim_idle_ms=100, max_deliveries=1)


async def test_a_dead_letter_keeps_the_failure_type_and_place_but_not_the_members_words(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.bus_redis")
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
    # Nor do the log line and the bus's failure list, which /forget-me cannot reach either.
    logged = "\n".join(r.getMessage() for r in caplog.records if "failed on" in r.getMessage())
    assert "handler parser failed on MessagePosted" in logged and re.search(rf"File .*{HERE}", logged), logged
    assert bus.stats.failures and all("QX7" not in text for _, _, text in bus.stats.failures)
    assert not any(s in logged for s in ("QX7", "vault", "U0ANA42", "Lind")), logged
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


async def test_a_replay_racing_a_forget_runs_the_event_once(prefix: str) -> None:
    """`guildhall dlq replay` reads Bob's letter, then Ana's /forget-me (another process) rewrites it
    without her name under a new id, then the replay goes on: the letter is either replayed or
    scrubbed, never both (a scrubbed copy left behind was replayed again: Bob's event ran twice)."""
    worker = make_bus(prefix)
    handled: list[str] = []
    fail = True

    async def handler(e: MessagePosted) -> None:
        if fail:
            raise ValueError(f"cannot handle reply to {ANA.name} ({ANA.user_id})")
        handled.append(e.text)

    worker.subscribe(MessagePosted, handler, name="h")
    await worker.start()
    await worker.publish(make_message("bob's reply", author=BOB, chan=GENERAL, message_id="b1"))
    await worker.drain(timeout=20)
    [letter] = await worker.dead_letters()
    fail = False

    operator, forgetter = RedisStreamsBus(URL, prefix=prefix), RedisStreamsBus(URL, prefix=prefix)
    read = operator._redis.xrange
    raced = False

    async def read_then_forget(*args: Any, **kwargs: Any) -> Any:
        nonlocal raced
        rows = await read(*args, **kwargs)
        if not raced:  # the forget lands between the replay's read of the letter and what follows
            raced = True
            await forgetter.forget_author(ANA)
        return rows

    operator._redis.xrange = read_then_forget  # type: ignore[method-assign]
    await operator.replay_dead_letter(letter["id"])
    await worker.drain(timeout=20)
    assert raced
    # The operator replays whatever `dlq list` still shows (the scrubbed copy, if the replay lost).
    for left in await worker.dead_letters():
        assert "Ana" not in left["error"] and "U0ANA42" not in left["error"]
        assert await operator.replay_dead_letter(left["id"])
    await worker.drain(timeout=20)
    assert handled == ["bob's reply"]
    assert await worker.dead_letters() == []
    for bus in (worker, operator, forgetter):
        await bus.close()


async def test_forgetting_a_member_with_a_full_dead_letter_queue_holds_one_page_of_it(prefix: str) -> None:
    """Other letters' errors are redacted against the member's few word runs, a page at a time: an
    index of every word run of every other error took a gigabyte for a full queue (100,000)."""
    bus = make_bus(prefix)
    pipe = bus._redis.pipeline(transaction=False)
    for i in range(4000):
        event = make_message(f"message {i} about the deploy", author=BOB, chan=GENERAL, message_id=f"x{i}")
        error = f"DeadlockDetectedError at asyncpg/connection.py:1795: process {1000 + i} waits for {5000 + i}"
        pipe.xadd(bus.dlq_stream, {"json": to_json(event).encode(), "stream": "x", "error": error, "ts": "1"})
    pipe.xadd(bus.dlq_stream, {"json": b"", "error": "KeyError('U0ANA42')", "ts": "1"})
    await pipe.execute()
    tracemalloc.start()
    try:
        assert await bus.forget_author(ANA) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MiB"
    letters = await bus.dead_letters(count=5000)
    assert len(letters) == 4001 and letters[-1]["error"] == "KeyError('[redacted]')"
    await bus.close()


async def test_a_redis_error_while_dead_lettering_does_not_log_the_handlers_failure_unmasked(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis refusing the dead-letter write (out of memory) raised inside the handler failure's
    except block, so the worker's traceback of that Redis error carried the handler's exception,
    the member's words in it."""
    from redis.exceptions import ResponseError

    caplog.set_level(logging.DEBUG)
    bus = make_bus(prefix)

    async def handler(e: MessagePosted) -> None:
        raise ValueError(f"cannot parse {e.text!r} from {e.author.user_id}")

    async def out_of_memory(*args: Any, **kwargs: Any) -> None:
        raise ResponseError("OOM command not allowed when used memory > 'maxmemory'.")

    bus._dead_letter = out_of_memory  # type: ignore[method-assign]
    bus.subscribe(MessagePosted, handler, name="parser")
    await bus.start()
    await bus.publish(make_message("my vault code is QX7-4711", author=ANA, chan=GENERAL))
    for _ in range(100):
        if "OOM command" in caplog.text:
            break
        await asyncio.sleep(0.05)
    await bus.close()
    assert "OOM command" in caplog.text  # the Redis error is logged...
    assert "QX7" not in caplog.text and "U0ANA42" not in caplog.text, caplog.text  # ...without her words


def letter_once_the_streams_are_scanned(bus: RedisStreamsBus, late: MessagePosted, error: str) -> list[bool]:
    """Make a worker dead-letter ``late`` (with ``error``) the moment /forget-me begins its pass over
    the streams, after it read the dead-letter stream; the list holds True once it did."""
    scanned = bus._pages
    wrote: list[bool] = []

    async def pages(stream: str, **kwargs: Any) -> Any:
        if stream != bus.dlq_stream and not wrote:  # the streams' pass has begun
            wrote.append(True)
            await bus._redis.xadd(bus.dlq_stream, {"json": to_json(late).encode(), "group": "g", "error": error})
        async for rows in scanned(stream, **kwargs):
            yield rows

    bus._pages = pages  # type: ignore[method-assign]
    return wrote


async def test_a_dead_letter_of_the_member_written_during_the_forget_is_deleted_too(prefix: str) -> None:
    """A worker handling one of Ana's events while /forget-me scanned the streams dead-letters it
    after the scan of the dead-letter stream: the letter, her message inside, stayed."""
    bus = make_bus(prefix)
    late = make_message("my vault code is QX7-4711", author=ANA, chan=GENERAL, message_id="late")
    wrote = letter_once_the_streams_are_scanned(bus, late, "E")
    await bus.start()
    await bus.forget_author(ANA)
    assert wrote
    assert all("QX7" not in letter["json"] for letter in await bus.dead_letters())
    await bus.close()


@pytest.mark.parametrize("letter_at_start", [False, True], ids=["none-at-start", "one-at-start"])
async def test_another_members_letter_written_during_the_forget_is_scrubbed_of_the_member(
    prefix: str, letter_at_start: bool
) -> None:
    """Bob's letter quoting Ana's message came while her forget scanned the streams. With no letter
    to scrub when it started, her words were never gathered and the quote stayed."""
    bus = make_bus(prefix)
    await bus.publish(make_message("my vault code is QX7-4711", author=ANA, chan=GENERAL, message_id="a1"))
    if letter_at_start:
        hi = make_message("hi", author=BOB, chan=GENERAL, message_id="b0")
        await bus._redis.xadd(bus.dlq_stream, {"json": to_json(hi).encode(), "group": "g", "error": "E unrelated"})
    late = make_message("reply", author=BOB, chan=GENERAL, message_id="b1")
    wrote = letter_once_the_streams_are_scanned(bus, late, "ValueError: parent said my vault code is QX7-4711")
    await bus.start()
    await bus.forget_author(ANA)
    errors = [letter["error"] for letter in await bus.dead_letters()]
    await bus.close()
    assert wrote and any("[redacted]" in e for e in errors)
    assert all("QX7" not in e for e in errors), errors

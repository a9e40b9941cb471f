"""In-process bus under faults: a handler's stray CancelledError, outages retried in place, health,
queue lag, a publish cancelled mid-delivery, and Services.get when its first caller is cancelled."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence

import pytest

from bot import bus as bus_module
from bot.brain import Services
from bot.bus import InProcessBus, is_transient_failure
from bot.events import MessagePosted
from bot.metrics import REGISTRY, observe_queue_lag
from bot.store import StoreTimeoutError
from bot.testing import make_message


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outage retries wait milliseconds, not seconds."""
    monkeypatch.setattr(bus_module, "_OUTAGE_BACKOFF_FIRST_S", 0.001)
    monkeypatch.setattr(bus_module, "_OUTAGE_BACKOFF_MAX_S", 0.005)


# -- finding 1: a CancelledError raised by a handler -----------------------------------------------
async def test_a_handler_raising_cancelled_error_does_not_kill_its_worker(caplog: pytest.LogCaptureFixture) -> None:
    bus = InProcessBus(drain_timeout_s=1.0)
    seen: list[str] = []

    async def handler(event: MessagePosted) -> None:
        if event.text == "cancel":
            raise asyncio.CancelledError()  # a library's wait_for leaking one, say
        seen.append(event.text)

    bus.subscribe(MessagePosted, handler, name="qa.answer")
    with caplog.at_level(logging.ERROR):
        for i, text in enumerate(["a", "cancel", "b", "c"]):
            await bus.publish(make_message(text, message_id=f"sc{i}"))
        await asyncio.wait_for(bus.drain(), 1.0)
    assert seen == ["a", "b", "c"]
    assert bus.stats.failed == 1 and bus.stats.handled == 3
    assert any("qa.answer failed" in r.getMessage() and "CancelledError" in r.getMessage() for r in caplog.records)
    assert not any(w.done() for w in bus._subs[0].workers)
    await bus.close()
    assert all(w.done() for w in bus._subs[0].workers)  # a real cancel still ends the worker


async def test_a_batch_handler_raising_cancelled_error_loses_only_that_event() -> None:
    bus = InProcessBus(drain_timeout_s=1.0)
    stored: list[str] = []

    async def recorder(events: Sequence[MessagePosted]) -> None:
        if any(e.text == "cancel" for e in events):
            raise asyncio.CancelledError()
        stored.extend(e.message_id for e in events)

    bus.subscribe_batch((MessagePosted,), recorder, name="core.recorder")
    texts = ["a", "b", "cancel", "d"]
    await bus.publish_many([make_message(t, message_id=f"bc{i}") for i, t in enumerate(texts)])
    await asyncio.wait_for(bus.drain(), 1.0)
    await bus.publish(make_message("after", message_id="bc-after"))
    await asyncio.wait_for(bus.drain(), 1.0)
    assert stored == ["bc0", "bc1", "bc3", "bc-after"]
    assert bus.stats.failed == 1
    await bus.close()


async def test_services_waiters_retry_the_factory_when_its_first_caller_is_cancelled() -> None:
    services = Services()
    runs = 0

    async def slow_factory() -> object:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)
        return object()

    services.register_factory("embedder", slow_factory)
    warm = asyncio.create_task(services.get("embedder"))  # the background warm-up
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(services.get("embedder"))  # a handler asking meanwhile
    other = asyncio.create_task(services.get("embedder"))
    await asyncio.sleep(0.01)
    warm.cancel()  # shutdown cancels the warm-up
    got = await asyncio.wait_for(asyncio.gather(waiter, other), 1.0)
    assert got[0] is got[1] is services.peek("embedder") and runs == 2
    assert warm.cancelled()


async def test_services_a_cancelled_waiter_is_still_cancelled() -> None:
    services = Services()
    gate = asyncio.Event()

    async def factory() -> object:
        await gate.wait()
        return object()

    services.register_factory("llm", factory)
    first = asyncio.create_task(services.get("llm"))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(services.get("llm"))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert waiter.cancelled() and not first.done()
    gate.set()
    assert await first is services.peek("llm")


# -- finding 3: outages are retried in place, failures never vanish ---------------------------------
async def test_a_store_timeout_is_retried_in_place_and_nothing_is_lost(caplog: pytest.LogCaptureFixture) -> None:
    bus = InProcessBus()
    stored: list[str] = []
    failures_left = 3

    async def recorder(events: Sequence[MessagePosted]) -> None:
        nonlocal failures_left
        if failures_left:
            failures_left -= 1
            raise StoreTimeoutError("store did not answer")
        stored.extend(e.message_id for e in events)

    bus.subscribe_batch((MessagePosted,), recorder, name="core.recorder")
    with caplog.at_level(logging.INFO, logger="bot.bus"):
        await bus.publish_many([make_message("x", message_id=f"tr{i}") for i in range(8)])
        await bus.drain()
        await bus.publish(make_message("y", message_id="tr-after"))
        await bus.drain()
    assert stored == [f"tr{i}" for i in range(8)] + ["tr-after"]
    assert bus.stats.failed == 0 and bus.stats.handled == 9
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "core.recorder" in warnings[0].getMessage()  # once per outage
    assert any("outage is over" in r.getMessage() for r in caplog.records)
    await bus.close()


async def test_sqlite_database_is_locked_is_retried_for_a_single_handler() -> None:
    bus = InProcessBus()
    seen: list[str] = []
    attempts = 0

    async def handler(event: MessagePosted) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise sqlite3.OperationalError("database is locked")
        seen.append(event.message_id)

    bus.subscribe(MessagePosted, handler, name="activity.count")
    await bus.publish(make_message("x", message_id="lk1"))
    await bus.drain()
    assert seen == ["lk1"] and attempts == 3 and bus.stats.failed == 0
    await bus.close()


async def test_an_outage_past_its_budget_is_a_counted_logged_failure_per_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = InProcessBus(outage_retry_s=0.05)
    attempts = 0

    async def recorder(events: Sequence[MessagePosted]) -> None:
        nonlocal attempts
        attempts += 1
        raise StoreTimeoutError("store did not answer")

    bus.subscribe_batch((MessagePosted,), recorder, name="core.recorder")
    with caplog.at_level(logging.ERROR):
        await bus.publish_many([make_message("x", message_id=f"ob{i}") for i in range(4)])
        await asyncio.wait_for(bus.drain(), 5.0)
    assert bus.stats.failed == 4
    assert [f[0] for f in bus.stats.failures] == ["core.recorder"] * 4
    per_event = [r for r in caplog.records if "core.recorder failed on MessagePosted" in r.getMessage()]
    assert len(per_event) == 4
    gave_up = [r for r in caplog.records if "still failing" in r.getMessage()]
    assert len(gave_up) == 1  # one line for the outage, not one per half
    # One budget for the batch and its halves: after it, each half and event is tried once.
    assert attempts < 30
    await bus.close()


async def test_a_poison_event_is_isolated_without_outage_retries() -> None:
    bus = InProcessBus()
    stored: list[str] = []
    attempts = 0

    async def recorder(events: Sequence[MessagePosted]) -> None:
        nonlocal attempts
        attempts += 1
        if any(e.text == "poison" for e in events):
            raise ValueError("bad row")
        stored.extend(e.message_id for e in events)

    bus.subscribe_batch((MessagePosted,), recorder, name="core.recorder")
    texts = ["a", "b", "poison", "d", "e", "f", "g", "h"]
    await bus.publish_many([make_message(t, message_id=f"p{i}") for i, t in enumerate(texts)])
    await asyncio.wait_for(bus.drain(), 1.0)
    assert stored == ["p0", "p1", "p3", "p4", "p5", "p6", "p7"]
    assert bus.stats.failed == 1 and attempts <= 8
    await bus.close()


def test_transient_failures_are_told_from_bad_events() -> None:
    class PgError(Exception):
        sqlstate = "57P01"  # admin shutdown, as asyncpg reports it

    def caused_by(cause: BaseException) -> Exception:
        try:
            raise cause
        except BaseException as exc:
            try:
                raise RuntimeError("write failed") from exc
            except RuntimeError as outer:
                return outer

    assert is_transient_failure(StoreTimeoutError("no answer"))
    assert is_transient_failure(sqlite3.OperationalError("database is locked"))
    assert is_transient_failure(ConnectionRefusedError(111, "refused"))
    assert is_transient_failure(PgError("terminating connection due to administrator command"))
    assert is_transient_failure(caused_by(StoreTimeoutError("no answer")))
    assert not is_transient_failure(TimeoutError())  # a handler's own wait_for
    assert not is_transient_failure(ValueError("bad row"))
    assert not is_transient_failure(sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert not is_transient_failure(asyncio.CancelledError())


# -- finding 4: health and queue lag ----------------------------------------------------------------
async def test_health_fails_when_a_subscription_has_no_live_worker() -> None:
    bus = InProcessBus()

    async def handler(event: MessagePosted) -> None:
        pass

    bus.subscribe(MessagePosted, handler, name="qa.answer")
    assert "failure" not in await bus.health()  # not started: nothing to judge
    await bus.start()
    assert "failure" not in await bus.health()
    for worker in bus._subs[0].workers:
        worker.cancel()
    await asyncio.gather(*bus._subs[0].workers, return_exceptions=True)
    state = await bus.health()
    assert state["bus"] == "memory" and "qa.answer" in state["failure"]
    await bus.close()
    assert "failure" not in await bus.health()  # closed on purpose


async def test_health_fails_while_a_publisher_waits_too_long_on_a_full_queue() -> None:
    bus = InProcessBus(queue_size=2, publish_stall_s=0.05)
    gate = asyncio.Event()

    async def hung(event: MessagePosted) -> None:
        await gate.wait()

    bus.subscribe(MessagePosted, hung, name="hung.on_message")
    feeder = asyncio.create_task(bus.publish_many([make_message("x", message_id=f"h{i}") for i in range(6)]))
    await asyncio.sleep(0.01)
    assert not feeder.done() and "failure" not in await bus.health()  # waiting, not yet stalled
    await asyncio.sleep(0.08)
    state = await bus.health()
    assert "waited" in state["failure"] and "hung.on_message" in state["failure"] and state["queued"] == 2
    gate.set()
    await feeder
    await bus.drain()
    assert "failure" not in await bus.health()
    await bus.close()


async def test_queue_lag_gauge_shows_events_waiting_per_subscription() -> None:
    bus = InProcessBus()
    gate = asyncio.Event()

    async def slow(event: MessagePosted) -> None:
        await gate.wait()

    bus.subscribe(MessagePosted, slow, name="lagtest.slow")
    await bus.publish_many([make_message("x", message_id=f"ql{i}") for i in range(5)])
    await asyncio.sleep(0)
    observe_queue_lag(bus)
    assert REGISTRY.get_sample_value("guildhall_queue_lag_events", {"subscription": "lagtest.slow"}) == 4
    gate.set()
    await bus.drain()
    observe_queue_lag(bus)
    assert REGISTRY.get_sample_value("guildhall_queue_lag_events", {"subscription": "lagtest.slow"}) == 0
    await bus.close()


# -- finding 5: a publish cancelled half-way ------------------------------------------------------
async def test_a_cancelled_publish_does_not_make_the_redelivery_a_duplicate() -> None:
    bus = InProcessBus(queue_size=1)
    gate = asyncio.Event()
    a_seen: list[str] = []
    b_seen: list[str] = []

    async def slow(event: MessagePosted) -> None:
        await gate.wait()
        a_seen.append(event.message_id)

    async def recorder(event: MessagePosted) -> None:
        b_seen.append(event.message_id)

    bus.subscribe(MessagePosted, slow, name="a.slow")
    bus.subscribe(MessagePosted, recorder, name="b.recorder")
    await bus.start()
    await bus.publish(make_message("x", message_id="d0"))
    await asyncio.sleep(0)
    await bus.publish(make_message("x", message_id="d1"))  # fills a.slow's queue
    pub = asyncio.create_task(bus.publish(make_message("x", message_id="d2")))
    await asyncio.sleep(0.01)
    pub.cancel()  # the platform's request timed out before every subscriber had d2
    await asyncio.gather(pub, return_exceptions=True)
    gate.set()
    assert await bus.publish(make_message("x", message_id="d2"))  # the platform redelivers it
    await bus.drain()
    assert a_seen == ["d0", "d1", "d2"] and b_seen == ["d0", "d1", "d2"]
    assert bus.stats.published == 3 and bus.stats.duplicates == 0
    assert not await bus.publish(make_message("x", message_id="d2"))  # delivered: a duplicate now
    await bus.close()


def _raised_while_handling_a_reset() -> BaseException:
    try:
        raise ConnectionResetError()
    except ConnectionResetError:
        try:
            raise KeyError("text")
        except KeyError as exc:
            return exc


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise AttributeError("no message")  # aiohttp's ClientResponseError(None, ...) does this


def _not_outages() -> list[BaseException]:
    import errno
    import gzip
    import ssl
    import urllib.error

    return [
        urllib.error.HTTPError("https://x", 404, "Not Found", {}, None),  # type: ignore[arg-type]
        ssl.SSLCertVerificationError("certificate verify failed"),
        gzip.BadGzipFile("not a gzip file"),
        OSError(errno.EROFS, "read-only file system"),
        ValueError("cannot parse 'my database is locked, help'"),  # a member's words in an error
        _raised_while_handling_a_reset(),
        _Unprintable(),
    ]


def test_only_an_unreachable_service_is_an_outage() -> None:
    """A bad event must not hold its subscription for the outage budget: only connection failures,
    the store's lock and timeout are retried in place; an HTTP error, a certificate refused, a
    read-only disk, a handler's own mistake or an exception that cannot even be printed are the
    event's failure (counted, the next event handled)."""
    import errno
    import sqlite3

    from bot.bus import is_transient_failure

    for exc in _not_outages():
        assert not is_transient_failure(exc), repr(type(exc))
    for exc in (
        ConnectionResetError(),
        OSError(errno.ECONNREFUSED, "connection refused"),
        sqlite3.OperationalError("database is locked"),
    ):
        assert is_transient_failure(exc), repr(exc)


def test_a_host_whose_every_address_refused_is_an_outage() -> None:
    """aiohappyeyeballs and anyio report a host whose addresses all failed (127.0.0.1 refused, ::1
    not available) as an OSError without an errno, or a group of them: still an outage."""
    import errno
    import ssl

    from bot.bus import is_transient_failure

    assert is_transient_failure(OSError("Multiple exceptions: [Errno 111] Connect call failed, [Errno 99] ..."))
    group = ExceptionGroup("connect", [OSError(errno.ECONNREFUSED, "refused"), OSError(errno.EADDRNOTAVAIL, "n/a")])
    wrapped = OSError("All connection attempts failed")
    wrapped.__cause__ = group
    assert is_transient_failure(wrapped)
    assert is_transient_failure(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))

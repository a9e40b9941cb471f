"""App shutdown and health: answers drained before adapters close, a dead or wedged in-process bus
fails /healthz, a second SIGTERM does not cut the shutdown short, log calls with a bad format."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal

import pytest
from pydantic import SecretStr

from adapters.discord.adapter import DiscordAdapter
from bot.app import GuildhallApp, build_app
from bot.brain import Brain, listen
from bot.bus import InProcessBus
from bot.clock import FakeClock
from bot.config import Settings
from bot.events import Action, MessagePosted
from bot.logging_setup import SecretFilter
from bot.roles import run_forever
from bot.run_cli import _stop_on_sigterm
from bot.store import open_store
from bot.testing import FakeAdapter, make_message


class Replier(Brain):
    """Answers every question after a moment of 'retrieval and generation'."""

    name = "replier"
    torn_down = False

    @listen(MessagePosted, concurrency=4)
    async def on_message(self, event: MessagePosted) -> None:
        if event.is_bot:
            return
        await asyncio.sleep(0.1)
        await self.ctx.reply(event, "answer to " + event.message_id)

    async def teardown(self) -> None:
        type(self).torn_down = True  # the QA brain flushes its index here


class ClosingAdapter(FakeAdapter):
    """Like the Discord adapter: stop() closes the HTTP session; a send after it fails."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.steps: list[str] = []

    async def _record(self, action: Action) -> None:
        if self.closed:
            raise RuntimeError("Session is closed")
        await super()._record(action)

    async def stop_receiving(self) -> None:
        self.steps.append("stop_receiving")
        await super().stop_receiving()

    async def stop(self) -> None:
        self.steps.append("stop")
        self.closed = True


class LegacyAdapter(FakeAdapter):
    """An adapter written before stop_receiving: stopped before the drain, as it always was."""

    stop_receiving = None  # type: ignore[assignment]

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    async def stop(self) -> None:
        self.log.append("legacy stopped")


async def _app(settings: Settings, bus: InProcessBus | None = None) -> GuildhallApp:
    return await build_app(
        settings,
        store=await open_store("sqlite://:memory:"),
        clock=FakeClock(),
        bus=bus,
        extra_brains=[Replier],
        with_core=False,
    )


# -- finding 2: the drain comes before the adapters close -------------------------------------------
async def test_answers_produced_while_draining_reach_the_adapter(settings: Settings) -> None:
    app = await _app(settings)
    adapter = ClosingAdapter()
    app.add_adapter(adapter)
    await app.start()
    for i in range(3):
        await adapter.inject(make_message(f"question {i}?", message_id=f"q{i}"))
    await asyncio.sleep(0.01)
    await app.stop()
    assert sorted(adapter.texts()) == ["answer to q0", "answer to q1", "answer to q2"]
    assert adapter.steps == ["stop_receiving", "stop"]
    assert app.bus.stats.failed == 0  # type: ignore[attr-defined]
    # Stopped receiving: a platform event arriving during the drain is not taken.
    assert not await adapter.inject(make_message("late", message_id="late"))


async def test_an_adapter_without_stop_receiving_is_stopped_before_the_drain(settings: Settings) -> None:
    order: list[str] = []
    app = await _app(settings)
    legacy = LegacyAdapter(order)
    app.add_adapter(legacy)
    await app.start()
    await legacy.inject(make_message("question?", message_id="lq"))
    original_close = app.bus.close

    async def close() -> None:
        order.append("bus drained")
        await original_close()

    app.bus.close = close  # type: ignore[method-assign]
    await app.stop()
    assert order == ["legacy stopped", "bus drained"]


async def test_discord_stop_receiving_closes_the_gateway_but_not_the_http_session(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"discord": settings.discord.model_copy(update={"token": SecretStr("test-token")})}
    )
    adapter = DiscordAdapter(settings)  # a real discord.py client, never logged in
    bus = InProcessBus()
    seen: list[str] = []

    async def record(event: MessagePosted) -> None:
        seen.append(event.message_id)

    bus.subscribe(MessagePosted, record, name="test.seen")
    adapter.attach(bus)
    gateway: asyncio.Task[None] = asyncio.create_task(asyncio.sleep(3600), name="discord-gateway")
    adapter._task = gateway  # as start() leaves it: connect() running
    await adapter._publish(make_message("before", message_id="b1"))
    await adapter.stop_receiving()
    assert gateway.cancelled() and not adapter.client.is_closed()  # replies still go out
    await adapter._publish(make_message("after", message_id="a1"))  # in flight at the close
    await bus.drain()
    assert seen == ["b1"]
    await adapter.stop()
    assert adapter.client.is_closed()
    await bus.close()


# -- finding 4: /healthz sees a dead or wedged in-process bus ---------------------------------------
async def test_health_fails_while_a_bus_subscription_is_dead(settings: Settings) -> None:
    app = await _app(settings, InProcessBus(drain_timeout_s=0.5))
    app.add_adapter(FakeAdapter())
    await app.start()
    assert (await app.health())["status"] == "ok"
    for sub in app.bus._subs:  # type: ignore[attr-defined]
        if sub.name.startswith("replier"):
            for worker in sub.workers:
                worker.cancel()
    await asyncio.sleep(0.01)
    health = await app.health()
    assert health["status"] == "fail" and "replier.on_message" in health["reason"]
    await app.stop()


class Hung(Brain):
    name = "hung"

    @listen(MessagePosted)
    async def on_message(self, event: MessagePosted) -> None:
        await asyncio.Event().wait()  # a remote call without a timeout


async def test_health_fails_while_publishers_are_blocked(settings: Settings) -> None:
    bus = InProcessBus(queue_size=5, drain_timeout_s=0.2, publish_stall_s=0.05)
    app = await build_app(
        settings,
        store=await open_store("sqlite://:memory:"),
        clock=FakeClock(),
        bus=bus,
        extra_brains=[Hung],
        with_core=False,
    )
    adapter = FakeAdapter()
    app.add_adapter(adapter)
    await app.start()

    async def feed() -> None:
        for i in range(20):
            await adapter.inject(make_message("hi", message_id=f"h{i}"))

    feeder = asyncio.create_task(feed())
    await asyncio.sleep(0.1)
    health = await app.health()
    assert not feeder.done() and health["status"] == "fail" and "hung.on_message" in health["reason"]
    feeder.cancel()
    await asyncio.gather(feeder, return_exceptions=True)
    await app.stop()


# -- finding 7: a second SIGTERM during shutdown ------------------------------------------------------
async def test_a_second_sigterm_does_not_cut_the_shutdown_short(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    Replier.torn_down = False
    app = await _app(settings)
    adapter = FakeAdapter()
    app.add_adapter(adapter)
    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    start = app.start

    async def start_and_tell(**kwargs: bool) -> None:
        await start(**kwargs)
        started.set()

    app.start = start_and_tell  # type: ignore[method-assign]

    async def serve() -> None:
        _stop_on_sigterm()
        await run_forever(app)

    task = asyncio.create_task(serve())
    try:
        await asyncio.wait_for(started.wait(), 5)
        await adapter.inject(make_message("question?", message_id="st1"))
        await asyncio.sleep(0.01)
        with caplog.at_level(logging.WARNING):
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0.03)  # draining: the answer takes 0.1 s
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0.01)
            task.cancel()  # and a Ctrl-C on top: the shutdown still finishes
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    assert adapter.texts() == ["answer to st1"]
    assert Replier.torn_down
    assert any("already stopping" in r.getMessage() for r in caplog.records)


# -- finding 6: a log call with a bad format ---------------------------------------------------------
def test_a_bad_log_format_does_not_raise_at_the_call_site(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler as configure() installs it (pytest's own capture handlers re-raise logging errors,
    # so the record is handed to it directly, as Logger.callHandlers does).
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretFilter(["hunter2-literal"]))
    monkeypatch.setattr(logging, "raiseExceptions", True)  # the default: handleError prints
    bad = logging.LogRecord(
        "guildhall.test", logging.INFO, __file__, 1, "answered %s in %s", ("hunter2-literal",), None
    )
    handler.handle(bad)  # one argument short: raised out of the log call before
    handler.handle(logging.LogRecord("guildhall.test", logging.INFO, __file__, 2, "still logging", None, None))
    assert "still logging" in stream.getvalue()
    err = capsys.readouterr().err
    assert "not enough arguments" in err and "hunter2-literal" not in err  # reported, masked

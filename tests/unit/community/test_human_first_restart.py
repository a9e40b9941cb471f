"""Human-first timers live in one process's memory: a question still waiting when the bot restarts
(a deploy) is taken up again from the store once its wait is over, and answered once only. Before,
it was never answered nor nudged (the QA brain's own job stands down for the community brain)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.testing import ScriptedLLM, make_message
from bot.testing.builders import BASE_TIME
from tests.unit.community.test_community_brain import HELP, community_settings, echo_first_source, seed_history, sent
from tests.unit.community.test_community_brain import start as start_app

__all__ = ["community_settings"]  # the fixture, imported for pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("GUILDHALL_TEST_STORE") == "postgresql",
    reason="the two apps must share one store; under PostgreSQL make_app gives each its own database",
)


def on_file(settings: Settings, tmp_path: Any) -> Settings:
    """The settings with a SQLite file store, which outlives the app as a deploy's database does."""
    store = settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/guildhall.db"})
    return settings.model_copy(update={"store": store})


async def restart(make_app: Any, settings: Settings, llm: ScriptedLLM, at_minutes: float) -> tuple[Any, Any, FakeClock]:
    """A new app on the same store, its clock ``at_minutes`` after the base time, its index rebuilt."""
    clock = FakeClock(BASE_TIME + timedelta(minutes=at_minutes))
    app, adapter = await start_app(make_app, settings, llm, clock)
    await (await app.brain("qa").indexer()).index_all()
    return app, adapter, clock


async def test_a_question_waiting_at_a_restart_is_answered_after_it_once(
    make_app: Any, community_settings: Settings, tmp_path: Any
) -> None:
    settings = on_file(community_settings, tmp_path)
    clock = FakeClock(BASE_TIME)
    app, adapter = await start_app(make_app, settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    await adapter.inject(
        make_message("how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="p1")
    )
    await app.bus.drain()
    await clock.advance(timedelta(minutes=3))
    await app.stop()  # a deploy, 7 minutes before the wait is over

    app2, adapter2, clock2 = await restart(make_app, settings, ScriptedLLM(echo_first_source), 4)
    await clock2.advance(timedelta(minutes=5))
    await app2.bus.drain()
    assert sent(adapter2) == []  # still waiting for a human
    await clock2.advance(timedelta(minutes=60))
    await app2.bus.drain()
    [answer] = sent(adapter2)
    assert answer.thread_id == "p1" and "poetry" in answer.text


@pytest.mark.parametrize("model", [echo_first_source, "NOT_FOUND"], ids=["answer", "nudge"])
async def test_a_question_handled_before_a_restart_is_not_handled_again(
    make_app: Any, community_settings: Settings, tmp_path: Any, model: Any
) -> None:
    """Both an answer (logged with the QA brain's answers) and a nudge (logged nowhere else) count."""
    settings = on_file(community_settings, tmp_path)
    clock = FakeClock(BASE_TIME)
    app, adapter = await start_app(make_app, settings, ScriptedLLM(model), clock)
    await seed_history(app, adapter)
    await adapter.inject(
        make_message("how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="p1")
    )
    await app.bus.drain()
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert len(sent(adapter)) == 1
    await app.stop()

    app2, adapter2, clock2 = await restart(make_app, settings, ScriptedLLM(model), 12)
    await clock2.advance(timedelta(minutes=60))
    await app2.bus.drain()
    assert sent(adapter2) == []


async def test_the_askers_thanks_before_a_restart_keeps_the_bot_silent_after_it(
    make_app: Any, community_settings: Settings, tmp_path: Any
) -> None:
    """The asker's "got it working, thanks" is recorded in the store, not only in the timer it
    cancels: the process that takes the question up after the restart finds it settled."""
    settings = on_file(community_settings, tmp_path)
    clock = FakeClock(BASE_TIME)
    app, adapter = await start_app(make_app, settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    for message in (
        make_message("how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="p1"),
        make_message("got it working, thanks", author="dan", chan=HELP, message_id="p2", thread_id="p1", minutes=2),
    ):
        await adapter.inject(message)
        await app.bus.drain()
    await clock.advance(timedelta(minutes=3))
    await app.stop()

    app2, adapter2, clock2 = await restart(make_app, settings, ScriptedLLM(echo_first_source), 4)
    await clock2.advance(timedelta(minutes=60))
    await app2.bus.drain()
    assert sent(adapter2) == []

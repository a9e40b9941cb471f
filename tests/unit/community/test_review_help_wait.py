"""Help-channel waits and follow-ups (review, round 4).

* Once the bot answered a waited-out question, its ``community_waiting`` row stayed for an hour:
  another member's reply in the thread counted as "a human answered first", the takeover was
  never recorded, and the bot kept answering the asker's follow-ups over the human.
* The answer went out with the question as first posted, not as edited since: an edit taking
  something sensitive out still reached the model, the moderators' draft and the stored draft.
* A human reply arriving while the answer was generated did not stop it.
* A follow-up delivered twice (a worker died before acknowledging it) was answered twice.
* A forum post asking in its title ("How do I ...?") with a statement body never waited for an
  answer, and the model never saw the title.
* ``help_channel_ids = ["#help"]`` never matched: ``#`` was stripped from the channel's name only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import ChannelRef, ChannelSeen, MessageEdited, Platform, ThreadCreated, Visibility
from bot.store.models import MessageRow
from bot.testing import ScriptedLLM, make_message, user
from bot.testing.builders import BASE_TIME
from brain.community import qa_bridge
from tests.unit.community.test_community_brain import (
    HELP,
    community_settings,
    echo_first_source,
    post,
    seed_history,
    sent,
    shadow_mode_in_help,
    start,
)

__all__ = ["community_settings"]  # the fixture, imported for pytest

QUESTION = "how do I pin a dependency version with poetry?"
FORUM = ChannelRef(Platform.CONSOLE, "local", "forum1", "python-help", Visibility.PUBLIC, True)


def prompted(llm: ScriptedLLM, text: str) -> bool:
    return any(text in m.content for prompt in llm.prompts for m in prompt)


async def waiting(app: Any, message_id: str) -> bool:
    row = await app.store.db.fetchone("SELECT 1 FROM community_waiting WHERE message_id = ?", (message_id,))
    return row is not None


async def answered_after_the_wait(make_app, settings: Settings, llm: ScriptedLLM | None = None):
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, settings, llm or ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    await post(app, adapter, make_message(QUESTION, author="dan", chan=HELP, message_id="p1"))
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert len(sent(adapter)) == 1  # the bot answered once the wait was over
    return app, adapter, clock


async def test_a_human_reply_after_the_bots_answer_takes_the_thread_over(make_app, community_settings) -> None:
    app, adapter, _ = await answered_after_the_wait(make_app, community_settings)
    reply = make_message("you can also use pip-tools", author="erin", chan=HELP, message_id="p2", thread_id="p1")
    await post(app, adapter, reply)
    row = await app.store.db.fetchone("SELECT human_took_over FROM community_threads WHERE thread_id = 'p1'")
    assert row == (1,)
    follow = make_message(
        "what about poetry lock files?", author="dan", chan=HELP, message_id="p3", thread_id="p1", minutes=13
    )
    assert not await app.brain("community").takes_followup(follow)
    await post(app, adapter, follow)
    assert len(sent(adapter)) == 1  # the human has it now


async def test_the_waiting_row_goes_once_the_question_is_handled(make_app, community_settings) -> None:
    app, adapter, _ = await answered_after_the_wait(make_app, community_settings)
    assert not await waiting(app, "p1")
    assert not await waiting(app, "h1")  # the seeded question bob answered
    # Settled by a human reply before the wait ended: no row either.
    await post(app, adapter, make_message(QUESTION, author="fay", chan=HELP, message_id="s1", minutes=20))
    assert await waiting(app, "s1")
    reply = make_message("poetry add x==1", author="gus", chan=HELP, message_id="s2", thread_id="s1", minutes=21)
    await post(app, adapter, reply)
    assert not await waiting(app, "s1")


async def test_the_answer_and_the_draft_use_the_edited_question(make_app, community_settings) -> None:
    clock = FakeClock(BASE_TIME)
    llm = ScriptedLLM(echo_first_source)
    app, adapter = await start(make_app, community_settings, llm, clock)
    await shadow_mode_in_help(app, adapter)
    await post(
        app, adapter, make_message(f"{QUESTION} my host is SECRETHOST-42", author="dan", chan=HELP, message_id="d1")
    )
    await clock.advance(timedelta(minutes=2))
    await post(app, adapter, MessageEdited(channel=HELP, message_id="d1", text=QUESTION, edited_at=clock.now()))
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    [draft] = sent(adapter)
    assert draft.channel.channel_id == "mods" and "SECRETHOST" not in draft.text
    assert not prompted(llm, "SECRETHOST")
    [(question,)] = await app.store.db.fetchall("SELECT question FROM community_drafts")
    assert "SECRETHOST" not in question


async def test_a_human_reply_during_generation_stops_the_answer(make_app, community_settings, monkeypatch) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    await post(app, adapter, make_message(QUESTION, author="dan", chan=HELP, message_id="p1"))
    generate = qa_bridge.answer_in_thread
    community = app.brain("community")

    async def slow_answer(qa: Any, event: Any, *, thread_id: str | None) -> Any:
        result = await generate(qa, event, thread_id=thread_id)
        # Bob answered in the thread while the model generated: recorded, and handled here.
        reply = make_message(
            "use poetry add pkg==1.0", author="bob", chan=HELP, message_id="p2", thread_id="p1", minutes=10
        )
        row = MessageRow("console", "local", "p2", "help", "bob", reply.ts.timestamp(), reply.text, "p1")
        await app.store.upsert_messages([row])
        await community.on_message(reply)
        return result

    monkeypatch.setattr(qa_bridge, "answer_in_thread", slow_answer)
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert sent(adapter) == []


async def mention_then_followup(make_app, settings: Settings):
    app, adapter = await start(make_app, settings, ScriptedLLM(echo_first_source))
    await seed_history(app, adapter)
    ask = make_message(
        "@guildhall how do I pin a dependency with poetry?", author="dan", message_id="q1", mentions_bot=True
    )
    await post(app, adapter, ask)
    follow = make_message(
        "and how do I pin requests with poetry add?", author="dan", message_id="q2", thread_id="q1", minutes=1
    )
    return app, adapter, follow


async def test_a_redelivered_followup_is_answered_once(make_app, community_settings) -> None:
    app, adapter, follow = await mention_then_followup(make_app, community_settings)
    await post(app, adapter, follow)
    assert len(sent(adapter)) == 2
    await app.brain("community").on_message(follow)  # a stream entry reclaimed after a worker died
    await app.bus.drain()
    assert len(sent(adapter)) == 2


async def test_a_followup_whose_answer_failed_is_answered_when_retried(
    make_app, community_settings, monkeypatch
) -> None:
    app, adapter, follow = await mention_then_followup(make_app, community_settings)
    generate = qa_bridge.answer_in_thread

    async def failing(qa: Any, event: Any, *, thread_id: str | None) -> Any:
        raise RuntimeError("worker lost its connection")

    monkeypatch.setattr(qa_bridge, "answer_in_thread", failing)
    await adapter.inject(follow)
    await app.bus.drain()
    assert len(sent(adapter)) == 1
    monkeypatch.setattr(qa_bridge, "answer_in_thread", generate)
    await app.brain("community").on_message(follow)  # the retry
    await app.bus.drain()
    assert len(sent(adapter)) == 2


@pytest.mark.parametrize("thread_first", [True, False])
async def test_a_forum_post_asking_in_its_title_waits_and_is_answered_with_it(
    make_app, community_settings, thread_first: bool
) -> None:
    clock = FakeClock(BASE_TIME)
    llm = ScriptedLLM(echo_first_source)
    app, adapter = await start(make_app, community_settings, llm, clock)
    await seed_history(app, adapter)
    await post(app, adapter, ChannelSeen(FORUM))
    created = ThreadCreated(FORUM, "f1", "How do I pin a dependency version with poetry?", user("dan"), BASE_TIME, True)
    body = make_message(
        "I tried poetry add but the lock file keeps changing versions.",
        author="dan",
        chan=FORUM,
        message_id="f1",
        thread_id="f1",
    )
    await post(app, adapter, *((created, body) if thread_first else (body, created)))
    assert await waiting(app, "f1")
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    [answer] = [m for m in sent(adapter) if not m.text.startswith("These solved threads")]
    assert answer.thread_id == "f1"
    assert prompted(llm, "How do I pin a dependency version with poetry?")


async def test_a_forum_post_with_no_question_does_not_wait(make_app, community_settings) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await post(app, adapter, ChannelSeen(FORUM))
    created = ThreadCreated(FORUM, "f2", "Showcase: my poetry plugin", user("dan"), BASE_TIME, True)
    body = make_message(
        "I wrote a plugin that pins versions.", author="dan", chan=FORUM, message_id="f2", thread_id="f2"
    )
    await post(app, adapter, created, body)
    assert not await waiting(app, "f2")


async def test_help_channels_named_with_a_hash_match(make_app, settings: Settings) -> None:
    hashed = settings.model_copy(
        update={
            "qa": settings.qa.model_copy(update={"help_channel_ids": ["#help"]}),
            "community": settings.community.model_copy(update={"human_first_minutes": 10.0}),
        }
    )
    app, _ = await start(make_app, hashed, ScriptedLLM(echo_first_source))
    assert await app.brain("community")._is_help_channel(HELP)


async def test_the_qa_brains_help_channels_named_with_a_hash_match(make_app, settings: Settings) -> None:
    """Without the community brain, the QA brain answers help-channel questions nobody took up."""
    clock = FakeClock(BASE_TIME)
    hashed = settings.model_copy(
        update={"qa": settings.qa.model_copy(update={"answer_unanswered_after_min": 30, "help_channel_ids": ["#help"]})}
    )
    llm = ScriptedLLM("Run make clean-cache to reset the cache [1].")
    app, adapter = await make_app(brains=["qa"], llm=llm, clock=clock, settings_override=hashed)
    history = make_message("to reset the cache run make clean-cache", author="bob", chan="general", minutes=-600)
    await post(
        app, adapter, history, make_message("how do I reset the cache?", author="al", chan=HELP, message_id="c1")
    )
    await clock.advance(timedelta(minutes=35))
    await app.brain("qa").answer_unanswered()
    await app.bus.drain()
    assert [m.thread_id for m in sent(adapter)] == ["c1"]

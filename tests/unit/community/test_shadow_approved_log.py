"""An approved shadow-mode draft is an answer like any other: it is logged in the QA answer log when
it is posted, under its asker and thread with what it cites. It was posted and never logged, so:

* a 👍/👎 reaction on it was not recorded (feedback goes by the logged answers a message shows);
* a follow-up in its thread was neither taken up without a mention nor condensed with it;
* /forget-me of a member it quoted, or a delete of a message it quoted, left its stored copy as
  posted (the log removes the copies of the answers it removes or scrubs);
* a help-channel question answered by an approved draft in its thread was taken up again by its
  timer, and drafted a second time.

The approved answer also replies to the question as the bot's own answers do (``reply_to``): a
Discord question in a plain channel has no thread, and an answer into "the thread" of its id went
nowhere.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import MessageDeleted, ReactionAdded, SendEphemeral, SendMessage
from bot.ml import ChatMessage
from bot.testing import ScriptedLLM, command, make_message, user
from bot.testing.builders import BASE_TIME
from brain.qa.shown import REMOVED_COPY
from tests.unit.community.test_community_brain import (
    HELP,
    approve_button,
    community_settings,
    draft_after_the_wait,
    echo_first_source,
    mod_click,
    post,
    sent,
    shadow_mode_in_help,
    start,
)

__all__ = ["community_settings"]  # the fixture, imported for pytest

BOT = user("guildhall", bot=True)
QUESTION = "how do I pin a dependency version with poetry?"
FOLLOW_UP = "and how do I pin requests with poetry add?"


def model(messages: Sequence[ChatMessage]) -> str:
    """Condenses a follow-up into itself; answers by quoting source 1."""
    if "Standalone question:" in messages[-1].content:
        return FOLLOW_UP
    return echo_first_source(messages)


def in_channel(adapter: Any, channel_id: str) -> list[SendMessage]:
    return [m for m in sent(adapter) if m.channel.channel_id == channel_id]


async def logged(app: Any) -> list[tuple[Any, ...]]:
    return list(
        await app.store.db.fetchall(
            "SELECT answer_id, channel_id, thread_id, asker_id, question, answer, cited, abstained, cited_authors, "
            "cited_messages FROM qa_answers ORDER BY ts"
        )
    )


async def drafted(make_app: Any, settings: Settings) -> tuple[Any, Any, FakeClock, ScriptedLLM, SendMessage]:
    """#help in shadow mode; dan's question ``d1`` there waited and was drafted to #mods."""
    clock = FakeClock(BASE_TIME)
    llm = ScriptedLLM(model)
    app, adapter = await start(make_app, settings, llm, clock)
    await shadow_mode_in_help(app, adapter)
    draft = await draft_after_the_wait(app, adapter, clock, QUESTION, "dan", "d1")
    assert [m.channel.channel_id for m in sent(adapter)] == ["mods"]
    return app, adapter, clock, llm, draft


async def approved(make_app: Any, settings: Settings) -> tuple[Any, Any, FakeClock, ScriptedLLM, SendMessage]:
    """:func:`drafted`, approved, and the posted answer back as the bot's stored message ``bot-1``."""
    app, adapter, clock, llm, draft = await drafted(make_app, settings)
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    [answer] = in_channel(adapter, "help")
    copy = make_message(answer.text, author=BOT, chan=HELP, thread_id="d1", message_id="bot-1", minutes=11)
    await post(app, adapter, copy)
    return app, adapter, clock, llm, answer


async def test_an_approved_draft_is_logged_as_the_answer_to_its_question(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, _, _, draft = await drafted(make_app, community_settings)
    assert await logged(app) == []  # a pending draft is no answer yet
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    [answer] = in_channel(adapter, "help")
    [row] = await logged(app)
    answer_id, channel_id, thread_id, asker, question, text, cited, abstained, authors, messages = row
    assert (channel_id, thread_id, asker, question, text) == ("help", "d1", "dan", QUESTION, answer.text)
    assert answer_id == approve_button(draft).partition(":")[2]  # the draft's id: logged once, however often
    assert json.loads(cited) and not abstained
    assert {"ann", "bob"} <= set(json.loads(authors)) and "h2" in json.loads(messages)


async def test_a_reaction_on_an_approved_answer_is_recorded_as_feedback(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, _, _, _ = await approved(make_app, community_settings)
    await post(app, adapter, ReactionAdded(HELP, "bot-1", user("dan"), "👍"))
    votes = [(r[2], r[4], r[5]) for r in await app.store.feedback("qa")]
    assert [(who, vote) for who, _, vote in votes] == [("dan", "up")]
    [(answer_id, *_)] = await logged(app)
    assert votes[0][1] == answer_id


async def test_a_follow_up_in_the_thread_of_an_approved_answer_is_drafted_with_its_history(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, _, llm, answer = await approved(make_app, community_settings)
    before = len(llm.prompts)
    follow = make_message(FOLLOW_UP, author="dan", chan=HELP, message_id="d2", thread_id="d1", minutes=12)
    await post(app, adapter, follow)
    drafts = in_channel(adapter, "mods")
    assert len(drafts) == 2 and FOLLOW_UP in drafts[-1].text  # drafted, not posted: shadow mode
    condense = [p[-1].content for p in llm.prompts[before:] if "Standalone question:" in p[-1].content]
    assert condense and answer.text.split(" [1]")[0] in condense[0]  # the bot's answer is in the history


async def test_forget_me_of_a_member_an_approved_answer_quoted_removes_its_stored_copy(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, _, _, answer = await approved(make_app, community_settings)
    assert "requests==2.31.0" in answer.text  # bob's words (h2)
    await post(app, adapter, command("forget-me", "confirm", author="bob"))
    assert await logged(app) == []
    copy = await app.store.get_message("console", "local", "bot-1")
    assert copy is not None and copy.text == REMOVED_COPY


async def test_deleting_a_message_an_approved_answer_quoted_scrubs_it_and_its_stored_copy(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, clock, _, _ = await approved(make_app, community_settings)
    await post(app, adapter, MessageDeleted(channel=HELP, message_id="h2", deleted_at=clock.now()))
    copy = await app.store.get_message("console", "local", "bot-1")
    assert copy is not None and copy.text == REMOVED_COPY
    [row] = await logged(app)
    assert row[4] == QUESTION and row[5] == ""  # the question stays answered, the words go


async def mention_under_waiting_question(make_app: Any, settings: Settings) -> tuple[Any, Any, FakeClock, SendMessage]:
    """dan's question ``w1`` waits in #help (shadow mode); dan mentions the bot under it (``w2``),
    which is drafted at once and approved before the wait is over. Returns the answer posted."""
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, settings, ScriptedLLM(model), clock)
    await shadow_mode_in_help(app, adapter)
    await post(app, adapter, make_message(QUESTION, author="dan", chan=HELP, message_id="w1"))
    mention = make_message(
        f"@guildhall {QUESTION}", author="dan", chan=HELP, message_id="w2", thread_id="w1", minutes=1, mentions_bot=True
    )
    await post(app, adapter, mention)
    [draft] = in_channel(adapter, "mods")
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    [answer] = in_channel(adapter, "help")
    return app, adapter, clock, answer


async def test_an_approved_answer_replies_to_its_question_as_the_bots_answers_do(
    make_app: Any, community_settings: Settings
) -> None:
    """In the question's thread, replying to the question (or to the mention under it): on Discord
    a message id is no channel, and an answer "in the thread" of a question in a plain channel
    without ``reply_to`` went to no channel at all."""
    *_, answer = await approved(make_app, community_settings)
    assert (answer.thread_id, answer.reply_to) == ("d1", "d1")
    *_, answer = await mention_under_waiting_question(make_app, community_settings)
    assert (answer.thread_id, answer.reply_to) == ("w1", "w2")


async def test_a_waiting_question_answered_by_an_approved_draft_in_its_thread_is_not_drafted_again(
    make_app: Any, community_settings: Settings
) -> None:
    """The asker mentions the bot under their own waiting question: that mention is drafted and
    approved before the question's wait is over, and the answer is the question's."""
    app, adapter, clock, answer = await mention_under_waiting_question(make_app, community_settings)
    [draft] = in_channel(adapter, "mods")
    await clock.advance(timedelta(minutes=30))  # the wait, and the job taking up waiting questions
    await app.bus.drain()
    assert in_channel(adapter, "mods") == [draft]
    assert in_channel(adapter, "help") == [answer]


async def test_two_moderators_approving_at_once_post_and_log_the_answer_once(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, _, _, draft = await drafted(make_app, community_settings)
    community = app.brain("community")
    clicks = [mod_click(approve_button(draft), mod, "dm1", f"c-{mod}") for mod in ("mod1", "mod2")]
    await asyncio.gather(*(community.on_click(click) for click in clicks))
    await app.bus.drain()
    assert len(in_channel(adapter, "help")) == 1
    assert len(await logged(app)) == 1
    assert [e.text for e in adapter.of_type(SendEphemeral)] == ["Draft approved."]


async def test_a_draft_written_before_drafts_kept_their_question_is_logged_with_the_stored_one(
    make_app: Any, community_settings: Settings
) -> None:
    """Drafts written before community-0008 lack the question as answered, the cited units and
    the abstention: the question's stored text stands in, no cited units (the cited messages and
    their authors, kept since community-0007 and -0003, are what deletes and /forget-me go by)."""
    app, adapter, clock, _, draft = await drafted(make_app, community_settings)
    await app.store.db.execute("UPDATE community_drafts SET question = NULL, cited_units = NULL, abstained = NULL")
    await post(app, adapter, mod_click(approve_button(draft), "mod1", "dm1", "c1"))
    [answer] = in_channel(adapter, "help")
    [row] = await logged(app)
    assert row[3:8] == ("dan", QUESTION, answer.text, "[]", 0)
    assert "h2" in json.loads(row[9])
    copy = make_message(answer.text, author=BOT, chan=HELP, thread_id="d1", message_id="bot-1", minutes=11)
    await post(app, adapter, copy)
    await post(app, adapter, MessageDeleted(channel=HELP, message_id="h2", deleted_at=clock.now()))
    copy = await app.store.get_message("console", "local", "bot-1")
    assert copy is not None and copy.text == REMOVED_COPY


async def test_a_deleted_question_takes_its_text_out_of_the_draft(make_app: Any, community_settings: Settings) -> None:
    app, adapter, clock, _, _ = await drafted(make_app, community_settings)
    assert await app.store.db.fetchone("SELECT question FROM community_drafts") == (QUESTION,)
    await post(app, adapter, MessageDeleted(channel=HELP, message_id="d1", deleted_at=clock.now()))
    assert await app.store.db.fetchone("SELECT status, question, answer FROM community_drafts") == ("gone", "", "")


async def test_the_askers_data_export_shows_the_question_of_each_draft(
    make_app: Any, community_settings: Settings
) -> None:
    app, _, _, _, _ = await drafted(make_app, community_settings)
    export = await app.brain("community").export_member(user("dan"))
    [item] = export["drafts"]
    assert item["question"] == QUESTION and item["status"] == "pending"

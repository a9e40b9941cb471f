"""An approved shadow-mode draft is posted with the buttons the bot's answers carry: "✅ Mark solved"
(as the community brain's answers in help channels) and 👍/👎 (as the QA brain's answers, under the
answer's id, the draft's). It was posted with none: the asker could not mark it solved with a click,
and nobody could rate it but with a reaction."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.events import ButtonClicked, SendEphemeral
from bot.testing import user
from brain.community.brain import SOLVED_ACTION
from brain.qa.brain import FEEDBACK_ACTION
from tests.unit.community.test_community_brain import HELP, community_settings, post
from tests.unit.community.test_shadow_approved_log import approved

__all__ = ["community_settings"]  # the fixture, imported for pytest


async def _approved(make_app: Any, settings: Settings) -> tuple[Any, Any, Any, str]:
    """dan's question ``d1`` in #help (shadow mode) drafted, approved, and posted: the posted answer
    (stored back as the bot's message ``bot-1``) and the draft's id."""
    app, adapter, _, _, answer = await approved(make_app, settings)
    [(draft_id,)] = await app.store.db.fetchall("SELECT draft_id FROM community_drafts")
    return app, adapter, answer, str(draft_id)


async def test_the_approved_answer_carries_mark_solved_and_feedback_buttons(
    make_app: Any, community_settings: Settings
) -> None:
    _, _, answer, draft_id = await _approved(make_app, community_settings)
    assert [(b.action_id, b.value) for b in answer.buttons] == [
        (SOLVED_ACTION, "d1"),
        (FEEDBACK_ACTION, f"up:{draft_id}"),
        (FEEDBACK_ACTION, f"down:{draft_id}"),
    ]


async def test_mark_solved_on_the_approved_answer_marks_the_question_solved(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, answer, _ = await _approved(make_app, community_settings)
    [solved] = [b for b in answer.buttons if b.action_id == SOLVED_ACTION]
    await post(app, adapter, ButtonClicked(solved.action_id, solved.value, user("dan"), HELP, "bot-1", "c2"))
    row = await app.store.db.fetchone("SELECT solved_message_id FROM threads WHERE thread_id = 'd1'")
    assert row == ("bot-1",)  # the approved answer is the accepted one
    assert "Marked solved" in adapter.of_type(SendEphemeral)[-1].text


async def test_a_feedback_vote_on_the_approved_answer_is_recorded_under_the_drafts_id(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, answer, draft_id = await _approved(make_app, community_settings)
    [down] = [b for b in answer.buttons if b.value.startswith("down:")]
    await post(app, adapter, ButtonClicked(down.action_id, down.value, user("erin"), HELP, "bot-1", "c3"))
    votes = [(r[2], r[4], r[5]) for r in await app.store.feedback("qa")]
    assert votes == [("erin", draft_id, "down")]
    [(answer_id,)] = await app.store.db.fetchall("SELECT answer_id FROM qa_answers")
    assert answer_id == draft_id  # the vote is on the logged answer

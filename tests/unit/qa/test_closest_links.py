"""An abstention links conversations someone answered in, never an earlier unanswered asking."""

from __future__ import annotations

from typing import Any

from bot.testing import ScriptedLLM, channel, make_message
from tests.unit.qa.test_brain import post, replies


async def test_an_earlier_unanswered_asking_is_not_linked(make_app: Any, settings: Any) -> None:
    qa = settings.qa.model_copy(update={"closest_threads": 2})
    app, adapter = await make_app(
        brains=["qa"], llm=ScriptedLLM("NOT_FOUND"), settings_override=settings.model_copy(update={"qa": qa})
    )
    question = "how do I rotate the webhook signing secret?"
    general = channel("general")
    await post(app, adapter, make_message(f"@guildhall {question}", author="alice", chan=general))
    help_root = make_message(question, author="dan", chan=channel("help"), minutes=60)
    await post(
        app,
        adapter,
        help_root,
        make_message(
            "Regenerate it under Settings > Webhooks",
            author="eve",
            chan=channel("help"),
            thread_id=help_root.message_id,
        ),
    )
    await post(app, adapter, make_message(question, author="carol", mentions_bot=True, minutes=200))
    answer = replies(adapter)[-1]
    assert answer.citations, answer.text
    assert all("Regenerate it" in c.title for c in answer.citations), [c.title for c in answer.citations]

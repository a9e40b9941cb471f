"""A re-ranking model that cannot load costs one warning; indexing and answering go on without it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot.events import SendMessage
from bot.testing import ScriptedLLM, make_message
from brain.qa.access import AccessScope
from brain.qa.brain import QABrain
from tests.unit.qa.test_brain import echo_first_source, post, replies


@pytest.mark.parametrize("kind", ["missing path", "folder without a model"])
async def test_a_rerank_model_that_cannot_load_leaves_indexing_and_answers_working(
    make_app: Any, settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    model = tmp_path / "no-such-model"
    if kind == "folder without a model":
        model.mkdir()
        (model / "README.md").write_text("not a cross-encoder")
    qa = settings.qa.model_copy(update={"rerank_model": str(model)})
    app, adapter = await make_app(
        brains=["qa"], llm=ScriptedLLM(echo_first_source), settings_override=settings.model_copy(update={"qa": qa})
    )
    caplog.set_level(logging.WARNING)
    await post(app, adapter, make_message("To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev"))
    for minutes in (90, 95):
        await post(
            app, adapter, make_message("how do I fix ERR_CONNECTION_REFUSED?", mentions_bot=True, minutes=minutes)
        )

    answers = [r.text for r in replies(adapter) if isinstance(r, SendMessage)]
    assert len(answers) == 2 and all("npm run dev" in text for text in answers)
    brain: QABrain = app.brain("qa")
    found = await (await brain.retriever()).search("ERR_CONNECTION_REFUSED", AccessScope("console", "local"))
    assert any("npm run dev" in s.unit.text for s in found)
    # No handler failed (the message was indexed, both questions answered) and the cause is logged once.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    warnings = [r.getMessage() for r in caplog.records if "re-ranking model" in r.getMessage()]
    assert len(warnings) == 1 and str(model) in warnings[0] and "qa.rerank_model" in warnings[0]
    assert "\n" not in warnings[0]

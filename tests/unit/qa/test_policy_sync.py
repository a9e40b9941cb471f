"""Opt-outs and channel policy reach the index before the next answer, not at the next full
rebuild; /guildhall index stays in its workspace; erasures leave the vector store's log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.events import ChannelSeen, CommandReply
from bot.testing import ScriptedLLM, channel, command, make_message
from brain.qa.brain import QABrain
from tests.chroma_log import log_rows_with
from tests.unit.qa.test_brain import PUBLIC, echo_first_source, post, replies, search


async def _ask(app: Any, adapter: Any, text: str, minutes: float) -> str:
    await post(app, adapter, make_message(text, author="carol", mentions_bot=True, minutes=minutes))
    return replies(adapter)[-1].text


async def _search(app: Any, text: str) -> list[str]:
    """What `guildhall search` finds: policy changes applied first, as before an answer."""
    brain: QABrain = app.brain("qa")
    await brain.retriever()
    await brain.apply_policy_changes("console", "local")
    return await search(app, text, PUBLIC)


async def test_an_opted_out_members_words_are_not_cited_after_optout(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(echo_first_source))
    await post(app, adapter, make_message("pass the frobnicator flag --zeta to the build", author="bob"))
    assert "--zeta" in await _ask(app, adapter, "how do I set the frobnicator flag?", 60)
    await post(app, adapter, command("optout", "", author="bob"))
    assert "--zeta" not in await _ask(app, adapter, "how do I set the frobnicator flag?", 120)
    assert all("--zeta" not in t for t in await _search(app, "frobnicator flag"))
    await post(app, adapter, command("optin", "", author="bob"))
    assert "--zeta" in await _ask(app, adapter, "how do I set the frobnicator flag?", 180)


async def test_a_denied_channel_leaves_answers_at_once_and_an_allowed_one_enters(make_app: Any, settings: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(echo_first_source))
    await post(app, adapter, make_message("the staging host is stage-7.internal", author="bob", chan="python"))
    assert "stage-7" in await _ask(app, adapter, "what is the staging host?", 60)
    await post(app, adapter, command("guildhall config", "set deny_channels python", admin=True))
    assert "stage-7" not in await _ask(app, adapter, "what is the staging host?", 120)
    assert all("stage-7" not in t for t in await _search(app, "staging host"))
    await post(app, adapter, command("guildhall config", "set deny_channels nothing-here", admin=True))
    assert any("stage-7" in t for t in await _search(app, "staging host"))


async def test_guildhall_index_rebuilds_only_the_admins_workspace(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(echo_first_source))
    other = channel("general", workspace="T2")
    await post(
        app,
        adapter,
        make_message("ours: run make docs", author="bob"),
        *[make_message(f"theirs {i}: secret roadmap item", author="eve", chan=other, minutes=i * 40) for i in range(5)],
    )
    await post(app, adapter, command("guildhall index", "", admin=True))
    reply = [a for a in adapter.of_type(CommandReply)][-1]
    assert "units from 1 channels" in reply.text, reply.text  # local's one channel, not T2's


async def test_a_guessed_visibility_does_not_reindex_a_channel(make_app: Any) -> None:
    """An import without permissions says 'public' as a guess: the QA brain must not re-index a
    private channel's units as public on it (the store kept 'private')."""
    import dataclasses

    from bot.events import Visibility

    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(echo_first_source))
    staff = channel("staff", visibility=Visibility.PRIVATE)
    await post(app, adapter, make_message("payroll runs on the 25th", author="bob", chan=staff))
    brain: QABrain = app.brain("qa")
    await brain.retriever()
    guess = dataclasses.replace(channel("staff"), visibility_known=False)
    await post(app, adapter, ChannelSeen(guess, ts=make_message("x").ts))
    assert all("payroll" not in t for t in await search(app, "payroll", PUBLIC))


async def test_forget_me_leaves_no_text_in_the_vector_stores_log(make_app: Any, tmp_path: Path) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(echo_first_source))
    await post(app, adapter, make_message("zed lives at 12 Elm Street", author="zed"))
    brain: QABrain = app.brain("qa")
    await brain.retriever()
    chroma = Path(app.settings.vectors.path) / "chroma.sqlite3"
    assert chroma.exists()
    await post(app, adapter, command("forget-me", "confirm", author="zed"))
    assert log_rows_with(chroma.parent, "Elm Street") == 0

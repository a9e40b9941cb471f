"""Which questions an "unanswered pile-up" counts: not those a member answered who later ran
/forget-me, not those the bot answered (✅'d, thanked, logged by the QA brain, marked solved), not
those answered in chat without threads; still those nobody took up."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import brain.qa.history  # noqa: F401  (registers qa_answers, as an app with the QA brain does)
from bot.clock import FakeClock
from bot.core_brain import CoreBrain
from bot.events import MessageEdited, ReactionAdded
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.brain import ActivityBrain
from brain.activity.scan import open_questions
from brain.activity.scoring import COUNTERS
from tests.conftest import AppFactory

ANSWER = "set the timeout on the client session, then retry with backoff"
END = BASE_TIME + timedelta(days=9)
ASKED = END - timedelta(hours=12)


async def answered_flags(app: Any) -> dict[str, bool]:
    return {
        q.message_id: q.answered
        for q in await open_questions(app.store, "console", "local", END.timestamp() - 7 * 86400)
    }


def findings_text(found: list[Any]) -> str:
    return " | ".join(f.text for f in found)


async def start(make_app: AppFactory) -> tuple[Any, Any, FakeClock]:
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(brains=["activity"], clock=clock)
    return app, adapter, clock


async def finish(app: Any, clock: FakeClock) -> ActivityBrain:
    await clock.advance(END - clock.now())
    await app.bus.drain()
    return next(b for b in app.brains if isinstance(b, ActivityBrain))


def at(i: int, minutes: float = 0) -> datetime:
    return ASKED + timedelta(minutes=20 * i + minutes)


async def test_questions_answered_by_a_forgotten_member_stay_answered(make_app: AppFactory) -> None:
    app, adapter, clock = await start(make_app)
    for i in range(5):
        await adapter.inject(
            make_message(
                f"why does the build fail on step {i}?", author=f"w{i}", chan="support", message_id=f"s{i}", ts=at(i)
            )
        )
        await adapter.inject(
            make_message(ANSWER, author="leaver", chan="support", message_id=f"sa{i}", thread_id=f"s{i}", ts=at(i, 1))
        )
        await adapter.inject(
            make_message(
                "thanks, that worked!",
                author=f"w{i}",
                chan="support",
                message_id=f"st{i}",
                thread_id=f"s{i}",
                ts=at(i, 2),
            )
        )
    brain = await finish(app, clock)
    assert all((await answered_flags(app)).values())
    core = next(b for b in app.brains if isinstance(b, CoreBrain))
    await core.forget(user("leaver"))
    assert all((await answered_flags(app)).values())
    assert "support" not in findings_text(await brain.findings("console", "local"))
    # Nothing of the member is left under their name, and the counters still add up.
    assert await app.store.db.fetchall("SELECT message_id FROM activity_contrib WHERE author_id = 'leaver'") == []
    assert await app.store.db.fetchall("SELECT day FROM activity_rollup WHERE user_id = 'leaver'") == []
    await assert_rollups_match_contributions(app)
    # A later edit of their message (Discord sends some without an author) does not count it again.
    await adapter.inject(
        MessageEdited(channel=channel("support"), message_id="sa0", text=ANSWER + " edited", edited_at=END)
    )
    await app.bus.drain()
    await assert_rollups_match_contributions(app)
    row = await app.store.db.fetchone("SELECT SUM(messages) FROM activity_rollup WHERE user_id = ''")
    assert row is None or not row[0]


async def assert_rollups_match_contributions(app: Any) -> None:
    sums = ", ".join(f"SUM({c})" for c in COUNTERS)
    contrib = await app.store.db.fetchall(
        f"SELECT day, channel_id, CASE WHEN anonymous = 1 THEN '' ELSE author_id END AS who, {sums} "
        "FROM activity_contrib GROUP BY day, channel_id, who"
    )
    rollup = await app.store.db.fetchall(
        f"SELECT day, channel_id, user_id, {sums} FROM activity_rollup GROUP BY day, channel_id, user_id"
    )

    def nonzero(rows: list[Any]) -> dict[tuple[str, str, str], tuple[int, ...]]:
        return {(r[0], r[1], r[2]): tuple(int(v or 0) for v in r[3:]) for r in rows if any(r[3:])}

    assert nonzero(contrib) == nonzero(rollup)


async def test_questions_the_bot_answered_are_answered(make_app: AppFactory) -> None:
    """Bot messages have no contribution row: the asker's ✅ or thanks on the bot's answer, an
    answer the QA brain logged, or a thread marked solved is what says it was answered."""
    app, adapter, clock = await start(make_app)
    bot = user("guildhall", bot=True)
    for i in range(6):
        root = f"h{i}"
        await adapter.inject(
            make_message(
                f"how do I rotate the logs number {i}?", author=f"v{i}", chan="help", message_id=root, ts=at(i)
            )
        )
        if i < 4:
            await adapter.inject(
                make_message(ANSWER, author=bot, chan="help", message_id=f"ha{i}", thread_id=root, ts=at(i, 1))
            )
    # h0: ✅ on the bot's answer; h1: thanks in the thread; h2: neither (still unanswered, though the
    # bot replied); h3: the thread marked solved; h4: answered by the QA brain (logged);
    # h5: an abstention logged (not an answer).
    await adapter.inject(
        ReactionAdded(channel=channel("help"), message_id="ha0", user=user("v0"), emoji="white_check_mark", ts=at(0, 2))
    )
    await adapter.inject(
        make_message("thanks, that worked!", author="v1", chan="help", message_id="ht1", thread_id="h1", ts=at(1, 3))
    )
    brain = await finish(app, clock)
    await app.store.upsert_thread("console", "local", "h3", "help", author_id="v3", ts=at(3).timestamp())
    await app.store.mark_thread_solved("console", "local", "h3", "ha3")
    for n, abstained in ((4, 0), (5, 1)):
        await app.store.db.execute(
            "INSERT INTO qa_answers (answer_id, platform, workspace_id, channel_id, thread_id, asker_id, question, "
            "answer, cited, abstained, ts) VALUES (?, 'console', 'local', 'help', ?, ?, 'q', 'a', '[]', ?, ?)",
            (f"ans{n}", f"h{n}", f"v{n}", abstained, at(n, 1).timestamp()),
        )
    flags = await answered_flags(app)
    assert {m for m, answered in flags.items() if not answered} == {"h2", "h5"}, flags
    assert "#help" not in findings_text(await brain.findings("console", "local"))


async def test_questions_answered_in_chat_without_threads_are_answered(make_app: AppFactory) -> None:
    """An unthreaded channel: another member saying something (not a question of their own) in the
    conversation after a question answers it; a question followed by silence, or only by other
    questions, is still unanswered."""
    app, adapter, clock = await start(make_app)
    for i in range(5):
        await adapter.inject(
            make_message(
                f"how do I pin dependency number {i}?", author=f"u{i}", chan="chat", message_id=f"c{i}", ts=at(i)
            )
        )
        await adapter.inject(
            make_message(
                f"u{i}: pin it in the lock file with an exact version",
                author="helper",
                chan="chat",
                message_id=f"ca{i}",
                ts=at(i, 1),
            )
        )
    # Into the void: silence for an hour, then only someone else's question and a "+1".
    quiet = END - timedelta(hours=6)
    for i in range(5):
        await adapter.inject(
            make_message(
                f"anyone know why the docs build fails {i}?",
                author=f"x{i}",
                chan="void",
                message_id=f"v{i}",
                ts=quiet + timedelta(hours=i * 0.2 - 5),
            )
        )
    await adapter.inject(
        make_message("does anyone know how to clear the cache?", author="y", chan="void", message_id="vq", ts=quiet)
    )
    await adapter.inject(
        make_message("same", author="z", chan="void", message_id="vz", ts=quiet + timedelta(minutes=1))
    )
    brain = await finish(app, clock)
    flags = await answered_flags(app)
    assert all(flags[f"c{i}"] for i in range(5)), flags
    assert not any(flags[f"v{i}"] for i in range(5)), flags
    text = findings_text(await brain.findings("console", "local"))
    assert "#chat" not in text and "questions in #void have waited" in text

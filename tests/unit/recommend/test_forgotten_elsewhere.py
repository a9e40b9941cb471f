"""A Discord member forgotten in one guild gets nothing from the recommender in a guild met since.

``/forget-me`` forgets a Discord user id in every guild (``bot/privacy/forgotten.py``), but a guild
the bot meets later holds no ``opted_out`` setting of theirs: only the forgotten set knows them.
The bus gate lets their joins and commands through, so the recommender must check it itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.events import CommandReply, MemberJoined, Platform, SendDirectMessage, UserRef
from bot.testing import FakeAdapter
from bot.testing.builders import BASE_TIME, channel, command, make_message, user
from brain.recommend.brain import RecommendBrain

GUILD = "G1"
FORGOTTEN, OTHER = "42", "43"  # 42 ran /forget-me in guild G0; 43 is anyone else


PYTHON = channel("python", platform=Platform.DISCORD, workspace=GUILD)


def member(user_id: str) -> UserRef:
    return user(user_id, platform=Platform.DISCORD, workspace=GUILD)


async def _guild(make_app: Any) -> tuple[Any, FakeAdapter, RecommendBrain]:
    """A guild with three threads to recommend, the digest on by default, and both members joined."""
    app, adapter = await make_app(brains=["recommend"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    brain = app.brain("recommend")
    assert isinstance(brain, RecommendBrain)
    forgotten = await app.ctx.services.get("forgotten")
    forgotten.add(user(FORGOTTEN, platform=Platform.DISCORD, workspace="G0"))
    topics = ["asyncio event loop question", "django migrations failing", "asyncio gather timeouts"]
    for i, (who, text) in enumerate(zip(("bob", "dave", "erin"), topics, strict=True)):
        root = f"t{i}"
        await adapter.inject(
            make_message(text, author=member(who), chan=PYTHON, message_id=root, thread_id=root, minutes=i)
        )
        await adapter.inject(
            make_message(f"re: {text}", author=member("carol"), chan=PYTHON, thread_id=root, minutes=i + 0.5)
        )
    await app.store.set_workspace_setting("discord", GUILD, "digest_default_on", True)
    await app.bus.drain()  # the threads are stored before anyone joins (a welcome suggests their channel)
    for who in (FORGOTTEN, OTHER):
        await adapter.inject(MemberJoined(member(who), BASE_TIME + timedelta(minutes=10)))
    await app.bus.drain()
    return app, adapter, brain


async def _rows_about(app: Any, user_id: str) -> dict[str, list[Any]]:
    """Every recommender row and member setting stored about ``user_id`` in the guild."""
    out = {}
    for table in ("recommend_shown", "recommend_feedback", "recommend_profiles", "member_settings"):
        out[table] = await app.store.db.fetchall(
            f"SELECT * FROM {table} WHERE platform = 'discord' AND workspace_id = ? AND user_id = ?",
            (GUILD, user_id),
        )
    return out


def _dms(adapter: FakeAdapter) -> list[str]:
    return [a.user.user_id for a in adapter.of_type(SendDirectMessage)]


async def test_no_welcome_dm(make_app: Any) -> None:
    _, adapter, _ = await _guild(make_app)
    assert _dms(adapter) == [OTHER]


async def test_no_digest_and_no_digest_day_stored(make_app: Any) -> None:
    app, adapter, brain = await _guild(make_app)
    welcomes = len(_dms(adapter))
    await brain.send_due_digests(force=True)
    await app.bus.drain()
    digests = _dms(adapter)[welcomes:]
    assert OTHER in digests and FORGOTTEN not in digests
    assert not any((await _rows_about(app, FORGOTTEN)).values())


async def test_recommend_commands_list_and_store_nothing(make_app: Any) -> None:
    app, adapter, brain = await _guild(make_app)
    for text in ("", "daily on", "tz Europe/Berlin"):
        await adapter.inject(command("recommend", text, author=member(FORGOTTEN), chan=PYTHON))
        await app.bus.drain()
        reply = adapter.of_type(CommandReply)[-1]
        assert "forget you" in reply.text and not reply.citations
    assert await brain.recommend(member(FORGOTTEN), k=5) == []
    assert not any((await _rows_about(app, FORGOTTEN)).values())
    # Anyone else's list is shown, and recorded as shown.
    await adapter.inject(command("recommend", "", author=member(OTHER), chan=PYTHON))
    await app.bus.drain()
    assert adapter.of_type(CommandReply)[-1].citations
    assert (await _rows_about(app, OTHER))["recommend_shown"]

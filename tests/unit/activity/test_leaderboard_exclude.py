"""``/guildhall config set leaderboard_exclude``: admins keep members (staff, an unflagged bridge, a
gamer) off every leaderboard, while their counters and answers still count."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.core_brain import member_words, parse_config_value
from bot.events import CommandReply, ReactionAdded, SendMessage, utcnow
from bot.recorder import Recorder
from bot.store import UserRow, open_store
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, command, user
from brain.activity import brain as activity_brain_module
from brain.activity.brain import ActivityBrain
from brain.activity.counters import ActivityCounters
from brain.activity.leaderboard import Leaderboard
from brain.activity.scan import open_questions
from tests.conftest import AppFactory

LONG = "here is a long enough answer"


async def seed(app: Any, adapter: Any, helpers: tuple[str, ...] = ("helper", "staffer"), minutes: int = 0) -> None:
    """Each helper answers a question of their own asker, who marks it ✅ (``staffer`` twice: the top)."""
    for n, who in enumerate(helpers):
        for k in range(2 if who == "staffer" else 1):
            q = f"q{who}{k}{minutes}"
            asker = f"asker{n}{k}"
            await adapter.inject(
                make_message(
                    "how can I configure logging here?", author=asker, chan="help", message_id=q, minutes=minutes
                )
            )
            await adapter.inject(
                make_message(LONG, author=who, chan="help", message_id=f"a{q}", thread_id=q, minutes=minutes + 1)
            )
            await adapter.inject(
                ReactionAdded(
                    channel=channel("help"),
                    message_id=f"a{q}",
                    user=user(asker),
                    emoji="✅",
                    ts=BASE_TIME + timedelta(minutes=minutes + 2),
                )
            )
    await app.bus.drain()


async def config(app: Any, adapter: Any, text: str, *, admin: bool = True, author: str = "alice") -> str:
    await adapter.inject(command("guildhall config", text, admin=admin, author=author))
    await app.bus.drain()
    return adapter.of_type(CommandReply)[-1].text


async def board_text(app: Any, adapter: Any, *, author: str = "alice") -> CommandReply:
    await adapter.inject(command("leaderboard", "week", author=author))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1]
    assert isinstance(reply, CommandReply)
    return reply


async def excluded(app: Any) -> Any:
    return await app.store.get_workspace_setting("console", "local", "leaderboard_exclude")


async def rollup(app: Any, user_id: str) -> list[tuple[Any, ...]]:
    rows = await app.store.db.fetchall(
        "SELECT day, channel_id, helpful, answered, replies, reactions, messages FROM activity_rollup "
        "WHERE platform = 'console' AND workspace_id = 'local' AND user_id = ? ORDER BY day, channel_id",
        (user_id,),
    )
    return [tuple(r) for r in rows]


def test_member_values_parse_every_platforms_mentions() -> None:
    assert member_words("<@U1|Helga the, Helper> <@!123>, <@456> @bob bob") == ["U1", "123", "456", "bob"]
    assert parse_config_value("leaderboard_exclude", "none") == []
    with pytest.raises(ValueError, match="at most 100 members"):
        parse_config_value("leaderboard_exclude", " ".join(f"<@U{i}>" for i in range(101)))


async def test_excluded_member_leaves_the_board_and_comes_back(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await seed(app, adapter)
    before = await board_text(app, adapter)
    assert "staffer" in before.text and "helper" in before.text
    counters = await rollup(app, "staffer")
    assert counters

    # By mention (Slack's labelled form; the console's ids are names).
    assert await config(app, adapter, "set leaderboard_exclude <@staffer|Staff Person>") == (
        "`leaderboard_exclude` is now staffer."
    )
    assert await excluded(app) == ["staffer"]
    after = await board_text(app, adapter)
    # Gone from the table, and whoever was below moves up; the anonymous totals keep their answers.
    assert "staffer" not in after.text
    assert "\n1  helper" in after.text and "3 helpful answers" in after.text
    # The excluded member's own view says nothing about it beyond not listing them.
    own = await board_text(app, adapter, author="staffer")
    assert own.text == after.text

    # Counters are still recorded while excluded: a new answer counts.
    await seed(app, adapter, helpers=("staffer",), minutes=30)
    assert len(await rollup(app, "staffer")) == len(counters)
    assert await rollup(app, "staffer") != counters  # the same day's row grew

    # Their answers still answer questions (the unanswered-question alerts).
    questions = await open_questions(app.store, "console", "local", BASE_TIME.timestamp() - 3600)
    assert [q.answered for q in questions if q.message_id.startswith("qstaffer")] == [True] * 4

    # Taken off the list: back at the top, with everything counted meanwhile.
    assert await config(app, adapter, "set leaderboard_exclude none") == "`leaderboard_exclude` is now []."
    back = await board_text(app, adapter)
    assert "\n1  staffer" in back.text and "\n2  helper" in back.text
    board = await brain_of(app).board("console", "local")
    assert helpers([(e.rank, e.user_id, e.counts["helpful"]) for e in board.entries]) == [
        (1, "staffer", 4),
        (2, "helper", 1),
    ]


def helpers(rows: list[Any]) -> list[Any]:
    """The rows of the answerers (the askers score too, for their reactions)."""
    return [r for r in rows if not str(r[1] if isinstance(r, tuple) else r).startswith("asker")]


def brain_of(app: Any) -> ActivityBrain:
    return next(b for b in app.brains if isinstance(b, ActivityBrain))


async def test_by_name_unknown_refused_and_show(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await seed(app, adapter)
    await app.store.upsert_users([UserRow("console", "local", "staffer", "Stef the Staffer")])
    show = await config(app, adapter, "show")
    assert "• `leaderboard_exclude` = nobody: every member can be ranked _(default)_" in show

    # Unknown names are refused, all of them named, and nothing changes.
    reply = await config(app, adapter, "set leaderboard_exclude helper nosuch, @ghost")
    assert reply.startswith("Not changed: I don't know @nosuch and @ghost here")
    assert await excluded(app) is None

    # A name with spaces (between commas), case-insensitive, and an id, resolved to user ids.
    reply = await config(app, adapter, "set leaderboard_exclude stef the staffer, helper")
    assert reply == "`leaderboard_exclude` is now Stef the Staffer (staffer), helper."
    assert await excluded(app) == ["staffer", "helper"]
    text = (await board_text(app, adapter)).text
    assert "staffer" not in text and "Stef" not in text and "helper" not in text
    show = await config(app, adapter, "show leaderboard_exclude")
    assert show.endswith("• `leaderboard_exclude` = Stef the Staffer (staffer), helper") and "digest_size" not in show

    # Two members by one name: ambiguous, refused.
    await app.store.upsert_users([UserRow("console", "local", "stef2", "Stef the Staffer")])
    reply = await config(app, adapter, "set leaderboard_exclude Stef the Staffer")
    assert "several members are called" in reply and await excluded(app) == ["staffer", "helper"]

    # `unset` goes back to nobody.
    assert "back to its default: nobody" in await config(app, adapter, "unset leaderboard_exclude")
    assert await excluded(app) is None


async def test_names_match_whatever_their_script_and_case(make_app: AppFactory) -> None:
    """Case is folded beyond ASCII (SQLite's LOWER folds A-Z only) and a decomposed name is the same name."""
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await seed(app, adapter)
    await app.store.upsert_users(
        [UserRow("console", "local", "staffer", "Ölaf Ærø"), UserRow("console", "local", "helper", "ДМИТРИЙ")]
    )
    decomposed = "o\u0308laf ærø"  # "ö" typed as o + combining diaeresis
    reply = await config(app, adapter, f"set leaderboard_exclude {decomposed}, дмитрий")
    assert reply == "`leaderboard_exclude` is now Ölaf Ærø (staffer), ДМИТРИЙ (helper)."
    assert await excluded(app) == ["staffer", "helper"]


async def test_changes_are_audited_and_non_admins_refused(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await seed(app, adapter)
    reply = await config(app, adapter, "set leaderboard_exclude staffer", admin=False, author="staffer")
    assert "for community admins" in reply and await excluded(app) is None

    await config(app, adapter, "set leaderboard_exclude staffer")
    await config(app, adapter, "set leaderboard_exclude helper")
    await config(app, adapter, "set leaderboard_exclude default")
    entries = [e for e in await app.store.audit_entries() if e["action"] == "config leaderboard_exclude"]
    details = [(e["actor_id"], e["detail"]) for e in reversed(entries)]
    assert details == [
        ("alice", {"members": ["staffer"], "added": ["staffer"], "removed": [], "unset": False}),
        ("alice", {"members": ["helper"], "added": ["helper"], "removed": ["staffer"], "unset": False}),
        ("alice", {"members": [], "added": [], "removed": ["helper"], "unset": True}),
    ]
    refused = [e for e in await app.store.audit_entries() if e["action"] == "/guildhall config" and not e["allowed"]]
    assert [e["actor_id"] for e in refused] == ["staffer"]


async def test_png_card_rows_leave_the_member_out(make_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[Leaderboard] = []
    real = activity_brain_module.charts.leaderboard_png

    def recording(board: Leaderboard, names: dict[str, str] | None = None) -> bytes:
        drawn.append(board)
        return real(board, names)

    monkeypatch.setattr(activity_brain_module.charts, "leaderboard_png", recording)
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await seed(app, adapter)
    await config(app, adapter, "set leaderboard_exclude <@staffer>")
    reply = await board_text(app, adapter)
    assert reply.attachments and reply.attachments[0].data.startswith(b"\x89PNG")
    assert helpers([(e.rank, e.user_id) for e in drawn[-1].entries]) == [(1, "helper")]
    assert "staffer" not in {e.user_id for e in drawn[-1].entries}


def tuned(settings: Settings) -> Settings:
    return settings.model_copy(update={"activity": settings.activity.model_copy(update={"alerts_channel_id": "staff"})})


async def test_weekly_post_leaves_the_member_out(make_app: AppFactory, settings: Settings) -> None:
    clock = FakeClock(datetime(2026, 1, 12, 9, 30, tzinfo=UTC))  # the Monday after BASE_TIME's week
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=tuned(settings))
    await seed(app, adapter)
    await config(app, adapter, "set leaderboard_exclude <@!staffer>")
    await brain_of(app).weekly_post()
    await app.bus.drain()
    sent = [a for a in adapter.of_type(SendMessage) if isinstance(a, SendMessage)]
    assert len(sent) == 1 and "helper" in sent[0].text and "staffer" not in sent[0].text


async def _seed_store(url: str, exclude: list[str] | None) -> None:
    store = await open_store(url)
    counters = ActivityCounters(store, ZoneInfo("UTC"))
    now = utcnow() - timedelta(hours=1)
    events: list[Any] = []
    for n, who in enumerate(("helper", "staffer")):
        q = make_message(
            "how do I read a toml file in python?", author=f"asker{n}", chan="help", message_id=f"q{n}", ts=now
        )
        a = make_message(LONG, author=who, chan="help", message_id=f"a{n}", thread_id=f"q{n}", ts=now)
        done = ReactionAdded(channel=channel("help"), message_id=f"a{n}", user=user(f"asker{n}"), emoji="✅", ts=now)
        events += [q, a, done]
    await Recorder(store).handle_batch(events)
    await counters.apply(events)
    if exclude is not None:
        await store.set_workspace_setting("console", "local", "leaderboard_exclude", exclude)
    await store.close()


def test_cli_leaderboard_json_leaves_the_member_out(db_env: str) -> None:
    asyncio.run(_seed_store(db_env, ["staffer"]))
    res = CliRunner().invoke(cli_app, ["leaderboard", "--json"])
    assert res.exit_code == 0, res.output
    board = json.loads(res.output)
    assert helpers([e["user_id"] for e in board["entries"]]) == ["helper"]
    assert board["totals"]["helpful"] == 2  # their activity stays in the anonymous totals


async def test_forget_me_takes_the_member_off_the_exclude_list(make_app: AppFactory) -> None:
    # The forgotten member's id stayed in the setting, and `config show` went on listing it.
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await seed(app, adapter)
    await config(app, adapter, "set leaderboard_exclude staffer helper")
    assert await excluded(app) == ["staffer", "helper"]
    await adapter.inject(command("forget-me", "confirm", author="staffer"))
    await app.bus.drain()
    assert await excluded(app) == ["helper"]

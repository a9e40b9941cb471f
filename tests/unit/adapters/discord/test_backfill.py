"""Backfill over discord.py's real REST paging, against recorded channel-history pages."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from typer.testing import CliRunner

from adapters.discord.adapter import gateway_intents
from adapters.discord.backfill import ChannelProgress, DiscordBackfill
from adapters.discord.cli import parse_since
from bot.cli import app as cli_app
from bot.events import ChannelSeen, Event, EventSource, MessagePosted, ThreadCreated
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    BOB_ID,
    FORUM_ID,
    GENERAL_ID,
    GUILD_ID,
    PRIVATE_ID,
    THREAD_ID,
    feed,
    install,
    message_payload,
    record_every_client,
    serve_guild,
    thread_payload,
    user_payload,
)
from tests.unit.adapters.discord.harness import Env, drain

MESSAGES = "/channels/{channel_id}/messages"


def snowflake(day: int, n: int) -> str:
    """An id whose timestamp is November ``day``, 2026 (so ``--since`` can cut by date)."""
    return str(discord.utils.time_snowflake(datetime(2026, 11, day, 12, 0, n, tzinfo=UTC)))


def history() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """150 messages in #general (two pages), 3 in a thread, and an archived forum post of 2."""
    bob = user_payload(BOB_ID, "bob")
    general = [
        message_payload(GENERAL_ID, f"general {i}", message_id=snowflake(1 + i // 10, i % 10), author=bob)
        for i in range(150)
    ]
    thread = [message_payload(THREAD_ID, f"thread {i}", message_id=snowflake(18, i)) for i in range(3)]
    post_id = snowflake(19, 0)
    post = [
        message_payload(post_id, "my app crashes", message_id=post_id),
        message_payload(post_id, "try 1.2", message_id=snowflake(19, 1), author=bob),
    ]
    system = [message_payload(GENERAL_ID, "", message_id=snowflake(16, 0), message_type=6)]  # a pin notice
    active = thread_payload(THREAD_ID, GENERAL_ID, "Install trouble", ALICE_ID)
    archived = thread_payload(post_id, FORUM_ID, "Crash on start", ALICE_ID, archived=True)
    return general + thread + post + system, active, archived


async def backfill(
    monkeypatch: pytest.MonkeyPatch, *, since: datetime | None = None
) -> tuple[list[Event], list[ChannelProgress], Any]:
    messages, active, archived = history()
    client = discord.Client(intents=gateway_intents(privileged=False))
    events: list[Event] = []
    progress: list[ChannelProgress] = []

    async def publish(event: Event) -> None:
        events.append(event)

    async with client:
        http = install(client, monkeypatch)
        serve_guild(
            http, messages, active_threads=[active], archived_threads=[archived], forbidden_channels={PRIVATE_ID}
        )
        await client.login("token")
        report = await DiscordBackfill(client, publish, since=since, progress=progress.append).run(int(GUILD_ID))
    return events, progress, (report, http)


async def test_backfill_publishes_the_same_events_as_live_traffic(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    messages, _, archived = history()
    feed(env.client, "THREAD_CREATE", {**archived, "newly_created": True})
    for m in messages:
        feed(env.client, "MESSAGE_CREATE", m)
    await drain(env.app)
    live: dict[str, Any] = {e.event_id: e for e in env.seen.events if isinstance(e, (MessagePosted, ThreadCreated))}
    live_channels = {e.channel.channel_id: e.channel for e in env.seen.of(ChannelSeen)}

    events, _, _ = await backfill(monkeypatch)

    posted = [e for e in events if isinstance(e, MessagePosted)]
    assert len(posted) == 150 + 3 + 2  # the pin notice is not chat, live or backfilled
    assert all(e.source is EventSource.BACKFILL for e in posted)
    for event in posted:
        assert dataclasses.replace(event, source=EventSource.LIVE) == live[event.event_id]
    backfilled_channels = {e.channel.channel_id: e.channel for e in events if isinstance(e, ChannelSeen)}
    assert backfilled_channels == live_channels  # visibility and member/role access included
    threads: dict[str, ThreadCreated] = {e.thread_id: e for e in events if isinstance(e, ThreadCreated)}
    post = threads[archived["id"]]
    assert post.is_forum_post and post.parent == live[post.event_id].parent and post.title == "Crash on start"
    assert threads[THREAD_ID].parent.channel_id == GENERAL_ID and not threads[THREAD_ID].is_forum_post


async def test_backfill_pages_history_reports_progress_and_skips_unreadable_channels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events, progress, (report, http) = await backfill(monkeypatch)
    pages = [c for c in http.calls if c.path == MESSAGES and c.url.endswith(f"/channels/{GENERAL_ID}/messages")]
    assert len(pages) >= 2 and all(int(c.params["limit"]) <= 100 for c in pages)  # paged, not one huge read
    texts = [e.text for e in events if isinstance(e, MessagePosted) and e.thread_id is None]
    assert texts == [f"general {i}" for i in range(150)]  # oldest first
    by_channel = {p.channel_id: p for p in progress}
    assert by_channel[GENERAL_ID].messages == 150
    assert by_channel[PRIVATE_ID].skipped and by_channel[PRIVATE_ID].messages == 0
    assert by_channel[THREAD_ID].messages == 3
    assert report.messages == 155 and report.as_dict()["guild_id"] == GUILD_ID


async def test_backfill_since_only_reads_newer_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    events, _, (_, http) = await backfill(monkeypatch, since=datetime(2026, 11, 16, tzinfo=UTC))
    texts = {e.text for e in events if isinstance(e, MessagePosted)}
    assert texts == {"thread 0", "thread 1", "thread 2", "my app crashes", "try 1.2"}
    first = next(c for c in http.calls if c.path == MESSAGES)
    assert int(first.params["after"]) == discord.utils.time_snowflake(datetime(2026, 11, 16, tzinfo=UTC), high=True)


def test_parse_since_accepts_dates_and_timestamps() -> None:
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T08:30:00+00:00") == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert parse_since(None) is None


def test_import_discord_command_stores_the_guild_history(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    http = record_every_client(monkeypatch)
    messages, active, archived = history()
    serve_guild(http, messages, active_threads=[active], archived_threads=[archived], forbidden_channels={PRIVATE_ID})
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path / 'g.db'}")
    args = ["import", "discord", "--guild", GUILD_ID, "--since", "2026-11-16", "--json"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["messages"] == 5 and report["guild_id"] == GUILD_ID
    assert "#general: 0 messages" in result.stderr  # progress, per channel


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (aiohttp.ClientConnectionError("Cannot connect to host discord.com:443"), "cannot reach Discord"),
        (discord.LoginFailure("Improper token has been passed."), "the token was refused"),
    ],
)
@pytest.mark.parametrize("command", [["import", "discord", "--guild", "1"], ["discord", "sync-commands"]])
def test_discord_commands_fail_in_one_line_when_discord_cannot_be_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: Exception, says: str, command: list[str]
) -> None:
    from discord.http import HTTPClient

    async def refuse(*_: Any, **__: Any) -> Any:
        raise error

    monkeypatch.setattr(HTTPClient, "request", refuse)
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    monkeypatch.setenv("GUILDHALL_CONFIG", "/dev/null")
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path / 'g.db'}")
    result = CliRunner().invoke(cli_app, command)
    assert result.exit_code == 1, result.output
    assert says in result.stderr and "Traceback" not in result.output

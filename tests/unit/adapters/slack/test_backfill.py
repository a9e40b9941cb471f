"""Backfill through the fake Web API: pagination, threads, reactions, failures, re-runs."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from typer.testing import CliRunner

from adapters.slack.backfill import BackfillReport, SlackBackfill
from adapters.slack.cli import run_backfill
from adapters.slack.normalize import SlackIdentity
from bot.config import Settings
from bot.events import ChannelSeen, EventSource, InboundEvent, MessagePosted, ReactionAdded
from tests.slack_fakes import BOT_ID, BOT_USER_ID, TEAM_ID, TEAM_URL, FakeSlackAPI

ME = SlackIdentity(TEAM_ID, BOT_USER_ID, BOT_ID, TEAM_URL)


def msg(ts: str, text: str, user: str = "UALICE", **extra: object) -> dict[str, object]:
    return {"type": "message", "user": user, "text": text, "ts": ts, **extra}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackAPI]:
    f = await FakeSlackAPI().start()
    f.history["CGENERAL"] = [
        msg("1767600001.000100", "root question", thread_ts="1767600001.000100", reply_count=3),
        msg(
            "1767600002.000100",
            "plain",
            reactions=[{"name": "+1::skin-tone-2", "users": ["UBOB", BOT_USER_ID], "count": 2}],
        ),
        msg("1767600003.000100", "joined", subtype="channel_join"),
        msg("1767600004.000100", "bot says hi", user=BOT_USER_ID, bot_id=BOT_ID),
        msg("1767600005.000100", "last"),
    ]
    f.replies[("CGENERAL", "1767600001.000100")] = [
        msg("1767600001.000100", "root question", thread_ts="1767600001.000100"),
        msg("1767600010.000100", "reply 1", user="UBOB", thread_ts="1767600001.000100"),
        msg("1767600001.000100", "root question", thread_ts="1767600001.000100"),  # Slack repeats the root per page
        msg("1767600011.000100", "reply 2", thread_ts="1767600001.000100"),
        msg("1767600012.000100", "reply 3", user="UBOB", thread_ts="1767600001.000100"),
    ]
    f.history["GSECRET"] = [msg("1767600020.000100", "private talk")]
    yield f
    await f.stop()


async def collect(fake: FakeSlackAPI, channels: list[str]) -> tuple[list[InboundEvent], BackfillReport]:
    events: list[InboundEvent] = []

    async def publish(e: InboundEvent) -> None:
        events.append(e)

    progress: list[int] = []
    client = AsyncWebClient(token="xoxb-test", base_url=fake.url)
    backfill = SlackBackfill(client, publish, ME, progress=lambda p: progress.append(p.messages), page_size=2)
    report = await backfill.run(channels)
    assert progress, "progress is reported per page"
    return events, report


async def test_history_threads_and_reactions(fake: FakeSlackAPI) -> None:
    events, report = await collect(fake, ["CGENERAL"])
    posts = [e for e in events if isinstance(e, MessagePosted)]
    assert sorted(p.text for p in posts) == ["last", "plain", "reply 1", "reply 2", "reply 3", "root question"]
    assert all(p.source is EventSource.BACKFILL for p in posts)
    assert {p.thread_id for p in posts if p.text.startswith("reply")} == {"CGENERAL:1767600001.000100"}
    assert all(p.channel.name == "general" for p in posts)
    [reaction] = [e for e in events if isinstance(e, ReactionAdded)]
    assert (reaction.user.user_id, reaction.emoji, reaction.message_id) == ("UBOB", "+1", "CGENERAL:1767600002.000100")
    assert isinstance(events[0], ChannelSeen)
    # cursor pagination was followed (page size 2)
    assert len(fake.calls_to("conversations.history")) == 3
    assert len(fake.calls_to("conversations.replies")) == 3
    assert report.as_dict()["per_channel"][0]["skipped"] == 2  # channel_join + our own message


async def test_missing_channel_does_not_stop_the_rest(fake: FakeSlackAPI) -> None:
    events, report = await collect(fake, ["CGONE", "GSECRET"])
    summary = report.as_dict()
    assert summary["failed_channels"] == ["CGONE"]
    [post] = [e for e in events if isinstance(e, MessagePosted)]
    assert post.channel.visibility.value == "private"


async def test_rate_limited_history_is_waited_out(fake: FakeSlackAPI) -> None:
    from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

    fake.rate_limit("conversations.history", retry_after=0)
    events: list[InboundEvent] = []

    async def publish(e: InboundEvent) -> None:
        events.append(e)

    client = AsyncWebClient(
        token="x", base_url=fake.url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
    )
    await SlackBackfill(client, publish, ME).run(["GSECRET"])
    assert [e.text for e in events if isinstance(e, MessagePosted)] == ["private talk"]


async def test_cli_backfill_into_store_is_idempotent(fake: FakeSlackAPI, tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    settings = Settings.model_validate(
        {
            "store": {"url": f"sqlite:///{db}"},
            "brains": [],
            "slack": {"bot_token": "xoxb-test", "api_base_url": fake.url},
        }
    )
    first = await run_backfill(settings, channels=[], all_channels=True)
    again = await run_backfill(settings, channels=["CGENERAL"], all_channels=False)
    assert first.result.messages == 7 and again.result.messages == 6
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 7
        assert conn.execute("SELECT visibility FROM channels WHERE channel_id = 'GSECRET'").fetchone()[0] == "private"
        assert conn.execute("SELECT COUNT(*) FROM reactions").fetchone()[0] == 1


async def test_cli_backfill_needs_a_token() -> None:
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN"):
        await run_backfill(Settings(brains=[]), channels=["C1"], all_channels=False)


def test_cli_requires_channel_or_all() -> None:
    from bot.cli import app

    result = CliRunner().invoke(app, ["import", "slack"])
    assert result.exit_code == 2
    assert "--channel" in result.output


def test_manifest_command_prints_it() -> None:
    from bot.cli import app

    result = CliRunner().invoke(app, ["slack", "manifest"])
    assert result.exit_code == 0 and "socket_mode_enabled" in result.output


async def test_replies_under_a_deleted_or_bot_root_are_fetched(fake: FakeSlackAPI) -> None:
    fake.history["CGENERAL"] = [
        # Slack keeps a tombstone where a thread's root was deleted.
        {
            "type": "message",
            "subtype": "tombstone",
            "text": "This message was deleted.",
            "user": "USLACKBOT",
            "ts": "1767600001.000100",
            "thread_ts": "1767600001.000100",
            "reply_count": 1,
        },
        msg(
            "1767600002.000100", "digest", user=BOT_USER_ID, bot_id=BOT_ID, thread_ts="1767600002.000100", reply_count=1
        ),
    ]
    fake.replies[("CGENERAL", "1767600001.000100")] = [
        msg("1767600010.000100", "reply under a deleted root", thread_ts="1767600001.000100"),
    ]
    fake.replies[("CGENERAL", "1767600002.000100")] = [
        msg("1767600002.000100", "digest", user=BOT_USER_ID, bot_id=BOT_ID, thread_ts="1767600002.000100"),
        msg("1767600012.000100", "reply to the digest", user="UBOB", thread_ts="1767600002.000100"),
    ]
    events, report = await collect(fake, ["CGENERAL"])
    texts = sorted(e.text for e in events if isinstance(e, MessagePosted))
    assert texts == ["reply to the digest", "reply under a deleted root"]
    assert report.as_dict()["per_channel"][0]["skipped"] == 2  # the tombstone and our digest: not chat


def test_cli_backfill_offline_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from bot.cli import app

    with socket.socket() as sock:  # a local port nothing listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("GUILDHALL_CONFIG", "/dev/null")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("GUILDHALL_SLACK__API_BASE_URL", f"http://127.0.0.1:{port}/api/")
    monkeypatch.setenv("GUILDHALL_STORE__URL", "sqlite:///:memory:")
    result = CliRunner().invoke(app, ["import", "slack", "--channel", "C1"])
    assert result.exit_code == 1
    assert "cannot reach the Slack Web API" in result.output and "Traceback" not in result.output


async def test_since_also_reads_new_replies_in_older_threads(fake: FakeSlackAPI) -> None:
    """--since-days lists roots posted since then, but members keep replying in older threads: their
    new replies are read too (roots up to 30 days older); old replies and quiet threads are not."""
    day = 86400.0
    since = 1767600000.0
    old_root = f"{since - 3 * day:.6f}"
    quiet_root = f"{since - 2 * day:.6f}"
    fake.history["CGENERAL"] = [
        msg(old_root, "old question", thread_ts=old_root, reply_count=2, latest_reply=f"{since + 60:.6f}"),
        msg(quiet_root, "quiet question", thread_ts=quiet_root, reply_count=1, latest_reply=f"{since - day:.6f}"),
        msg(f"{since + 120:.6f}", "new plain message"),
    ]
    fake.replies[("CGENERAL", old_root)] = [
        msg(old_root, "old question", thread_ts=old_root),
        msg(f"{since - 2 * day:.6f}", "old reply", thread_ts=old_root),
        msg(f"{since + 60:.6f}", "new reply in an old thread", user="UBOB", thread_ts=old_root),
    ]
    fake.replies[("CGENERAL", quiet_root)] = [msg(f"{since - day:.6f}", "quiet reply", thread_ts=quiet_root)]
    events: list[InboundEvent] = []

    async def publish(e: InboundEvent) -> None:
        events.append(e)

    client = AsyncWebClient(token="xoxb-test", base_url=fake.url)
    oldest = datetime.fromtimestamp(since, UTC)
    await SlackBackfill(client, publish, ME, oldest=oldest, page_size=2).run(["CGENERAL"])
    texts = sorted(e.text for e in events if isinstance(e, MessagePosted))
    assert texts == ["new plain message", "new reply in an old thread"]
    [reply] = [e for e in events if isinstance(e, MessagePosted) and e.text.startswith("new reply")]
    assert reply.thread_id == f"CGENERAL:{old_root}"
    assert [c.get("ts") for c in fake.calls_to("conversations.replies")] == [old_root]  # the quiet one is not read

"""The demo community file, its docs, and seeding it through the bus (idempotent)."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.console.demo import (
    COMMUNITY_FILE,
    DemoFormatError,
    demo_doc_paths,
    demo_events,
    load_community,
    parse_community,
    seed_demo,
    time_shift,
)
from bot.config import Settings
from bot.events import ChannelSeen, EventSource, MessagePosted, ReactionAdded


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return json.loads(COMMUNITY_FILE.read_text(encoding="utf-8"))


def test_community_is_a_realistic_size_and_shape() -> None:
    community = load_community()
    messages = community.messages
    assert 150 <= len(messages) <= 300
    assert {m.channel_id for m in messages} == {"general", "help", "python", "announcements", "mods"}
    assert len({m.author_id for m in messages}) >= 8
    threads = {m.thread_id for m in messages if m.thread_id}
    assert len(threads) >= 20
    assert all(any(m.message_id == t and m.thread_id == t for m in messages) for t in threads), "roots carry their id"
    assert sum(len(m.reactions) for m in messages) >= 50
    assert [m.ts for m in messages] == sorted(m.ts for m in messages)


def test_community_answers_the_slack_question() -> None:
    community = load_community()
    help_threads: dict[str, list[str]] = {}
    for m in community.messages:
        if m.channel_id == "help" and m.thread_id:
            help_threads.setdefault(m.thread_id, []).append(m.text)
    slack = [texts for texts in help_threads.values() if "connect the bot to Slack" in texts[0]]
    assert slack, "a #help thread asks how to connect the bot to Slack"
    answer = " ".join(slack[0])
    for needle in ("manifest.yaml", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "Socket Mode"):
        assert needle in answer


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other/1"), "format"),
        (lambda d: d["messages"][3].update(channel="random"), "unknown channel"),
        (lambda d: d["messages"][3].update(author="mallory"), "unknown member"),
        (lambda d: d["messages"][3].update(reactions=[{"user": "nobody", "emoji": "x"}]), "unknown member"),
        (lambda d: d["messages"][3].update(thread="demo-0999"), "earlier message"),
        (lambda d: d["messages"][3].update(id=d["messages"][2]["id"]), "duplicate"),
        (lambda d: d["messages"][3].update(ts="2026-01-05T09:00:00"), "time zone"),
        (lambda d: d["messages"][3].update(ts="yesterday"), "messages\\[3\\]"),
        (lambda d: d["messages"][3].update(text="   "), "empty text"),
        (lambda d: d["messages"][3].pop("author"), "messages\\[3\\]"),
        (lambda d: d.update(members="nope"), "malformed"),
        (lambda d: d.update(moderators=["maya", "ghost"]), "unknown moderator"),
    ],
)
def test_invalid_communities_are_rejected_precisely(raw: dict[str, Any], mutate: Any, message: str) -> None:
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(DemoFormatError, match=message):
        parse_community(data)


def test_load_community_reports_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DemoFormatError):
        load_community(bad)


def test_time_shift_moves_history_just_before_the_anchor() -> None:
    community = load_community()
    latest = max(m.ts for m in community.messages)
    anchor = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
    shifted = latest + time_shift(community, anchor)
    assert shifted <= anchor and (anchor - shifted).days < 1
    assert shifted.time() == latest.time()
    assert time_shift(community, None).total_seconds() == 0


def test_demo_events_are_imported_history() -> None:
    events = demo_events(load_community())
    assert all(isinstance(e, ChannelSeen) for e in events[:5])
    mods = next(e for e in events[:5] if isinstance(e, ChannelSeen) and e.channel.channel_id == "mods")
    assert set(mods.member_ids) == {"maya", "tom", "priya", "you"}
    posts = [e for e in events if isinstance(e, MessagePosted)]
    assert all(p.source is EventSource.IMPORT and not p.mentions_bot for p in posts)
    assert all(p.permalink.startswith("console://local/") for p in posts)
    assert len({e.event_id for e in events}) == len(events)
    assert sum(isinstance(e, ReactionAdded) for e in events) >= 50


async def test_seed_demo_once_then_skip_and_reseed_without_duplicates(make_app) -> None:
    app, _ = await make_app()
    first = await seed_demo(app)
    await app.bus.drain()
    counts = await app.store.counts()
    assert not first.skipped and counts["messages"] == first.messages
    assert counts["reactions"] == first.reactions and counts["users"] >= 10
    assert await app.store.get_workspace_setting("console", "local", "demo_seeded")
    assert (await seed_demo(app)).skipped
    forced = await seed_demo(app, force=True)  # a redelivery of the whole history
    await app.bus.drain()
    assert forced.messages == first.messages
    assert await app.store.counts() == counts
    assert "mods" in await app.store.readable_channel_ids("console", "local", "tom")
    assert "mods" not in await app.store.readable_channel_ids("console", "local", "leo")


def test_doc_paths_exist_and_cover_setup() -> None:
    paths = demo_doc_paths()
    names = {p.name for p in paths}
    assert {"getting-started.md", "slack-setup.md", "discord-setup.md", "commands.md", "privacy.md", "faq.md"} <= names
    texts = {p.name: p.read_text(encoding="utf-8") for p in paths}
    assert all(t.startswith("# ") for t in texts.values())
    for needle in (
        "adapters/slack/manifest.yaml",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "Socket Mode",
        "HTTP mode",
    ):
        assert needle in texts["slack-setup.md"]
    for needle in ("MESSAGE CONTENT", "applications.commands", "`bot`", "DISCORD_TOKEN"):
        assert needle in texts["discord-setup.md"]


_ENV = re.compile(r"\bGUILDHALL_([A-Z0-9_]+)")
_NOT_SETTINGS = {"CONFIG", "SECRETS_DIR"}


def _setting_exists(path: list[str]) -> bool:
    model: Any = Settings
    for part in path:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return False
        model = fields[part].annotation
    return True


def test_every_documented_setting_exists() -> None:
    """Docs and demo answers must only name real settings (``GUILDHALL_A__B`` -> settings.a.b)."""
    texts = [p.read_text(encoding="utf-8") for p in demo_doc_paths()] + [COMMUNITY_FILE.read_text(encoding="utf-8")]
    names = {m for t in texts for m in _ENV.findall(t)} - _NOT_SETTINGS
    assert len(names) > 15
    unknown = sorted(n for n in names if not _setting_exists(n.lower().split("__")))
    assert not unknown, f"documented settings that do not exist: {unknown}"

"""A Slack export's message is stored as the same message arriving live; unlisted folders are reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.normalize import NormalizeContext, SlackIdentity, normalize_event
from bot.events import MessagePosted
from bot.importers.slack_export import ExportSource, SlackExportImporter, import_slack_export
from tests.unit.importers.test_slack_export import write_export

ROOT_TS, REPLY_TS = "1700000001.000100", "1700000009.000100"
MESSAGES: dict[str, dict[str, Any]] = {
    "entities and mentions in a thread reply": {
        "user": "U2",
        "ts": REPLY_TS,
        "thread_ts": ROOT_TS,
        "text": "thanks <@U1>! use `a &lt; b &amp;&amp; b &gt; c` (cc <@U3|carl>)",
    },
    "thread root": {"user": "U1", "ts": ROOT_TS, "thread_ts": ROOT_TS, "reply_count": 1, "text": "x &gt; 1?"},
    "top-level message": {"user": "U1", "ts": "1700000002.000100", "text": "R&amp;D &lt;3"},
    "reply also sent to the channel": {
        "subtype": "thread_broadcast",
        "user": "U2",
        "ts": "1700000003.000100",
        "thread_ts": ROOT_TS,
        "text": "see <@U1>",
    },
    "attachments only": {
        "subtype": "bot_message",
        "bot_id": "B1",
        "ts": "1700000004.000100",
        "text": "",
        "attachments": [{"pretext": "CI", "fallback": "Build #12 failed: a &lt; b"}],
    },
    "blocks only": {
        "user": "U2",
        "ts": "1700000005.000100",
        "text": "",
        "blocks": [
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [{"type": "text", "text": "ping "}, {"type": "user", "user_id": "U1"}],
                    }
                ],
            }
        ],
    },
}


def imported(tmp_path: Path, raw: dict[str, Any]) -> MessagePosted:
    importer = SlackExportImporter(ExportSource(write_export(tmp_path / "export")))
    importer.load_users()
    channel = next(c for c in importer.conversations() if c.ref.channel_id == "C1").ref
    return next(e for e in importer.message_events(channel, {"type": "message", **raw}) if isinstance(e, MessagePosted))


def live(raw: dict[str, Any]) -> MessagePosted:
    envelope = {"team_id": "T9", "event": {"type": "message", **raw, "channel": "C1", "channel_type": "channel"}}
    events = normalize_event(envelope, NormalizeContext(SlackIdentity("T9")))  # type: ignore[arg-type]
    assert len(events) == 1 and isinstance(events[0], MessagePosted)
    return events[0]


@pytest.mark.parametrize("raw", MESSAGES.values(), ids=MESSAGES.keys())
def test_an_exported_message_is_read_as_the_live_adapter_reads_it(tmp_path: Path, raw: dict[str, Any]) -> None:
    def fields(e: MessagePosted) -> tuple[object, ...]:
        return (e.message_id, e.text, e.mentioned_user_ids, e.reply_to, e.thread_id, e.subtype)

    assert fields(imported(tmp_path, raw)) == fields(live(raw))


def test_the_words_of_an_exported_message(tmp_path: Path) -> None:
    reply = imported(tmp_path, MESSAGES["entities and mentions in a thread reply"])
    assert reply.text == "thanks <@U1>! use `a < b && b > c` (cc <@U3|carl>)"
    assert reply.mentioned_user_ids == ("U1", "U3")
    assert reply.reply_to == reply.thread_id == f"C1:{ROOT_TS}"
    assert imported(tmp_path, MESSAGES["thread root"]).reply_to is None
    assert imported(tmp_path, MESSAGES["attachments only"]).text == "CI\nBuild #12 failed: a < b"


async def test_a_folder_no_conversation_file_lists_is_reported(make_app, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export")
    (folder / "random").mkdir()
    for day in ("2023-11-14", "2023-11-15"):
        (folder / "random" / f"{day}.json").write_text(json.dumps([{"user": "U1", "text": "hi", "ts": ROOT_TS}]))
    app, _ = await make_app()
    summary = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == []
    unlisted = [w for w in summary.warnings if w.startswith("random/")]
    assert unlisted == [
        "random/: 2 day file(s) skipped: the folder is not listed in channels.json, groups.json, mpims.json, dms.json"
    ]
    assert "random/: 2 day file(s) skipped" in summary.text()  # what the CLI prints

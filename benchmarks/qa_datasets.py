"""Minimal readers for the evaluation exports in ``../shared/data`` (Slack zip, DiscordChatExporter JSON).

They produce store rows directly (no event bus, so the retrieval benchmarks measure retrieval). Slack:
``message_id`` = ``ts``, ``thread_id`` = ``thread_ts``; the text read as the importer and the live
adapter read it (:func:`bot.slack_text.message_text`: ``&lt;`` ``&gt;`` ``&amp;`` undone, blocks when
``text`` is empty) and a gold question as the member typed it (entities undone, as
:func:`brain.qa.evaluation.read_questions` does). Discord: a ``Reply`` joins the
conversation of the message it references (``thread_id`` = referenced id; the export represents
each conversation that way), the first message of a dialog opens it when it has replies.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.slack_text import message_text, unescape
from bot.store import ChannelRow, MessageRow


@dataclass
class Dataset:
    """One export: its channels, messages and gold questions."""

    name: str
    platform: str
    workspace_id: str
    channels: list[ChannelRow]
    messages: list[MessageRow]
    questions: list[dict[str, Any]]


DATASETS = ("slack-pythondev-2019", "slack-racket", "irc-ubuntu-train", "discord-gitter-appium")


def load(data_dir: Path, name: str) -> Dataset:
    """Load ``<name>-noq`` and its gold ``qa.jsonl``."""
    questions = [json.loads(line) for line in (data_dir / f"{name}.gold" / "qa.jsonl").read_text().splitlines() if line]
    if (data_dir / f"{name}-noq.zip").exists():
        channels, messages = _slack(data_dir / f"{name}-noq.zip", name)
        questions = [{**q, "question": unescape(str(q["question"]))} for q in questions]
        return Dataset(name, "slack", name, channels, messages, questions)
    channels, messages, ws = _discord(data_dir / f"{name}-noq.json")
    return Dataset(name, "discord", ws, channels, messages, questions)


def _slack(path: Path, workspace: str) -> tuple[list[ChannelRow], list[MessageRow]]:
    channels: list[ChannelRow] = []
    messages: list[MessageRow] = []
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        meta = json.loads(zf.read(next(n for n in names if n.endswith("channels.json"))))
        by_name = {c["name"]: c for c in meta}
        for c in meta:
            channels.append(ChannelRow("slack", workspace, c["id"], c["name"], "public"))
        for n in names:
            parts = n.split("/")
            if len(parts) < 2 or not n.endswith(".json") or parts[-2] not in by_name:
                continue
            cid = by_name[parts[-2]]["id"]
            for m in json.loads(zf.read(n)):
                if m.get("type") != "message" or "ts" not in m:
                    continue
                messages.append(
                    MessageRow(
                        platform="slack",
                        workspace_id=workspace,
                        message_id=m["ts"],
                        channel_id=cid,
                        author_id=m.get("user", ""),
                        ts=float(m["ts"]),
                        text=message_text(m),
                        thread_id=m.get("thread_ts"),
                        subtype=m.get("subtype", ""),
                        is_bot=bool(m.get("bot_id")),
                    )
                )
    return channels, messages


def _discord(path: Path) -> tuple[list[ChannelRow], list[MessageRow], str]:
    data = json.loads(path.read_text())
    ws = data["guild"]["id"]
    cid = data["channel"]["id"]
    channels = [ChannelRow("discord", ws, cid, data["channel"]["name"], "public")]
    referenced = {m["reference"]["messageId"] for m in data["messages"] if m.get("reference")}
    messages = []
    for m in data["messages"]:
        ref = (m.get("reference") or {}).get("messageId")
        thread = ref or (m["id"] if m["id"] in referenced else None)
        messages.append(
            MessageRow(
                platform="discord",
                workspace_id=ws,
                message_id=m["id"],
                channel_id=cid,
                author_id=m["author"]["id"],
                ts=datetime.fromisoformat(m["timestamp"]).timestamp(),
                text=m.get("content", ""),
                thread_id=thread,
                reply_to=ref,
                is_bot=bool(m["author"].get("isBot")),
            )
        )
    return channels, messages, ws

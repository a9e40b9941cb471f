"""Read a full evaluation export (Slack zip or DiscordChatExporter JSON) into store rows.

Private to the recommender's evaluation (the importers write to a store; the evaluation only needs
rows in memory). Slack: ``message_id`` = ``ts``, ``thread_id`` = ``thread_ts``. Discord: a ``Reply``
joins the conversation of the message it references.
"""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

from bot.store import MessageRow


def load_messages(path: Path) -> list[MessageRow]:
    """All messages of the export at ``path``, oldest first."""
    rows = _slack(path) if path.suffix == ".zip" else _discord(path)
    return sorted(rows, key=lambda m: (m.ts, m.message_id))


def _slack(path: Path) -> list[MessageRow]:
    workspace = path.stem
    out: list[MessageRow] = []
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        meta = json.loads(zf.read(next(n for n in names if n.endswith("channels.json"))))
        by_name = {c["name"]: c["id"] for c in meta}
        for n in names:
            parts = n.split("/")
            if len(parts) < 2 or not n.endswith(".json") or parts[-2] not in by_name:
                continue
            for m in json.loads(zf.read(n)):
                if m.get("type") != "message" or "ts" not in m:
                    continue
                out.append(
                    MessageRow(
                        "slack",
                        workspace,
                        m["ts"],
                        by_name[parts[-2]],
                        m.get("user", ""),
                        float(m["ts"]),
                        m.get("text", ""),
                        thread_id=m.get("thread_ts"),
                        is_bot=bool(m.get("bot_id")),
                        subtype=m.get("subtype", ""),
                    )
                )
    return out


def _discord(path: Path) -> list[MessageRow]:
    data = json.loads(path.read_text(encoding="utf-8"))
    ws, cid = data["guild"]["id"], data["channel"]["id"]
    referenced = {m["reference"]["messageId"] for m in data["messages"] if m.get("reference")}
    out: list[MessageRow] = []
    for m in data["messages"]:
        ref = (m.get("reference") or {}).get("messageId")
        out.append(
            MessageRow(
                "discord",
                ws,
                m["id"],
                cid,
                m["author"]["id"],
                datetime.fromisoformat(m["timestamp"]).timestamp(),
                m.get("content", ""),
                thread_id=ref or (m["id"] if m["id"] in referenced else None),
                reply_to=ref,
                is_bot=bool(m["author"].get("isBot")),
            )
        )
    return out

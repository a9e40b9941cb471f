"""Every column that names a member, in every table of the schema (core and brains), is covered by
the privacy commands: a Discord member's export and ``/forget-me`` reach the server where the row is,
the export shows the row, and the erasure deletes it or takes the member's id off it, unless
:data:`COVERAGE` says why not.

Built from the live schema: a table or column added later whose name says it holds a member fails
here until it is classified, so it cannot be left out of the export or the erasure silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import adapters.slack.installation_store  # noqa: F401 - registers its table: the schema as deployed
from bot.events import Platform, UserRef
from bot.store.db import Database
from bot.testing import user

ALL_BRAINS = ["qa", "recommend", "activity", "community"]
# Column names that hold a member's id (or a list of them).
MEMBER_COLUMN = re.compile(
    r"(user|author|asker|actor|principal|member|owner|moderator|target|recipient|_by)(s|_ids?)?$"
)
ME, SOMEONE = "alice", "bob"
HOME = "900000000000000000"


@dataclass(frozen=True)
class Cover:
    """How the privacy commands cover one member column. Empty: fully covered. Otherwise why not."""

    reached: str = ""  # the row's workspace is among those a Discord member's commands act in
    exported: str = ""  # the member's export shows the row
    kept: str = ""  # /forget-me deletes the row or takes the member's id off it
    erased: tuple[str, ...] = ()  # columns a kept row has emptied (its words about the member)


COVERAGE: dict[tuple[str, str], Cover] = {
    ("users", "user_id"): Cover(kept="the member's entry: its name and zone erased", erased=("name", "tz")),
    ("member_settings", "user_id"): Cover(),
    ("messages", "author_id"): Cover(kept="a tombstone, so a re-import or a late edit stays out", erased=("text",)),
    ("reactions", "user_id"): Cover(),
    # Changes waiting for what they change (an edit for its post, a removal against a late add).
    ("pending_edits", "author_id"): Cover(),
    ("reaction_removals", "user_id"): Cover(),
    ("feedback", "user_id"): Cover(),
    ("threads", "author_id"): Cover(
        kept="the thread's structure; its title (the author's words) erased", erased=("title",)
    ),
    ("channel_access", "principal_id"): Cover(
        kept="what the member may read: the platform lists it again, and dropping a denial opens a channel"
    ),
    ("audit_log", "actor_id"): Cover(kept="the record of who did what, without content"),
    ("qa_answers", "asker_id"): Cover(),
    ("qa_answers", "cited_authors"): Cover(
        reached="the cited message's row (a tombstone once erased) names the member there",
    ),
    ("community_pings", "user_id"): Cover(),
    ("community_drafts", "asker_id"): Cover(),
    ("community_drafts", "decided_by"): Cover(reached="the decision is audited there (audit_log.actor_id)"),
    ("community_drafts", "cited_authors"): Cover(reached="the cited message's row names the member there"),
    ("activity_contrib", "author_id"): Cover(),
    ("activity_rollup", "user_id"): Cover(),
    ("activity_reactions", "user_id"): Cover(),
    ("activity_pending_edits", "author_id"): Cover(),
    ("activity_reaction_removals", "user_id"): Cover(),
    ("recommend_profiles", "user_id"): Cover(),
    ("recommend_shown", "user_id"): Cover(),
    ("recommend_feedback", "user_id"): Cover(),
    # Registered when the Slack adapter is imported (any test run that touches it).
    ("slack_installations", "user_id"): Cover(
        reached="a Slack workspace's app installation, not a Discord server's row",
        exported="the app's installation (OAuth tokens) for the workspace, not the member's data",
        kept="erasing it would uninstall the app for the whole workspace; uninstalling the app removes it",
    ),
}
# Columns whose names look like a member's but hold something else.
NOT_MEMBERS = {("feedback", "target_id"): "the answer or thread the feedback is about"}
# Text columns holding JSON, and what a seeded row holds there (``{marker}``: the row's marker).
JSON_COLUMNS = {
    ("member_settings", "value"): '"{marker}"',
    ("audit_log", "detail"): '{{"note": "{marker}"}}',
    ("recommend_profiles", "vector"): "[1.0, 0.0]",
    ("qa_answers", "cited"): "[]",
    ("qa_answers", "cited_messages"): "[]",
    ("community_drafts", "channel_json"): "{{}}",
    ("community_drafts", "citations_json"): "[]",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    pk: bool


async def schema(db: Database) -> dict[str, list[Column]]:
    """Every table's columns, from the database itself (SQLite or PostgreSQL)."""
    tables: dict[str, list[Column]] = {}
    if db.dialect == "postgresql":
        keys = {
            (str(r[0]), str(r[1]))
            for r in await db.fetchall(
                "SELECT k.table_name, k.column_name FROM information_schema.table_constraints c "
                "JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name "
                "AND k.table_schema = c.table_schema WHERE c.constraint_type = 'PRIMARY KEY' "
                "AND c.table_schema = current_schema()"
            )
        }
        for table, name, kind in await db.fetchall(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        ):
            tables.setdefault(str(table), []).append(Column(str(name), str(kind).lower(), (table, name) in keys))
        return tables
    for (table,) in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        for row in await db.fetchall(f"PRAGMA table_info({table})"):
            tables.setdefault(str(table), []).append(Column(str(row[1]), str(row[2]).lower(), bool(row[5])))
    return tables


def member_columns(tables: dict[str, list[Column]]) -> set[tuple[str, str]]:
    return {(t, c.name) for t, cols in tables.items() for c in cols if MEMBER_COLUMN.search(c.name)}


@dataclass
class Seeded:
    table: str
    column: str
    workspace: str
    values: dict[str, Any]
    key: dict[str, Any]
    markers: list[str]


def seed_row(table: str, columns: list[Column], member_column: str, n: int) -> Seeded:
    """A row of ``table`` naming the member in ``member_column`` only, in a server of its own; every
    other text is a marker unique to the row, every number too."""
    workspace = f"9100000000000000{n:02d}"
    values: dict[str, Any] = {}
    markers: list[str] = []
    for col in columns:
        marker = f"r{n:02d}-{col.name}"
        if col.name == "platform":
            value: Any = "discord"
        elif col.name == "workspace_id":
            value = workspace
        elif (table, col.name) in COVERAGE:
            who = ME if col.name == member_column else SOMEONE
            value = json.dumps([who]) if col.name == "cited_authors" else who
        elif table == "channel_access" and col.name == "principal_kind":
            value = "user"
        elif (table, col.name) in JSON_COLUMNS:
            value = JSON_COLUMNS[(table, col.name)].format(marker=marker)
            markers.append(marker)
        elif "int" in col.type:
            value = 0
        elif "double" in col.type or "real" in col.type:
            value = 1_700_000_000 + n * 1000 + 0.25
            markers.append(json.dumps(value))
        else:
            value = marker
            markers.append(marker)
        values[col.name] = value
    key = {c.name: values[c.name] for c in columns if c.pk}
    return Seeded(table, member_column, workspace, values, key, markers)


async def insert(db: Database, row: Seeded) -> None:
    names = list(row.values)
    await db.execute(
        f"INSERT INTO {row.table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        [row.values[n] for n in names],
    )


async def current(db: Database, row: Seeded) -> dict[str, Any] | None:
    names = list(row.values)
    found = await db.fetchone(
        f"SELECT {', '.join(names)} FROM {row.table} WHERE {' AND '.join(f'{k} = ?' for k in row.key)}",
        list(row.key.values()),
    )
    return dict(zip(names, found, strict=True)) if found else None


def alice(workspace: str) -> UserRef:
    return user(ME, platform=Platform.DISCORD, workspace=workspace)


async def test_every_member_column_is_classified(make_app) -> None:
    app, _ = await make_app(brains=ALL_BRAINS)
    found = member_columns(await schema(app.store.db))
    assert found == set(COVERAGE) | set(NOT_MEMBERS), "classify each new member column in COVERAGE"


async def test_export_and_forget_me_cover_every_member_column(make_app) -> None:
    app, _ = await make_app(brains=ALL_BRAINS)
    db, core = app.store.db, app.brain("core")
    tables = await schema(db)
    rows = [
        seed_row(table, tables[table], column, n)
        for n, (table, column) in enumerate(sorted(member_columns(tables) - set(NOT_MEMBERS)))
    ]
    for row in rows:
        await insert(db, row)

    reached = {m.workspace_id for m in await core.member_everywhere(alice(HOME))}  # type: ignore[attr-defined]
    exported = await core.export(alice(HOME))  # type: ignore[attr-defined]
    problems: list[str] = []
    for row in rows:
        cover = COVERAGE[(row.table, row.column)]
        if not cover.reached and row.workspace not in reached:
            problems.append(f"{row.table}.{row.column}: the member's privacy commands do not reach its server")
        if cover.exported:
            continue
        # From the member's home server, or (a server reached otherwise) a request made there.
        part = exported.get("other_workspaces", {}).get(row.workspace)
        if part is None:
            part = await core.export(alice(row.workspace))  # type: ignore[attr-defined]
        text = json.dumps(part, default=str)
        if not any(marker in text for marker in row.markers):
            problems.append(f"{row.table}.{row.column}: the row is missing from the export")

    await core.forget(alice(HOME))  # type: ignore[attr-defined]
    for row in rows:
        if COVERAGE[(row.table, row.column)].reached:
            await core.forget(alice(row.workspace))  # type: ignore[attr-defined]
    for row in rows:
        cover = COVERAGE[(row.table, row.column)]
        after = await current(db, row)
        names_me = after is not None and ME in str(after[row.column])
        if names_me and not cover.kept:
            problems.append(f"{row.table}.{row.column}: /forget-me leaves the row naming the member")
        for col in cover.erased:
            if after is not None and after[col] not in ("", None):
                problems.append(f"{row.table}.{col}: /forget-me leaves it")
    assert not problems, "\n".join(problems)

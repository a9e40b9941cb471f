"""The workspaces a Discord member's privacy commands act in are found by searching indexes that
lead with the member (``member_workspaces`` of the brains, ``member_everywhere`` of the core), not by
reading whole tables: the query plans of SQLite and PostgreSQL name those indexes."""

from __future__ import annotations

import pytest

from bot.core_brain import MEMBER_WORKSPACES as CORE
from bot.store.db import Database
from brain.activity.brain import MEMBER_WORKSPACES as ACTIVITY
from brain.community.brain import MEMBER_WORKSPACES as COMMUNITY
from brain.recommend.brain import MEMBER_WORKSPACES as RECOMMEND

# query -> {table: the index its part must search}
PLANS = {
    "activity": (
        ACTIVITY,
        {
            "activity_rollup": "activity_rollup_member",
            "activity_contrib": "activity_contrib_author",
            "activity_reactions": "activity_reactions_member",
        },
    ),
    "recommend": (
        RECOMMEND,
        {
            "recommend_profiles": "recommend_profiles_member",
            "recommend_shown": "recommend_shown_member",
            "recommend_feedback": "recommend_feedback_member",
        },
    ),
    "community": (
        COMMUNITY,
        {"community_pings": "community_pings_member", "community_drafts": "community_drafts_asker"},
    ),
    # The core's own two new parts (its first six predate these indexes: messages by author and
    # the rest lead with the workspace).
    "core": (CORE, {"channel_access": "channel_access_member", "audit_log": "audit_log_actor"}),
}


async def plan(db: Database, sql: str) -> list[str]:
    """The plan's lines for ``sql`` with every parameter bound to a member id or platform."""
    params = ["U1", "discord"] * (sql.count("?") // 2)
    if db.dialect == "postgresql":
        async with db.transaction() as tx:
            # An empty table is cheapest read whole: plan as for a big one.
            await tx.execute("SET LOCAL enable_seqscan = off")
            return [str(r[0]) for r in await tx.fetchall(f"EXPLAIN {sql}", params)]
    return [str(r[3]) for r in await db.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)]


@pytest.mark.parametrize("name", sorted(PLANS))
async def test_member_lookups_search_an_index_leading_with_the_member(make_app, name: str) -> None:
    app, _ = await make_app(brains=["qa", "recommend", "activity", "community"])
    sql, indexes = PLANS[name]
    lines = await plan(app.store.db, sql)
    text = "\n".join(lines)
    for table, index in indexes.items():
        if app.store.db.dialect == "postgresql":
            # "Index Only Scan using <index> on <table>", or a bitmap scan on the index.
            assert any(index in line for line in lines), text
            assert f"Seq Scan on {table}" not in text, text
        else:
            # "SEARCH <table> USING COVERING INDEX <index> (user_id=? AND platform=?)"
            mine = [line for line in lines if line.split()[1:2] == [table]]
            assert mine and all(line.startswith("SEARCH") and f"INDEX {index} (" in line for line in mine), text

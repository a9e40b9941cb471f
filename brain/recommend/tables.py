"""The recommender's tables (portable SQL, registered with the core migrations at import time)."""

from __future__ import annotations

from bot.store import slack_ids
from bot.store.schema import Migration, register

register(
    Migration(
        "recommend_0001_profiles_feedback",
        (
            """CREATE TABLE IF NOT EXISTS recommend_profiles (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, user_id TEXT NOT NULL,
                vector TEXT NOT NULL, updated_ts DOUBLE PRECISION NOT NULL, events INTEGER NOT NULL,
                PRIMARY KEY (platform, workspace_id, user_id))""",
            """CREATE TABLE IF NOT EXISTS recommend_shown (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, user_id TEXT NOT NULL,
                thread_id TEXT NOT NULL, channel_id TEXT NOT NULL, shown_ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, user_id, thread_id))""",
            """CREATE TABLE IF NOT EXISTS recommend_feedback (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, user_id TEXT NOT NULL,
                thread_id TEXT NOT NULL, channel_id TEXT NOT NULL, kind TEXT NOT NULL,
                ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, user_id, thread_id, kind))""",
        ),
    )
)
# Slack thread ids became "<channel>:<ts>" (bot.message_ids).
register(
    Migration(
        "recommend_0002_slack_channel_ids",
        (
            slack_ids.by_channel_column("recommend_shown", "thread_id"),
            slack_ids.by_channel_column("recommend_feedback", "thread_id"),
        ),
    )
)

"""Tables of the activity brain, registered with the store's migrations at import time.

``activity_contrib`` holds what each message contributed to the rollups, so a delete subtracts
exactly what was added and a redelivered message is recognised. ``activity_rollup`` is the
member x channel x local-day table leaderboards read. ``activity_reactions`` keeps one row per
reaction so "one reaction per member per message" and removals are exact. ``activity_alerts`` is
the de-duplication state of trend alerts.
"""

from __future__ import annotations

from bot.store import slack_ids
from bot.store.schema import Migration, register

MIGRATION = Migration(
    "activity-0001-rollups",
    (
        """CREATE TABLE IF NOT EXISTS activity_contrib (
            platform TEXT NOT NULL, workspace_id TEXT NOT NULL, message_id TEXT NOT NULL,
            channel_id TEXT NOT NULL, author_id TEXT NOT NULL, thread_id TEXT,
            day TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL,
            words INTEGER NOT NULL DEFAULT 0, is_question INTEGER NOT NULL DEFAULT 0,
            deleted INTEGER NOT NULL DEFAULT 0,
            messages INTEGER NOT NULL DEFAULT 0, replies INTEGER NOT NULL DEFAULT 0,
            threads INTEGER NOT NULL DEFAULT 0, reactions INTEGER NOT NULL DEFAULT 0,
            helpful INTEGER NOT NULL DEFAULT 0, answered INTEGER NOT NULL DEFAULT 0,
            helpful_src TEXT NOT NULL DEFAULT '', capped INTEGER NOT NULL DEFAULT 0,
            answer_id TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (platform, workspace_id, message_id))""",
        """CREATE INDEX IF NOT EXISTS activity_contrib_thread
            ON activity_contrib (platform, workspace_id, thread_id, ts)""",
        """CREATE INDEX IF NOT EXISTS activity_contrib_ts
            ON activity_contrib (platform, workspace_id, ts)""",
        """CREATE TABLE IF NOT EXISTS activity_rollup (
            platform TEXT NOT NULL, workspace_id TEXT NOT NULL, day TEXT NOT NULL,
            channel_id TEXT NOT NULL, user_id TEXT NOT NULL,
            messages INTEGER NOT NULL DEFAULT 0, replies INTEGER NOT NULL DEFAULT 0,
            threads INTEGER NOT NULL DEFAULT 0, reactions INTEGER NOT NULL DEFAULT 0,
            helpful INTEGER NOT NULL DEFAULT 0, answered INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (platform, workspace_id, day, channel_id, user_id))""",
        """CREATE TABLE IF NOT EXISTS activity_reactions (
            platform TEXT NOT NULL, workspace_id TEXT NOT NULL, message_id TEXT NOT NULL,
            user_id TEXT NOT NULL, emoji TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (platform, workspace_id, message_id, user_id, emoji))""",
        """CREATE TABLE IF NOT EXISTS activity_alerts (
            platform TEXT NOT NULL, workspace_id TEXT NOT NULL, alert_key TEXT NOT NULL,
            posted_ts DOUBLE PRECISION NOT NULL, last_ts DOUBLE PRECISION NOT NULL,
            peak DOUBLE PRECISION NOT NULL DEFAULT 0, posts INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (platform, workspace_id, alert_key))""",
    ),
)

register(MIGRATION)
# Slack message ids became "<channel>:<ts>" (bot.message_ids).
register(
    Migration(
        "activity-0002-slack-channel-ids",
        (
            slack_ids.by_channel_column("activity_contrib", "message_id"),
            slack_ids.by_channel_column("activity_contrib", "thread_id"),
            slack_ids.by_channel_column("activity_contrib", "answer_id"),
            slack_ids.by_lookup("activity_reactions", "message_id"),
        ),
    )
)
# Messages posted while their author had opted out count anonymously (brain/activity/counters.py).
register(
    Migration(
        "activity-0003-anonymous",
        ("ALTER TABLE activity_contrib ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0",),
    )
)
# Why a question's answer is where it is (brain/activity/counters.py): the marks and the asker's
# message that took the reply up, so that undoing one of them (a thanks deleted or edited away, a ✅
# removed) takes the answer back only when nothing else still gives it. Answers recorded before
# this column start from their reply's marks, else from a follow-up of the asker's that no undo names.
register(
    Migration(
        "activity-0004-answer-sources",
        (
            "ALTER TABLE activity_contrib ADD COLUMN answer_src TEXT NOT NULL DEFAULT ''",
            """UPDATE activity_contrib SET answer_src = COALESCE((
                SELECT NULLIF(r.helpful_src, '') FROM activity_contrib r
                WHERE r.platform = activity_contrib.platform AND r.workspace_id = activity_contrib.workspace_id
                AND r.message_id = activity_contrib.answer_id AND r.helpful > 0), 'said')
            WHERE answer_id <> ''""",
        ),
    )
)
# Indexes leading with the member (``ActivityBrain.member_workspaces``: one Discord id across every
# guild, no workspace to start from; ``forget_member`` and ``export_member`` use them too). The
# primary keys and the other indexes lead with the workspace, so each lookup scanned every row of
# the table. One migration per table: each is built on its own (a big table takes a while).
register(
    Migration(
        "activity-0006-rollup-member-index",
        ("CREATE INDEX IF NOT EXISTS activity_rollup_member ON activity_rollup (user_id, platform, workspace_id)",),
        concurrent_indexes=True,
    )
)
register(
    Migration(
        "activity-0007-contrib-author-index",
        ("CREATE INDEX IF NOT EXISTS activity_contrib_author ON activity_contrib (author_id, platform, workspace_id)",),
        concurrent_indexes=True,
    )
)
register(
    Migration(
        "activity-0008-reactions-member-index",
        (
            "CREATE INDEX IF NOT EXISTS activity_reactions_member "
            "ON activity_reactions (user_id, platform, workspace_id)",
        ),
        concurrent_indexes=True,
    )
)
# Changes that overtook what they change (SECURITY.md; the recorder's ``pending_edits`` and
# ``reaction_removals``, which the counters cannot rely on: they run on a queue of their own, before
# or after the recorder). An edit of a message the counters have no row of yet waits in
# ``activity_pending_edits`` for its post, which is then counted with it (``ts``: the edit's time);
# every reaction removal leaves its time in ``activity_reaction_removals``, so an add from before it,
# delivered later, is not counted. ``noted_ts`` is when the row was written: both are purged after
# two days (ActivityCounters), by retention and by /forget-me (the edit's author, the reaction's member).
# ``standin`` marks a contribution row that stands in for the missing root of a Discord thread opened
# without a starter message (private threads, "Create Thread"): made from ThreadCreated, 1 until the
# thread's author first writes in it, 2 after (the row then asks what that message asks); the thread's
# replies earn their credits against it, and it never counts as a message.
register(
    Migration(
        "activity-0009-overtaken-changes",
        (
            """CREATE TABLE IF NOT EXISTS activity_pending_edits (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, message_id TEXT NOT NULL,
                author_id TEXT NOT NULL DEFAULT '', text TEXT NOT NULL DEFAULT '',
                ts DOUBLE PRECISION NOT NULL, noted_ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, message_id))""",
            """CREATE TABLE IF NOT EXISTS activity_reaction_removals (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, message_id TEXT NOT NULL,
                user_id TEXT NOT NULL, emoji TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL,
                noted_ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, message_id, user_id, emoji))""",
            "ALTER TABLE activity_contrib ADD COLUMN standin INTEGER NOT NULL DEFAULT 0",
        ),
    )
)

"""De-duplication and rate limiting of alerts, with state in ``activity_alerts``.

A key (``burst:<channel>:<term>``, ``unanswered:<channel>`` ...) is posted once; while it stays
active (seen again within ``quiet_hours``) it is only re-posted as an *update* when its strength
(burst count) grew by ``update_factor``. A workspace gets at most ``max_per_hour`` alert posts
(new alerts and updates alike, logged in ``activity_alert_posts``).

A finding can carry aliases, the keys it may have had before: as a burst grows, a different one
of its terms can lead it (``seeing redis``, then ``timeout error``), and each would be a new key.
Every key of a finding is recorded as an alias row pointing at the alert it was folded into
(column ``incident``; ``''`` on an alert's own row), so a later finding that shares any term with
an active alert continues that alert, across restarts as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.store import Store
from bot.store.schema import Migration, register
from brain.activity import schema as _schema  # noqa: F401  (the table comes first)

register(
    Migration(
        "activity-0004-alert-incidents",
        ("ALTER TABLE activity_alerts ADD COLUMN incident TEXT NOT NULL DEFAULT ''",),
    )
)
# One row per alert post (a new alert or an update), for the hourly limit: counting alert rows with
# a post in the last hour let a growing alert post and update several times as "one".
register(
    Migration(
        "activity-0005-alert-posts",
        (
            """CREATE TABLE IF NOT EXISTS activity_alert_posts (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, alert_key TEXT NOT NULL,
                posted_ts DOUBLE PRECISION NOT NULL)""",
            """CREATE INDEX IF NOT EXISTS activity_alert_posts_ts
                ON activity_alert_posts (platform, workspace_id, posted_ts)""",
        ),
    )
)
# Post rows older than this are deleted as new ones are written (the limit looks back one hour).
_POST_LOG_S = 24 * 3600
# Alert rows quiet for longer than this are purged (purge_alerts): the ledger reads only those seen
# within ``quiet_hours`` (24 h by default: an older one is new again), and their keys hold terms
# taken from members' words. A week covers a longer quiet_hours with room.
ALERT_STATE_KEPT_S = 7 * 86400


async def purge_alerts(
    store: Store, platform: str, workspace_id: str, now: float, *, before_ts: float | None = None
) -> int:
    """Delete the workspace's alert rows quiet since :data:`ALERT_STATE_KEPT_S` before ``now`` (or
    since ``before_ts``, a retention cutoff, if later) and its alert post log older than a day (or
    than ``before_ts``); returns how many. The retention purge and every trend scan call it."""
    cutoff = now - ALERT_STATE_KEPT_S if before_ts is None else max(now - ALERT_STATE_KEPT_S, before_ts)
    scope = (platform, workspace_id)
    n = await store.db.execute(
        "DELETE FROM activity_alerts WHERE platform = ? AND workspace_id = ? AND last_ts < ?", (*scope, cutoff)
    )
    posts = now - _POST_LOG_S if before_ts is None else max(now - _POST_LOG_S, before_ts)
    n += await store.db.execute(
        "DELETE FROM activity_alert_posts WHERE platform = ? AND workspace_id = ? AND posted_ts < ?", (*scope, posts)
    )
    return n


class Decision(StrEnum):
    """What to do with a finding."""

    NEW = "new"
    UPDATE = "update"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Rate-limit and de-duplication settings."""

    quiet_hours: float = 24.0
    update_factor: float = 1.5
    max_per_hour: int = 5


class AlertLedger:
    """Decides NEW / UPDATE / SKIP for findings and records what was posted."""

    def __init__(self, store: Store, platform: str, workspace_id: str, policy: AlertPolicy | None = None) -> None:
        self.store = store
        self.platform = platform
        self.workspace_id = workspace_id
        self.policy = policy or AlertPolicy()

    async def decide(self, key: str, strength: float, now: float, *, aliases: Sequence[str] = ()) -> Decision:
        """NEW for a first sighting (or after a quiet period), UPDATE when it grew, else SKIP.

        Every call refreshes the key's last-seen time, so an ongoing burst stays one alert. When
        ``key`` or one of ``aliases`` belongs to an active alert, the decision is that alert's.
        """
        key = await self._incident(key, aliases, now)
        row = await self.store.db.fetchone(
            "SELECT last_ts, peak, posts FROM activity_alerts WHERE platform = ? AND workspace_id = ? AND alert_key = ?",
            (self.platform, self.workspace_id, key),
        )
        # A finding held back by the rate limit (never posted) is still new next time.
        if row is None or int(row[2]) == 0 or now - float(row[0]) > self.policy.quiet_hours * 3600:
            decision = Decision.NEW
        elif strength >= float(row[1]) * self.policy.update_factor:
            decision = Decision.UPDATE
        else:
            decision = Decision.SKIP
        if decision is not Decision.SKIP and await self._posted_last_hour(now) >= self.policy.max_per_hour:
            decision = Decision.SKIP
        peak = strength if decision is not Decision.SKIP or row is None else float(row[1])
        posted = 0 if decision is Decision.SKIP else 1
        await self.store.db.execute(
            "INSERT INTO activity_alerts (platform, workspace_id, alert_key, posted_ts, last_ts, peak, posts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace_id, alert_key) DO UPDATE SET "
            "last_ts = excluded.last_ts, peak = excluded.peak, posts = activity_alerts.posts + excluded.posts, "
            "incident = '', "
            "posted_ts = CASE WHEN excluded.posts > 0 THEN excluded.posted_ts ELSE activity_alerts.posted_ts END",
            (self.platform, self.workspace_id, key, now, now, peak, posted),
        )
        if posted:
            await self.store.db.execute(
                "DELETE FROM activity_alert_posts WHERE platform = ? AND workspace_id = ? AND posted_ts < ?",
                (self.platform, self.workspace_id, now - _POST_LOG_S),
            )
            await self.store.db.execute(
                "INSERT INTO activity_alert_posts (platform, workspace_id, alert_key, posted_ts) VALUES (?, ?, ?, ?)",
                (self.platform, self.workspace_id, key, now),
            )
        return decision

    async def _incident(self, key: str, aliases: Sequence[str], now: float) -> str:
        """The alert key a finding continues (``key`` when none), with its keys recorded as aliases."""
        candidates = list(dict.fromkeys([key, *aliases]))
        marks = ", ".join("?" for _ in candidates)
        scope = (self.platform, self.workspace_id)
        active = now - self.policy.quiet_hours * 3600
        rows = await self.store.db.fetchall(
            f"SELECT alert_key, incident FROM activity_alerts WHERE platform = ? AND workspace_id = ? "
            f"AND alert_key IN ({marks}) AND last_ts >= ?",
            (*scope, *candidates, active),
        )
        groups = sorted({str(r[1]) or str(r[0]) for r in rows})
        incident = key
        if groups:
            marks = ", ".join("?" for _ in groups)
            heads = await self.store.db.fetchall(
                f"SELECT alert_key, posts, posted_ts FROM activity_alerts WHERE platform = ? AND workspace_id = ? "
                f"AND alert_key IN ({marks}) AND last_ts >= ?",
                (*scope, *groups, active),
            )
            # The alert members have already seen wins: posted first, then the earliest post.
            ranked = sorted(heads, key=lambda r: (int(r[1]) == 0, float(r[2]), str(r[0])))
            incident = str(ranked[0][0]) if ranked else key
        aliased = [(*scope, c, now, now, 0.0, 0, incident) for c in candidates if c != incident]
        if aliased:
            # An alert of its own (posted) keeps its row; alias rows follow the incident.
            await self.store.db.executemany(
                "INSERT INTO activity_alerts (platform, workspace_id, alert_key, posted_ts, last_ts, peak, posts, "
                "incident) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace_id, alert_key) DO UPDATE "
                "SET incident = excluded.incident, last_ts = excluded.last_ts WHERE activity_alerts.posts = 0",
                aliased,
            )
        return incident

    async def _posted_last_hour(self, now: float) -> int:
        """Alert posts (new alerts and updates) in the hour before ``now``."""
        row = await self.store.db.fetchone(
            "SELECT COUNT(*) FROM activity_alert_posts WHERE platform = ? AND workspace_id = ? AND posted_ts >= ?",
            (self.platform, self.workspace_id, now - 3600),
        )
        return int(row[0]) if row else 0

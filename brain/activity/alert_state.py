"""De-duplication and rate limiting of alerts, with state in ``activity_alerts``.

A key (``burst:<channel>:<term>``, ``unanswered:<channel>`` ...) is posted once; while it stays
active (seen again within ``quiet_hours``) it is only re-posted as an *update* when its strength
(burst count) grew by ``update_factor``. A workspace gets at most ``max_per_hour`` alert posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.store import Store


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

    async def decide(self, key: str, strength: float, now: float) -> Decision:
        """NEW for a first sighting (or after a quiet period), UPDATE when it grew, else SKIP.

        Every call refreshes the key's last-seen time, so an ongoing burst stays one alert.
        """
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
            "posted_ts = CASE WHEN excluded.posts > 0 THEN excluded.posted_ts ELSE activity_alerts.posted_ts END",
            (self.platform, self.workspace_id, key, now, now, peak, posted),
        )
        return decision

    async def _posted_last_hour(self, now: float) -> int:
        row = await self.store.db.fetchone(
            "SELECT COUNT(*) FROM activity_alerts WHERE platform = ? AND workspace_id = ? AND posts > 0 "
            "AND posted_ts >= ?",
            (self.platform, self.workspace_id, now - 3600),
        )
        return int(row[0]) if row else 0

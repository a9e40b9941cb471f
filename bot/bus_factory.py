"""Choose the event bus from settings: in-process by default, Redis Streams at scale."""

from __future__ import annotations

from pathlib import Path

from bot.bus import EventBus, InProcessBus
from bot.config import Settings
from bot.privacy.gate import RedactingBus
from bot.privacy.redact import Redactor


def create_bus(settings: Settings) -> EventBus:
    """The bus named by ``settings.bus.kind``, behind the privacy gate (redaction before anything sees text)."""
    return RedactingBus(_raw_bus(settings), Redactor(settings.privacy.extra_redaction_patterns))


def _raw_bus(settings: Settings) -> EventBus:
    if settings.bus.kind == "redis":
        from bot.bus_redis import RedisStreamsBus

        return RedisStreamsBus(
            settings.bus.redis_url,
            prefix=settings.bus.stream_prefix,
            maxlen=settings.bus.maxlen,
            claim_idle_ms=settings.bus.claim_idle_ms,
            max_deliveries=settings.bus.max_deliveries,
            # Events still waiting for an unreachable Redis at shutdown are kept here for the next start.
            spill_path=Path(settings.data_dir) / f"redis-bus-{settings.bus.stream_prefix}.spill.jsonl",
        )
    return InProcessBus(queue_size=settings.bus.queue_size)

"""Review fixes: the daily digest on days a zone's clock skips or repeats hours (one digest per
local day, none missed), and titles and "why this" lines that stay short and read as they show."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.testing.builders import make_message, user
from brain.recommend.brain import DIGEST_KEY
from brain.recommend.digest import (
    NO_TEXT_TITLE,
    TOPIC_CHARS,
    WHY_CHARS,
    digest_due,
    shared_topic,
    title_of,
    why_line,
)
from tests.unit.recommend.test_brain import Factory, _app, _post, _thread

ZONES = [
    "America/Nuuk",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Pacific/Apia",
    "America/Havana",
]
TIMES = [time(0, 0), time(2, 30), time(9, 0), time(23, 45), time(23, 59)]


def _simulate(zone: str, at: time, start: datetime, days: int) -> tuple[list[str], list[str]]:
    """Every quarter-hour tick over ``days`` days: the local days that got no digest, and those
    that got more than one."""
    tz = ZoneInfo(zone)
    last: str | None = None
    sent: Counter[str] = Counter()
    t, end = start, start + timedelta(days=days)
    while t < end:
        day = digest_due(t, tz, at, last)
        if day:
            last = day
            sent[day] += 1
        t += timedelta(minutes=15)
    expected = set()
    t = start + timedelta(days=1)
    while t < end - timedelta(days=1):
        expected.add(t.astimezone(tz).date().isoformat())
        t += timedelta(hours=1)
    return sorted(expected - set(sent)), sorted(d for d, n in sent.items() if n > 1)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("start", [datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)])
def test_one_digest_every_local_day_across_dst(zone: str, start: datetime) -> None:
    for at in TIMES:
        missing, twice = _simulate(zone, at, start, 20)
        assert (missing, twice) == ([], []), (zone, at)


def test_nuuk_gets_a_late_digest_on_the_day_its_clock_springs_past_midnight() -> None:
    """2026-03-28: America/Nuuk goes from 22:59 to 00:00, so the day's last tick is 22:45."""
    nuuk = ZoneInfo("America/Nuuk")
    last_tick = datetime(2026, 3, 29, 0, 45, tzinfo=UTC)
    assert last_tick.astimezone(nuuk).isoformat() == "2026-03-28T22:45:00-02:00"
    assert digest_due(last_tick - timedelta(minutes=15), nuuk, time(23, 45), "2026-03-27") is None
    assert digest_due(last_tick, nuuk, time(23, 45), "2026-03-27") == "2026-03-28"
    assert digest_due(last_tick, nuuk, time(23, 45), "2026-03-28") is None


def test_apia_skipped_day_sends_no_digest_twice() -> None:
    missing, twice = _simulate("Pacific/Apia", time(23, 59), datetime(2011, 12, 20, tzinfo=UTC), 20)
    assert (missing, twice) == ([], [])


def test_title_drops_invisible_characters_and_names_an_empty_opening() -> None:
    assert title_of("\u202eevil\u202c \u2066isolated\u2069 z\u200bw\ufeff\x00") == "evil isolated zw"
    # The zero-width non-joiner spells Persian and Indic words; the directional marks order nothing.
    assert title_of("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u200fpython") == (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u200fpython"
    )
    assert title_of("") == title_of("   \u200b\u202e ") == NO_TEXT_TITLE
    assert "@\u200beveryone" in title_of("ping @everyone")  # our own zero-width space stays
    assert title_of("👩\u200d💻 works") == "👩\u200d💻 works"  # an emoji's joiner stays


def test_topic_words_and_why_lines_are_short() -> None:
    long_word = "a" * 5000
    assert shared_topic([long_word + " asyncio"], long_word + " asyncio") == "asyncio"
    assert shared_topic([long_word], long_word) is None
    word = "b" * TOPIC_CHARS
    assert shared_topic([word], word) == word
    line = why_line(channel="c" * 5000, topic=None, social_author=None, explore=False, active_hours=False)
    assert len(line) <= WHY_CHARS
    bidi = why_line(channel="py\u202ethon", topic=None, social_author=None, explore=True, active_hours=False)
    assert "\u202e" not in bidi and "python" in bidi


async def test_a_digest_of_odd_texts_stays_short(make_app: Factory) -> None:
    app, adapter, brain, _ = await _app(make_app)
    texts = ["", "\u202e\u200b\u0000abc", "x" * 200000, "a" * 5000 + " asyncio"]
    events = []
    for i, text in enumerate(texts):
        events.append(_thread(f"t{i}", "bob", text, minutes=i))
        events.append(make_message("reply here", author="carol", chan="python", thread_id=f"t{i}", minutes=i + 0.5))
    events.append(make_message("a" * 5000 + " I like asyncio", author="alice", chan="python", minutes=30))
    await _post(app, adapter, *events)
    recs = await brain.recommend(user("alice"), k=10)
    assert recs
    for r in recs:
        assert r.title and len(r.title) <= 80 and len(r.why) <= WHY_CHARS
        assert not any(ch in r.title for ch in "\u202e\u200b\x00")
    await app.store.set_member_setting("console", "local", "alice", DIGEST_KEY, True)
    assert await brain.send_due_digests(force=True) == 1

"""Mass mentions neutralized; sliding-window limits hit and recover."""

from __future__ import annotations

import pytest

from bot.privacy.mentions import neutralize
from bot.privacy.ratelimit import AskLimiter, SlidingWindowLimiter


@pytest.mark.parametrize(
    ("raw", "forbidden"),
    [
        ("hey @everyone look", "@everyone"),
        ("@here urgent", "@here"),
        ("ping <@&123456789> now", "<@&123456789>"),
        ("<!channel> deploy done", "<!channel>"),
        ("<!here|here> hi", "<!here"),
        ("<!subteam^S0123ABC|@admins> help", "<!subteam"),
        ("<!everyone>", "<!everyone>"),
    ],
)
def test_mass_mentions_are_neutralized(raw: str, forbidden: str) -> None:
    out = neutralize(raw)
    assert forbidden not in out
    assert out.strip()


def test_user_mentions_and_emails_survive() -> None:
    text = "thanks <@U123> and <@456>, mail a@b.io or bob@here.example or ops@everyone.org"
    assert neutralize(text) == text


def test_limit_is_hit_then_recovers() -> None:
    lim = SlidingWindowLimiter(limit=3, window_s=60)
    assert all(lim.allow("u1", t) for t in (0, 1, 2))
    assert not lim.allow("u1", 3)
    assert lim.retry_after("u1", 3) == pytest.approx(57)
    assert lim.allow("u2", 3)  # other members unaffected
    assert lim.allow("u1", 60.5)


def test_ask_limiter_checks_member_then_channel() -> None:
    ask = AskLimiter.from_limits(member_per_minute=2, channel_per_minute=3)
    assert ask.check("a", "c", 0) == 0 and ask.check("a", "c", 1) == 0
    assert ask.check("a", "c", 2) > 0  # member limit
    assert ask.check("b", "c", 3) == 0
    assert ask.check("d", "c", 4) > 0  # channel limit


def test_limiter_memory_is_bounded() -> None:
    lim = SlidingWindowLimiter(limit=1, window_s=1, max_keys=100)
    for i in range(1000):
        lim.allow(f"k{i}", float(i))
    assert len(lim._hits) <= 100

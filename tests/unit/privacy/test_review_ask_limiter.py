"""The /ask limits: a question refused for its busy channel does not count against the member."""

from __future__ import annotations

from bot.privacy.ratelimit import AskLimiter, SlidingWindowLimiter


def test_questions_refused_for_a_busy_channel_leave_the_members_allowance() -> None:
    ask = AskLimiter.from_limits(member_per_minute=2, channel_per_minute=3)
    for t, member in enumerate(("a", "b", "c")):  # the channel fills up
        assert ask.check(member, "help", float(t)) == 0
    # "d" asks three times while the channel is full: refused each time by the channel.
    for t in (3.0, 4.0, 5.0):
        assert ask.check("d", "help", t) > 0
    # The channel frees up: "d" has asked nothing that was answered, so both questions go through
    # (before, the three refusals had used up their two a minute).
    assert ask.check("d", "help", 61.0) == 0
    assert ask.check("d", "help", 62.0) == 0
    assert ask.check("d", "help", 63.0) > 0  # now their own limit


def test_a_member_over_their_limit_does_not_use_up_the_channel() -> None:
    ask = AskLimiter.from_limits(member_per_minute=1, channel_per_minute=2)
    assert ask.check("a", "help", 0.0) == 0
    assert ask.check("a", "help", 1.0) > 0
    assert ask.check("a", "help", 2.0) > 0
    assert ask.check("b", "help", 3.0) == 0  # the channel still has room for someone else


def test_available_does_not_record_a_hit() -> None:
    lim = SlidingWindowLimiter(limit=1, window_s=60)
    assert lim.available("u", 0.0) and lim.available("u", 1.0)
    assert lim.allow("u", 2.0)
    assert not lim.available("u", 3.0)
    assert lim.available("u", 62.5)

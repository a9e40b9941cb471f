"""Mention patterns stop at "<": a stray "<@" before a mention no longer swallows it.

Platforms escape "<" in text and labels, so a "<" inside a would-be mention means the mention began
later. Reading on past it made the patterns quadratic on pasted runs of "<@" (seconds of CPU with
the event loop blocked), and took the stray characters as part of the id.
"""

from __future__ import annotations

from adapters.slack.render import inert_mentions, member_mentions
from bot.core_brain import member_mention
from bot.privacy.member_rows import names_member


def test_a_stray_mention_start_does_not_swallow_the_mention_after_it() -> None:
    assert names_member("ask <@<@U1> please", "U1")
    assert not names_member("ask <@<@U1> please", "<@U1")


def test_a_word_that_is_not_one_mention_is_no_member() -> None:
    assert member_mention("<@U1>") == "U1"
    assert member_mention("<@<@U1>") is None


def test_slack_mentions_are_read_after_an_unclosed_label() -> None:
    assert member_mentions("<@U1|a <@U2>") == ["U2"]
    assert inert_mentions("<@U1|a <@U2> hi", notify=(), names={"U2": "bob"}) == "<@U1|a @bob hi"


def test_long_runs_of_mention_starts_still_read_the_real_mention_at_the_end() -> None:
    run = "<@" * 20_000 + "U7>"
    assert names_member(run, "U7")
    assert member_mentions("<@U1|" * 10_000 + "<@U2>") == ["U2"]

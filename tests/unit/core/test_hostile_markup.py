"""Markup parsers stay linear on hostile text: a 40,000-character message made of unclosed ``<@U1|``,
``<#C1|``, ``<!here|`` or ``<`` made each opening scan the rest of the text (seconds of a blocked
event loop per message: Slack's 3 s ack of every other event waited on it). A guard with a wide
margin (the old code took 2-3 s per case on this machine), not a speed measurement."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from adapters.slack.normalize import command_options
from bot.core_brain import member_words
from bot.privacy.mentions import neutralize
from bot.slack_text import mentioned_users
from brain.activity.trends import tokenize
from brain.qa.mentions import strip_mentions
from brain.recommend.digest import shared_topic

CASES: list[tuple[str, Callable[[str], object], str]] = [
    ("slack mentions", mentioned_users, "<@U1|" * 8000),
    ("neutralize", neutralize, "<!here|" * 6000),
    ("strip mentions", strip_mentions, "<@U1|" * 8000),
    ("trend tokens", tokenize, "<" * 40_000),
    ("digest topic", lambda t: shared_topic([t], t), "<" * 40_000),
    ("config members", member_words, "<@U1|" * 8000),
    ("slack command options", command_options, "<#C1|" * 8000),
]


@pytest.mark.parametrize(("name", "parse", "text"), CASES, ids=[c[0] for c in CASES])
def test_unclosed_markup_is_read_in_linear_time(name: str, parse: Callable[[str], object], text: str) -> None:
    start = time.perf_counter()
    parse(text)
    assert time.perf_counter() - start < 1.0, name


def test_closed_markup_still_reads_as_before() -> None:
    assert mentioned_users("hi <@U1|ann> and <@W2>") == ("U1", "W2")
    assert neutralize("ping <!here|here> now") == "ping @\u200bhere now"  # a zero-width space: no ping
    assert strip_mentions("<@U1|ann> how do I <!channel> pin?") == "how do I pin?"
    assert member_words("<@U1|Helga the, Helper> bob") == ["U1", "bob"]

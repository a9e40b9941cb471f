"""Long answers are cut between words, never inside a link or a mention."""

from __future__ import annotations

import re

from adapters.discord.render import MESSAGE_LIMIT, split_message

LINK = "[the install guide for every platform](https://docs.example.org/install)"
_WHOLE_LINK = re.compile(r"\[[^\]]*\]\([^)]*\)")


def test_a_link_across_the_limit_moves_whole_into_the_next_part() -> None:
    words = "word " * 392  # 1960 characters without a newline: the cut must fall on a space
    text = words + LINK + " [1] and more words after it."
    parts = split_message(text)
    assert all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert parts[1].startswith(LINK)  # not "...[the install" | "guide for every ...](...)"
    assert " ".join(parts).split() == text.split()  # nothing lost or repeated


def test_a_slack_link_and_a_mention_are_never_cut() -> None:
    link = "<https://chat.example.com/archives/C1/p123|the thread where it was solved>"
    text = "word " * 590 + link + " <@U123ABC> end"  # the link straddles character 3,000
    parts = split_message(text, 3000)
    assert parts[1].startswith(link)
    assert not any(p.count("<") != p.count(">") for p in parts)

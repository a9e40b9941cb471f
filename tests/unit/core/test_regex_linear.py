"""Patterns run over text members write stay linear in its length, and find what they found before.

A pattern such as ``<([@#!][^>]*)>`` tried from every ``<@`` of a pasted run scans to the end of the
message each time: 40,000 characters of ``<@`` took seconds with the event loop blocked. No timing is
asserted here (timed unit tests are flaky); each test pins the result on a long run, and where it
can, a result the old pattern got wrong.
"""

from __future__ import annotations

from brain.qa import grounding
from brain.recommend.digest import title_of

# A Slack message can hold 40,000 characters.
RUN = 20_000


def test_a_stray_mention_start_keeps_the_real_mention_in_a_digest_title() -> None:
    # Before, the stray "<@" ran on to the real mention's ">" and took it as its own name.
    assert title_of("x <@ stray <@U1> y") == "x <@ stray @U1 y"
    assert title_of("see <#C1|general> and <!here>") == "see #C1|general and !here"


def test_a_digest_title_of_a_pasted_run_of_mention_starts_keeps_them_as_written() -> None:
    # Before, the first "<@" took the whole run up to the closing ">" as one mention (dropping its "<").
    title = title_of("<@" * RUN + "<@U1>")
    assert title.startswith("<@<@<@")


def test_unwrap_of_a_draft_with_a_long_run_of_spaces_joins_the_wrapped_break() -> None:
    # The old pattern gave this result too, but scanned the rest of the run from each space in it.
    doc = "It never sees\nDMs between members."
    draft = "It never sees\nDMs between members." + " " * RUN + "Done"
    assert grounding.unwrap(draft, [doc]) == "It never sees DMs between members." + " " * RUN + "Done"


def test_unwrap_finds_the_same_breaks_around_blank_lines_and_indentation() -> None:
    doc = "It never sees\nDMs between members."
    # A break right after one that took its spaces, a blank line of spaces, trailing and leading tabs.
    assert grounding.unwrap("It never sees \t\n\t  DMs between members.", [doc]) == "It never sees DMs between members."
    for text in ["It never sees\n  \nDMs between members.", "It never sees\n\nDMs between members."]:
        assert grounding.unwrap(text, [doc]) == text

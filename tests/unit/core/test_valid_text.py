"""Lone surrogates become U+FFFD wherever they sit in an event; valid events pass untouched."""

from __future__ import annotations

import dataclasses

import pytest

from bot.events import CommandInvoked
from bot.testing import command, make_message, user
from bot.valid_text import clip, valid_text, with_valid_text


def test_valid_text_replaces_only_lone_surrogates() -> None:
    assert valid_text("ok \ud83d x \udc00") == "ok \ufffd x \ufffd"
    emoji = "naïve 🔥"
    assert valid_text(emoji) is emoji


def test_every_string_of_an_event_is_made_valid_and_a_valid_event_is_the_same_object() -> None:
    plain = make_message("héllo 🔥", message_id="m1")
    assert with_valid_text(plain) is plain
    broken = dataclasses.replace(
        make_message("a \ud800", message_id="m\udfff", author=dataclasses.replace(user("ana"), name="An\ud83da")),
        mentioned_user_ids=("u\udc01",),
    )
    fixed = with_valid_text(broken)
    assert (fixed.text, fixed.message_id, fixed.author.name) == ("a \ufffd", "m\ufffd", "An\ufffda")
    assert fixed.mentioned_user_ids == ("u\ufffd",)
    assert fixed.ts == broken.ts and fixed.source is broken.source
    invoked = with_valid_text(command("ask", "why \ud800?"))
    assert isinstance(invoked, CommandInvoked) and invoked.text == "why \ufffd?"


FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one family emoji: three people joined by ZWJ


@pytest.mark.parametrize(
    ("text", "limit", "clipped"),
    [
        ("hello world", 20, "hello world"),  # fits: untouched
        ("hello world", 8, "hello w…"),
        ("hello  world", 8, "hello…"),  # no space before the ellipsis
        (f"ab {FAMILY} cd", 5, "ab…"),  # never one person of a family
        ("\U0001f1e9\U0001f1ea\U0001f1eb\U0001f1f7xyz", 4, "\U0001f1e9\U0001f1ea…"),  # never half a flag
        ("\U0001f44d\U0001f3fd\U0001f44d\U0001f3fd", 3, "\U0001f44d\U0001f3fd…"),  # the skin tone stays
        ("cafe\u0301 au lait", 5, "caf…"),  # a letter keeps its accent or goes with it
    ],
)
def test_clip_never_cuts_a_character_in_half(text: str, limit: int, clipped: str) -> None:
    assert clip(text, limit) == clipped
    assert len(clip(text, limit)) <= limit

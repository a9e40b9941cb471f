"""What a dead letter keeps of a failure (bot.dead_letters): type, place, and a message that quotes
no member; and the word matching that /forget-me scrubs other letters with."""

from __future__ import annotations

import json
import re

from bot.dead_letters import describe_failure, grams_of, member_strings, personal_strings, redact
from bot.events import ChannelRef, CommandInvoked, MessagePosted, Platform, SendMessage, UserRef
from bot.testing import make_message
from bot.testing.builders import BASE_TIME

ANA = UserRef(Platform.DISCORD, "g1", "914306207736717312", "Ana Lind")
BOB = UserRef(Platform.DISCORD, "g1", "114306207736717399", "Bob Stone")
HELP = ChannelRef(Platform.DISCORD, "g1", "555000111", "help-desk")
TEXT = "my vault code is QX7-4711, mail me at ana@example.com\nthanks"


def failure(event: MessagePosted, message: str) -> str:
    try:
        raise ValueError(message)
    except ValueError as exc:
        return describe_failure(exc, event)


def test_the_message_keeps_places_and_tags_but_no_words_names_or_member_ids() -> None:
    event = make_message(TEXT, author=ANA, chan=HELP, message_id="777")
    error = failure(event, f"row {event.message_id} in {HELP.channel_id} ({HELP.name}): {event.text!r} by {ANA}")
    assert error.startswith("ValueError at tests/unit/core/test_dead_letters.py:")
    assert " in failure: row 777 in 555000111 ([redacted]): '[redacted]' by UserRef(platform=" in error
    assert not any(s in error for s in ("QX7", "vault", "example", "thanks", ANA.user_id, "Ana", "Lind"))
    assert "\n" not in error  # one line for `guildhall dlq list`


def test_a_partial_quote_and_a_repr_escaped_quote_are_masked() -> None:
    event = make_message(TEXT, author=ANA, chan=HELP)
    assert failure(event, f"cannot parse {TEXT[:16]}...").endswith(": cannot parse [redacted]...")
    assert failure(event, f"got {json.dumps(TEXT)}").endswith(': got "[redacted]"')


def test_ids_match_whole_words_only() -> None:
    grams = grams_of(["ana"])
    assert redact("banana for ana, user_ana, Ana.", grams) == "banana for [redacted], user_[redacted], [redacted]."
    assert redact("ok a ok", grams_of(["ok", "a"])) == "ok a ok"  # lone short words name no one


def test_han_text_is_masked_by_characters() -> None:
    assert redact("問題は東京の天気です", grams_of(["明日の東京の天気は"])) == "問題は[redacted]です"


def test_secrets_are_masked_without_an_event_too() -> None:
    try:
        raise RuntimeError("login failed: password=hunter2hunter2")
    except RuntimeError as exc:
        error = describe_failure(exc)
    assert "hunter2" not in error and error.startswith("RuntimeError at ")


def test_a_library_failure_names_our_frame_that_called_it() -> None:
    try:
        json.loads("{not json")
    except ValueError as exc:
        error = describe_failure(exc)
    assert re.match(
        r"json\.decoder\.JSONDecodeError at json/decoder\.py:\d+ in raw_decode "
        r"via tests/unit/core/test_dead_letters\.py:\d+ in test_a_library_failure_names_our_frame_that_called_it: ",
        error,
    ), error


def test_member_strings_are_their_words_name_and_id_not_others() -> None:
    ask = CommandInvoked("ask", ANA, HELP, "i1", BASE_TIME, text="how do I reset QX7?", options=(("q", "reset QX7"),))
    assert set(member_strings(ask, ANA)) == {ANA.user_id, "Ana Lind", "how do I reset QX7?", "reset QX7"}
    reply = SendMessage(HELP, f"<@{ANA.user_id}> see the pinned post")
    assert "help-desk" not in member_strings(reply, ANA)
    mention = make_message("hi Bob", author=ANA, chan=HELP)
    assert BOB.name not in member_strings(mention, ANA)
    assert {"hi Bob", "Ana Lind", "help-desk", ANA.user_id} <= set(personal_strings(mention))

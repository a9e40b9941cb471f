"""What a dead letter keeps of a failure (bot.dead_letters): type, place, and a message that quotes
no member; and the word matching that /forget-me scrubs other letters with."""

from __future__ import annotations

import json
import logging
import re

import pytest

from bot.bus import InProcessBus
from bot.dead_letters import (
    describe_failure,
    failure_report,
    grams_of,
    member_strings,
    personal_strings,
    redact,
)
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


def test_a_url_encoded_quote_is_masked() -> None:
    # An HTTP client's error quotes the request's URL: the member's words in its query string.
    from urllib.parse import quote, quote_plus

    event = make_message(TEXT, author=ANA, chan=HELP)
    for encoded in (quote(TEXT, safe=""), quote_plus(TEXT)):
        error = failure(event, f"400 Bad Request for url https://api.example.org/search?q={encoded}&lang=en")
        assert not any(s in error for s in ("QX7", "vault", "thanks")), error
        assert "https://api.example.org/search?q=" in error and "lang=en" in error
    # Nothing of the member in it: an escaped URL stays as it was.
    untouched = failure(event, "GET https%3A%2F%2Fslack.com%2Fapi%2Fchat.postMessage failed")
    assert untouched.endswith(": GET https%3A%2F%2Fslack.com%2Fapi%2Fchat.postMessage failed")


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


def test_a_failure_report_masks_every_message_of_the_chain_and_keeps_the_frames() -> None:
    event = make_message(TEXT, author=ANA, chan=HELP)

    def parse(text: str) -> None:
        raise KeyError(f"no field in {text!r}")

    try:
        try:
            parse(event.text)
        except KeyError as inner:
            raise RuntimeError(f"handler gave up on {event.text[:30]} from {ANA.name}") from inner
    except RuntimeError as exc:
        report = failure_report(exc, event)
    assert not any(s in report for s in ("QX7", "vault", "example", "Ana", "Lind")), report
    lines = report.splitlines()
    assert lines[0].startswith("KeyError at tests/unit/core/test_dead_letters.py:") and "in parse" in lines[0]
    assert "which led to:" in lines
    assert any(line.startswith("RuntimeError at ") and "(from KeyError)" in line for line in lines)
    # The frames stay for debugging: file, line and the source line of each.
    assert sum('File "' in line for line in lines) >= 3 and any("parse(event.text)" in line for line in lines)


def test_an_exception_chained_to_itself_is_reported_once() -> None:
    exc = ValueError("loop")
    exc.__context__ = exc
    assert failure_report(exc) == "ValueError (from ValueError): loop"  # no frames: never raised


async def test_the_in_process_bus_logs_and_counts_a_failure_without_quoting_the_member(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = InProcessBus()

    async def handler(event: MessagePosted) -> None:
        raise ValueError(f"cannot parse {event.text!r} by {event.author.name}")

    bus.subscribe(MessagePosted, handler, name="qa.answer")
    with caplog.at_level(logging.ERROR, logger="bot.bus"):
        await bus.publish(make_message(TEXT, author=ANA, chan=HELP))
        await bus.drain()
    await bus.close()
    logged = "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])
    assert "handler qa.answer failed on MessagePosted" in logged and "in handler" in logged
    assert not any(s in logged for s in ("QX7", "vault", "example", "Ana", "Lind")), logged
    assert bus.stats.failed == 1
    (failure_text,) = [text for _, _, text in bus.stats.failures]
    assert failure_text.startswith("ValueError at ") and "QX7" not in failure_text and "Ana" not in failure_text


async def test_a_failed_command_is_logged_without_its_arguments(make_app, caplog: pytest.LogCaptureFixture) -> None:
    from bot.brain import CommandResult, CommandSpec
    from bot.testing import command

    app, adapter = await make_app()

    async def frobnicate(cmd: CommandInvoked) -> CommandResult:
        raise ValueError(f"cannot frobnicate {cmd.text!r}")

    app.router.register(CommandSpec("frobnicate", "test"), frobnicate)
    with caplog.at_level(logging.ERROR, logger="bot.commands"):
        await adapter.inject(command("frobnicate", "my vault code is QX7-4711", author="ana"))
        await app.bus.drain()
    assert any("went wrong running `/frobnicate`" in t for t in adapter.texts())
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "command /frobnicate failed: ValueError at " in logged and "in frobnicate" in logged, logged
    assert "QX7" not in caplog.text and "vault" not in caplog.text, caplog.text


async def test_a_batch_failure_quoting_one_member_is_not_logged_with_anothers_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The batch failed quoting Ana's message; retried alone, Bob's event failed on its own. Bob's
    failure was raised while the batch's was handled, so it chained it (``__context__``) and his
    report printed Ana's words, masked only by Bob's event's strings."""
    bus = InProcessBus()

    async def handler(batch: list[MessagePosted]) -> None:
        if len(batch) > 1:
            raise ValueError(f"cannot store {batch[0].text!r}")
        if batch[0].author.name == BOB.name:
            raise RuntimeError("bob's row is locked")

    bus.subscribe_batch(MessagePosted, handler, name="recorder")
    with caplog.at_level(logging.DEBUG, logger="bot.bus"):
        await bus.publish_many(
            [make_message(TEXT, author=ANA, chan=HELP), make_message("plain words", author=BOB, chan=HELP)]
        )
        await bus.drain()
    await bus.close()
    assert bus.stats.failed == 1 and "bob's row is locked" in caplog.text
    assert not any(s in caplog.text for s in ("QX7", "vault", "example")), caplog.text

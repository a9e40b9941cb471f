"""A mention of the bot typed in the console reaches the brains as platforms send it: apart from
the question, so a bare mention asks nothing and the question text carries no "@guildhall"."""

from __future__ import annotations

from adapters.console.normalize import console_channel, member, message_from_line
from adapters.console.render import render_posted
from brain.qa.mentions import asks_something, strip_mentions
from prompts import load_prompt
from tests.unit.console.test_adapter import feed, make_console
from tests.unit.console.test_normalize import TS


def posted(line: str):
    event = message_from_line(line, author=member("you"), channel=console_channel("general"), message_id="m-1", ts=TS)
    assert event is not None
    return event


def test_the_question_text_carries_no_mention_of_the_bot() -> None:
    event = posted("@guildhall how do I connect the bot to Slack?")
    assert event.mentions_bot
    assert strip_mentions(event.text) == "how do I connect the bot to Slack?"
    for bare in ("@guildhall", "@guildhall ?", "@GuildHall " + "\u200d" * 100):
        event = posted(bare)
        assert event.mentions_bot and "@guildhall" not in strip_mentions(event.text).casefold()
        assert not asks_something(strip_mentions(event.text)), bare
    # Other members' mentions and an e-mail address stay as typed.
    event = posted("@maya mail me@guildhall.org")
    assert not event.mentions_bot and event.text == "@maya mail me@guildhall.org"


def test_the_receipt_still_reads_as_typed() -> None:
    event = posted("@guildhall how do I connect the bot to Slack?")
    assert "you: @guildhall how do I connect the bot to Slack?" in render_posted(event, echo=True)


async def test_a_bare_mention_gets_the_how_to_ask_hint(make_app) -> None:
    app, console, out = await make_console(make_app, brains=["qa"])
    await feed(app, console, "@guildhall", "@guildhall ?", "@guildhall " + "\u200d" * 100)
    hint = load_prompt("qa_how_to_ask").strip()
    assert out.getvalue().count(hint) == 3, out.getvalue()

"""Console lines -> events: pure parsing of messages, commands, options, mentions and controls."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.console.normalize import (
    MAX_MESSAGE_CHARS,
    ConsoleInputError,
    Control,
    clean_text,
    command_from_line,
    console_channel,
    is_command_line,
    member,
    mentions,
    message_from_line,
    parse_control,
    parse_member_name,
    parse_options,
    parse_thread_id,
    split_command,
)
from bot.events import Platform, Visibility

TS = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KNOWN = ["help", "ask", "guildhall config", "guildhall index", "forget-me"]


def test_clean_text_strips_line_end_controls_and_surrogates() -> None:
    assert clean_text("hello\r\n") == "hello"
    assert clean_text("tab\tkept") == "tab\tkept"
    assert clean_text("nul\x00 and \x1b[2J escape") == "nul and [2J escape"
    assert clean_text("bad \ud800 byte") == "bad \ufffd byte"
    assert clean_text("zoë 🐍 naïve ßtraße") == "zoë 🐍 naïve ßtraße"
    assert len(clean_text("x" * (MAX_MESSAGE_CHARS + 500))) == MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/help", True),
        ("  /ask why", True),
        ("/", False),
        ("/ x", False),
        ("//comment", False),
        ("http://x", False),
        ("", False),
    ],
)
def test_is_command_line(line: str, expected: bool) -> None:
    assert is_command_line(line) is expected


def test_parse_control_recognises_console_controls_only() -> None:
    assert parse_control("/as Bob") == Control("as", "Bob")
    assert parse_control("/AS bob") == Control("as", "bob")
    assert parse_control("/exit") == Control("quit")
    assert parse_control("/thread demo-0007 thanks, that   worked") == Control(
        "thread", "demo-0007", "thanks, that   worked"
    )
    assert parse_control("/help") is None
    assert parse_control("/ask how?") is None
    assert parse_control("as Bob") is None


def test_split_command_prefers_the_longest_registered_name() -> None:
    assert split_command("guildhall config set x y", KNOWN) == ("guildhall config", "set x y")
    assert split_command("Guildhall CONFIG show", KNOWN) == ("guildhall config", "show")
    assert split_command("ask  how   are you", KNOWN) == ("ask", "how   are you")
    assert split_command("nonsense foo bar", KNOWN) == ("nonsense", "foo bar")
    assert split_command("", KNOWN) == ("", "")


def test_split_command_without_registry_uses_groups_and_aliases() -> None:
    assert split_command("guildhall config set digest_size 3") == ("guildhall config", "set digest_size 3")
    assert split_command("guildhall") == ("help", "")
    assert split_command("guildhall-help") == ("help", "")
    assert split_command("ask what is asyncio") == ("ask", "what is asyncio")


def test_parse_options_key_values_quotes_and_shorthands() -> None:
    assert parse_options('q="a b" k=v plain') == (("q", "a b"), ("k", "v"))
    assert parse_options("#Help @Bob days=7") == (("days", "7"), ("channel", "help"), ("user", "bob"))
    assert parse_options("channel=python #help") == (("channel", "python"),)
    # The channel option is what a picker gives: only a console channel. A typed unknown name stays
    # text for the command to judge; an explicit option naming one is refused.
    assert parse_options("week #nosuch #help") == (("channel", "help"),)
    assert parse_options("week #nosuch") == ()
    with pytest.raises(ConsoleInputError, match="no channel 'nosuch'"):
        parse_options("channel=nosuch")
    # An unbalanced quote must not fail the command: plain words are used instead.
    assert parse_options('q="oops k=v') == (("q", '"oops'), ("k", "v"))
    assert parse_options("") == ()
    # Option names are ASCII identifiers; other words stay plain text.
    assert parse_options("ключ=значение 🐍=x name=Zoë") == (("name", "Zoë"),)


def test_mentions_find_the_bot_and_members() -> None:
    assert mentions("@guildhall how do I connect to Slack?") == (True, ())
    assert mentions("hey @GuildHall.") == (True, ())
    assert mentions("mail me@guildhall.org") == (False, ())
    assert mentions("@bob and @alice, then @bob again") == (False, ("bob", "alice"))
    assert mentions("@guildhall", bot_name="helper") == (False, ("guildhall",))


def test_message_from_line_builds_a_live_message() -> None:
    you = member("you")
    event = message_from_line(
        "@guildhall how do I connect the bot to Slack?\n",
        author=you,
        channel=console_channel("#help"),
        message_id="s-1",
        ts=TS,
        thread_id="demo-0007",
    )
    assert event is not None
    # The bot's mention is written as platforms send it, apart from the question (test_bot_mention.py).
    assert event.text == "<@guildhall> how do I connect the bot to Slack?"
    assert event.mentions_bot and event.thread_id == "demo-0007"
    assert event.channel.channel_id == "help" and event.platform is Platform.CONSOLE
    assert event.event_id == "console:local:msg:s-1"
    assert event.permalink == "console://local/help/s-1"
    assert message_from_line("   \n", author=you, channel=console_channel("general"), message_id="s-2", ts=TS) is None


def test_message_from_line_cuts_huge_lines() -> None:
    event = message_from_line(
        "y" * 100_000, author=member("you"), channel=console_channel("general"), message_id="s-3", ts=TS
    )
    assert event is not None and len(event.text) == MAX_MESSAGE_CHARS


def test_command_from_line_uses_the_shared_command_shape() -> None:
    cmd = command_from_line(
        "/guildhall config set digest_size 7",
        user=member("you"),
        channel=console_channel("general"),
        interaction_id="s-c1",
        ts=TS,
        known_commands=KNOWN,
        is_admin=True,
    )
    assert cmd is not None
    assert (cmd.name, cmd.text, cmd.is_platform_admin) == ("guildhall config", "set digest_size 7", True)
    assert cmd.event_id == "console:local:cmd:s-c1"
    plain = command_from_line(
        "/ask q=hi", user=member("bob"), channel=console_channel("help"), interaction_id="i", ts=TS
    )
    assert plain is not None and plain.option("q") == "hi" and not plain.is_platform_admin
    assert (
        command_from_line("just text", user=member("bob"), channel=console_channel("help"), interaction_id="j", ts=TS)
        is None
    )


def test_member_names() -> None:
    assert parse_member_name("Bob") == "Bob"
    assert parse_member_name("@Zoë") == "Zoë"
    assert member("Zoë").user_id == "zoë" and member("Zoë").name == "Zoë"
    for bad in ("", "   ", "x" * 40, "bad/name", "guildhall", "GuildHall"):
        with pytest.raises(ConsoleInputError):
            parse_member_name(bad)


def test_thread_ids() -> None:
    assert parse_thread_id("demo-0007") == "demo-0007"
    assert parse_thread_id("off") is None
    assert parse_thread_id("") is None
    with pytest.raises(ConsoleInputError):
        parse_thread_id("not an id!")


def test_channels() -> None:
    assert console_channel("#Help").visibility is Visibility.PUBLIC
    mods = console_channel("mods")
    assert mods.visibility is Visibility.PRIVATE and "you" in mods.allowed_user_ids
    with pytest.raises(ConsoleInputError, match="#general"):
        console_channel("#random")

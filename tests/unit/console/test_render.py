"""Actions -> console text: headers, threads, citations, attachments, buttons, unsafe text."""

from __future__ import annotations

from pathlib import Path

from adapters.console.normalize import console_channel, member
from adapters.console.render import attachment_filename, render_action, render_posted
from bot.events import (
    AddReaction,
    Attachment,
    Button,
    Citation,
    CommandReply,
    SendDirectMessage,
    SendEphemeral,
    SendMessage,
)
from bot.testing import command, make_message

HELP = console_channel("help")


def test_thread_reply_with_numbered_citations() -> None:
    action = SendMessage(
        channel=HELP,
        text="Create the app from the manifest.\nThen export the tokens.",
        thread_id="demo-0007",
        citations=(
            Citation(1, "Thread in #help", "console://local/help/demo-0007"),
            Citation(2, "slack-setup.md", "docs/slack-setup.md", note="Socket Mode"),
        ),
    )
    text = render_action(action)
    lines = text.splitlines()
    assert lines[0] == "[#help › thread demo-0007] guildhall: Create the app from the manifest."
    assert lines[1] == "  Then export the tokens."
    assert "  [1] Thread in #help — console://local/help/demo-0007 (/show demo-0007)" in lines
    assert "  [2] slack-setup.md — docs/slack-setup.md" in lines
    assert "  Sources:" in lines


def test_suggested_links_are_listed_without_a_sources_heading() -> None:
    picks = (Citation(1, "#python: asyncio timeouts", "console://local/python/t1", note="because", kind="link"),)
    lines = render_action(SendMessage(channel=HELP, text="Threads you might like:", citations=picks)).splitlines()
    assert "  [1] #python: asyncio timeouts — console://local/python/t1 (/show t1)" in lines
    assert not any("Sources" in line for line in lines)


def test_command_replies_say_who_can_see_them() -> None:
    cmd = command("help", author="bob")
    private = render_action(CommandReply(command=cmd, text="the list"))
    public = render_action(CommandReply(command=cmd, text="the list", ephemeral=False))
    assert private == "[#general] guildhall → /help (only visible to bob): the list"
    assert public == "[#general] guildhall → /help: the list"


def test_channel_mentions_read_as_channel_names() -> None:
    # Replies address channels as Discord and Slack do; in the console an id is the name.
    reply = CommandReply(command=command("help"), text="Alerts go to <#mods>, not <#C1|staff>.")
    assert render_action(reply).endswith("Alerts go to #mods, not #staff.")


def test_ephemeral_dm_and_reaction() -> None:
    bob = member("Bob")
    assert "(only visible to Bob)" in render_action(SendEphemeral(channel=HELP, user=bob, text="psst"))
    assert render_action(SendDirectMessage(user=bob, text="your digest")) == "[DM → Bob] guildhall: your digest"
    assert (
        render_action(AddReaction(channel=HELP, message_id="m1", emoji="eyes"))
        == "[#help] guildhall reacted :eyes: to m1"
    )


def test_attachments_and_buttons(tmp_path: Path) -> None:
    saved = tmp_path / "attachments" / "chart.png"
    action = SendMessage(
        channel=HELP,
        text="chart",
        attachments=(Attachment("chart.png", "image/png", b"\x89PNG"),),
        buttons=(Button("qa.up", "👍 Helpful", "1"), Button("qa.down", "👎 Not helpful", "0")),
    )
    text = render_action(action, saved=[saved], first_button=4)
    assert f"📎 chart.png saved to {saved}" in text
    assert "[4] 👍 Helpful  [5] 👎 Not helpful" in text


def test_escape_sequences_never_reach_the_terminal() -> None:
    action = SendMessage(
        channel=HELP, text="red \x1b[31malert\x1b[0m \x07 \ud800", citations=(Citation(1, "t\x1b]0;x", "u"),)
    )
    text = render_action(action, bot_name="guild\x1bhall")
    assert "\x1b" not in text and "\x07" not in text and "\ud800" not in text
    # A right-to-left override would reorder the rest of the terminal line (and disguise what follows).
    posted = render_action(SendMessage(channel=HELP, text="ok \u202eexe.txt \u2066x\u2069 🐍 ź"))
    assert not any(ch in posted for ch in "\u202e\u2066\u2069") and "🐍 ź" in posted


def test_attachment_filenames_are_safe() -> None:
    assert attachment_filename("chart.png") == "chart.png"
    assert attachment_filename("../../etc/passwd") == "passwd"
    assert attachment_filename("C:\\Users\\x\\report.png") == "report.png"
    assert attachment_filename("a b?.png") == "a_b_.png"
    assert attachment_filename("...") == "attachment"
    assert attachment_filename(".bashrc") == "bashrc"
    assert len(attachment_filename("n" * 500 + ".png")) <= 120


def test_posted_receipt_echoes_or_shows_the_id() -> None:
    event = make_message("hello\nworld", author="you", message_id="s-9")
    assert render_posted(event, echo=True) == "[#general] you: hello\n  world  (id s-9)"
    assert "(id s-9)" in render_posted(event, echo=False) and "hello" not in render_posted(event, echo=False)

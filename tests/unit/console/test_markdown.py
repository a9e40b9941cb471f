"""The bots' Markdown as a terminal shows it: markers dropped, code blocks indented, code untouched."""

from __future__ import annotations

import pytest

from adapters.console.normalize import console_channel
from adapters.console.render import render_action, terminal_markdown
from bot.events import CommandReply, SendMessage
from bot.testing import command

HELP = console_channel("help")


@pytest.mark.parametrize(
    ("markdown", "terminal"),
    [
        ("**Guildhall commands**", "Guildhall commands"),
        ("*Helpfulness leaderboard (week)*", "Helpfulness leaderboard (week)"),
        ("_default_: not set, __really__ and ***both***", "default: not set, really and both"),
        # Inline code keeps its backticks: they show where a command starts and ends.
        ("Unknown command `/nonsense`. Try `/help`.", "Unknown command `/nonsense`. Try `/help`."),
        ("run `f(**kwargs)` and `` a`b `` now", "run `f(**kwargs)` and `` a`b `` now"),
        ("**see `**x**`**", "see `**x**`"),
        # Not emphasis: markers inside words, spaced out, or without a partner.
        ("snake_case_name, 2*3*4, a * b, **kwargs", "snake_case_name, 2*3*4, a * b, **kwargs"),
        (r"\*literal\* and \_this\_", "*literal* and _this_"),
        ("[the docs](https://example.com/a_b_(c))", "the docs (https://example.com/a_b_(c))"),
        ("[**Setup** guide](docs/slack-setup.md)", "Setup guide (docs/slack-setup.md)"),
        ("[https://x.io](https://x.io) and [x.io](https://x.io/)", "https://x.io and https://x.io/"),
        ("<https://y.io/_z_> and **https://x.io/a_b**.", "https://y.io/_z_ and https://x.io/a_b."),
        ("![chart](chart.png)", "chart (chart.png)"),
        ("# Setup #\n## Tokens", "Setup\nTokens"),
        ("#general is busy", "#general is busy"),
        ("> quoted **b**\n> > deeper", "│ quoted b\n│ │ deeper"),
        ("* one\n+ two\n- three\n1. four", "- one\n- two\n- three\n1. four"),
        ("Alerts go to <#mods>, not <#C1|staff>; `<#C2>` stays", "Alerts go to #mods, not #staff; `<#C2>` stays"),
    ],
)
def test_inline_markdown(markdown: str, terminal: str) -> None:
    assert terminal_markdown(markdown) == terminal


def test_fenced_code_is_indented_and_never_changed() -> None:
    text = "Try:\n```python\ndef f(**kwargs):\n\n    return _x_ * 2  # **not bold** [a](b)\n```\nthen **restart**."
    assert terminal_markdown(text) == (
        "Try:\n    def f(**kwargs):\n\n        return _x_ * 2  # **not bold** [a](b)\nthen restart."
    )
    # Tildes fence too; a longer fence is only closed by one as long; an unclosed fence runs to the end.
    assert terminal_markdown("~~~\n**a**\n~~~\n**b**") == "    **a**\nb"
    assert terminal_markdown("````\n```\n**a**\n````\nok") == "    ```\n    **a**\nok"
    assert terminal_markdown("x\n```sh\n**a**") == "x\n    **a**"


def test_indented_code_after_a_blank_line_is_kept() -> None:
    text = "text\n\n    indented **code**\n    more\nback **b**"
    assert terminal_markdown(text) == "text\n\n    indented **code**\n    more\nback b"


def test_a_reply_is_rendered_under_its_header() -> None:
    reply = SendMessage(channel=HELP, text="**Fix:** set `SLACK_APP_TOKEN`.\nSee [setup](docs/slack-setup.md).")
    assert render_action(reply).splitlines() == [
        "[#help] guildhall: Fix: set `SLACK_APP_TOKEN`.",
        "  See setup (docs/slack-setup.md).",
    ]


def test_a_reply_that_opens_with_a_code_block_starts_on_its_own_line() -> None:
    board = CommandReply(
        command=command("leaderboard"), text="```\n#  member\n1  helper\n```\n2 members", ephemeral=False
    )
    assert render_action(board).splitlines() == [
        "[#general] guildhall → /leaderboard:",
        "      #  member",
        "      1  helper",
        "  2 members",
    ]


def test_markup_cannot_smuggle_escape_sequences() -> None:
    text = render_action(SendMessage(channel=HELP, text="**\x1b[31mred\x1b[0m** `\x1b]0;t\x07` [a\x1b](u)"))
    assert "\x1b" not in text and "\x07" not in text


def test_a_huge_line_is_printed_as_written_and_quickly() -> None:
    """The patterns' cost grows with the square of a line's length: a 40,000-character line of
    unclosed markers took seconds (found by review), so lines beyond a few thousand characters are
    left as written. Measured by the work done, not the clock: the result must be the input."""
    for line in ("*.py " * 8000, "_id " * 10000, "[" * 40000, "# a" + " \t" * 20000):
        assert terminal_markdown(line) == line


def test_a_line_holding_every_private_use_character_is_printed_as_written() -> None:
    """The inline pass marks kept text with a private-use character the line lacks; a line that
    has them all raised StopIteration. (Such a line is also past MAX_MARKDOWN_LINE today.)"""
    from adapters.console.render import _inline

    line = "**bold** " + "".join(chr(c) for c in range(0xE000, 0xF900))
    assert _inline(line) == line
    assert terminal_markdown(line) == line


def test_a_code_span_starts_only_at_a_whole_run_of_backticks() -> None:
    """As CommonMark has it: two backticks with no closing pair are literal, so emphasis after
    them still counts. Starting a span inside a run (one backtick of the two) also made a line of
    backtick runs cost the cube of its length (found by review); such a line prints as written."""
    assert terminal_markdown("``*a*`") == "``a`"
    runs = " ".join("`" * n for n in range(1, 62))
    assert terminal_markdown(runs) == runs

"""The console adapter against a real app: channels, controls, attachments, buttons, odd streams."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from adapters.console.adapter import ConsoleAdapter
from adapters.console.normalize import ConsoleInputError
from bot.app import GuildhallApp
from bot.brain import Brain, CommandResult, command, listen
from bot.events import Attachment, Button, ButtonClicked, ChannelRef, CommandInvoked, Platform, SendMessage, Visibility

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


class ToyBrain(Brain):
    """Answers with an attachment or buttons, and records clicks."""

    name = "toy"
    clicks: list[ButtonClicked]

    @command("chart", description="a chart")
    async def chart(self, cmd: CommandInvoked) -> CommandResult:
        return CommandResult("here", attachments=(Attachment("../weekly chart.png", "image/png", PNG),))

    @command("vote", description="buttons")
    async def vote(self, cmd: CommandInvoked) -> CommandResult:
        return CommandResult("vote?", buttons=(Button("toy.yes", "Yes", "y"), Button("toy.no", "No", "n")))

    @listen(ButtonClicked)
    async def clicked(self, event: ButtonClicked) -> None:
        type(self).clicks.append(event)


async def make_console(
    make_app, brains: list[str] | None = None, **kwargs
) -> tuple[GuildhallApp, ConsoleAdapter, io.StringIO]:
    ToyBrain.clicks = []
    app, _ = await make_app(brains=brains, extra_brains=[ToyBrain])
    out = io.StringIO()
    console = ConsoleAdapter(
        app.settings,
        writer=out,
        command_names=lambda: [s.name for s in app.router.specs],
        clock=app.clock,
        echo=True,
        session_id="t",
        **kwargs,
    )
    app.add_adapter(console)
    await console.start()
    await app.bus.drain()
    return app, console, out


async def feed(app: GuildhallApp, console: ConsoleAdapter, *lines: str) -> None:
    for line in lines:
        await console.handle_line(line)
        await app.bus.drain()


async def test_start_announces_channels_and_makes_the_operator_a_moderator(make_app) -> None:
    app, _, _ = await make_console(make_app)
    channels = {c.channel_id: c for c in await app.store.list_channels("console", "local")}
    assert set(channels) == {"general", "help", "python", "announcements", "mods"}
    assert channels["mods"].visibility == "private"
    assert "mods" in await app.store.readable_channel_ids("console", "local", "you")
    assert "mods" not in await app.store.readable_channel_ids("console", "local", "bob")


async def test_controls_switch_member_channel_and_thread(make_app) -> None:
    app, console, out = await make_console(make_app)
    await feed(app, console, "/as Zoë", "/join #python", "/thread t-1 a reply", "/thread off", "plain", "/channels")
    rows = await app.store.channel_messages("console", "local", "python")
    assert [(r.author_id, r.text, r.thread_id) for r in rows] == [("zoë", "a reply", "t-1"), ("zoë", "plain", None)]
    text = out.getvalue()
    assert "You are now Zoë (a member)." in text and "Now in #python." in text
    assert "You are Zoë in #python." in text


async def test_bad_controls_raise_input_errors(make_app) -> None:
    _app, console, _ = await make_console(make_app)
    bad = ("/join #random", "/join", "/as", "/as guildhall", "/thread bad!id", "/press x", "/press 7")
    bad += ("/react", "/react t-1", "/react t-1 two words", "/edit t-1", "/edit", "/delete", "/delete a b!")
    for line in bad:
        with pytest.raises(ConsoleInputError):
            await console.handle_line(line)
    assert (console.member.user_id, console.channel.channel_id, console.thread_id) == ("you", "general", None)


async def test_a_typed_unknown_channel_is_not_taken_for_a_picked_one(make_app) -> None:
    app, console, out = await make_console(make_app, brains=["activity"])
    await feed(app, console, "/leaderboard week #nosuch", "/leaderboard week #python")
    text = out.getvalue()
    assert "I don't know a channel #nosuch here" in text
    assert "No helpful activity" in text  # #python is a console channel: its (empty) board
    with pytest.raises(ConsoleInputError, match="no channel 'nosuch'"):
        await console.handle_line("/leaderboard channel=nosuch")


async def test_a_bare_unknown_word_is_not_taken_for_a_channel(make_app) -> None:
    app, console, out = await make_console(make_app, brains=["activity"])
    await feed(app, console, "/leaderboard forever", "/leaderboard python")
    text = out.getvalue()
    assert "#forever" not in text
    # The reply's Markdown is rendered; inline code keeps its backticks.
    assert "I don't know `forever`: the period is `week`, `month` or `all`, and a channel is named with `#`" in text
    assert "Helpfulness leaderboard in #python (" in text  # a bare console channel name still works


async def test_attachments_are_saved_under_data_dir(make_app) -> None:
    app, console, out = await make_console(make_app)
    await feed(app, console, "/chart")
    path = Path(app.settings.data_dir) / "attachments" / "weekly_chart.png"
    assert path.read_bytes() == PNG
    assert f"saved to {path}" in out.getvalue()


async def test_buttons_are_pressed_by_number(make_app) -> None:
    app, console, out = await make_console(make_app)
    await feed(app, console, "/vote", "/as bob", "/press 2")
    assert "[1] Yes  [2] No" in out.getvalue()
    (click,) = ToyBrain.clicks
    assert (click.action_id, click.value, click.user.user_id) == ("toy.no", "n", "bob")
    assert click.channel.channel_id == "general" and click.message_id


async def test_actions_of_other_platforms_are_not_printed(make_app) -> None:
    app, _, out = await make_console(make_app)
    before = out.getvalue()
    slack = ChannelRef(Platform.SLACK, "T1", "C1", "general", Visibility.PUBLIC)
    await app.bus.publish(SendMessage(channel=slack, text="for slack only"))
    await app.bus.drain()
    assert out.getvalue() == before


async def test_output_survives_a_terminal_that_cannot_encode(make_app) -> None:
    app, console, _ = await make_console(make_app)
    raw = io.BytesIO()
    console._out = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    await app.bus.publish(SendMessage(channel=console.channel, text="snake 🐍 ok"))
    await app.bus.drain()
    assert b"snake ? ok" in raw.getvalue()


async def test_undecodable_input_is_reported_not_fatal(make_app) -> None:
    _app, console, _ = await make_console(make_app)
    out = io.StringIO()
    reader = io.TextIOWrapper(io.BytesIO(b"\xff\xfe broken\nhello\n"), encoding="utf-8", errors="strict")
    await console.run_repl(reader, out)
    assert "could not decode" in out.getvalue() and out.getvalue().rstrip().endswith("bye")


async def test_react_edit_and_delete_reach_the_store(make_app) -> None:
    app, console, out = await make_console(make_app)
    await feed(app, console, "typo heer", "/as bob", "/react t-1 :eyes:", "/react t-1 🎉", "/edit t-1 typo here")
    message = await app.store.get_message("console", "local", "t-1")
    assert message is not None and message.text == "typo here"
    reactions = await app.store.reactions_for("console", "local", "t-1")
    assert sorted((r.user_id, r.emoji) for r in reactions) == [("bob", "eyes"), ("bob", "🎉")]
    await feed(app, console, "/delete t-1")
    message = await app.store.get_message("console", "local", "t-1")
    assert message is not None and message.deleted and message.text == ""
    assert "Deleted t-1." in out.getvalue()


async def test_dm_with_the_bot_is_private_to_the_member(make_app) -> None:
    app, console, out = await make_console(make_app)
    await feed(app, console, "/dm", "a private question", "/as bob", "bob's own question")
    mine = await app.store.channel_messages("console", "local", "dm-you")
    bobs = await app.store.channel_messages("console", "local", "dm-bob")
    assert [m.text for m in mine] == ["a private question"]
    assert [m.text for m in bobs] == ["bob's own question"]
    assert (await app.store.get_channel("console", "local", "dm-you")).visibility == "dm"
    assert "dm-you" in await app.store.readable_channel_ids("console", "local", "you")
    assert "dm-you" not in await app.store.readable_channel_ids("console", "local", "bob")
    assert "[DM] you: a private question" in out.getvalue()

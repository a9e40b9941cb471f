"""The console adapter: a local community in the terminal, the embedded default of ``guildhall run``.

Typed lines become the same events Discord and Slack produce (messages, slash commands, button
clicks) and the bot's actions are printed. The operator is one person playing every member:
``/as NAME`` switches member, ``/join #channel`` switches channel, ``/thread ID`` replies in a
thread. The default member ``you`` is the local operator and counts as a platform admin; members
you switch to with ``/as`` are ordinary members, so you can see what they would see.

Example::

    adapter = ConsoleAdapter(settings, command_names=lambda: [s.name for s in app.router.specs])
    app.add_adapter(adapter)
    await app.start()
    await adapter.run_repl(sys.stdin, sys.stdout)
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from adapters.console.buttons import FILE_NAME as BUTTONS_FILE
from adapters.console.buttons import ButtonBoard, KeptButton
from adapters.console.line_reader import as_line_source
from adapters.console.normalize import (
    CONSOLE,
    CONTROLS,
    DEFAULT_CHANNEL,
    DEFAULT_MEMBER,
    WORKSPACE_ID,
    ConsoleInputError,
    Control,
    all_channels,
    clean_line,
    clean_text,
    command_from_line,
    console_channel,
    cut_notice,
    dm_channel,
    is_command_line,
    member,
    message_from_line,
    parse_control,
    parse_emoji,
    parse_member_name,
    parse_message_id,
    parse_show_target,
    parse_thread_id,
    printable,
    strip_key_sequences,
)
from adapters.console.render import (
    ShownMessage,
    attachment_filename,
    channel_label,
    describe_attachments,
    render_action,
    render_posted,
    render_stored,
)
from adapters.console.terminal import TerminalLineReader, can_edit_lines
from bot.bus import EventBus
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.events import (
    Action,
    Attachment,
    Button,
    ButtonClicked,
    ChannelRef,
    ChannelSeen,
    CommandReply,
    InboundEvent,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    Platform,
    ReactionAdded,
    SendDirectMessage,
    SendEphemeral,
    SendMessage,
    Visibility,
)

if TYPE_CHECKING:
    from bot.store import Store
    from bot.store.models import MessageRow

log = logging.getLogger(__name__)

CONSOLE_HELP = """\
Console: you play every member of a local community (workspace "local").
  Type a message to post it in the current channel; "@{bot} question" asks the bot.
  /as NAME          switch member (default "you")
  /join #channel    switch channel: #general #help #python #announcements, private #mods
  /dm               talk to {bot} in a direct message (/join #channel to leave)
  /thread ID [text] reply in the thread of message ID (ids are printed after each post); /thread off
  /press N          press button N of a bot answer (/buttons lists them, earlier sessions' too)
  /show ID          print message ID and its thread (a "/show ID" in an answer names a source)
  /react ID EMOJI   react to message ID; /edit ID TEXT and /delete ID change or remove it
  /channels         where you are and who you are
  /quit             leave (end of input works too)
  The member "you" is the local operator and a platform admin (admin commands allowed);
  other members are ordinary members."""

MAX_DECODE_ERRORS = 20
# /show prints at most this many messages of a thread; /buttons lists at most this many buttons.
MAX_SHOWN_MESSAGES = 100
MAX_LISTED_BUTTONS = 20
# Controls whose output does not say what was typed: a transcript through a pipe echoes them, as it
# echoes slash commands, so each reply can be matched to its line.
ECHOED_CONTROLS = frozenset({"press", "show", "buttons"})
KEYS_NOTICE = "! arrow, Home/End and function keys do nothing here (no line editing or history); they were left out"
BANNER = 'Guildhall console: you are "{member}" in #{channel}. Type /help for commands, /quit to leave.'


_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _session_prefix() -> str:
    # Base-36 seconds plus two random digits: short enough to type after /thread, and different on
    # every run (even two in the same second), so a new session's ids never collide with messages
    # an earlier one stored (the store upserts by message id).
    n = int(time.time())
    digits = ""
    while n:
        n, r = divmod(n, 36)
        digits = _BASE36[r] + digits
    return digits + "".join(secrets.choice(_BASE36) for _ in range(2))


def _channel_ref(channel_id: str) -> ChannelRef:
    """The ref of a console channel or DM by its id.

    Raises:
        ConsoleInputError: for an id the console does not have.
    """
    if channel_id.startswith("dm-") and len(channel_id) > 3:
        return dm_channel(member(channel_id[3:]))
    return console_channel(channel_id)


def _known_channel_ref(channel_id: str) -> ChannelRef | None:
    """The console's channel ``channel_id``, or None for one it does not have (imported history)."""
    try:
        return _channel_ref(channel_id)
    except ConsoleInputError:
        return None


def _label_of(channel_id: str, thread_id: str | None = None) -> str:
    """``#help``, ``DM``, or the bare id of a channel the console does not have (imported history)."""
    ref = _known_channel_ref(channel_id)
    if ref is None:
        return f"#{channel_id}" + (f" › thread {thread_id}" if thread_id else "")
    return channel_label(ref, thread_id)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class ConsoleAdapter:
    """Terminal I/O for Guildhall.

    Args:
        settings: The app's settings (``data_dir`` for attachments, ``bot_name``).
        writer: Where output goes (default ``sys.stdout``; :meth:`run_repl` may replace it).
        command_names: Returns the registered command names, used to split ``/guildhall config set``.
        admins: Member ids treated as platform admins (the local operator).
        clock: Time source for event timestamps.
        echo: Echo typed messages in full (default: when the output is not a terminal).
        reply_timeout_s: How long the REPL waits for the bot before showing the next prompt.
        session_id: Prefix of message ids (default: derived from the start time).
        store: The app's store, read by ``/show`` and to check ``/edit`` and ``/delete`` (without
            one, ``/show`` is unavailable and those two are not checked).
    """

    platform = Platform.CONSOLE

    def __init__(
        self,
        settings: Settings,
        *,
        writer: TextIO | None = None,
        command_names: Callable[[], Iterable[str]] | None = None,
        admins: Iterable[str] = (DEFAULT_MEMBER,),
        clock: Clock | None = None,
        echo: bool | None = None,
        reply_timeout_s: float = 120.0,
        session_id: str | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.bot_name = settings.bot_name
        self.attachments_dir = Path(settings.data_dir) / "attachments"
        self._out: TextIO = writer or sys.stdout
        self._command_names = command_names or (lambda: ())
        self._admins = frozenset(a.casefold() for a in admins)
        self._clock = clock or SystemClock()
        self._echo = echo
        self._reply_timeout_s = reply_timeout_s
        self._session = session_id or _session_prefix()
        self._seq = itertools.count(1)
        self.store = store
        self._bus: EventBus | None = None
        self._receiving = True  # False once shutdown began (stop_receiving)
        self._buttons = ButtonBoard(Path(settings.data_dir) / BUTTONS_FILE)
        self._prompt_shown = False
        self._keys_noted = False
        self._terminal: TerminalLineReader | None = None
        self.member = member(DEFAULT_MEMBER)
        self.channel = console_channel(DEFAULT_CHANNEL)
        self.thread_id: str | None = None

    # -- adapter contract ------------------------------------------------------------------------
    def attach(self, bus: EventBus) -> None:
        """Print every console action published on ``bus``; publish typed lines on it."""
        self._bus = bus
        bus.subscribe(Action, self._on_action, name="console.actions")

    async def start(self) -> None:
        """Announce the console's channels to the store and make the operator a member of #mods;
        read the buttons earlier sessions showed (less those of members forgotten since)."""
        self._buttons.load()
        if self.store is not None:
            for user_id in await self._forgotten_members():
                self._buttons.forget_member(user_id)
        now = self._clock.now()
        for ch in all_channels():
            if ch.visibility is Visibility.PUBLIC:
                await self._publish(ChannelSeen(channel=ch, ts=now))
                continue
            # MemberJoined adds to a private channel's access list; a ChannelSeen would replace
            # it and drop the moderators the demo history (or earlier posts) put there.
            for admin in sorted(self._admins):
                await self._publish(MemberJoined(user=member(admin), ts=now, channel=ch))

    async def stop_receiving(self) -> None:
        """First step of shutdown: typed lines are no longer published; answers still print."""
        self._receiving = False

    async def stop(self) -> None:
        """Flush the output (after the drain: the last answers print first)."""
        self._flush()

    # -- output ------------------------------------------------------------------------------------
    def notice(self, text: str) -> None:
        """Print a line from the console itself (not from the bot)."""
        self._write(printable(text))

    async def _on_action(self, action: Action) -> None:
        if action.platform is not Platform.CONSOLE:
            return
        attachments: tuple[Attachment, ...] = getattr(action, "attachments", ())
        saved = self._save_attachments(attachments)
        buttons: tuple[Button, ...] = getattr(action, "buttons", ())
        first = self._remember_buttons(action, buttons)
        text = render_action(action, bot_name=self.bot_name, saved=saved, first_button=first)
        if len(saved) < len(attachments):
            text += f"\n  (attachments not saved: {describe_attachments(attachments[len(saved) :])})"
        self._write(text)
        await self._drop_buttons_if_forgotten(action)

    async def _drop_buttons_if_forgotten(self, action: Action) -> None:
        """Drop the buttons of a member who was just forgotten. ``/forget-me`` (or its button) is
        answered privately once the erasure is done, and the console learns of it no other way: a
        private reply to a member who holds buttons looks them up in the store. Their DM's buttons
        name what was recommended to them and the answers they got, kept in ``data_dir``."""
        if self.store is None:
            return
        if isinstance(action, CommandReply):
            user = action.command.user
        elif isinstance(action, SendEphemeral):
            user = action.user
        else:
            return
        if user.platform is not Platform.CONSOLE or not self._buttons.of_member(user.user_id):
            return
        if await self.store.get_member_setting(CONSOLE.value, WORKSPACE_ID, user.user_id, "forgotten", False):
            self._buttons.forget_member(user.user_id)

    async def _forgotten_members(self) -> list[str]:
        """Console members forgotten in the store (``/forget-me`` here, or ``guildhall privacy forget``)."""
        assert self.store is not None
        rows = await self.store.db.fetchall(
            "SELECT user_id FROM member_settings WHERE platform = ? AND workspace_id = ? "
            "AND key = 'forgotten' AND value = 'true'",
            (CONSOLE.value, WORKSPACE_ID),
        )
        return [str(row[0]) for row in rows]

    def _save_attachments(self, attachments: tuple[Attachment, ...]) -> list[Path]:
        saved: list[Path] = []
        for attachment in attachments:
            path = self.attachments_dir / attachment_filename(attachment.filename)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(attachment.data)
            except OSError:
                log.exception("could not save attachment %s", path)
                break
            saved.append(path)
        return saved

    def _remember_buttons(self, action: Action, buttons: tuple[Button, ...]) -> int:
        first = self._buttons.next_number
        if not buttons:
            return first
        if isinstance(action, SendMessage | SendEphemeral):
            channel = action.channel
        elif isinstance(action, CommandReply):
            channel = action.command.channel
        elif isinstance(action, SendDirectMessage):
            channel = dm_channel(action.user)
        else:
            return first
        # The console has no message ids for the bot's posts; the action id plays that part.
        message_id = str(getattr(action, "action_id", ""))
        return self._buttons.add(buttons, channel_id=channel.channel_id, message_id=message_id, when=self._clock.now())

    def _write(self, text: str) -> None:
        # Everything printed goes through printable(), not just the bot's answers: confirmations
        # and error messages quote what was typed (an emoji, a name), and a bidi override there
        # would reorder the rest of the operator's screen.
        text = printable(text)
        redraw = ""
        if self._prompt_shown and self._terminal is not None:
            # The line editor is waiting: clear its line, print above it, then draw the prompt and
            # what was typed so far again (the editor keeps its buffer; only the screen changed).
            text = "\r\x1b[K" + text
            redraw = self._terminal.prompt + printable(self._terminal.pending_text())
        elif self._prompt_shown:  # an answer arrived while the prompt waited: keep it on its own line
            text = "\n" + text
            self._prompt_shown = False
        try:
            self._out.write(text + "\n" + redraw)
        except UnicodeEncodeError:  # a terminal that cannot show some characters
            encoding = getattr(self._out, "encoding", None) or "ascii"
            self._out.write((text + "\n" + redraw).encode(encoding, errors="replace").decode(encoding))
        self._flush()

    def _flush(self) -> None:
        try:
            self._out.flush()
        except (OSError, ValueError):
            pass

    # -- input -------------------------------------------------------------------------------------
    async def run_repl(self, reader: Any, writer: TextIO | None = None) -> None:
        """Read lines from ``reader`` until end of input or ``/quit``; never raises on bad input.

        Args:
            reader: A text stream (``sys.stdin``, ``io.StringIO``) or an async reader.
            writer: Output stream; defaults to the one given to the constructor.
        """
        if writer is not None:
            self._out = writer
        if can_edit_lines(reader, self._out):
            self._terminal = TerminalLineReader(reader, words=self._completion_words)
        source = self._terminal or as_line_source(reader)
        interactive = _isatty(reader)
        self._write(BANNER.format(member=self.member.name, channel=self.channel.channel_id))
        try:
            await self._loop(source, interactive)
        except asyncio.CancelledError:
            # Ctrl-C (or SIGTERM): the app still has to stop, which waits for work in progress (an
            # answer on a slow CPU takes seconds); say so rather than sit silent after "^C".
            self._prompt_shown = interactive
            self._write("stopping…")
            raise
        finally:
            if self._terminal is not None:
                self._terminal.restore_terminal()
                self._terminal = None
        self._write("bye")

    async def _loop(self, source: Any, interactive: bool) -> None:
        decode_errors = 0
        # With line editing, the next line is read while the bot answers: readline takes the
        # terminal out of canonical mode only while it reads, and a Ctrl-D typed while nothing read
        # was dropped (the session went on). The answer is printed above the line being typed.
        read_ahead = self._terminal is not None
        pending: asyncio.Future[str] | None = None
        try:
            while True:
                if pending is None:
                    if interactive:
                        self._show_prompt()
                    pending = asyncio.ensure_future(source.readline())
                try:
                    raw = await pending
                except UnicodeDecodeError:
                    # A strict text stream may fail on every following read too: give up eventually.
                    decode_errors += 1
                    self._write("! could not decode that line (expected UTF-8); ignored")
                    if decode_errors >= MAX_DECODE_ERRORS:
                        break
                    continue
                finally:
                    pending = None
                decode_errors = 0
                # On a terminal, Enter ends the echoed line; end of input (Ctrl-D), alone or after some
                # text, does not, and the next output ("bye", the receipt) would follow on that line.
                self._prompt_shown = interactive and not raw.endswith("\n")
                if raw == "":
                    break
                try:
                    keep_going = await self.handle_line(raw)
                except ConsoleInputError as exc:
                    self._write(f"! {exc}")
                    keep_going = True
                except Exception:
                    log.exception("console: failed to handle a line")
                    self._write("! something went wrong handling that line (see the log)")
                    keep_going = True
                if not keep_going:
                    await self._settle()
                    break
                if read_ahead:
                    self._show_prompt()
                    pending = asyncio.ensure_future(source.readline())
                # An end of input read meanwhile ends the session once the answer is out (above).
                await self._settle()
        finally:
            if pending is not None:
                pending.cancel()

    async def handle_line(self, raw: str) -> bool:
        """Act on one typed line; returns False when the operator quits.

        Raises:
            ConsoleInputError: for a console control the console cannot act on.
        """
        raw, had_keys = strip_key_sequences(raw)
        if had_keys and not self._keys_noted:
            self._keys_noted = True  # once a session: a habit of pressing Up should not flood the screen
            self._write(KEYS_NOTICE)
        line, cut = clean_line(raw)
        if cut:
            self._write(cut_notice())
        if not line.strip():
            return True
        control = parse_control(line)
        if control is not None:
            if control.name in ECHOED_CONTROLS:
                self._echo_command(line)
            return await self._control(control)
        if is_command_line(line):
            self._echo_command(line)
            if line.split()[0].casefold() == "/help":
                self._write(CONSOLE_HELP.format(bot=self.bot_name))
            cmd = command_from_line(
                line,
                user=self.member,
                channel=self.channel,
                interaction_id=f"{self._session}-c{next(self._seq)}",
                ts=self._clock.now(),
                known_commands=self._command_names(),
                is_admin=self.member.user_id in self._admins,
                thread_id=self.thread_id,
            )
            if cmd is not None:
                await self._publish(cmd)
            return True
        await self._post(line)
        return True

    async def _post(self, text: str) -> None:
        event = message_from_line(
            text,
            author=self.member,
            channel=self.channel,
            message_id=f"{self._session}-{next(self._seq)}",
            ts=self._clock.now(),
            thread_id=self.thread_id,
            bot_name=self.bot_name,
        )
        if event is None:
            return
        self._write(render_posted(event, echo=self._echoes()))
        await self._publish(event)

    def _echoes(self) -> bool:
        """Whether typed lines are printed back: through a pipe nobody saw them typed."""
        return self._echo if self._echo is not None else not _isatty(self._out)

    def _echo_command(self, line: str) -> None:
        # A transcript through a pipe showed the replies alone: consecutive answers could not be
        # matched to the questions asked.
        if self._echoes():
            self._write(f"[{channel_label(self.channel, self.thread_id)}] {self.member.name} → {line.strip()}")

    async def _control(self, control: Control) -> bool:
        if control.name == "quit":
            return False
        if control.name == "as":
            name = parse_member_name(control.arg, bot_name=self.bot_name)
            self.member = member(name)
            if self.channel.visibility is Visibility.DM:  # a DM belongs to the previous member
                self.channel = dm_channel(self.member)
                self.thread_id = None
            role = "the local operator, admin" if self.member.user_id in self._admins else "a member"
            self._write(f"You are now {name} ({role}).")
        elif control.name == "join":
            if not control.arg or control.rest.strip():  # "/join general extra": a typo, not #general
                raise ConsoleInputError("usage: /join #channel")
            self.channel = console_channel(control.arg)
            self.thread_id = None
            private = " (private)" if self.channel.visibility is Visibility.PRIVATE else ""
            self._write(f"Now in {channel_label(self.channel)}{private}.")
        elif control.name == "dm":
            self.channel = dm_channel(self.member)
            self.thread_id = None
            self._write(f"In your DM with {self.bot_name} (only you and the bot read it); /join #channel to leave.")
        elif control.name == "thread":
            self.thread_id = parse_thread_id(control.arg)
            if self.thread_id is None:
                self._write(f"Left the thread; posting in {channel_label(self.channel)}.")
            else:
                self._write(f"Replying in {channel_label(self.channel, self.thread_id)}; /thread off to leave.")
                if control.rest.strip():
                    await self._post(control.rest)
        elif control.name == "press":
            await self._press(control.arg)
        elif control.name == "buttons":
            await self._list_buttons()
        elif control.name == "show":
            if control.rest.strip():
                raise ConsoleInputError("usage: /show MESSAGE_ID")
            await self._show(control.arg)
        elif control.name in {"react", "edit", "delete"}:
            await self._change(control)
        elif control.name == "channels":
            names = " ".join(
                channel_label(c) + (" (private)" if c.visibility is Visibility.PRIVATE else "") for c in all_channels()
            )
            self._write(
                f"Channels: {names}\nYou are {self.member.name} in {channel_label(self.channel, self.thread_id)}."
            )
        return True

    async def _press(self, arg: str) -> None:
        try:
            number = int(arg)
        except ValueError:
            raise ConsoleInputError("usage: /press N (the number shown next to a button)") from None
        found = self._buttons.get(number)
        if found is not None and found not in await self._pressable():
            found = None  # another member's DM, a channel this member does not read: not theirs to see
        if found is None:
            raise ConsoleInputError(f"no button [{number}] (/buttons lists those you can press)")
        try:
            channel = _channel_ref(found.channel_id)
        except ConsoleInputError:
            raise ConsoleInputError(f"button [{number}] is in a channel the console no longer has") from None
        await self._publish(
            ButtonClicked(
                action_id=found.action_id,
                value=found.value,
                user=self.member,
                channel=channel,
                message_id=found.message_id,
                interaction_id=f"{self._session}-b{next(self._seq)}-{uuid.uuid4().hex[:6]}",
                ts=self._clock.now(),
                is_platform_admin=self.member.user_id in self._admins,
            )
        )

    async def _change(self, control: Control) -> None:
        # A simulator: the console does not check who wrote the message, the operator plays everyone.
        now = self._clock.now()
        event: InboundEvent
        if control.name == "react":
            mid = parse_message_id(control.arg, "/react MESSAGE_ID EMOJI")
            emoji = parse_emoji(control.rest)
            event = ReactionAdded(channel=self.channel, message_id=mid, user=self.member, emoji=emoji, ts=now)
            done = f"{self.member.name} reacted :{emoji}: to {mid}."
        elif control.name == "edit":
            mid = parse_message_id(control.arg, "/edit MESSAGE_ID NEW TEXT")
            text = clean_text(control.rest).strip()
            if not text:
                raise ConsoleInputError("usage: /edit MESSAGE_ID NEW TEXT")
            row = await self._stored(mid, "edited")
            event = MessageEdited(
                channel=self._where(row),
                message_id=mid,
                text=text,
                edited_at=now,
                author=self.member,
                thread_id=self.thread_id if row is None else row.thread_id,
            )
            done = f"Edited {mid}."
        else:
            mid = parse_message_id(control.arg, "/delete MESSAGE_ID")
            if control.rest.strip():  # "/delete a b" is a typo, not a request to delete "a"
                raise ConsoleInputError("usage: /delete MESSAGE_ID")
            row = await self._stored(mid, "deleted")
            event = MessageDeleted(channel=self._where(row), message_id=mid, deleted_at=now)
            done = f"Deleted {mid}."
        await self._publish(event)
        self._write(done)

    async def _stored(self, message_id: str, change: str) -> MessageRow | None:
        """The stored message ``/edit`` or ``/delete`` changes (None without a store to ask).

        Raises:
            ConsoleInputError: no such message, or it was deleted: a confirmation would be false.
        """
        if self.store is None:
            return None
        row = await self.store.get_message(CONSOLE.value, WORKSPACE_ID, message_id)
        if row is None:
            raise ConsoleInputError(f"no message {message_id}; nothing {change} (ids are printed after each post)")
        if row.deleted:
            raise ConsoleInputError(f"message {message_id} is already deleted; nothing {change}")
        return row

    def _where(self, row: MessageRow | None) -> ChannelRef:
        """The channel of a stored message (``/edit`` and ``/delete`` name no channel), else the current one."""
        ref = _known_channel_ref(row.channel_id) if row is not None else None
        return ref if ref is not None else self.channel

    async def _show(self, arg: str) -> None:
        """``/show ID``: a stored message, with its thread, as far as the current member may read it."""
        message_id = parse_show_target(arg) if arg.strip() else ""
        if not message_id:
            raise ConsoleInputError("usage: /show MESSAGE_ID (the id after a post, or /show ID as an answer names it)")
        if self.store is None:
            raise ConsoleInputError("/show needs the bot's store, which this console has not got")
        p, ws = CONSOLE.value, WORKSPACE_ID
        row = await self.store.get_message(p, ws, message_id)
        readable = await self.store.readable_channel_ids(p, ws, self.member.user_id) if row is not None else set()
        if row is None or row.channel_id not in readable:
            # The same words whether it does not exist or is not theirs to read.
            raise ConsoleInputError(f"no message {message_id} that {self.member.name} can read")
        if row.deleted:
            raise ConsoleInputError(f"message {message_id} was deleted")
        root = row.thread_id or row.message_id
        thread = [m for m in await self.store.thread_messages(p, ws, root) if m.channel_id == row.channel_id] or [row]
        shown = thread[:MAX_SHOWN_MESSAGES]
        names: dict[str, str] = {}
        for m in shown:
            if m.author_id not in names:
                user = await self.store.get_user(p, ws, m.author_id)
                names[m.author_id] = user.name if user is not None and user.name else m.author_id
        entries = [
            ShownMessage(m.message_id, names[m.author_id], datetime.fromtimestamp(m.ts, self.settings.tz), m.text)
            for m in shown
        ]
        where = _label_of(row.channel_id, root if len(thread) > 1 else None)
        self._write(render_stored(where, entries, asked=message_id, more=len(thread) - len(shown)))

    async def _pressable(self) -> list[KeptButton]:
        """The buttons the current member may press, oldest first: those of the channels they read
        and of their own DM with the bot (as on Discord and Slack, where they see no others)."""
        kept = self._buttons.all()
        if self.store is not None:
            readable = await self.store.readable_channel_ids(CONSOLE.value, WORKSPACE_ID, self.member.user_id)
            kept = [b for b in kept if b.channel_id in readable or b.channel_id == f"dm-{self.member.user_id}"]
        return kept

    async def _list_buttons(self) -> None:
        """``/buttons``: the buttons ``/press`` takes, newest last (those of channels the member reads)."""
        kept = await self._pressable()
        if not kept:
            self._write("No buttons to press yet.")
            return
        listed = kept[-MAX_LISTED_BUTTONS:]
        lines = ["Buttons (/press N):"]
        if len(kept) > len(listed):
            lines.append(f"  … {len(kept) - len(listed)} older ones (their numbers still work)")
        for b in listed:
            when = datetime.fromtimestamp(b.ts, self.settings.tz)
            lines.append(f"  [{b.number}] {b.label} — {_label_of(b.channel_id)}, {when:%Y-%m-%d %H:%M}")
        self._write("\n".join(lines))

    async def _publish(self, event: InboundEvent) -> bool:
        if self._bus is None:
            raise RuntimeError("ConsoleAdapter.attach(bus) must be called first")
        if not self._receiving:
            return False
        return await self._bus.publish(event)

    async def _settle(self) -> None:
        # Wait for the bot's answers so they print before the next prompt; a slow answer (a
        # model loading, a long generation) is printed when it arrives instead.
        if self._bus is None:
            return
        try:
            await asyncio.wait_for(self._bus.drain(), timeout=self._reply_timeout_s)
        except TimeoutError:
            self._write(f"({self.bot_name} is still working; the answer will appear here when ready)")

    def _show_prompt(self) -> None:
        where = channel_label(self.channel, self.thread_id)
        prompt = printable(f"{where} {self.member.name}> ")
        self._prompt_shown = True
        if self._terminal is not None:
            self._terminal.prompt = prompt  # the line editor draws it (and redraws it on Ctrl-L)
            return
        self._out.write(prompt)
        self._flush()

    def _completion_words(self) -> list[str]:
        words = {f"/{name}" for name in CONTROLS}
        for name in self._command_names():
            words.add("/" + name.split()[0])
        return sorted(words)

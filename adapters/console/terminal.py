"""Line editing, history and command completion when the console runs on a terminal.

``input()`` edits lines with GNU readline (or libedit) once the ``readline`` module is imported,
but only when stdin and stdout are the process's own terminal; a pipe or a file keeps the plain
:class:`~adapters.console.line_reader.ThreadedLineReader`. The line is read in the reader's daemon
thread, so the bot's answers keep arriving while the operator types: the adapter clears the input
line, prints the answer and redraws the prompt with what was typed so far (:meth:`pending_text`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, TextIO

from adapters.console.line_reader import MAX_LINE_CHARS, ThreadedLineReader

log = logging.getLogger(__name__)

HISTORY_LINES = 1000

try:  # the module is optional: some builds (Windows, minimal images) have none
    import readline as _readline_module

    _READLINE: ModuleType | None = _readline_module
except ImportError:  # pragma: no cover - depends on the interpreter build
    _READLINE = None

try:
    import termios as _termios_module

    _TERMIOS: ModuleType | None = _termios_module
except ImportError:  # pragma: no cover - not a POSIX system
    _TERMIOS = None


def can_edit_lines(reader: Any, writer: Any) -> bool:
    """True when ``reader`` and ``writer`` are this process's stdin and stdout on a terminal and
    a readline module exists: the only case where ``input()`` edits lines."""
    if _READLINE is None or reader is not sys.stdin or writer is not sys.stdout:
        return False
    try:
        return bool(reader.isatty() and writer.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class TerminalLineReader(ThreadedLineReader):
    """Reads lines with ``input()``: arrow keys, Home/End, history (Up/Down) and Tab completion of
    ``/commands``. History lives in memory only (typed messages are community data, and a history
    file would outlive ``/forget-me``).

    Args:
        stream: The process's stdin (a terminal).
        words: Returns the completable words (``/ask``, ``/as``…) at each Tab.
        max_line_chars: Longer lines are cut to this many characters.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        words: Callable[[], Iterable[str]] = tuple,
        max_line_chars: int = MAX_LINE_CHARS,
    ) -> None:
        super().__init__(stream, max_line_chars=max_line_chars)
        self.prompt = ""
        self._words = words
        # readline switches the terminal out of canonical mode while a line is read; a process that
        # exits meanwhile (Ctrl-C, /quit from an answer) would leave the shell without echo.
        self._saved_tty: list[Any] | None = None
        if _TERMIOS is not None:
            with contextlib.suppress(OSError, ValueError, _TERMIOS.error):
                self._saved_tty = _TERMIOS.tcgetattr(stream.fileno())
        if _READLINE is not None:
            _READLINE.set_history_length(HISTORY_LINES)
            _READLINE.set_completer(self._complete)
            _READLINE.set_completer_delims(" \t\n")
            # libedit (macOS) and GNU readline spell the Tab binding differently.
            doc = _READLINE.__doc__ or ""
            _READLINE.parse_and_bind("bind ^I rl_complete" if "libedit" in doc else "tab: complete")

    def _read_one(self) -> str:
        try:
            line = input(self.prompt)
        except EOFError:
            return ""
        return line[: self._limit] + "\n"

    def pending_text(self) -> str:
        """What the operator has typed on the current line so far (for redrawing it)."""
        if _READLINE is None:
            return ""
        try:
            return str(_READLINE.get_line_buffer())
        except Exception:  # noqa: BLE001 - a cosmetic redraw must never break output
            return ""

    def restore_terminal(self) -> None:
        """Put the terminal back as it was when the reader was made."""
        if _TERMIOS is None or self._saved_tty is None:
            return
        with contextlib.suppress(OSError, ValueError, _TERMIOS.error):
            _TERMIOS.tcsetattr(self._stream.fileno(), _TERMIOS.TCSADRAIN, self._saved_tty)

    def _complete(self, text: str, state: int) -> str | None:
        # Only the line's first word is a command; later words are free text or arguments.
        if _READLINE is None or _READLINE.get_line_buffer()[: _READLINE.get_begidx()].strip():
            return None
        try:
            matches = sorted({w for w in self._words() if w.startswith(text)})
        except Exception:  # completion runs inside readline's C callback: never raise there
            log.debug("console: completion failed", exc_info=True)
            return None
        # Python's readline appends nothing to a completion; the space is what a shell would add.
        return matches[state] + " " if state < len(matches) else None

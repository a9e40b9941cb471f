"""The console's numbered buttons, kept in ``data_dir`` so they outlive a session.

Discord and Slack keep a message's buttons on the message: a moderator approves a shadow-mode draft
the day after it was posted. The console prints them as ``[N] label`` for ``/press N``; kept in
memory only, a draft posted before a restart could never be approved (``! no button [2]``). The file
holds what a click sends back (action id, value), the label, the channel and the time, never message
text, and only the most recent :data:`MAX_KEPT` buttons; numbers keep counting up across sessions,
so ``[2]`` still means the button printed as ``[2]``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.events import Button

log = logging.getLogger(__name__)

FILE_NAME = "console-buttons.json"
FORMAT = "guildhall-console-buttons/1"
MAX_KEPT = 300


@dataclass(frozen=True, slots=True)
class KeptButton:
    """A button as ``/press`` needs it: what the click carries, and where it was shown."""

    number: int
    action_id: str
    label: str
    value: str
    channel_id: str
    message_id: str
    ts: float

    @property
    def button(self) -> Button:
        """The button to click."""
        return Button(self.action_id, self.label, self.value)


def _kept(entry: Any) -> KeptButton:
    """A button read from the file, its fields checked: a number written as ``"2"`` (a file edited
    by hand, or a newer format) failed later, outside :meth:`ButtonBoard.load`'s guard, and
    ``guildhall run`` stopped with a traceback instead of starting with an empty board.

    Raises:
        TypeError: a field is missing, unknown, or of the wrong type.
    """
    button = KeptButton(**entry)
    strings = (button.action_id, button.label, button.value, button.channel_id, button.message_id)
    if (
        type(button.number) is not int
        or not isinstance(button.ts, int | float)
        or isinstance(button.ts, bool)
        or not all(isinstance(field, str) for field in strings)
    ):
        raise TypeError(f"button entry of the wrong shape: {entry!r}")
    return button


class ButtonBoard:
    """Numbered buttons, written to ``path`` (None: memory only) as they are shown.

    Args:
        path: The JSON file (``data_dir/console-buttons.json``).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._buttons: dict[int, KeptButton] = {}
        self._next = 1

    @property
    def next_number(self) -> int:
        """The number the next button gets."""
        return self._next

    def load(self) -> int:
        """Read the buttons of earlier sessions; returns how many. A missing or unreadable file
        starts an empty board (an unreadable one is logged and replaced on the next write)."""
        if self.path is None or not self.path.exists():
            return 0
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} file")
            kept = [_kept(entry) for entry in data.get("buttons", [])]
            next_number = int(data.get("next", 1))
        except (OSError, ValueError, TypeError) as exc:
            log.warning("console: ignoring %s (%s); earlier sessions' buttons cannot be pressed", self.path, exc)
            return 0
        self._buttons = {b.number: b for b in kept}
        self._next = max([next_number, *(n + 1 for n in self._buttons)])
        return len(self._buttons)

    def add(self, buttons: tuple[Button, ...], *, channel_id: str, message_id: str, when: datetime) -> int:
        """Number ``buttons`` (shown together under one message); returns the first number."""
        first = self._next
        for button in buttons:
            self._buttons[self._next] = KeptButton(
                self._next, button.action_id, button.label, button.value, channel_id, message_id, when.timestamp()
            )
            self._next += 1
        for number in sorted(self._buttons)[:-MAX_KEPT]:
            del self._buttons[number]
        self._save()
        return first

    def get(self, number: int) -> KeptButton | None:
        """Button ``number``, if it is kept."""
        return self._buttons.get(number)

    def of_member(self, user_id: str) -> list[KeptButton]:
        """The buttons about member ``user_id``: those of their DM with the bot (recommendations'
        "Open" buttons, feedback on answers to them), and any whose value names them."""
        dm = f"dm-{user_id}"
        return [b for b in self.all() if b.channel_id == dm or {user_id, dm} & set(b.value.split(":"))]

    def forget_member(self, user_id: str) -> int:
        """Drop :meth:`of_member`'s buttons (the member asked to be forgotten), from the file too;
        returns how many. Their numbers are never given again."""
        gone = self.of_member(user_id)
        for b in gone:
            del self._buttons[b.number]
        if gone:
            self._save()
        return len(gone)

    def all(self) -> list[KeptButton]:
        """Every kept button, oldest first."""
        return [self._buttons[n] for n in sorted(self._buttons)]

    def _save(self) -> None:
        if self.path is None:
            return
        data: dict[str, Any] = {
            "format": FORMAT,
            "next": self._next,
            "buttons": [asdict(b) for b in self.all()],
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            # The buttons still work in this session; only a restart loses them.
            log.warning("console: could not keep buttons in %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                temporary.unlink()

"""How messages form conversations: threads, their roots, and windows of unthreaded chat."""

from __future__ import annotations

from bot.conversations import conversation_keys, split_windows
from bot.store import MessageRow

MIN = 60.0


def _msg(mid: str, minute: float, *, chan: str = "C", thread: str | None = None) -> MessageRow:
    return MessageRow("discord", "G", mid, chan, "U1", minute * MIN, f"text {mid}", thread_id=thread)


def test_threads_keep_their_id_and_a_root_joins_the_thread_it_started() -> None:
    rows = [_msg("root", 0), _msg("r1", 1, thread="root"), _msg("r2", 2, thread="th9")]
    assert conversation_keys(rows) == {"root": "root", "r1": "root", "r2": "th9"}


def test_unthreaded_chat_is_cut_at_silences_and_keyed_by_each_windows_first_message() -> None:
    rows = [_msg("a", 0), _msg("b", 10), _msg("c", 39), _msg("d", 70), _msg("x", 71, chan="D")]
    # 29 minutes between b and c keep one window; 31 between c and d start a new one; another
    # channel's messages never share a window.
    assert conversation_keys(rows) == {"a": "a", "b": "a", "c": "a", "d": "d", "x": "x"}
    # Without windows every unthreaded message is its own conversation.
    assert conversation_keys(rows, windows=False) == {m.message_id: m.message_id for m in rows}


def test_a_window_holds_at_most_max_messages() -> None:
    rows = [_msg(f"m{i}", i) for i in range(5)]
    assert [[m.message_id for m in w] for w in split_windows(rows, max_messages=2)] == [
        ["m0", "m1"],
        ["m2", "m3"],
        ["m4"],
    ]
    assert set(conversation_keys(rows, max_messages=2).values()) == {"m0", "m2", "m4"}

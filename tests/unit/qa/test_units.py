"""Retrieval units: threads, windows, chunking, stable ids."""

from __future__ import annotations

from bot.store import ChannelRow, MessageRow
from brain.qa.units import UnitConfig, build_units, group_key

CH = ChannelRow("slack", "T1", "C1", "help", "public")


def msg(mid: str, ts: float, text: str, *, thread: str | None = None, author: str = "u1", **kw: object) -> MessageRow:
    return MessageRow("slack", "T1", mid, "C1", author, ts, text, thread_id=thread, **kw)  # type: ignore[arg-type]


def test_thread_becomes_one_unit_with_its_messages() -> None:
    msgs = [msg("1", 10, "how do I use asyncio.gather?", thread="1"), msg("2", 20, "await it", thread="1", author="u2")]
    units = build_units(msgs, CH)
    assert [u.unit_id for u in units] == ["thread:slack:T1:1#0"]
    assert units[0].message_ids == ("1", "2")
    assert units[0].author_ids == ("u1", "u2")
    assert units[0].kind == "thread" and units[0].visibility == "public"
    assert units[0].ts_start == 10 and units[0].ts_end == 20


def test_root_without_thread_id_joins_its_thread_and_missing_root_is_fine() -> None:
    # Discord-style root (no thread id on itself) and a Slack-style thread whose root was deleted.
    msgs = [msg("r", 1, "root question"), msg("a", 2, "reply", thread="r"), msg("x", 3, "orphan reply", thread="gone")]
    units = {u.unit_id: u for u in build_units(msgs, CH)}
    assert units["thread:slack:T1:r#0"].message_ids == ("r", "a")
    assert units["thread:slack:T1:gone#0"].message_ids == ("x",)


def test_unthreaded_messages_form_windows_split_by_silence_and_size() -> None:
    cfg = UnitConfig(window_gap_s=60, window_max_messages=3)
    msgs = [msg(str(i), i * 10, f"line {i}") for i in range(5)] + [msg("late", 1000, "after a silence")]
    units = build_units(msgs, CH, config=cfg)
    assert [u.message_ids for u in units] == [("0", "1", "2"), ("3", "4"), ("late",)]
    assert units[0].unit_id == "win:slack:T1:C1:0#0"
    assert all(u.kind == "window" for u in units)


def test_long_thread_is_chunked_at_message_boundaries_with_stable_ids() -> None:
    cfg = UnitConfig(max_chunk_chars=100)
    msgs = [msg(str(i), i, "x" * 60, thread="0") for i in range(5)]
    units = build_units(msgs, CH, config=cfg)
    assert [u.unit_id for u in units] == [f"thread:slack:T1:0#{k}" for k in range(len(units))]
    assert len(units) == 5
    assert [m for u in units for m in u.message_ids] == ["0", "1", "2", "3", "4"]
    assert build_units(list(reversed(msgs)), CH, config=cfg) == units  # order-independent


def test_huge_single_message_is_split_by_the_text_splitter() -> None:
    text = " ".join(f"word{i}" for i in range(3000))
    units = build_units([msg("big", 1, text, thread="big")], CH)
    assert len(units) > 5
    assert all(u.message_ids == ("big",) for u in units)
    assert all(len(u.text) <= 1200 for u in units)


def test_deleted_bot_and_empty_messages_are_not_indexed() -> None:
    msgs = [
        msg("1", 1, "keep me"),
        msg("2", 2, "", deleted=True),
        msg("3", 3, "bot says", is_bot=True),
        msg("4", 4, "   "),
    ]
    units = build_units(msgs, CH)
    assert [u.message_ids for u in units] == [("1",)]


def test_odd_unicode_survives() -> None:
    text = "ｆｕｌｌｗｉｄｔｈ 🐍 e\u0301 \u202eRTL\u202c zero\u200bwidth"
    units = build_units([msg("1", 1, text)], CH)
    assert units[0].text == text


def test_group_key() -> None:
    assert group_key(msg("1", 1, "a", thread="9")) == "thread:slack:T1:9"
    assert group_key(msg("1", 1, "a")) == "chan:slack:T1:C1"

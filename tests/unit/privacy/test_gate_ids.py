"""The privacy gate makes every string of a message valid Unicode, ids included, not only the text.

Its shortcut for all-ASCII messages looked at the text and the author's name alone, so a channel id
with half an emoji (``"C\\ud83d1"`` from a bad export) reached the store unchanged and every message
of that channel was lost on SQLite.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.bus import InProcessBus
from bot.events import ChannelRef, Event, MessageDeleted, MessageEdited, MessagePosted, UserRef
from bot.privacy.gate import RedactingBus
from bot.privacy.redact import Redactor
from bot.testing import make_message, user

HALF = "\ud83d"  # the high surrogate of an emoji without its low half


def _surrogates(value: Any) -> list[str]:
    """Every string inside ``value`` (an event) that still holds a lone surrogate."""
    if isinstance(value, str):
        return [value] if any("\ud800" <= c <= "\udfff" for c in value) else []
    if dataclasses.is_dataclass(value):
        return [s for f in dataclasses.fields(value) for s in _surrogates(getattr(value, f.name))]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in _surrogates(v)]
    return []


def _with_half_emoji(event: Any, path: tuple[str, ...]) -> Any:
    """``event`` with ``HALF`` added to the string (or to each string of the tuple) at ``path``."""
    name, rest = path[0], path[1:]
    old = getattr(event, name)
    if rest:
        new = _with_half_emoji(old, rest)
    elif isinstance(old, tuple):
        new = (*old, f"x{HALF}")
    else:
        new = f"{old or ''}{HALF}"
    return dataclasses.replace(event, **{name: new})


def _text_paths(cls: type, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The dotted paths of every string field of ``cls``, nested refs included (so a field added
    later is covered without editing this test)."""
    paths = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        kind = str(f.type)
        if kind in ("ChannelRef", "UserRef", "UserRef | None"):
            nested = ChannelRef if kind == "ChannelRef" else UserRef
            paths += _text_paths(nested, (*prefix, f.name))
        elif "str" in kind:
            paths.append((*prefix, f.name))
    return paths


POSTED = make_message("plain ascii text", message_id="1700000001.000100", thread_id="1700000000.000100")
EDITED = MessageEdited(
    channel=POSTED.channel,
    message_id=POSTED.message_id,
    text="plain ascii edit",
    edited_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
    author=user("alice"),
    thread_id=POSTED.thread_id,
)
CASES = [(POSTED, p) for p in _text_paths(MessagePosted)] + [(EDITED, p) for p in _text_paths(MessageEdited)]


def test_the_cases_cover_the_ids() -> None:
    posted = {".".join(p) for e, p in CASES if isinstance(e, MessagePosted)}
    assert {"message_id", "channel.channel_id", "channel.workspace_id", "author.user_id", "thread_id"} <= posted


@pytest.mark.parametrize("many", [False, True], ids=["publish", "publish_many"])
@pytest.mark.parametrize(("event", "path"), CASES, ids=[f"{type(e).__name__}.{'.'.join(p)}" for e, p in CASES])
async def test_half_an_emoji_anywhere_in_a_message_is_replaced(event: Event, path: tuple[str, ...], many: bool) -> None:
    gate = RedactingBus(InProcessBus(), Redactor())
    seen: list[Event] = []

    async def handler(events: Sequence[Event]) -> None:
        seen.extend(events)

    gate.subscribe_batch((type(event),), handler, name="test.spy")
    bad = _with_half_emoji(event, path)
    assert _surrogates(bad)
    assert await (gate.publish_many([bad]) if many else gate.publish(bad))
    await gate.drain()
    assert len(seen) == 1 and _surrogates(seen[0]) == []
    await gate.close()


async def test_a_channel_id_with_half_an_emoji_loses_no_message_and_edits_reach_it(make_app) -> None:
    """The import repro: every message of the channel stored, and later edits and deletes naming
    the same raw ids (the platform repeats them) change those rows."""
    app, adapter = await make_app()
    chan = dataclasses.replace(POSTED.channel, channel_id=f"C{HALF}1")
    for i in range(6):
        await adapter.inject(make_message(f"message {i}", chan=chan, message_id=f"17.{i}{HALF}"))
    await app.bus.drain()
    assert app.bus.stats.failures == []
    stored = await app.store.channel_messages("console", "local", f"C{HALF}1")
    assert [m.text for m in stored] == [f"message {i}" for i in range(6)]

    now = datetime(2026, 1, 6, tzinfo=UTC)
    await adapter.inject(MessageEdited(channel=chan, message_id=f"17.0{HALF}", text="edited", edited_at=now))
    await adapter.inject(MessageDeleted(channel=chan, message_id=f"17.1{HALF}", deleted_at=now))
    await app.bus.drain()
    assert app.bus.stats.failures == []
    edited = await app.store.get_message("console", "local", f"17.0{HALF}")
    assert edited is not None and edited.text == "edited"
    deleted = await app.store.get_message("console", "local", f"17.1{HALF}")
    assert deleted is not None and deleted.deleted and deleted.text == ""
    assert (await app.store.counts())["messages"] == 6

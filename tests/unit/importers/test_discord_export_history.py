"""DiscordChatExporter importer across files and imports: reply chains, mentions, duplicate ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import permutations
from pathlib import Path

import pytest

from bot.events import MessagePosted
from bot.importers.discord_export import import_discord_export
from tests.unit.importers.test_discord_export import ANA, BOB, export, msg

GENERAL = {"id": "C1", "type": "GuildTextChat", "name": "general"}


def write(path: Path, messages: list[dict[str, object]], channel: dict[str, object] = GENERAL) -> Path:
    path.write_text(json.dumps(export(channel, messages)))
    return path


async def stored_threads(app: object, ids: str) -> dict[str, str | None]:
    store = app.store  # type: ignore[attr-defined]
    rows = {mid: await store.get_message("discord", "G1", mid) for mid in ids}
    return {mid: row.thread_id if row is not None else "missing" for mid, row in rows.items()}


async def test_a_reply_chain_split_over_partition_files_stays_one_conversation(make_app, tmp_path: Path) -> None:
    # DiscordChatExporter --partition cuts a channel into "[part N]" files at any message.
    one = write(
        tmp_path / "general [part 1].json",
        [msg("1", "00", ANA, "how do I install appium?"), msg("2", "01", BOB, "npm i -g appium", "Reply", "1")],
    )
    two = write(
        tmp_path / "general [part 2].json",
        [
            msg("3", "02", ANA, "that fails with EACCES", "Reply", "2"),
            msg("4", "03", BOB, "use sudo or nvm", "Reply", "3"),
        ],
    )
    app, _ = await make_app()
    summary = await import_discord_export([one, two], app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == [] and summary.messages == 4 and summary.threads == 1
    assert await stored_threads(app, "1234") == {"1": "1", "2": "1", "3": "1", "4": "1"}


async def test_the_same_message_ids_in_another_channel_are_another_conversation(make_app, tmp_path: Path) -> None:
    general = write(tmp_path / "general.json", [msg("1", "00", ANA, "q"), msg("2", "01", BOB, "a", "Reply", "1")])
    other = write(
        tmp_path / "random.json",
        [msg("5", "02", ANA, "reply to a message of #general?", "Reply", "2")],
        {"id": "C2", "type": "GuildTextChat", "name": "random"},
    )
    app, _ = await make_app()
    await import_discord_export([general, other], app.bus, progress=False)
    await app.bus.drain()
    # Conversations are per channel: a reference into another channel starts its own.
    assert await stored_threads(app, "125") == {"1": "1", "2": "1", "5": "2"}


async def test_a_reply_to_a_message_of_an_earlier_import_joins_its_stored_conversation(
    make_app, tmp_path: Path
) -> None:
    earlier = write(
        tmp_path / "general.json",
        [msg("1", "00", ANA, "how do I install appium?"), msg("2", "01", BOB, "npm i -g appium", "Reply", "1")],
    )
    later = write(
        tmp_path / "general-after.json",
        [msg("3", "02", ANA, "that fails with EACCES", "Reply", "2"), msg("4", "03", BOB, "use nvm", "Reply", "3")],
    )
    app, _ = await make_app()
    await import_discord_export([earlier], app.bus, progress=False)
    await app.bus.drain()
    # A later --after export, imported on its own: message 2 is only in the store.
    summary = await import_discord_export([later], app.bus, progress=False, store=app.store)
    await app.bus.drain()
    assert summary.errors == [] and summary.threads == 0
    assert await stored_threads(app, "1234") == {"1": "1", "2": "1", "3": "1", "4": "1"}


async def test_a_reply_to_a_message_nobody_has_opens_a_conversation_there(make_app, tmp_path: Path) -> None:
    lone = write(tmp_path / "general.json", [msg("3", "02", ANA, "re: a deleted message", "Reply", "99")])
    app, _ = await make_app()
    await import_discord_export([lone], app.bus, progress=False, store=app.store)
    await app.bus.drain()
    assert await stored_threads(app, "3") == {"3": "99"}


async def test_mentions_fill_mentioned_user_ids_as_live(make_app, tmp_path: Path) -> None:
    mentions = [{"id": "20", "name": "bob", "nickname": "bob", "isBot": False}, {"id": "30", "name": "ci"}]
    path = write(
        tmp_path / "general.json",
        [
            msg("1", "00", ANA, "thanks <@20>, and <@30>", mentions=mentions),
            msg("2", "01", ANA, "no one", mentions=[]),
            msg("3", "02", ANA, "broken", mentions="20"),
        ],
    )
    app, _ = await make_app()
    seen: list[tuple[str, ...]] = []

    async def record(event: MessagePosted) -> None:
        seen.append(event.mentioned_user_ids)

    app.bus.subscribe(MessagePosted, record, name="test.mentions")
    summary = await import_discord_export([path], app.bus, progress=False)
    await app.bus.drain()
    assert seen == [("20", "30"), (), ()]
    assert summary.messages == 3 and any("mentions ignored" in w for w in summary.warnings)


async def test_a_duplicate_message_id_is_skipped_and_counted_as_such(make_app, tmp_path: Path) -> None:
    messages = [msg(str(i), f"{i:02d}", ANA, f"message {i}") for i in range(1, 11)]
    messages.insert(6, msg("6", "06", BOB, "dup id second"))
    path = write(tmp_path / "general.json", messages)
    app, _ = await make_app()
    summary = await import_discord_export([path], app.bus, progress=False)
    await app.bus.drain()
    assert summary.messages == 10 == (await app.store.counts())["messages"]
    assert summary.skipped == 1 and any("message 6 appears earlier" in w for w in summary.warnings)
    kept = await app.store.get_message("discord", "G1", "6")
    assert kept is not None and kept.text == "message 6"  # the first copy, as before


def _overlapping_exports(folder: Path) -> list[Path]:
    """Three exports of #general taken a month apart: message 1 edited twice, message 2 gaining
    reactions, message 3 posted after the first export."""

    def react(*who: dict[str, object]) -> list[dict[str, object]]:
        return [{"emoji": {"name": "👍"}, "count": len(who), "users": list(who)}]

    old = [msg("1", "00", ANA, "npm i appium@1 (old advice)"), msg("2", "01", BOB, "ok", reactions=react(ANA))]
    mid = [
        msg("1", "00", ANA, "npm i appium@2", timestampEdited="2024-02-01T00:00:00+00:00"),
        msg("2", "01", BOB, "ok", reactions=react(ANA, BOB)),
    ]
    new = [
        msg("1", "00", ANA, "npm i -g appium@2 (final)", timestampEdited="2024-03-01T00:00:00+00:00"),
        msg("2", "01", BOB, "ok", reactions=react(ANA, BOB)),
        msg("3", "02", BOB, "newer message", reactions=react(ANA)),
    ]
    return [write(folder / f"{name}.json", messages) for name, messages in (("old", old), ("mid", mid), ("new", new))]


async def _stored(app: object) -> tuple[object, ...]:
    store = app.store  # type: ignore[attr-defined]
    rows = [await store.get_message("discord", "G1", mid) for mid in "123"]
    reactions = [sorted((r.user_id, r.emoji) for r in await store.reactions_for("discord", "G1", mid)) for mid in "123"]
    return tuple((r.text, r.edited_ts) if r is not None else None for r in rows), reactions, await store.counts()


@pytest.mark.parametrize("order", list(permutations(range(3))), ids=lambda o: "".join(map(str, o)))
async def test_overlapping_exports_in_one_command_store_what_separate_commands_store(
    make_app, tmp_path: Path, order: tuple[int, ...]
) -> None:
    """A message in two exports was skipped whole the second time: its later edit and new reactions
    were lost in one command, kept by separate ones. Now the latest edit wins whatever the order
    (an older copy never brings back replaced text) and every reaction is kept, each counted once."""
    files = [_overlapping_exports(tmp_path)[i] for i in order]
    together, _ = await make_app()
    summary = await import_discord_export(files, together.bus, progress=False)
    await together.bus.drain()
    apart, _ = await make_app()
    for path in files:
        await import_discord_export([path], apart.bus, progress=False)
        await apart.bus.drain()
    stored = await _stored(together)
    assert stored == await _stored(apart)
    texts, reactions, _ = stored
    assert texts[0] == ("npm i -g appium@2 (final)", datetime(2024, 3, 1, tzinfo=UTC).timestamp())
    assert reactions == [[], [("10", "👍"), ("20", "👍")], [("10", "👍")]]
    assert summary.messages == 3 and summary.reactions == 3 and summary.skipped == 4
    assert sum("appears earlier in the channel" in w for w in summary.warnings) == 4


async def test_overlapping_exports_of_a_thread_create_it_once(make_app, tmp_path: Path) -> None:
    thread = {"id": "T1", "type": "GuildPublicThread", "categoryId": "C1", "category": "general", "name": "flaky"}
    first = write(tmp_path / "t1.json", [msg("11", "10", ANA, "flaky on CI"), msg("12", "11", BOB, "retry")], thread)
    later = write(
        tmp_path / "t2.json",
        [msg("11", "10", ANA, "flaky on CI"), msg("12", "11", BOB, "retry"), msg("13", "12", ANA, "fixed")],
        thread,
    )
    app, _ = await make_app()
    summary = await import_discord_export([first, later], app.bus, progress=False)
    await app.bus.drain()
    assert summary.messages == 3 and summary.threads == 1 and summary.skipped == 2
    row = await app.store.db.fetchone("SELECT author_id, title FROM threads WHERE thread_id = ?", ("T1",))
    assert row == ("10", "flaky")

"""DiscordChatExporter importer across files and imports: reply chains, mentions, duplicate ids."""

from __future__ import annotations

import json
from pathlib import Path

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

"""Secrets never reach the store, the brains or the logs."""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Sequence

from bot.events import MessagePosted
from bot.logging_setup import configure
from bot.testing import make_message

TOKEN = "xoxb-12345678-1234567890-abcdefghijklmnopqrstuvwx"


async def test_stored_and_delivered_text_is_redacted(make_app) -> None:
    app, adapter = await make_app()
    seen: list[str] = []

    async def spy(event: MessagePosted) -> None:
        seen.append(event.text)

    app.bus.subscribe(MessagePosted, spy, name="test.spy")
    await adapter.inject(make_message(f"my token {TOKEN}, mail me at ana@example.com", message_id="s1"))
    await app.bus.drain()
    stored = await app.store.get_message("console", "local", "s1")
    assert stored is not None
    for text in (stored.text, *seen):
        assert TOKEN not in text and "ana@example.com" not in text
        assert "[redacted:slack-token]" in text


def test_log_filter_masks_token_shapes_and_known_secrets() -> None:
    stream = io.StringIO()
    configure("INFO", stream=stream, known_secrets=["plain-secret-value"])
    try:
        logging.getLogger("guildhall.test").info("connecting with %s and %s", TOKEN, "plain-secret-value")
    finally:
        logging.getLogger().handlers.clear()
    out = stream.getvalue()
    assert TOKEN not in out and "plain-secret-value" not in out and out.count("[secret]") == 2


async def test_publish_many_redacts_and_drops_forgotten_members_like_publish() -> None:
    from bot.bus import InProcessBus
    from bot.privacy.gate import RedactingBus
    from bot.privacy.redact import Redactor
    from bot.testing import user

    inner = InProcessBus()
    gate = RedactingBus(inner, Redactor())
    seen: list[tuple[str, str]] = []

    async def spy(events: Sequence[MessagePosted]) -> None:
        seen.extend((e.message_id, e.text) for e in events)

    gate.subscribe_batch((MessagePosted,), spy, name="test.spy")
    gone = user("gone")
    gate.forgotten.add(gone)
    events = [
        make_message(f"token {TOKEN}", message_id="b1"),
        make_message("from someone forgotten", message_id="b2", author=gone),
        make_message("plain", message_id="b3"),
    ]
    assert await gate.publish_many(events) == 2
    await gate.drain()
    assert [mid for mid, _ in seen] == ["b1", "b3"]
    assert TOKEN not in seen[0][1] and "[redacted:slack-token]" in seen[0][1] and seen[1][1] == "plain"
    await gate.close()


async def test_half_an_emoji_is_replaced_not_a_lost_message(make_app) -> None:
    # Platform JSON may carry "\ud83d" without its low half: a str no UTF-8 encoder takes.
    from dataclasses import replace

    from bot.testing import command, user

    app, adapter = await make_app(brains=["qa", "recommend", "activity", "community"])
    half = "deploy fails \ud83d here"
    author = replace(user("ana"), name="Ana \udc00")
    await adapter.inject(make_message(half, message_id="h1", author=author, mentions_bot=True))
    await adapter.inject(make_message(f"re: {half}", message_id="h2", thread_id="h1", author="bob"))
    await adapter.inject(command("ask", half, author="ana"))
    await app.bus.drain()
    assert app.bus.stats.failures == []
    stored = await app.store.get_message("console", "local", "h1")
    assert stored is not None and stored.text == "deploy fails \ufffd here"
    reply = await app.store.get_message("console", "local", "h2")
    assert reply is not None and reply.text == "re: deploy fails \ufffd here"
    assert adapter.texts() and all("Something went wrong" not in t for t in adapter.texts())


async def test_a_members_command_text_is_redacted_like_a_message_but_admin_settings_are_not(make_app) -> None:
    """`/ask` is stored with its answer and put in the model's prompt: masked as a mention is."""
    from bot.events import CommandInvoked
    from bot.testing import command

    app, adapter = await make_app()
    seen: list[CommandInvoked] = []

    async def spy(event: CommandInvoked) -> None:
        seen.append(event)

    app.bus.subscribe(CommandInvoked, spy, name="test.spy")
    ask = command("ask", f"why does login fail with {TOKEN} for ana@example.com")
    ask = dataclasses.replace(ask, options=(("question", ask.text),))
    admin = command("guildhall config", "set moderators_channel ana@example.com", admin=True)
    for event in (ask, admin):
        await adapter.inject(event)
    await app.bus.drain()
    asked, configured = seen
    for text in (asked.text, asked.options[0][1]):
        assert TOKEN not in text and "ana@example.com" not in text and "[redacted:slack-token]" in text
    assert configured.text == admin.text

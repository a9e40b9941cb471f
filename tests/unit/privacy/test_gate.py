"""Secrets never reach the store, the brains or the logs."""

from __future__ import annotations

import io
import logging

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

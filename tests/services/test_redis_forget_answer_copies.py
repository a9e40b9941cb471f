"""/forget-me against the real local Redis: a bot answer to another member that quoted the
forgotten member leaves the event streams too (the action that posted it and the bot's echo), not
only the store; members' own messages stay."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from bot.app import build_app
from bot.brain import Services
from bot.bus_redis import RedisStreamsBus
from bot.config import Settings
from bot.events import CommandReply, SendMessage, UserRef
from bot.ml import ChatMessage
from bot.testing import FakeAdapter, HashEmbedder, ScriptedLLM, command, make_message
from tests.services.conftest import URL

pytestmark = pytest.mark.services

_SOURCE = re.compile(r'<source n="(\d+)" channel="([^"]*)">\n(.*?)\n</source>', re.S)


def _echo_first_source(messages: Sequence[ChatMessage]) -> str:
    """A model answering with the first line of source 1 (grounded: the check keeps it)."""
    found = _SOURCE.findall(messages[-1].content)
    return f"{found[0][2].splitlines()[0]} [1]" if found else "NOT_FOUND"


async def _stream_payloads(prefix: str) -> list[bytes]:
    r = aioredis.from_url(URL)
    try:
        return [f[b"json"] for key in (f"{prefix}:ev:actions", f"{prefix}:ev:messages") for _, f in await r.xrange(key)]
    finally:
        await r.aclose()


async def _until(check: object, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_forget_me_deletes_answers_quoting_the_member_from_the_streams(tmp_path: Path, prefix: str) -> None:
    settings = Settings(
        data_dir=str(tmp_path),
        store={"url": f"sqlite:///{tmp_path}/gh.db"},
        bus={"kind": "redis", "redis_url": URL, "stream_prefix": prefix},
        vectors={"path": str(tmp_path / "chroma")},
        llm={"backend": "scripted", "warmup": False},
        brains=["qa"],
    )
    services = Services()
    services.register("embedder", HashEmbedder())
    services.register("llm", ScriptedLLM(_echo_first_source))
    app = await build_app(settings, services=services, bus=RedisStreamsBus(URL, prefix=prefix, block_ms=20))
    adapter = FakeAdapter()
    app.add_adapter(adapter)
    await app.start()
    try:
        await adapter.inject(make_message("the vpn password is bobsecret42, ask me", author="bob", message_id="b1"))
        await adapter.inject(make_message("carol's note: the vpn is flaky today", author="carol", message_id="c1"))
        await app.bus.drain()
        await adapter.inject(make_message("what is the vpn password?", author="dan", mentions_bot=True, minutes=90))
        await _until(lambda: adapter.of_type(SendMessage))
        (answer,) = adapter.of_type(SendMessage)
        assert "bobsecret42" in answer.text
        # The platform's echo of the bot's own message, as the adapters record it.
        bot = UserRef(answer.channel.platform, answer.channel.workspace_id, "guildhall", "Guildhall", is_bot=True)
        await adapter.inject(make_message(answer.text, author=bot, message_id="echo1", minutes=91))
        await app.bus.drain()
        assert sum(b"bobsecret42" in p for p in await _stream_payloads(prefix)) >= 3  # his post, the action, the echo

        await adapter.inject(command("forget-me", "confirm", author="bob"))
        await _until(lambda: any("Done:" in r.text for r in adapter.of_type(CommandReply)))
        left = await _stream_payloads(prefix)
        assert not any(b"bobsecret42" in p for p in left)
        assert any(b"carol's note" in p for p in left)  # others' messages stay
        assert any(b"what is the vpn password?" in p for p in left)  # dan's question is his own
    finally:
        await app.stop()


def test_only_the_answers_own_copies_match() -> None:
    """Another reply in the channel, or the same words elsewhere, is not a copy: it may still be
    waiting to be sent, and deleting it would lose it."""
    from bot.events import SendMessage
    from bot.testing import channel
    from brain.qa.history import _copy_of

    answer = "Restart the worker with systemctl restart worker, check the logs, and then you are done"
    match = _copy_of("console", "local", [("general", 0.0, answer)])
    assert match(SendMessage(channel("general"), answer))
    assert match(SendMessage(channel("general"), "check the logs, and then you are done"))  # a split part
    assert not match(SendMessage(channel("general"), "Done."))  # too short for an action
    assert not match(SendMessage(channel("random"), answer))  # another channel's message
    assert not match(SendMessage(channel("general", workspace="other"), answer))

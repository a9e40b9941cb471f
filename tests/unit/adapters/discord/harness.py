"""Shared pieces of the Discord adapter tests: a brain that answers, event collectors, ``drain``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import discord

from adapters.discord.adapter import DiscordAdapter
from bot.app import GuildhallApp
from bot.brain import Brain, CommandResult, command, listen
from bot.events import Attachment, Citation, CommandInvoked, Event, MessagePosted
from tests.unit.adapters.discord.fakes import RecordingHTTP

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
CODE_ANSWER = "\n\n".join(
    f"Step {i}: run this.\n```python\n" + "\n".join(f"print({i}, {j})  # {'x' * 40}" for j in range(12)) + "\n```"
    for i in range(12)
)


class EchoBrain(Brain):
    """Answers mentions in their thread and /ask, like the QA brain would."""

    name = "echo"

    @listen(MessagePosted)
    async def on_message(self, event: MessagePosted) -> None:
        if event.is_bot or not event.mentions_bot:
            return
        await self.ctx.reply(event, f"echo: {event.text}")

    @command("ask", description="ask")
    async def ask(self, cmd: CommandInvoked) -> CommandResult:
        question = cmd.option("question")
        if question == "long":
            return CommandResult("x" * 6000, ephemeral=False)
        if question == "code":
            return CommandResult(CODE_ANSWER, ephemeral=False)
        if question == "cited":
            citation = Citation(1, "Install guide @everyone", "https://docs.example.org/install", note="see step 2")
            return CommandResult("Use pip [1].", ephemeral=False, citations=(citation,))
        if question == "private":
            return CommandResult("only for you", ephemeral=True)
        if question == "whisper":
            # A private note through the interaction before the reply (as a click's ack is sent).
            await self.ctx.ephemeral(cmd.channel, cmd.user, "just for you", response_ref=cmd.response_ref)
            return CommandResult("answer to whisper", ephemeral=False)
        if question == "chart":
            return CommandResult("Here:", ephemeral=False, attachments=(Attachment("chart.png", "image/png", PNG),))
        return CommandResult(f"answer to {cmd.text}", ephemeral=False)


class Seen:
    """Collects every inbound event the adapter publishes."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, cls: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


class Sleeps:
    """Records the adapter's own back-off waits instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@dataclass
class Env:
    """What a test drives and inspects."""

    app: GuildhallApp
    client: discord.Client
    http: RecordingHTTP
    adapter: DiscordAdapter
    seen: Seen
    sleeps: Sleeps
    extra: dict[str, Any] = field(default_factory=dict)


async def drain(app: GuildhallApp) -> None:
    """Let discord.py's dispatch tasks run, then wait for the bus (repeated: handlers publish more)."""
    for _ in range(3):
        # discord.py schedules each handler as a task; one loop turn per hop, no wall-clock sleep.
        for _ in range(5):
            await asyncio.sleep(0)
        # A handler may wait on more than loop turns before it publishes (the privacy gate reads
        # the store in a thread), so its task is awaited too.
        await _discord_handlers()
        await app.bus.drain()


async def _discord_handlers() -> None:
    """Wait for the event handler tasks discord.py started (``Client._schedule_event`` names them)."""
    current = asyncio.current_task()
    pending = [
        t for t in asyncio.all_tasks() if t is not current and not t.done() and t.get_name().startswith("discord.py: ")
    ]
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)

"""Slack adapter: HTTP ack latency, slash-command ack under a slow handler, normalize and backfill rates.

Everything runs in one process against the fake Slack Web API of ``tests/slack_fakes.py`` (an
aiohttp server on a free port), so the figures measure Guildhall + Bolt, not Slack:

* **event ack**: signed Events API POSTs to the adapter's real HTTP endpoint, one at a time;
  latency = POST sent -> HTTP response (Slack wants it within 3 s), then the time for all of them
  to be stored (bus drained);
* **command ack while busy**: slash commands whose handler is blocked (standing in for an LLM
  answer) are POSTed concurrently; the acks must not wait for the answers;
* **normalize**: ``normalize_event`` on realistic message envelopes (pure CPU);
* **backfill**: ``SlackBackfill`` reading paginated history (200 per page) from the fake API into
  a SQLite store file through the bus and the recorder.

Run: ``python -m benchmarks.slack_adapter [--events 500]`` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from adapters.slack.adapter import SlackAdapter
from adapters.slack.backfill import SlackBackfill
from adapters.slack.cli import backfill_client
from adapters.slack.normalize import NormalizeContext, SlackIdentity, normalize_event
from benchmarks.report import markdown_table, write_section
from bot.app import build_app
from bot.brain import Brain, CommandResult, Services, command
from bot.bus import InProcessBus
from bot.clock import FakeClock
from bot.config import Settings
from bot.events import CommandInvoked
from bot.recorder import Recorder
from bot.store import open_store
from tests.slack_fakes import (
    BOT_ID,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    TEAM_URL,
    FakeSlackAPI,
    envelope,
    form_body,
    message_event,
    settle_bolt,
    signed_headers,
    slash_form,
)


class SlowAsk(Brain):
    """An /ask whose answer waits on a gate, like a slow LLM."""

    name = "slow-ask"
    gate = asyncio.Event()

    @command("ask", description="slow")
    async def ask(self, cmd: CommandInvoked) -> CommandResult:
        await SlowAsk.gate.wait()
        return CommandResult("done")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def http_figures(n_events: int, n_commands: int, tmp: Path) -> dict[str, Any]:
    fake = await FakeSlackAPI().start()
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp),
            "store": {"url": f"sqlite:///{tmp / 'http.db'}"},
            "llm": {"backend": "scripted", "warmup": False},
            "brains": [],
            "slack": {"bot_token": "xoxb-bench", "signing_secret": SIGNING_SECRET, "mode": "http", "http_port": 0},
        }
    )
    app = await build_app(settings, services=Services(), brains=[], extra_brains=[SlowAsk], clock=FakeClock())
    adapter = SlackAdapter(settings, store=app.store, client_base_url=fake.url)
    app.add_adapter(adapter)
    await app.start()
    url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
    acks: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            for i in range(n_events):
                body = json.dumps(
                    envelope(
                        message_event(f"message {i}: how do I pin a dependency?", ts=f"{1767600000 + i}.000100"),
                        event_id=f"Ev{i}",
                    )
                )
                t0 = time.perf_counter()
                async with session.post(
                    url, data=body, headers=signed_headers(body, content_type="application/json")
                ) as r:
                    assert r.status == 200
                acks.append(time.perf_counter() - t0)
            await settle_bolt()
            await app.bus.drain()
            stored_after = time.perf_counter() - started
            counts = await app.store.counts()
            assert counts["messages"] == n_events, counts

            async def one_command(i: int) -> float:
                body = form_body(slash_form("/ask", f"q{i}", response_url=fake.hook_url(f"c{i}"), trigger=f"trig-{i}"))
                t0 = time.perf_counter()
                async with session.post(
                    url, data=body, headers=signed_headers(body, content_type="application/x-www-form-urlencoded")
                ) as r:
                    assert r.status == 200
                return time.perf_counter() - t0

            cmd_acks = await asyncio.gather(*(one_command(i) for i in range(n_commands)))
            answered_before_release = len(fake.hook_posts)
            SlowAsk.gate.set()
            await settle_bolt()
            await app.bus.drain()
            answered = len(fake.hook_posts)
    finally:
        await app.stop()
        await fake.stop()
    return {
        "events": n_events,
        "ack_p50_ms": statistics.median(acks) * 1000,
        "ack_p95_ms": pct(acks, 0.95) * 1000,
        "ack_max_ms": max(acks) * 1000,
        "stored_per_s": n_events / stored_after,
        "commands": n_commands,
        "cmd_ack_p50_ms": statistics.median(cmd_acks) * 1000,
        "cmd_ack_max_ms": max(cmd_acks) * 1000,
        "answered_before_release": answered_before_release,
        "answered": answered,
    }


def normalize_rate(n: int) -> float:
    ctx = NormalizeContext(SlackIdentity(TEAM_ID, BOT_USER_ID, BOT_ID, TEAM_URL))
    payloads = [
        envelope(
            message_event(
                f"<@U{i % 50}> see <https://x.test|docs> &amp; retry #{i}",
                ts=f"{1767600000 + i}.000100",
                thread_ts="1767600000.000100" if i % 3 else None,
            )
        )
        for i in range(n)
    ]
    started = time.perf_counter()
    for p in payloads:
        normalize_event(p, ctx)  # type: ignore[arg-type]
    return n / (time.perf_counter() - started)


async def backfill_rate(n_messages: int, tmp: Path) -> dict[str, float]:
    fake = await FakeSlackAPI().start()
    fake.page_size = 200
    fake.history["CGENERAL"] = [
        {
            "type": "message",
            "user": f"U{i % 40}",
            "text": f"history message {i} about asyncio timeouts",
            "ts": f"{1767000000 + i}.000100",
        }
        for i in range(n_messages)
    ]
    store = await open_store(f"sqlite:///{tmp / 'backfill.db'}")
    bus = InProcessBus()
    Recorder(store).attach(bus)
    await bus.start()
    client = backfill_client(Settings.model_validate({"brains": [], "slack": {"api_base_url": fake.url}}), "xoxb-bench")
    backfill = SlackBackfill(client, bus.publish, SlackIdentity(TEAM_ID, BOT_USER_ID, BOT_ID, TEAM_URL))
    started = time.perf_counter()
    report = await backfill.run(["CGENERAL"])
    await bus.drain()
    elapsed = time.perf_counter() - started
    stored = (await store.counts())["messages"]
    await bus.close()
    await store.close()
    await fake.stop()
    assert report.messages == n_messages == stored
    return {
        "messages": float(n_messages),
        "per_s": n_messages / elapsed,
        "pages": float(len(fake.calls_to("conversations.history"))),
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        http = await http_figures(args.events, args.commands, tmp)
        backfill = await backfill_rate(args.backfill, tmp)
    norm = normalize_rate(args.normalize)
    table = markdown_table(
        ["measure", "value"],
        [
            [
                f"event ack latency p50 / p95 / max ({http['events']} signed POSTs, sequential)",
                f"{http['ack_p50_ms']:.1f} / {http['ack_p95_ms']:.1f} / {http['ack_max_ms']:.1f} ms",
            ],
            ["events stored per second (POST -> bus -> SQLite, sequential client)", f"{http['stored_per_s']:,.0f}"],
            [
                f"slash-command ack p50 / max ({http['commands']} concurrent, handler blocked)",
                f"{http['cmd_ack_p50_ms']:.1f} / {http['cmd_ack_max_ms']:.1f} ms",
            ],
            [
                "answers sent before the handler was released / after",
                f"{http['answered_before_release']} / {http['answered']}",
            ],
            [f"normalize_event, messages per second ({args.normalize:,})", f"{norm:,.0f}"],
            [
                f"backfill into SQLite, messages per second ({int(backfill['messages']):,}, {int(backfill['pages'])} pages)",
                f"{backfill['per_s']:,.0f}",
            ],
        ],
    )
    body = (
        "One process, real Bolt `AsyncApp` + the adapter's aiohttp endpoint, fake Slack Web API from "
        "`tests/slack_fakes.py` on localhost (so network time to Slack is excluded).\n\n"
        + table
        + "\n\nSlack requires the HTTP response within 3 s; acks do not wait for brain work (the blocked "
        "`/ask` handler above). Reproduce: `python -m benchmarks.slack_adapter`."
    )
    write_section("slack-adapter", "Slack adapter", body)
    print(body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--normalize", type=int, default=50_000)
    parser.add_argument("--backfill", type=int, default=10_000)
    asyncio.run(main(parser.parse_args()))

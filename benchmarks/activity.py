"""Activity brain benchmarks: leaderboard latency over 1,000,000 messages, counter ingest rate,
sentiment agreement on labelled sentences, and topic bursts found in the real chats.

Run: ``nice python -m benchmarks.activity`` (``--quick`` for a smaller synthetic set).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import statistics
import tempfile
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.report import host_speed_ms, markdown_table, write_section
from bot.app import build_app
from bot.config import Settings, StoreSettings
from bot.events import MessageDeleted, MessageEdited, MessagePosted, ReactionAdded
from bot.runtime import restore_defaults, tune_for_serving
from bot.store import ChannelRow, open_store
from bot.testing.builders import channel, user
from brain.activity import sentiment
from brain.activity.counters import ActivityCounters
from brain.activity.leaderboard import leaderboard, window_for
from brain.activity.trends import BurstDetector, BurstParams, Post

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
LABELLED = ROOT / "tests" / "unit" / "activity" / "data" / "sentiment_labelled.tsv"
DATASETS = ("slack-pythondev-2019", "slack-racket", "irc-ubuntu-train", "discord-gitter-appium")
NOW = datetime(2026, 1, 31, 12, tzinfo=UTC)
PG = os.environ.get("GUILDHALL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


# -- 1. leaderboard latency ------------------------------------------------------------------------
async def bench_leaderboard(n_messages: int, runs: int) -> list[list[object]]:
    """Insert ``n_messages`` synthetic contribution rows over a year, roll them up, time the query."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{tmp}/bench.db")
        start = NOW.timestamp() - 365 * 86400
        rows = []
        for i in range(n_messages):
            ts = start + rng.random() * 365 * 86400
            day = datetime.fromtimestamp(ts, UTC).date().isoformat()
            reply = rng.random() < 0.5
            rows.append(
                (
                    "console",
                    "local",
                    f"m{i}",
                    f"c{rng.randrange(20)}",
                    f"u{int(rng.paretovariate(1.2)) % 3000}",
                    None,
                    day,
                    ts,
                    8,
                    0,
                    0,
                    1,
                    int(reply),
                    0,
                    rng.randrange(3),
                    int(reply and rng.random() < 0.1),
                    int(reply and rng.random() < 0.2),
                    "",
                    0,
                    "",
                    0,  # anonymous
                    "",  # answer_src
                    0,  # standin
                )
            )
        # The workspace board counts channels the store knows to be public, as the recorder leaves them.
        await store.upsert_channels(ChannelRow("console", "local", f"c{c}", f"c{c}", "public") for c in range(20))
        t0 = time.perf_counter()
        async with store.db.transaction() as tx:
            await tx.executemany("INSERT INTO activity_contrib VALUES (" + ", ".join("?" * len(rows[0])) + ")", rows)
            await tx.execute(
                "INSERT INTO activity_rollup SELECT platform, workspace_id, day, channel_id, author_id, SUM(messages), "
                "SUM(replies), SUM(threads), SUM(reactions), SUM(helpful), SUM(answered) FROM activity_contrib "
                "GROUP BY platform, workspace_id, day, channel_id, author_id"
            )
        load_s = time.perf_counter() - t0
        window = window_for("week", NOW, ZoneInfo("UTC"))
        rollup_ms = []
        for _ in range(runs):
            t = time.perf_counter()
            board = await leaderboard(store, "console", "local", window)
            rollup_ms.append((time.perf_counter() - t) * 1000)
        assert board.entries
        since = datetime.combine(window.start or NOW.date(), datetime.min.time(), UTC).timestamp()
        scan_ms = []
        for _ in range(max(3, runs // 5)):
            t = time.perf_counter()
            await store.db.fetchall(
                "SELECT author_id, 5 * SUM(helpful) + 3 * SUM(answered) + 2 * SUM(replies) + SUM(reactions) "
                "+ 0.5 * SUM(threads) AS s FROM activity_contrib WHERE platform = ? AND workspace_id = ? AND ts >= ? "
                "GROUP BY author_id ORDER BY s DESC LIMIT 10",
                ("console", "local", since),
            )
            scan_ms.append((time.perf_counter() - t) * 1000)
        n_rollup = (await store.db.fetchone("SELECT COUNT(*) FROM activity_rollup") or (0,))[0]
        await store.close()
    return [
        ["rollup table (leaderboard())", n_messages, n_rollup, statistics.median(rollup_ms), max(rollup_ms)],
        [
            "per-message rows, ts index (for comparison)",
            n_messages,
            n_messages,
            statistics.median(scan_ms),
            max(scan_ms),
        ],
        ["(load + roll up, s)", n_messages, "", load_s, ""],
    ]


# -- 2. counter ingest -----------------------------------------------------------------------------
def synthetic_events(n: int) -> list[object]:
    rng = random.Random(11)
    events: list[object] = []
    base = NOW - timedelta(days=3)
    roots: list[str] = []
    for i in range(n):
        ts = base + timedelta(seconds=i * 2)
        chan = channel(f"c{rng.randrange(10)}")
        r = rng.random()
        if r < 0.55 or not roots:
            thread = rng.choice(roots) if roots and rng.random() < 0.6 else None
            mid = f"m{i}"
            text = (
                "how do I configure the logging handler for this app?"
                if thread is None
                else "try setting the level on the root logger first"
            )
            events.append(MessagePosted(chan, user(f"u{rng.randrange(500)}"), mid, text, ts, thread_id=thread))
            if thread is None:
                roots.append(mid)
        elif r < 0.9:
            target = f"m{rng.randrange(max(1, i))}"
            events.append(
                ReactionAdded(chan, target, user(f"u{rng.randrange(500)}"), rng.choice(["+1", "tada", "✅"]), ts)
            )
        elif r < 0.97:
            events.append(MessageEdited(chan, f"m{rng.randrange(max(1, i))}", "edited text with enough words", ts))
        else:
            events.append(MessageDeleted(chan, f"m{rng.randrange(max(1, i))}", ts))
    return events


async def _ingest_rate(url: str, events: list[object], batch: int) -> float:
    store = await open_store(url)
    try:
        counters = ActivityCounters(store, ZoneInfo("UTC"))
        t = time.perf_counter()
        for i in range(0, len(events), batch):
            await counters.apply(events[i : i + batch])  # type: ignore[arg-type]
        return len(events) / (time.perf_counter() - t)
    finally:
        await store.close()


async def bench_ingest(n_events: int, batch: int = 500, runs: int = 3) -> list[float]:
    """Events/s of ``runs`` ingests, each into a fresh temporary SQLite file."""
    events = synthetic_events(n_events)
    rates = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            rates.append(await _ingest_rate(f"sqlite:///{tmp}/ingest.db", events, batch))
    return rates


async def bench_ingest_postgres(n_events: int, batch: int = 500, runs: int = 3) -> list[float] | None:
    """The same on PostgreSQL (a throwaway database per run); None when no server answers."""
    import asyncpg

    events = synthetic_events(n_events)
    rates = []
    for _ in range(runs):
        name = f"gh_bench_{uuid.uuid4().hex[:8]}"
        try:
            admin = await asyncpg.connect(PG, timeout=5)
        except (OSError, asyncpg.PostgresError):
            return None
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            rates.append(await _ingest_rate(PG.rsplit("/", 1)[0] + "/" + name, events, batch))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    return rates


async def _live_rate(events: list[object], brains: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store=StoreSettings(url=f"sqlite:///{tmp}/live.db"), brains=brains, data_dir=tmp)
        app = await build_app(settings, brains=brains)
        await app.start()
        tune_for_serving()  # as `guildhall run` does after start-up
        try:
            t = time.perf_counter()
            for e in events:
                await app.bus.publish(e)  # type: ignore[arg-type]
            await app.bus.drain()
            return len(events) / (time.perf_counter() - t)
        finally:
            await app.stop()
            restore_defaults()


async def bench_live_path(n_events: int, runs: int = 2) -> list[list[object]]:
    """The whole live store path (in-process bus -> recorder -> SQLite), without and with the
    activity brain's counters on the same database; runs alternate so load drifts hit both."""
    events = synthetic_events(n_events)
    rates: dict[str, list[float]] = {"recorder only": [], "recorder + activity counters": []}
    for _ in range(runs):
        rates["recorder only"].append(await _live_rate(events, []))
        rates["recorder + activity counters"].append(await _live_rate(events, ["activity"]))
    return [[name, n_events, *_spread(r)] for name, r in rates.items()]


# -- 3. sentiment agreement ------------------------------------------------------------------------
def bench_sentiment() -> tuple[float, int, list[list[object]]]:
    rows = list(csv.DictReader(LABELLED.open(encoding="utf-8"), delimiter="\t"))
    labels = ("positive", "neutral", "negative")
    confusion = {(g, p): 0 for g in labels for p in labels}
    for r in rows:
        confusion[(r["label"], sentiment.label(r["text"]))] += 1
    agree = sum(confusion[(g, g)] for g in labels) / len(rows)
    table = [[g, *(confusion[(g, p)] for p in labels)] for g in labels]
    return agree, len(rows), table


# -- 4. real-data bursts ---------------------------------------------------------------------------
def load_posts(name: str) -> list[Post]:
    """A minimal private loader: Slack export zips and DiscordChatExporter JSON, in time order."""
    posts: list[Post] = []
    if (SHARED / f"{name}.zip").exists():
        with zipfile.ZipFile(SHARED / f"{name}.zip") as zf:
            for info in zf.infolist():
                parts = info.filename.strip("/").split("/")
                if len(parts) != 2 or not parts[1].endswith(".json"):
                    continue
                for m in json.loads(zf.read(info)):
                    if m.get("type") == "message" and m.get("text") and not m.get("bot_id"):
                        posts.append(Post(float(m["ts"]), parts[0], m.get("user", ""), m["ts"], m["text"]))
    else:
        data = json.loads((SHARED / f"{name}.json").read_text(encoding="utf-8"))
        chan = data["channel"]["name"]
        for m in data["messages"]:
            if m.get("content") and not m["author"].get("isBot"):
                ts = datetime.fromisoformat(m["timestamp"]).timestamp()
                posts.append(Post(ts, chan, m["author"]["id"], m["id"], m["content"]))
    posts.sort(key=lambda p: p.ts)
    return posts


def bench_bursts(limit: int = 8) -> str:
    params = BurstParams()
    sections = []
    summary = []
    for name in DATASETS:
        posts = load_posts(name)
        by_id = {p.message_id: p for p in posts}
        detector = BurstDetector(params)
        bursts = []
        t = time.perf_counter()
        for p in posts:
            bursts.extend(detector.add(p))
        bursts.extend(detector.flush())
        elapsed = time.perf_counter() - t
        summary.append([name, len(posts), len(bursts), elapsed])
        lines = [
            f"### {name}: {len(bursts)} bursts in {len(posts):,} messages (strongest {min(limit, len(bursts))})",
            "",
        ]
        for b in sorted(bursts, key=lambda b: b.p_value)[:limit]:
            when = datetime.fromtimestamp(b.window_start, UTC).strftime("%Y-%m-%d %H:%M")
            related = f"; related: {', '.join(f'`{t}`' for t in b.related[:3])}" if b.related else ""
            lines.append(
                f"- **`{b.term}`** in #{b.channel_id}, {when} UTC + {params.window_hours:g} h: {b.count} messages vs "
                f"{b.expected:.2f} expected ({b.ratio:.0f}x, p={b.p_value:.1e}){related}"
            )
            for mid in b.message_ids[:3]:
                text = " ".join(by_id[mid].text.split())[:110].replace("|", "/").replace("`", "'")
                lines.append(f"  - `{mid}`: {text}")
        sections.append("\n".join(lines))
    head = markdown_table(["dataset", "messages", "bursts", "replay s"], summary)
    return head + "\n\n" + "\n\n".join(sections)


def ingest_rows(sqlite: list[float], postgres: list[float] | None) -> list[list[object]]:
    rows: list[list[object]] = [["SQLite (temporary file, WAL)", *_spread(sqlite)]]
    if postgres:
        rows.append(["PostgreSQL (localhost, same machine)", *_spread(postgres)])
    return rows


def _spread(rates: list[float]) -> list[str]:
    return [f"{statistics.median(rates):,.0f}", f"{min(rates):,.0f}", f"{max(rates):,.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k messages instead of 1M")
    parser.add_argument("--skip-real", action="store_true", help="skip the real-data burst replay")
    parser.add_argument("--skip-postgres", action="store_true", help="skip the PostgreSQL ingest run")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    lb = asyncio.run(bench_leaderboard(n, runs=50))
    load_before = os.getloadavg()[0]
    ingest = asyncio.run(bench_ingest(50_000))
    ingest_pg = None if args.skip_postgres else asyncio.run(bench_ingest_postgres(50_000))
    probe = host_speed_ms()
    live = asyncio.run(bench_live_path(30_000, runs=3))
    agree, n_labelled, confusion = bench_sentiment()
    body = [
        "Method: synthetic contribution rows over one year (20 channels, 3,000 members, heavy-tailed activity) "
        "inserted with executemany into a temporary SQLite file, rolled up per member x channel x day; "
        "`leaderboard()` for the 7-day window timed 50 times (opt-out lookup included).",
        "",
        markdown_table(["query", "messages", "rows scanned/stored", "p50 ms", "max ms"], lb),
        "",
        "**Counter ingest** (store path: `ActivityCounters.apply` in batches of 500, 50,000 mixed events: 55% posts, "
        "35% reactions, 7% edits, 3% deletes; 3 runs, each into a fresh store):",
        "",
        markdown_table(["store", "median events/s", "min", "max"], ingest_rows(ingest, ingest_pg)),
        "",
        "Per batch the counters make 3-5 lookups (contribution rows of the batch's messages and thread roots, "
        "the helpful replies and the batch's repliers' reply credits in the threads it touches, the repliers' "
        "reply credits per day on first sight, reactions of the reacted-to messages), then one upsert of the "
        "changed contribution rows (identity "
        "columns untouched, so no index churn), one of the reactions and one of the rollup deltas aggregated "
        "in memory. On PostgreSQL the lookups join an array parameter and the upserts unnest column arrays "
        "(one statement each per batch); the counters `ANALYZE` fresh tables once after 1,000 rows, because "
        "without statistics the planner scans the whole workspace per lookup. Other workers shared the "
        f"2 cores during this run (1-minute load average {load_before:.1f} before the ingest runs), so absolute "
        "figures are noisy: on this machine, single runs of the same code varied by up to 2x with the load. "
        "The anti-gaming rules of 2026-12-04 (one reply credit per thread, a daily cap, one helpful mark per "
        "answerer per thread: `docs/activity.md`) cost the thread and day lookups: interleaved runs of 30,000 "
        "events gave about 22,000 events/s against 30,000 before them on SQLite, 9,000 against 13,000 on PostgreSQL (partial indexes on the looked-up "
        "rows were tried and made it 13,000: every credit change rewrote them). Recording each credit's "
        "sources (so a deleted thanks or removed mark takes back only what nothing else gives, commit "
        "17d6e9b) was measured against the commit before it, interleaved old/new/old/new on SQLite with "
        "30,000 events and a CI run sharing the machine (2026-12-04 20:14 UTC): medians 23.7k / 21.5k / "
        "21.7k / 21.0k events/s, i.e. within the noise, at most a few per cent.",
        "",
        "**Whole live path** (the same events published one by one on the in-process bus of a real app, drained; "
        "the core recorder writes messages, reactions and threads, the activity brain's counters share the same "
        "SQLite file and its single connection; the interpreter tuned after start-up as `guildhall run` tunes it: "
        "start-up heap frozen, 0.5 ms GIL switch interval, see `bot/runtime.py`):",
        "",
        markdown_table(["app", "events", "median events/s", "min", "max"], live),
        "",
        f"Host speed probe before the live runs (`benchmarks.report.host_speed_ms`, smaller is faster): {probe:.0f} ms. "
        "The shared host's speed drifts (the PostgreSQL ingest and the leaderboard query, whose code did not "
        "change, ran 1.7x and 2.1x faster at 18:25 than at 17:09 on 2026-11-23); interleaved with commit b47a0df "
        "in one session, the one-call, multi-row SQLite writer (`bot/store/sqlite_batch.py`) and the bus's "
        "backlog turn gave the whole live path 5-30% more events/s.",
        "",
        f"**Sentiment lexicon agreement** on {n_labelled} hand-labelled technical-chat sentences "
        f"(`tests/unit/activity/data/sentiment_labelled.tsv`): **{agree:.0%}**. Caveat: the sentences were written by "
        "the lexicon's author, so this is an optimistic upper bound, not a field estimate.",
        "",
        markdown_table(["gold \\ predicted", "positive", "neutral", "negative"], confusion),
    ]
    if not args.skip_real and SHARED.is_dir():
        body += [
            "",
            "### Topic bursts in the real chats",
            "",
            f"Each chat replayed in time order through `BurstDetector` with the default `BurstParams` "
            f"({BurstParams()}); the same parameters on every dataset. Every burst lists the ids and text of real "
            "messages that formed it.",
            "",
            bench_bursts(),
        ]
    write_section("activity", "Activity brain: leaderboards, counters, trends", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()

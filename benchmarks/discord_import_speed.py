"""Import speed of a DiscordChatExporter export into SQLite, and what the opt-out gate costs it.

    python -m benchmarks.discord_import_speed [--messages 100000] [--members 20000] [--runs 3]

The export is generated here (one JSON file per channel, as DiscordChatExporter writes them: 50
channels, a large server's worth of members, inline replies, reactions, unicode) and imported
through the production path (``bot.importers.discord_export`` -> bus with the privacy gate ->
recorder -> SQLite in WAL mode). Each run imports into a fresh database with the gate as shipped,
then again with the Discord opt-out look-up switched off (the rest of the gate stays), interleaved,
so the look-up's cost is measured on the same host minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from benchmarks.import_speed import WORDS, ImportRun, timed_import
from benchmarks.report import host_speed_ms, markdown_table, write_section
from bot.config import Settings, StoreSettings
from bot.events import UserRef
from bot.importers.discord_export import PUBLISH_SLICE, import_discord_export
from bot.privacy.optout import DiscordOptOuts

GUILD = "900000000000000001"
CHANNELS = 50


def generate_export(folder: Path, messages: int, members: int, *, seed: int = 11) -> list[Path]:
    """Write ``CHANNELS`` DiscordChatExporter JSON files holding ``messages`` messages in all."""
    rng = random.Random(seed)
    users = [{"id": str(10**17 + i), "name": f"member{i}", "nickname": None, "isBot": False} for i in range(members)]
    files = []
    per = messages // CHANNELS
    ts = 1_700_000_000
    for c in range(CHANNELS):
        items: list[dict[str, object]] = []
        for n in range(per):
            ts += rng.randint(1, 30)
            item: dict[str, object] = {
                "id": str(10**18 + c * per + n),
                "type": "Default",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts)),
                "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30))),
                "author": users[rng.randrange(members)],
            }
            if items and rng.random() < 0.3:
                item["type"] = "Reply"
                item["reference"] = {"messageId": rng.choice(items[-20:])["id"]}
            if rng.random() < 0.05:
                item["reactions"] = [{"emoji": {"name": "👍"}, "count": 1, "users": [users[rng.randrange(members)]]}]
            items.append(item)
        doc = {
            "guild": {"id": GUILD, "name": "bench"},
            "channel": {"id": str(2 * 10**17 + c), "type": "GuildTextChat", "name": f"chan-{c}"},
            "messages": items,
        }
        path = folder / f"chan-{c}.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        files.append(path)
    return files


async def import_once(files: list[Path], db: Path) -> ImportRun:
    """(seconds, messages, row counts) for one import into the SQLite file ``db``."""
    settings = Settings(store=StoreSettings(url=f"sqlite:///{db}"), brains=[])
    return await timed_import(settings, lambda bus: import_discord_export(files, bus, progress=False))


async def _no_look_up(self: DiscordOptOuts, authors: Iterable[UserRef | None]) -> None:
    """The gate without its Discord opt-out look-up (for the comparison only)."""


async def main(messages: int, members: int, runs: int) -> None:
    rows = []
    gated: list[float] = []
    ungated: list[float] = []
    counts: list[dict[str, int]] = []
    speeds = [host_speed_ms()]
    shipped = DiscordOptOuts.follow
    with tempfile.TemporaryDirectory() as tmp:
        files = generate_export(Path(tmp), messages, members)
        for run in range(1, runs + 1):
            for look_up in (True, False):
                DiscordOptOuts.follow = shipped if look_up else _no_look_up  # type: ignore[method-assign]
                try:
                    seconds, n, rows_after = await import_once(files, Path(tmp) / f"bench{run}-{look_up}.db")
                finally:
                    DiscordOptOuts.follow = shipped  # type: ignore[method-assign]
                (gated if look_up else ungated).append(n / seconds)
                counts.append(rows_after)
                label = "as shipped" if look_up else "opt-out look-up off (comparison)"
                rows.append([run, label, n, f"{seconds:.2f}", f"{n / seconds:,.0f}"])
            speeds.append(host_speed_ms())
    same = all(c == counts[0] for c in counts)
    cost = 1 - statistics.median(gated) / statistics.median(ungated)
    body = (
        f"A synthetic DiscordChatExporter export ({messages:,} messages in {CHANNELS} channel files, "
        f"{members:,} members, 30% inline replies, reactions, unicode) imported through the production path: "
        f"importer -> bus (privacy gate: redaction and the Discord opt-out look-up, one `publish_many` per "
        f"{PUBLISH_SLICE:,} events) -> batched recorder -> SQLite (WAL). Each run imports into a fresh database "
        "as shipped, then again with the gate's Discord opt-out look-up switched off, so the look-up's cost "
        "is read from interleaved runs (the look-up reads the store for a member's first events in a "
        "server, until the store knows them there: `bot/privacy/optout.py`).\n\n"
        + markdown_table(["run", "gate", "messages", "seconds", "messages/s"], rows)
        + f"\n\nMedian: as shipped **{statistics.median(gated):,.0f}** messages/s, with the look-up off "
        f"{statistics.median(ungated):,.0f}: the look-up costs {cost:.0%} here. 1-minute load average at the "
        f"end: {os.getloadavg()[0]:.1f}. Host speed probe (smaller is faster): {min(speeds):.0f}-{max(speeds):.0f} ms. "
        f"Row counts after every import: {counts[0]} — "
        + ("identical across runs." if same else f"DIFFERENT: {counts}.")
        + "\n\nThe slice size comes from interleaved runs on 2026-12-05 (as shipped, medians of 3 at each): "
        "200 events per `publish_many` (a Slack day file's worth, the size before) 14.7k messages/s, 1,000 "
        "17.6k, 2,000 17.8k. The look-up's reads are cheap (549 reads, ~0.2 s in all, in a profiled run of "
        "the 200-event slices); on SQLite each waits behind the recorder's writes on the one connection, "
        "so fewer, larger slices cost less. Members who only react get a `users` row too (Discord), so the "
        "users count is above the posters'." + "\n\nReproduce: `python -m benchmarks.discord_import_speed`."
    )
    write_section("discord-import", "History import speed (Discord export into SQLite)", body)
    print(body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.members, args.runs))

"""How fast ``guildhall run`` shows the console prompt, and what seeding the demo costs.

Spawns the real ``guildhall run`` (console adapter, fresh data directory) and times the moment its
banner line appears on stdout, with no brains and with every installed brain; then times a second
start on the same data (demo already seeded). Also times ``seed_demo`` in-process, through the bus
and the recorder, with no brains.

Run: ``python -m benchmarks.console_startup [--runs 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import markdown_table, write_section

BANNER = "Guildhall console:"


def _installed_brains() -> list[str]:
    from bot.app import BRAINS, load_brain_class

    found = []
    for name in BRAINS:
        try:
            load_brain_class(name)
        except ImportError:
            continue
        found.append(name)
    return found


def time_to_banner(data_dir: Path, brains: list[str]) -> float:
    """Seconds from spawning ``guildhall run`` to its banner line; the process is then told /quit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUILDHALL_", "DISCORD_", "SLACK_"))}
    env.update(
        GUILDHALL_STORE__URL=f"sqlite:///{data_dir}/guildhall.db",
        GUILDHALL_DATA_DIR=str(data_dir),
        GUILDHALL_VECTORS__PATH=str(data_dir / "chroma"),
        GUILDHALL_BRAINS=json.dumps(brains),
        GUILDHALL_LOG_LEVEL="WARNING",
    )
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=data_dir,
    )
    assert proc.stdout is not None and proc.stdin is not None
    elapsed = float("nan")
    for line in proc.stdout:
        if line.startswith(BANNER):
            elapsed = time.perf_counter() - start
            break
    proc.stdin.write("/quit\n")
    proc.stdin.close()
    proc.stdout.read()
    if proc.wait(timeout=300) != 0:
        raise RuntimeError(f"guildhall run exited with {proc.returncode}")
    return elapsed


async def time_seed() -> tuple[float, int]:
    """Seconds to publish the demo and have the recorder store it; and the message count."""
    from adapters.console.demo import seed_demo
    from bot.app import build_app
    from bot.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=tmp, store={"url": f"sqlite:///{tmp}/g.db"}, brains=[])  # type: ignore[arg-type]
        app = await build_app(settings)
        await app.start()
        start = time.perf_counter()
        report = await seed_demo(app)
        await app.bus.drain()
        elapsed = time.perf_counter() - start
        await app.stop()
    return elapsed, report.messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    brains = _installed_brains()
    rows: list[list[object]] = []
    for label, names in (("none", []), (",".join(brains) or "none", brains)):
        first, later = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                first.append(time_to_banner(Path(tmp), names))
                later.append(time_to_banner(Path(tmp), names))
        rows.append([label, "first start (seeds the demo)", statistics.median(first), max(first)])
        rows.append([label, "later start (already seeded)", statistics.median(later), max(later)])
        if not brains:
            break
    seeds = [asyncio.run(time_seed()) for _ in range(args.runs)]
    messages = seeds[0][1]
    body = (
        f"`guildhall run` on the console adapter, fresh SQLite store, {args.runs} runs each; seconds from "
        "spawning the process to the banner line (the prompt). A first start publishes the demo history "
        "before the prompt; the recorder stores it in the background (the in-process figure below). No model "
        "is loaded before the prompt: brains create their embedder and LLM on first use.\n\n"
        + markdown_table(["brains", "start", "median s", "max s"], rows)
        + f"\n\nSeeding the demo community in-process ({messages} messages and their reactions through the "
        f"bus into the store, no brains): median {statistics.median(s[0] for s in seeds):.3f} s."
    )
    print(body)
    write_section("console_startup", "Console start-up (`guildhall run`)", body)


if __name__ == "__main__":
    main()

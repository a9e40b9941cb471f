"""How fast ``guildhall run`` shows the console prompt, and what seeding the demo costs.

Spawns the real ``guildhall run`` (console adapter, fresh data directory) and times the moment its
banner line appears on stdout, with no brains and with every installed brain; then times a second
start on the same data (demo already seeded). With every brain it also times the "Index ready" and
"Ready" notices (the index built, the models loaded in the background). Also times ``seed_demo`` in-process, through the bus
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


# What the console prints as it gets ready (bot/run_cli.py prepare_qa), with the QA brain loaded.
INDEX_READY = "Index ready"
READY = "Ready"


def time_to_lines(data_dir: Path, brains: list[str], *, wait_ready: bool = False) -> dict[str, float]:
    """Seconds from spawning ``guildhall run`` to its banner line, and with ``wait_ready`` to the
    "Index ready" and "Ready" notices (a first start prints both, a later one "Ready" only: it loads
    the stored index); the process is then told /quit. A notice that never came is NaN."""
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
    seen = {"banner": float("nan"), INDEX_READY: float("nan"), READY: float("nan")}
    for line in proc.stdout:
        now = time.perf_counter() - start
        if line.startswith(BANNER):
            seen["banner"] = now
            if not wait_ready:
                break
        elif line.startswith(INDEX_READY):
            seen[INDEX_READY] = now
        elif line.startswith(READY) or line.startswith("The language model did not load"):
            seen[READY] = now
            break
    proc.stdin.write("/quit\n")
    proc.stdin.close()
    proc.stdout.read()
    if proc.wait(timeout=300) != 0:
        raise RuntimeError(f"guildhall run exited with {proc.returncode}")
    return seen


def time_to_banner(data_dir: Path, brains: list[str]) -> float:
    """Seconds from spawning ``guildhall run`` to its banner line."""
    return time_to_lines(data_dir, brains)["banner"]


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


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ready-runs", type=int, default=3, help="runs timed to the Ready notice (slow)")
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
    ready_rows: list[list[object]] = []
    if "qa" in brains:
        firsts, laters = [], []
        for _ in range(args.ready_runs):
            with tempfile.TemporaryDirectory() as tmp:
                firsts.append(time_to_lines(Path(tmp), brains, wait_ready=True))
                laters.append(time_to_lines(Path(tmp), brains, wait_ready=True))
        for label, runs in (("first start", firsts), ("later start", laters)):
            for key in (INDEX_READY, READY):
                values = [r[key] for r in runs if r[key] == r[key]]  # NaN: the notice never came
                if values:
                    ready_rows.append([label, f'"{key}"', _median(values), max(values), len(values)])
    seeds = [asyncio.run(time_seed()) for _ in range(args.runs)]
    messages = seeds[0][1]
    body = (
        f"`guildhall run` on the console adapter, fresh SQLite store, {args.runs} runs each; seconds from "
        "spawning the process to the banner line (the prompt). A first start publishes the demo history "
        "before the prompt; the recorder stores it in the background (the in-process figure below). The "
        "index and the models are prepared in the background after the prompt (below).\n\n"
        + markdown_table(["brains", "start", "median s", "max s"], rows)
    )
    if ready_rows:
        body += (
            f"\n\nWith every brain, {args.ready_runs} runs: seconds from spawning the process to the console's "
            'notices. A first start indexes the demo history and the project docs ("Index ready") and then '
            'loads the bundled language model ("Ready: questions are answered now", `llm.warmup = true`, the '
            'default); a later start loads the stored index and the models ("Ready"). A question asked '
            "before waits for them.\n\n" + markdown_table(["start", "notice", "median s", "max s", "runs"], ready_rows)
        )
    body += (
        f"\n\nSeeding the demo community in-process ({messages} messages and their reactions through the "
        f"bus into the store, no brains): median {statistics.median(s[0] for s in seeds):.3f} s."
    )
    print(body)
    write_section("console_startup", "Console start-up (`guildhall run`)", body)


if __name__ == "__main__":
    main()

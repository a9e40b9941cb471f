"""Write benchmark results into ``docs/benchmarks.md``, one marked section per benchmark.

Each benchmark owns a section delimited by ``<!-- BEGIN name -->`` / ``<!-- END name -->``;
re-running it replaces only its section, so results of different benchmarks coexist.
"""

from __future__ import annotations

import fcntl
import os
import platform
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Every figure here is written by a script in `benchmarks/` (`make bench` runs them all); each\n"
    "section names the machine it ran on. Re-running a benchmark replaces its own section.\n"
)


def machine_description() -> str:
    """One line naming the machine: CPU model, cores, memory, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    gpu = ""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=5
        )
        if out.returncode == 0 and out.stdout.strip():
            gpu = f", GPU: {out.stdout.strip().splitlines()[0]}"
    except (OSError, subprocess.SubprocessError):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM{gpu}, Python {platform.python_version()}"


def write_section(name: str, title: str, body: str, *, path: Path = REPORT) -> None:
    """Replace (or append) the section ``name`` with ``body`` under a ``## title`` heading."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"<!-- BEGIN {name} -->\n## {title}\n\n"
        f"_Machine: {machine_description()}. Run: {stamp}._\n\n{body.strip()}\n<!-- END {name} -->\n"
    )
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = path.read_text(encoding="utf-8") if path.exists() else HEADER
        begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
        if begin in text and end in text:
            head, _, rest = text.partition(begin)
            _, _, tail = rest.partition(end)
            text = head + block.rstrip("\n") + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block
        path.write_text(text, encoding="utf-8")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table."""

    def fmt(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def host_speed_ms(repeats: int = 5) -> float:
    """Milliseconds a fixed pure-Python workload takes (best of ``repeats``).

    The shared 2-core hosts here run the same code up to ~1.7x slower at some hours than at others;
    printing this next to a throughput lets two runs be compared (smaller is a faster host).
    """
    import json
    import time

    doc = [{"ts": f"{1_700_000_000 + i}.000100", "text": "how do I fix this ImportError " * 3} for i in range(20_000)]
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for item in json.loads(json.dumps(doc)):
            item["text"].lower().split()
        best = min(best, time.perf_counter() - started)
    return best * 1000

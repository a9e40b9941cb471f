"""Run every benchmark in turn (``make bench``); each writes its own section of docs/benchmarks.md.

Benchmarks that need something absent (the shared evaluation data, Redis/PostgreSQL, a GPU) say so
and are skipped; a failing benchmark is reported and the rest still run.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

# Cheap and self-contained first, the long real-data evaluations last.
BENCHMARKS: list[tuple[str, list[str]]] = [
    ("benchmarks.redaction", []),
    ("benchmarks.import_speed", []),
    ("benchmarks.discord_import_speed", []),
    ("benchmarks.slack_id_migration", []),
    ("benchmarks.console_startup", []),
    ("benchmarks.slack_adapter", []),
    ("benchmarks.activity", []),
    ("benchmarks.redis_bus", []),
    ("benchmarks.llm_serving", []),
    ("benchmarks.digest_scale", []),
    ("benchmarks.qa_answer_latency", []),
    ("benchmarks.qa_retrieval", []),
    ("benchmarks.qa_closest", []),
    ("benchmarks.qa_grounding", []),
    ("benchmarks.qa_tuning", []),
    ("benchmarks.recommend_eval", []),
    ("benchmarks.community_eval", []),
]


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default); returns the number that failed."""
    wanted = set(argv)
    failed = 0
    for module, args in BENCHMARKS:
        short = module.rsplit(".", 1)[1]
        if wanted and short not in wanted:
            continue
        if importlib.util.find_spec(module) is None:
            continue
        print(f"== {short}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", module, *args])
        print(f"== {short}: exit {code} in {time.perf_counter() - started:.0f} s", flush=True)
        failed += code != 0
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

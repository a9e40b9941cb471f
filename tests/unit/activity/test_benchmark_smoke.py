"""The activity benchmark's own code paths on a tiny input: a schema change that breaks its
synthetic inserts or its ingest loop fails here, not months later in `make bench`."""

from __future__ import annotations

from benchmarks.activity import bench_ingest, bench_leaderboard


async def test_the_leaderboard_and_ingest_benchmarks_run_on_a_tiny_input() -> None:
    rows = await bench_leaderboard(3000, runs=1)
    assert rows[0][0] == "rollup table (leaderboard())" and rows[0][1] == 3000
    rates = await bench_ingest(400, batch=100, runs=1)
    assert len(rates) == 1 and rates[0] > 0

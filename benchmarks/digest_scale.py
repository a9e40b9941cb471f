"""The daily digest at community scale: one Monday digest tick over a synthetic community.

    nice python -m benchmarks.digest_scale [--members 200,1000] [--fake-embedder] [--no-write]

For each size a fresh process builds a community from a fixed seed in a temporary SQLite store:
N members, N/50 topic channels (at least 6) plus an introductions channel, 1.5 threads per member
over the last 45 days with distinct opening texts composed from per-topic vocabularies, replies
and reactions by members who favour the channel, and one introduction post per member (so every
member is known; most members are lurkers with nothing else). History arrives as an import
(``EventSource.IMPORT``), as when the bot joins an existing community: the recorder stores it and
the recommender learns from it through its snapshot. Every member has the digest on (the
workspace default) at 09:00 in the community's zone; the tick runs at 09:05 on Monday 2026-01-05,
so channel suggestions run too. The app is the real one (``build_app`` with the recommend brain)
and the real bundled MiniLM embedder, without a QA index: every thread text the tick needs is
embedded on the spot (the worst case; with the QA brain the index's vectors are reused).

Measured per size: wall and CPU time of the tick (``send_due_digests`` plus draining the DMs off
the bus), DMs produced, members/s, texts embedded, the longest event-loop stall (a 10 ms ticker
task's lateness: what a gateway heartbeat would suffer) and peak RSS (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.report import host_speed_ms, markdown_table, write_section
from bot.app import build_app
from bot.brain import Services
from bot.clock import FakeClock
from bot.config import LLMSettings, Settings, StoreSettings, VectorSettings
from bot.events import (
    ChannelRef,
    EventSource,
    MessagePosted,
    Platform,
    ReactionAdded,
    SendDirectMessage,
    UserRef,
    Visibility,
)
from bot.ml import Embedder, Vector
from bot.testing import FakeAdapter, HashEmbedder, ScriptedLLM
from brain.recommend.brain import RecommendBrain
from prompts import load_prompt

SEED = 20260105
# Monday 09:05 UTC: every member's 09:00 digest is due, and Monday's digest suggests channels.
TICK_AT = datetime(2026, 1, 5, 9, 5, tzinfo=UTC)
HISTORY_DAYS = 45
THREADS_PER_MEMBER = 1.5
TICKER_S = 0.010
# The Monday digest's channel-suggestion header (prompts/recommend_weekly_channels): counted to show
# that the Monday path ran.
CHANNELS_HEADER = load_prompt("recommend_weekly_channels").strip()

# Topic vocabularies: (subjects, problems, details). Openings combine them with templates, so
# neighbouring threads of one channel share words without being the same text.
TOPICS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "python": (
        ["asyncio", "pytest fixtures", "a dataclass", "the typing module", "pip", "a virtualenv", "poetry", "mypy"],
        [
            "raises RuntimeError: event loop is closed",
            "hangs on shutdown",
            "is twice as slow as expected",
            "cannot find my package",
            "reports an incompatible type",
            "leaks file descriptors",
        ],
        ["on Python 3.11", "inside Docker", "only in CI", "after upgrading to 3.12", "on Windows", "under gunicorn"],
    ),
    "databases": (
        [
            "PostgreSQL",
            "a SQLite WAL file",
            "an index on created_at",
            "a migration with Alembic",
            "pgbouncer",
            "a JSONB column",
            "the query planner",
        ],
        [
            "locks the whole table",
            "returns duplicate rows",
            "ignores my index",
            "times out after 30 seconds",
            "grows without bound",
            "deadlocks under load",
        ],
        [
            "with 40M rows",
            "on a read replica",
            "during the nightly batch",
            "behind a connection pool",
            "after VACUUM FULL",
            "in a transaction",
        ],
    ),
    "devops": (
        [
            "my Kubernetes deployment",
            "a Helm chart",
            "Terraform state",
            "the nginx ingress",
            "a GitHub Actions runner",
            "Prometheus alerts",
            "a systemd unit",
        ],
        [
            "keeps restarting with OOMKilled",
            "drifts from what is deployed",
            "returns 502 intermittently",
            "runs out of disk",
            "never fires",
            "fails the health check",
        ],
        [
            "on EKS",
            "in the staging cluster",
            "after a node upgrade",
            "behind Cloudflare",
            "with spot instances",
            "only at night",
        ],
    ),
    "frontend": (
        [
            "a React hook",
            "the Next.js router",
            "CSS grid",
            "a Vite build",
            "TypeScript generics",
            "a web worker",
            "Tailwind",
        ],
        [
            "re-renders on every keystroke",
            "breaks hydration",
            "doubles the bundle size",
            "loses state on navigation",
            "shows a blank page",
            "cannot infer the type",
        ],
        [
            "in Safari only",
            "on mobile",
            "in production builds",
            "with server components",
            "after the v5 upgrade",
            "with strict mode on",
        ],
    ),
    "rust": (
        [
            "the borrow checker",
            "a tokio task",
            "serde",
            "a trait object",
            "cargo workspaces",
            "lifetimes in a struct",
            "an Arc<Mutex<_>>",
        ],
        [
            "rejects a mutable borrow",
            "blocks the runtime",
            "fails to deserialize an enum",
            "is not Send",
            "rebuilds everything",
            "needs a 'static bound",
        ],
        ["in an async fn", "across crates", "with generics", "in a loop", "behind a feature flag", "on nightly"],
    ),
    "ml": (
        [
            "a PyTorch DataLoader",
            "sentence embeddings",
            "a fine-tuned BERT",
            "the learning rate schedule",
            "ONNX export",
            "a scikit-learn pipeline",
            "CUDA memory",
        ],
        [
            "overfits after two epochs",
            "gives NaN loss",
            "is slower on GPU than CPU",
            "does not reproduce",
            "runs out of memory",
            "predicts one class only",
        ],
        [
            "with mixed precision",
            "on a small dataset",
            "with 8 workers",
            "on an A100",
            "after quantization",
            "with class imbalance",
        ],
    ),
    "security": (
        [
            "OAuth refresh tokens",
            "a CSP header",
            "JWT validation",
            "secrets in the repo",
            "TLS certificates",
            "a SAML login",
            "rate limiting",
        ],
        [
            "expire too early",
            "blocks inline scripts",
            "accepts unsigned tokens",
            "leaked in the logs",
            "fail to renew",
            "loops back to the login page",
        ],
        [
            "with Keycloak",
            "behind a proxy",
            "for the mobile app",
            "after rotating keys",
            "with Let's Encrypt",
            "in multi-tenant setups",
        ],
    ),
    "career": (
        [
            "a first code review",
            "on-call rotations",
            "a take-home exercise",
            "moving to staff engineer",
            "technical interviews",
            "writing design docs",
        ],
        [
            "feels overwhelming",
            "takes all my evenings",
            "gets no feedback",
            "is unclear to my manager",
            "keeps getting postponed",
            "turned into a debate",
        ],
        [
            "at a startup",
            "in a remote team",
            "as the only backend dev",
            "after a reorg",
            "in my first year",
            "with a new lead",
        ],
    ),
}
TEMPLATES = (
    "How do I stop {s} when it {p} {d}?",
    "Has anyone seen {s} that {p} {d}? I tried the usual fixes.",
    "{s} {p} {d} - what should I check first?",
    "Question about {s}: it {p} {d}. Any pointers?",
    "Weird one: {s} {p}, but only {d}. Ideas welcome.",
    "Best practice for {s}? Ours {p} {d} and I am out of ideas.",
    "Is it normal that {s} {p} {d}? Logs attached in the thread.",
)
EXTRAS = (
    "",
    " We are on the latest release.",
    " Minimal repro below.",
    " It started last week.",
    " Happens roughly one run in ten.",
    " The docs do not mention this case.",
    " Rolling back fixed it, but I want to understand why.",
)
REPLIES = (
    "Did you check {s} {d}? That bit me once.",
    "I had the same thing {d}; pinning the version fixed it.",
    "Can you share the full traceback?",
    "Try turning {s} off and see if it still {p}.",
    "This is a known issue, there is an open ticket about it.",
    "We solved it by splitting the job in two.",
    "Thanks, that worked!",
    "Which version are you on?",
)
EMOJI = ("+1", "eyes", "white_check_mark", "tada", "thinking_face", "heart")


@dataclass(frozen=True)
class Result:
    """The figures of one tick."""

    members: int
    channels: int
    threads: int
    messages: int
    reactions: int
    embedder: str
    setup_s: float
    tick_s: float
    tick_cpu_s: float
    dms: int
    dms_with_channels: int
    texts_embedded: int
    max_stall_ms: float
    stalls_over_100ms: int
    rss_before_mib: float
    peak_rss_mib: float


class CountingEmbedder:
    """An :class:`bot.ml.Embedder` that counts the texts it embeds (the tick's embedding work)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts = 0

    @property
    def dim(self) -> int:
        """The wrapped embedder's vector size."""
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed with the wrapped embedder, counting the texts."""
        self.texts += len(texts)
        return self.inner.embed(texts)


def community(members: int, seed: int = SEED) -> tuple[list[MessagePosted | ReactionAdded], int, int]:
    """The synthetic history, in time order: (events, channels, threads)."""
    rng = random.Random(seed)
    topics = list(TOPICS)
    n_channels = max(6, members // 50)
    channels = [
        ChannelRef(
            Platform.CONSOLE, "local", f"C{i:03d}", f"{topics[i % len(topics)]}-{i // len(topics)}", Visibility.PUBLIC
        )
        for i in range(n_channels)
    ]
    intro = ChannelRef(Platform.CONSOLE, "local", "CINTRO", "introductions", Visibility.PUBLIC)
    users = [UserRef(Platform.CONSOLE, "local", f"U{i:05d}", f"member{i}") for i in range(members)]
    # Heavy-tailed activity: a few members write most threads and replies, most only lurk.
    activity = [1.0 / (i + 1) ** 0.9 for i in range(members)]
    rng.shuffle(activity)
    favourites = [rng.sample(range(n_channels), k=rng.randint(1, 3)) for _ in users]
    by_channel: list[list[int]] = [[] for _ in channels]
    for m, favs in enumerate(favourites):
        for c in favs:
            by_channel[c].append(m)
    start = TICK_AT - timedelta(days=HISTORY_DAYS)
    span_s = (TICK_AT - timedelta(hours=1) - start).total_seconds()
    events: list[tuple[datetime, int, MessagePosted | ReactionAdded]] = []
    order = 0

    def add(ts: datetime, event: MessagePosted | ReactionAdded) -> None:
        nonlocal order
        events.append((ts, order, event))
        order += 1

    for m, u in enumerate(users):
        ts = start + timedelta(seconds=rng.random() * span_s)
        text = f"Hi all, I am {u.name}, working on {rng.choice(topics)} things in team {rng.randrange(1000)}."
        add(ts, MessagePosted(intro, u, f"intro{m}", text, ts, source=EventSource.IMPORT))
    seen: set[str] = set()
    n_threads = int(members * THREADS_PER_MEMBER)
    for n in range(n_threads):
        c = rng.randrange(n_channels)
        # Mostly the channel's own topic, sometimes another (a python question in #devops).
        topic = topics[c % len(topics)] if rng.random() < 0.8 else rng.choice(topics)
        subjects, problems, details = TOPICS[topic]
        s, p, d = rng.choice(subjects), rng.choice(problems), rng.choice(details)
        text = rng.choice(TEMPLATES).format(s=s, p=p, d=d) + rng.choice(EXTRAS)
        text = text[0].upper() + text[1:]
        while text in seen:  # distinct openings: repeat a combination only with a new detail
            text += f" (build {rng.randrange(10_000)})"
        seen.add(text)
        pool = by_channel[c] or list(range(members))
        weights = [activity[i] for i in pool]
        author = users[rng.choices(pool, weights)[0]]
        ts = start + timedelta(seconds=rng.random() * span_s)
        root = f"t{n}"
        add(ts, MessagePosted(channels[c], author, root, text, ts, thread_id=root, source=EventSource.IMPORT))
        posts = [(root, author)]
        for r in range(min(12, int(rng.expovariate(1 / 2.5)))):
            ts += timedelta(minutes=rng.expovariate(1 / 40))
            replier = users[rng.choices(pool, weights)[0]]
            reply = rng.choice(REPLIES).format(s=s, p=p, d=d)
            mid = f"t{n}r{r}"
            add(ts, MessagePosted(channels[c], replier, mid, reply, ts, thread_id=root, source=EventSource.IMPORT))
            posts.append((mid, replier))
        for _ in range(int(rng.expovariate(1 / 1.5))):
            mid, target = rng.choice(posts)
            reactor = users[rng.choices(pool, weights)[0]]
            rts = ts + timedelta(minutes=rng.random() * 120)
            add(
                rts,
                ReactionAdded(
                    channels[c], mid, reactor, rng.choice(EMOJI), rts, target.user_id, source=EventSource.IMPORT
                ),
            )
    events.sort(key=lambda e: (e[0], e[1]))
    return [e for ts, _, e in events if ts < TICK_AT], n_channels + 1, n_threads


def _rss_mib() -> float:
    """The process's resident memory now (``/proc/self/statm``), MiB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


async def _ticker(stalls: list[float]) -> None:
    """Sleep 10 ms at a time and record how late each wake-up was: the event loop's stalls."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + TICKER_S
        await asyncio.sleep(TICKER_S)
        stalls.append(loop.time() - due)


async def run_one(members: int, *, fake_embedder: bool) -> Result:
    """Build the community of ``members`` and time one Monday digest tick over it."""
    t0 = time.perf_counter()
    if fake_embedder:
        inner: Embedder = HashEmbedder()
    else:
        from brain.qa.embedder import SentenceTransformerEmbedder

        inner = SentenceTransformerEmbedder()
        inner.embed(["warm up the model"])  # the first batch pays for lazy initialisation
    embedder = CountingEmbedder(inner)
    events, n_channels, n_threads = community(members)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=tmp,
            store=StoreSettings(url=f"sqlite:///{tmp}/digest.db"),
            vectors=VectorSettings(path=f"{tmp}/chroma"),
            llm=LLMSettings(backend="scripted", warmup=False),
            # The recommend brain alone (no QA index, see the docstring): the settings' check that
            # it comes with the qa brain is for deployments, so the brain list is build_app's.
            brains=[],
        )
        services = Services()
        services.register("embedder", embedder)
        services.register("llm", ScriptedLLM())
        app = await build_app(settings, services=services, brains=["recommend"], clock=FakeClock(TICK_AT))
        adapter = FakeAdapter()
        app.add_adapter(adapter)
        await app.start()
        try:
            for event in events:
                await adapter.inject(event)
            await app.bus.drain()
            await app.store.set_workspace_setting("console", "local", "digest_default_on", True)
            brain = app.brain("recommend")
            assert isinstance(brain, RecommendBrain)
            setup_s = time.perf_counter() - t0
            embedder.texts = 0
            rss_before = _rss_mib()
            stalls: list[float] = []
            ticker = asyncio.create_task(_ticker(stalls), name="bench-ticker")
            await asyncio.sleep(0)
            wall, cpu = time.perf_counter(), time.process_time()
            sent = await brain.send_due_digests()
            await app.bus.drain()
            tick_s, tick_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            texts = [a.text for a in adapter.of_type(SendDirectMessage) if isinstance(a, SendDirectMessage)]
            dms = len(texts)
            with_channels = sum(CHANNELS_HEADER in t for t in texts)
            if dms != sent:
                raise RuntimeError(f"{sent} digests counted as sent but {dms} DMs reached the adapter")
        finally:
            await app.stop()
    return Result(
        members=members,
        channels=n_channels,
        threads=n_threads,
        messages=sum(isinstance(e, MessagePosted) for e in events),
        reactions=sum(isinstance(e, ReactionAdded) for e in events),
        embedder="HashEmbedder (fake)" if fake_embedder else "MiniLM-L6-v2 (bundled)",
        setup_s=setup_s,
        tick_s=tick_s,
        tick_cpu_s=tick_cpu_s,
        dms=dms,
        dms_with_channels=with_channels,
        texts_embedded=embedder.texts,
        max_stall_ms=max(stalls, default=0.0) * 1000,
        stalls_over_100ms=sum(s > 0.1 for s in stalls),
        rss_before_mib=rss_before,
        # ru_maxrss is KiB on Linux: the peak of this process, which ran only this size.
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def _child(members: int, fake_embedder: bool) -> Result:
    """Run one size in a fresh interpreter, so its peak RSS and caches are its own."""
    cmd = [sys.executable, "-m", "benchmarks.digest_scale", "--one", str(members)]
    if fake_embedder:
        cmd.append("--fake-embedder")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:  # its traceback went to stderr already
        sys.exit(f"digest_scale: the {members}-member run failed (exit {proc.returncode})")
    out = proc.stdout
    return Result(**json.loads(out.strip().splitlines()[-1]))


def _report(results: list[Result], probe_ms: float) -> str:
    rows: list[list[Any]] = [
        [
            f"{r.members:,}",
            f"{r.channels} / {r.threads:,} / {r.messages:,} / {r.reactions:,}",
            r.embedder,
            f"{r.tick_s:.1f}",
            f"{r.tick_cpu_s:.1f}",
            f"{r.dms:,} ({r.dms_with_channels:,})",
            f"{r.members / r.tick_s:.1f}",
            f"{r.texts_embedded:,}",
            f"{r.max_stall_ms:.0f}",
            r.stalls_over_100ms,
            f"{r.rss_before_mib:.0f} / {r.peak_rss_mib:.0f}",
        ]
        for r in results
    ]
    table = markdown_table(
        [
            "members",
            "channels / threads / messages / reactions",
            "embedder",
            "tick s",
            "tick CPU s",
            "DMs (with channel suggestions)",
            "members/s",
            "texts embedded",
            "longest loop stall ms",
            "stalls > 100 ms",
            "RSS before tick / peak MiB",
        ],
        rows,
    )
    return (
        "`python -m benchmarks.digest_scale` (seed "
        f"{SEED}): one Monday digest tick (`RecommendBrain.send_due_digests` and the DMs drained off the "
        "in-process bus) over a synthetic community in a temporary SQLite store; every member has the digest "
        "on at 09:00 in the community's zone and the tick runs at 09:05, so all of them are due at once and "
        "the Monday channel suggestions run too. The community: N/50 topic channels (at least 6) plus "
        f"#introductions, {THREADS_PER_MEMBER} threads per member over {HISTORY_DAYS} days with distinct "
        "openings composed from per-topic vocabularies, 0-12 replies and a few reactions each from members "
        "who favour the channel (heavy-tailed activity), one introduction per member; imported history "
        "(the recommender learns it from its snapshot). The app is `build_app` with the recommend brain and "
        "no QA index, so each thread text the tick needs is embedded on the spot (with the QA brain its "
        "index's vectors are reused). Each size runs in its own process; the tick's CPU time counts all "
        "threads. A 10 ms ticker task measures the event loop's stalls (its lateness). "
        f"Host speed probe (`benchmarks.report.host_speed_ms`, smaller is faster): {probe_ms:.0f} ms.\n\n" + table
    )


def main(argv: list[str]) -> None:
    """Parse arguments, run each size in a fresh process, write the section."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", default="200,1000", help="comma-separated community sizes")
    parser.add_argument("--fake-embedder", action="store_true", help="HashEmbedder instead of MiniLM (quick run)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one size, JSON on stdout
    args = parser.parse_args(argv)
    if args.one is not None:
        result = asyncio.run(run_one(args.one, fake_embedder=args.fake_embedder))
        print(json.dumps(asdict(result)), flush=True)
        return
    try:
        sizes = [int(s) for s in args.members.split(",") if s.strip()]
    except ValueError:
        sys.exit(f"--members: expected comma-separated integers, got {args.members!r}")
    if not sizes or min(sizes) < 1:
        sys.exit("--members: every size must be at least 1")
    probe = host_speed_ms()
    results = []
    for n in sizes:
        r = _child(n, args.fake_embedder)
        print(
            f"{n} members: tick {r.tick_s:.1f} s (CPU {r.tick_cpu_s:.1f} s), {r.dms} DMs, "
            f"{r.texts_embedded} texts embedded, longest stall {r.max_stall_ms:.0f} ms, peak RSS {r.peak_rss_mib:.0f} MiB",
            flush=True,
        )
        results.append(r)
    body = _report(results, probe)
    print(body)
    # A quick run with the fake embedder is not the figure the section stands for.
    if not args.no_write and not args.fake_embedder:
        write_section("digest_scale", "Daily digest at community scale (recommend brain)", body)


if __name__ == "__main__":
    main(sys.argv[1:])

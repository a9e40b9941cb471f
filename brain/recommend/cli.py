"""``guildhall recommend`` (one member's list) and ``guildhall eval recommend`` (offline evaluation)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli_support import emit, find_member, run, settings_or_exit
from bot.clock import FakeClock
from bot.config import Settings
from bot.message_ids import native_id
from bot.store.db import Executor
from brain.recommend.brain import WEIGHTS_KEY, WEIGHTS_UNTIL_KEY, RecommendBrain

ConfigOpt = Annotated[str | None, typer.Option("--config", help="Path to guildhall.toml")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
KOpt = Annotated[int, typer.Option("--k", min=1, max=100, help="How many items")]


def parse_time(value: str, param: str) -> datetime:
    """An ISO-8601 time (UTC when no offset is given)."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO time: {value!r}", param_hint=param) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@asynccontextmanager
async def recommend_brain(settings: Settings, now: datetime | None) -> AsyncIterator[RecommendBrain]:
    """A recommender on the configured store, its clock frozen at ``now`` (default: the present)."""
    from bot.app import build_app
    from brain.qa.services import register_services

    app = await build_app(settings, brains=["recommend"], with_core=False, clock=FakeClock(now or datetime.now(UTC)))
    register_services(app.ctx)  # the QA brain's embedder and unit index (vectors reused, not recomputed)
    brain = app.brain("recommend")
    assert isinstance(brain, RecommendBrain)
    await brain.setup()
    try:
        yield brain
    finally:
        await brain.teardown()
        await app.store.close()


async def _scope(db: Executor, platform: str | None, workspace: str) -> tuple[str, str]:
    """``(platform, workspace)`` for ``--workspace`` (the platform looked up when not given)."""
    if platform:
        return platform, workspace
    rows = await db.fetchall(
        "SELECT platform FROM workspaces WHERE workspace_id = ? UNION SELECT platform FROM channels "
        "WHERE workspace_id = ? ORDER BY platform",
        (workspace, workspace),
    )
    if not rows:
        raise typer.BadParameter(f"unknown workspace {workspace!r}", param_hint="--workspace")
    if len(rows) > 1:  # never picked silently, as with a member id
        platforms = ", ".join(str(r[0]) for r in rows)
        raise typer.BadParameter(f"{workspace!r} exists on {platforms}: add --platform", param_hint="--workspace")
    return str(rows[0][0]), workspace


def recommend_command(
    user: Annotated[str, typer.Option("--user", help="Member id or name")],
    k: KOpt = 10,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO time: rank as of then, using only earlier data")
    ] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    platform: Annotated[
        str | None, typer.Option(help="discord, slack or console (with --workspace, for a member of several)")
    ] = None,
    workspace: Annotated[str | None, typer.Option(help="Guild / team id of the member")] = None,
) -> None:
    """Ranked thread recommendations for one member, with scores and reasons."""
    settings = settings_or_exit(config)
    when = parse_time(as_of, "--as-of") if as_of else None
    if platform and not workspace:
        raise typer.BadParameter("give the guild / team id too", param_hint="--workspace")

    async def main() -> list[dict[str, Any]]:
        async with recommend_brain(settings, when) as brain:
            scope = await _scope(brain.ctx.store.db, platform, workspace) if workspace else None
            member = await find_member(
                brain.ctx.store.db,
                user,
                option="--user",
                workspace=scope,
                pick_workspace="name one with --workspace ID (and --platform)",
            )
            # An admin looking is not the member being shown: no recommend_shown rows (they would
            # count as impressions and joins, and appear in the member's privacy export).
            recs = await brain.recommend(member, k=k, as_of=when is not None, record=False)
            # Thread ids as the platform writes them (with channel_id, a Slack thread's identity).
            return [{**asdict(r), "thread_id": native_id(member.platform, r.thread_id)} for r in recs]

    items = run(main)
    emit(
        items,
        as_json,
        lambda: (
            "\n".join(
                f"{n:>2}. {r['thread_id']}  {r['score']:+.3f}  #{r['channel_name']}: {r['title']}\n      {r['why']}"
                for n, r in enumerate(items, start=1)
            )
            or "no recommendations"
        ),
    )


def eval_recommend_command(
    split: Annotated[str | None, typer.Option("--split", help="ISO time: train before, test after")] = None,
    split_frac: Annotated[
        float | None, typer.Option("--split-frac", min=0.05, max=0.95, help="Split at this share of messages")
    ] = None,
    k: KOpt = 10,
    cache: Annotated[
        Path | None, typer.Option("--cache", help="Message-vector cache (.npz); re-runs skip the encoder")
    ] = None,
    save_weights: Annotated[
        bool,
        typer.Option("--save-weights", help="Store the hybrid weights learned here as the workspaces' ranking weights"),
    ] = False,
    narrow: Annotated[
        bool,
        typer.Option(
            "--narrow",
            help="The data README's narrower reference protocol: only conversations opened after the split "
            "that end up with two or more members",
        ),
    ] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """HR@k, nDCG@k and MRR of random, popularity, recent-activity, content-only, CF-only and hybrid
    ranking, plus catalogue coverage and intra-list diversity, on the stored history."""
    from brain.recommend.content import DiskVectorCache
    from brain.recommend.evaluate import evaluate, message_vectors_needed, split_time

    if (split is None) == (split_frac is None):
        raise typer.BadParameter("give exactly one of --split or --split-frac")
    settings = settings_or_exit(config)
    when = parse_time(split, "--split") if split else None

    async def main() -> dict[str, Any]:
        async with recommend_brain(settings, None) as brain:
            messages = [m async for m in brain.ctx.store.iter_messages()]
            if not messages:
                raise typer.BadParameter("the store holds no messages: import history first")
            embedder = await brain.ctx.services.get("embedder")
            at = when.timestamp() if when else split_time(messages, split_frac or 0.7)
            from brain.qa.embedder import model_fingerprint

            encoder = await asyncio.to_thread(model_fingerprint, settings.embeddings.model) or settings.embeddings.model
            vectors = DiskVectorCache(cache or Path("/nonexistent-cache.npz"), encoder=encoder)
            if vectors.stale:
                typer.echo(f"{cache}: written with another embedding model; re-embedding", err=True)
            vecs = vectors.vectors(message_vectors_needed(messages, at), embedder, checkpoint=cache is not None)
            if cache is not None:
                vectors.save()
            results, weights = evaluate(messages, vecs, split=at, k=k, narrow=narrow)
            if save_weights:
                # Learned on the validation split inside the training period, so the test figures
                # above stay honest; the live brain reads them per workspace. With the split time,
                # the latest data they saw: an `--as-of` replay uses them only from then on.
                for p, ws in sorted({(m.platform, m.workspace_id) for m in messages}):
                    await brain.ctx.store.set_workspace_setting(p, ws, WEIGHTS_KEY, weights.weights)
                    await brain.ctx.store.set_workspace_setting(p, ws, WEIGHTS_UNTIL_KEY, at)
            return {
                "split": datetime.fromtimestamp(at, UTC).isoformat(),
                "k": k,
                "protocol": "narrow" if narrow else "readme",
                "messages": len(messages),
                "methods": [asdict(r) for r in results],
                "hybrid_weights": weights.weights,
            }

    data = run(main)
    emit(
        data,
        as_json,
        lambda: "\n".join(
            [f"split {data['split']}  k={k}  messages={data['messages']}"]
            + [
                f"{r['method']:>16}: HR@{k}={r['hit_rate']:.3f} nDCG@{k}={r['ndcg']:.3f} MRR={r['mrr']:.3f} "
                f"coverage={r['coverage']:.3f} ILD={r['diversity']:.3f} (n={r['users']})"
                for r in data["methods"]
            ]
        ),
    )


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the recommender's commands to the ``guildhall`` CLI."""
    app.command("recommend")(recommend_command)
    groups["eval"].command("recommend")(eval_recommend_command)

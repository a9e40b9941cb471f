"""``guildhall eval shadow``: replay solved threads to see whether the bot would have cited the accepted answers."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli_support import emit, run, settings_or_exit
from brain.community.shadow_eval import evaluate_shadow, solved_cases
from brain.qa.cli import ConfigOpt, JsonOpt, qa_brain

ChannelIdOpt = Annotated[str | None, typer.Option("--channel", help="Only threads of this channel (id)")]


def eval_shadow_command(
    channel: ChannelIdOpt = None,
    sample: Annotated[int, typer.Option("--sample", min=1, help="Solved threads to replay (seeded sample)")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="Sample seed")] = 7,
    sources_only: Annotated[
        bool, typer.Option("--sources-only", help="Retrieval only: skip the LLM (fast, no abstain/cite figures)")
    ] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """How often the bot's answers to solved threads' questions cite the accepted answer."""
    settings = settings_or_exit(config)

    async def main() -> dict[str, Any]:
        async with qa_brain(settings) as brain:
            store = brain.ctx.store
            cases = await solved_cases(store, channel_id=channel, sample=sample, seed=seed)
            embedder = await brain.ctx.services.get("embedder")
            llm = None if sources_only or not cases else await brain.ctx.services.get("llm")
            report = await evaluate_shadow(
                store, settings, cases, embedder=embedder, llm=llm, policy=brain.may_index_channel
            )
            return report.as_dict()

    data = run(main)
    emit(data, as_json, lambda: _shadow_text(data))


def _shadow_text(data: dict[str, Any]) -> str:
    n = data["threads"]
    if not n:
        return "no solved threads to replay (threads are marked solved by ✅ from the asker, 'Mark solved' or thanks)"
    lines = [f"replayed {n} solved threads (question removed from the history, asked as its asker):"]
    lines.append(f"  accepted answer among the sources shown: {data['sources']} ({data['sources_rate']:.0%})")
    if "cited" in data:
        lines.append(f"  answer cites the accepted answer:        {data['cited']} ({data['cited_rate']:.0%})")
        lines.append(f"  abstained:                               {data['abstained']} ({data['abstain_rate']:.0%})")
    return "\n".join(lines)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the community commands to the ``guildhall`` CLI."""
    groups["eval"].command("shadow")(eval_shadow_command)

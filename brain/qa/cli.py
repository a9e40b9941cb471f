"""``guildhall ask|search``, ``guildhall index all|docs|tune``, ``guildhall eval retrieval|feedback``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.channel_arg import ChannelArgument, channel_word
from bot.cli_support import LISTED_CANDIDATES, emit, find_member, run, settings_or_exit
from bot.config import Settings
from bot.events import ChannelRef, Platform, UserRef, Visibility
from bot.message_ids import native_id
from bot.ml import LLMBusyError, VectorIndexUnavailable
from bot.valid_text import valid_text, with_valid_text
from brain.qa.access import AccessScope, public_everywhere, scope_for
from brain.qa.brain import FEEDBACK_KIND, QABrain
from brain.qa.llm.errors import LLMUnavailableError
from brain.qa.retriever import MODES, Mode
from brain.qa.services import LLMBackendMissingError

ConfigOpt = Annotated[str | None, typer.Option("--config", help="Path to guildhall.toml")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
ChannelOpt = Annotated[
    str | None,
    typer.Option(
        "--channel",
        help="Channel id or name the question is asked in; PLATFORM:WORKSPACE:CHANNEL (slack:T1:general) "
        "picks one where several workspaces have it",
    ),
]
AsOpt = Annotated[str | None, typer.Option("--as", help="Ask as this member (user id or name): their access applies")]


@asynccontextmanager
async def qa_brain(settings: Settings) -> AsyncIterator[QABrain]:
    """A QA brain on the configured store and index, without adapters or a bus loop."""
    from bot.app import build_app

    app = await build_app(settings, brains=["qa"], with_core=False)
    brain = app.brain("qa")
    assert isinstance(brain, QABrain)
    await brain.setup()
    try:
        yield brain
    finally:
        await brain.teardown()
        await app.store.close()


def _typed_text(text: str) -> str:
    """Text from the command line as every layer takes it.

    Python keeps the bytes of an argument that are not UTF-8 (a Latin-1 terminal's "café") as
    lone surrogates, which no encoder, tokenizer or database accepts: they are read as
    Windows-1252, as docs files are. Any other lone surrogate (half an emoji) becomes U+FFFD.
    """
    if text.isascii() or valid_text(text) is text:
        return text
    from brain.qa.docs import decode_utf8_or_cp1252

    try:
        return decode_utf8_or_cp1252(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return valid_text(text)


_PLATFORMS = frozenset(p.value for p in Platform)


async def _find_channel(brain: QABrain, name_or_id: str) -> ChannelRef:
    """The channel ``--channel`` names: an id, a name (``general`` or ``#general``), a platform's
    mention (``<#C1|general>``), or one of those qualified by its place, ``PLATFORM:WORKSPACE:CHANNEL``
    (``slack:T1:general``). An id wins over a name. A name (or id) that several workspaces
    have is refused with the candidates, as ``--as`` refuses a name several members share: the
    answer's access rule is the channel's, so it is never picked by guess.
    """
    given = _typed_text(name_or_id)
    text = given.strip()
    where: tuple[str, str] | None = None
    platform, _, rest = text.partition(":")
    workspace, _, channel = rest.partition(":")
    if platform in _PLATFORMS and workspace and channel:
        where, text = (platform, workspace), channel
    argument = channel_word(text) or ChannelArgument(text.lstrip("#"), picked=False)
    key = argument.id_or_name
    # A mention is the platform's pick: an id, never a name.
    match = "channel_id = ?" if argument.picked else "(channel_id = ? OR name = ?)"
    params = [key] if argument.picked else [key, key]
    if where:
        match += " AND platform = ? AND workspace_id = ?"
        params += where
    rows = await brain.ctx.store.db.fetchall(
        "SELECT platform, workspace_id, channel_id, name, visibility, is_forum FROM channels "
        f"WHERE {match} ORDER BY platform, workspace_id, channel_id",
        params,
    )
    found = [r for r in rows if r[2] == key] or rows
    if not found:
        place = f" in {where[0]}:{where[1]}" if where else ""
        raise typer.BadParameter(f"unknown channel {given!r}{place}", param_hint="--channel")
    if len(found) > 1:
        raise typer.BadParameter(_several_channels_message(key, found), param_hint="--channel")
    row = found[0]
    return ChannelRef(Platform(row[0]), row[1], row[2], row[3], Visibility(row[4]), bool(row[5]))


def _several_channels_message(key: str, rows: Sequence[Sequence[Any]]) -> str:
    """Why ``key`` was refused, the channels it may mean, and how to name one."""
    listing = "; ".join(f"{r[0]}:{r[1]} {r[2]}" + (f" (#{r[3]})" if r[3] else "") for r in rows[:LISTED_CANDIDATES])
    if len(rows) > LISTED_CANDIDATES:
        listing += f"; and {len(rows) - LISTED_CANDIDATES} more"
    first = rows[0]
    how = f"qualify it as PLATFORM:WORKSPACE:CHANNEL (e.g. {first[0]}:{first[1]}:{key})"
    if len({r[2] for r in rows}) == len(rows) and key not in {r[2] for r in rows}:
        how = f"give its id, or {how}"  # the ids tell them apart
    return f"several channels match {key!r} ({listing}): {how}"


async def _scope(
    brain: QABrain, channel_opt: str | None, as_user: str | None
) -> tuple[AccessScope, ChannelRef | None, UserRef | None]:
    """Where and as whom: a channel gives that channel's rule; ``--as`` alone gives the member's DM view."""
    channel = await _find_channel(brain, channel_opt) if channel_opt else None
    workspace = (channel.platform.value, channel.workspace_id) if channel is not None else None
    user = (
        await find_member(
            brain.ctx.store.db,
            _typed_text(as_user),
            option="--as",
            workspace=workspace,
            pick_workspace="scope it with --channel",
        )
        if as_user
        else None
    )
    if channel is not None:
        return await scope_for(brain.ctx.store, channel, user.user_id if user else ""), channel, user
    if user is not None:
        dm = ChannelRef(user.platform, user.workspace_id, f"cli-dm-{user.user_id}", "cli", Visibility.DM)
        return await scope_for(brain.ctx.store, dm, user.user_id), dm, user
    return public_everywhere(), None, None


def ask_command(
    question: Annotated[str, typer.Argument(help="The question")],
    channel: ChannelOpt = None,
    as_user: AsOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Answer a question from the indexed history, with citations."""
    question = _typed_text(question)
    if not question.strip():
        raise typer.BadParameter("the question is empty", param_hint="QUESTION")
    settings = settings_or_exit(config)

    async def main() -> dict[str, Any]:
        async with qa_brain(settings) as brain:
            scope, _, _ = await _scope(brain, channel, as_user)
            try:
                # The live brain's path: opt-outs and channel policy applied, stale sources marked.
                answer = await brain.answer_in_scope(question, scope)
            except TimeoutError:
                return {"question": question, "error": "the model timed out"}
            except LLMBusyError:
                return {"question": question, "error": "the model is busy"}
            except LLMBackendMissingError as exc:
                return {"question": question, "error": str(exc)}
            # States of a server, not bugs: one line naming the cause, no traceback.
            except LLMUnavailableError as exc:
                return {"question": question, "error": f"the model is unavailable: {exc}"}
            except VectorIndexUnavailable as exc:
                return {"question": question, "error": f"the vector index is unreachable: {exc}"}
            return {
                "question": question,
                "answer": answer.text,
                "abstained": answer.abstained,
                "citations": [
                    {"number": c.number, "title": c.title, "url": c.url, "note": c.note} for c in answer.citations
                ],
                "cited_units": list(answer.cited_unit_ids),
                # Ids as the platform writes them (a Slack ts, not Guildhall's "<channel>:<ts>").
                "cited_message_ids": [
                    native_id(s.unit.platform, mid)
                    for s in answer.units
                    if s.unit.unit_id in answer.cited_unit_ids
                    for mid in s.unit.message_ids
                ],
                # Why it abstained (or how close it came): the model's draft and the share of its
                # sentences the grounding check found supported by the sources.
                "draft": answer.draft,
                "support": round(answer.support, 3),
            }

    data = run(main)

    def text() -> str:
        if "error" in data:
            return f"error: {data['error']}"
        lines = [str(data["answer"])]
        lines += [
            f"[{c['number']}] {c['title']} {c['url']}".rstrip() + (f" ({c['note']})" if c["note"] else "")
            for c in data["citations"]
        ]
        return "\n".join(lines)

    emit(data, as_json, text)
    if "error" in data:
        raise typer.Exit(1)


def _needs_reranker(modes: Sequence[str], settings: Any) -> None:
    if "rerank" in modes and not settings.qa.rerank_model:
        raise typer.BadParameter(
            "rerank needs a cross-encoder: set [qa] rerank_model = PATH (none ships with Guildhall)",
            param_hint="--mode",
        )


def _reranker_loaded(modes: Sequence[str], retriever: Any) -> None:
    """A configured re-ranker that did not load (logged above) cannot serve ``--mode rerank``."""
    if "rerank" in modes and retriever.reranker is None:
        raise typer.BadParameter("qa.rerank_model did not load (see the warning above)", param_hint="--mode")


def search_command(
    query: Annotated[str, typer.Argument(help="What to search for")],
    k: Annotated[int, typer.Option("--k", min=1, max=200, help="How many units")] = 10,
    mode: Annotated[str, typer.Option("--mode", help="bm25 | dense | hybrid | rerank")] = "hybrid",
    channel: ChannelOpt = None,
    as_user: AsOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Ranked retrieval units for a query (ids, message ids, scores)."""
    query = _typed_text(query)
    if mode not in MODES:
        raise typer.BadParameter(f"mode must be one of {', '.join(MODES)}", param_hint="--mode")
    settings = settings_or_exit(config)
    _needs_reranker([mode], settings)

    async def main() -> list[dict[str, Any]]:
        async with qa_brain(settings) as brain:
            scope, _, _ = await _scope(brain, channel, as_user)
            retriever = await brain.retriever()
            _reranker_loaded([mode], retriever)
            await brain.apply_policy_changes_in(scope)
            found = await retriever.search(query, scope, k=k, mode=mode)
            return [
                {
                    "rank": rank,
                    "score": round(s.score, 5),
                    "unit_id": s.unit.unit_id,
                    "kind": s.unit.kind,
                    "channel_id": s.unit.channel_id,
                    # Ids as the platform writes them: with channel_id, a Slack message's identity.
                    "thread_id": native_id(s.unit.platform, s.unit.thread_id) if s.unit.thread_id else None,
                    "message_ids": [native_id(s.unit.platform, m) for m in s.unit.message_ids],
                    "url": s.unit.url,
                    "text": s.unit.text[:300],
                }
                for rank, s in enumerate(found, start=1)
            ]

    rows = run(main)
    emit(
        rows,
        as_json,
        lambda: (
            "\n".join(f"{r['rank']:>3}. {r['score']:.4f} {r['unit_id']}  {r['text'][:100]!r}" for r in rows)
            or "no results"
        ),
    )


def index_all_command(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Rebuild the QA index from every message in the store (run after an import)."""
    settings = settings_or_exit(config)

    async def main() -> dict[str, float]:
        async with qa_brain(settings) as brain:
            return (await (await brain.indexer(rebuilding=True)).index_all()).as_dict()

    stats = run(main)
    emit(
        stats,
        as_json,
        f"indexed {stats['units_upserted']:.0f} units ({stats['texts_embedded']:.0f} new or changed texts embedded) "
        f"from {stats['groups']:.0f} channels in {stats['seconds']:.1f} s",
    )


# "scheme://": a URL, not a path (two letters at least, so a Windows drive "C://docs" is a path).
_URL_ARGUMENT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def index_docs_command(
    paths: Annotated[
        # Strings, not Paths: a Path turns "https://x/faq" into "https:/x/faq" before it can be
        # recognised as a URL, and the user was told "not found: https:/x/faq".
        list[str],
        typer.Argument(
            help="Markdown/HTML/text files or folders (hidden and package folders and files over 10 MB "
            "are skipped), or a .urls / .list file of URLs"
        ),
    ],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Index docs (FAQ, READMEs) split by headings; a ``*.urls`` or ``*.list`` file lists URLs to fetch.

    A document indexed again replaces all of its old sections; a folder drops the docs of its
    files that are gone, and a deleted file named alone has its docs removed.
    """
    from brain.qa.docs import LIST_SUFFIXES, index_docs

    if urls := [p for p in paths if _URL_ARGUMENT.match(p)]:
        # Pages are indexed from a list file, which is what later runs compare to drop the pages
        # of URLs taken off it: refused before any model loads, with where the URL goes instead.
        lists = " or ".join(sorted(LIST_SUFFIXES))
        raise typer.BadParameter(
            f"{urls[0]} is a URL, not a file or folder: URLs go in a URL-list file ({lists}, one URL per "
            f"line) that is indexed instead, e.g. `guildhall index docs more.urls`",
            param_hint="PATHS",
        )
    settings = settings_or_exit(config)

    async def main() -> dict[str, Any]:
        async with qa_brain(settings) as brain:
            report = await index_docs(await brain.indexer(), [Path(p) for p in paths])
        return {
            "documents": report.documents,
            "sections": report.sections,
            **report.stats.as_dict(),
            "removed": report.removed,
            "errors": report.errors,
        }

    data = run(main)
    lines = [f"indexed {data['sections']} sections from {data['documents']} documents"]
    lines += [f"removed the docs of {loc}" for loc in data["removed"]]
    emit(data, as_json, "\n".join([*lines, *data["errors"]]))
    if data["errors"]:
        raise typer.Exit(1)


def index_tune_command(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the tuned encoder to")],
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the pairs")] = 1,
    max_pairs: Annotated[int, typer.Option("--max-pairs", min=16, help="Sample at most this many threads")] = 4000,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Fine-tune the embedding model on this community's public threads (offline, minutes on a CPU).

    Then set [embeddings] model = OUT and run `guildhall index all` and `guildhall index docs` again.
    """
    import asyncio
    import sys

    from brain.qa.tuning import NotEnoughPairsError, TuneSettings, fine_tune, thread_pairs

    settings = settings_or_exit(config)

    async def main() -> dict[str, Any]:
        async with qa_brain(settings) as brain:
            messages, channels = await (await brain.indexer()).public_history()
        pairs = thread_pairs(messages, channels)

        def progress(step: int, total: int, loss: float) -> None:
            if not as_json:
                print(f"\rstep {step}/{total} loss {loss:.3f}", end="", file=sys.stderr, flush=True)

        tune = TuneSettings(epochs=epochs, max_pairs=max_pairs, device=settings.embeddings.device)
        report = await asyncio.to_thread(fine_tune, settings.embeddings.model, pairs, out, tune, on_step=progress)
        return report.as_dict()

    try:
        data = run(main)
    except NotEnoughPairsError as exc:
        emit({"error": str(exc)}, as_json, f"error: {exc}")
        raise typer.Exit(1) from exc
    emit(
        data,
        as_json,
        f"\ntuned on {data['pairs']} threads ({data['steps']} steps, loss {data['first_loss']:.2f} -> "
        f"{data['last_loss']:.2f}) in {data['seconds']:.0f} s: {data['output']}\n"
        f'next: set [embeddings] model = "{data["output"]}", then run `guildhall index all` and '
        "`guildhall index docs` again (every vector is recomputed with the new model; docs are indexed separately)",
    )


def eval_retrieval_command(
    questions: Annotated[Path, typer.Option("--questions", exists=True, dir_okay=False, help="Gold qa.jsonl")],
    k: Annotated[str, typer.Option("--k", help="Cut-offs, comma-separated")] = "1,5,10",
    mode: Annotated[str, typer.Option("--mode", help="bm25 | dense | hybrid | rerank | all")] = "all",
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Recall@k and MRR of retrieval on gold questions, each asked as its asker in its channel.

    A question's channel gives its access rule, for its asker when the store knows them in that
    channel's workspace (a guest or a member of another organisation sees less); an asker it does
    not know, or a name several members share, asks as anyone there. A question without a channel,
    or in one the store does not know (or several workspaces have), searches public history everywhere.
    """
    from brain.qa.evaluation import GoldQuestion, evaluate, read_questions

    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
        # Half an emoji ("\ud83d") in the JSON is a lone surrogate no tokenizer or database takes.
        gold = [with_valid_text(q) for q in read_questions(questions)]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if not ks or min(ks) < 1:
        raise typer.BadParameter("k values must be positive integers", param_hint="--k")
    settings = settings_or_exit(config)
    # "all" includes the re-ranked list when a re-ranking model is configured.
    every: list[Mode] = (
        ["bm25", "dense", "hybrid", "rerank"] if settings.qa.rerank_model else ["bm25", "dense", "hybrid"]
    )
    modes: list[Mode] = every if mode == "all" else [mode]  # type: ignore[list-item]
    if any(m not in MODES for m in modes):
        raise typer.BadParameter(f"mode must be one of {', '.join(MODES)} or all", param_hint="--mode")
    _needs_reranker(modes, settings)

    async def main() -> list[dict[str, Any]]:
        async with qa_brain(settings) as brain:
            retriever = await brain.retriever()
            _reranker_loaded(modes, retriever)
            cache: dict[tuple[str, str], AccessScope] = {}

            async def scope_of(q: GoldQuestion) -> AccessScope:
                key = (q.channel, q.asker)
                if key not in cache:
                    cache[key] = await _gold_scope(brain, q.channel, q.asker)
                return cache[key]

            return [(await evaluate(retriever, gold, scope_of, ks=ks, mode=m)).as_dict() for m in modes]

    rows = run(main)
    emit(
        rows,
        as_json,
        lambda: "\n".join(
            f"{r['mode']:>7}: "
            + " ".join(f"R@{x}={r[f'recall@{x}']:.3f}" for x in ks)
            + f" MRR={r['mrr']:.3f} (n={r['questions']})"
            for r in rows
        ),
    )


async def _gold_scope(brain: QABrain, channel: str, asker: str) -> AccessScope:
    """The access scope of a gold question asked by ``asker`` in ``channel`` (see
    :func:`eval_retrieval_command`)."""
    try:
        where = await _find_channel(brain, channel) if channel else None
    except typer.BadParameter:
        where = None
    if where is None:
        return public_everywhere()
    user_id = ""
    if asker:
        try:
            member = await find_member(
                brain.ctx.store.db, asker, option="asker", workspace=(where.platform.value, where.workspace_id)
            )
        except typer.BadParameter:
            pass  # not known there: the channel's rule for anyone, as without an asker
        else:
            user_id = member.user_id
    return await scope_for(brain.ctx.store, where, user_id)


def eval_feedback_command(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """👍/👎 feedback on answers, with the questions they answered."""
    settings = settings_or_exit(config)

    async def main() -> dict[str, Any]:
        async with qa_brain(settings) as brain:
            rows = await brain.ctx.store.feedback(FEEDBACK_KIND)
            answers = {a.answer_id: a for a in await brain.answer_log.all(limit=100_000)}
            items = []
            for platform, ws, user_id, _, target, value, ts in rows:
                answer = answers.get(target)
                items.append(
                    {
                        "platform": platform,
                        "workspace_id": ws,
                        "user_id": user_id,
                        "target": target,
                        "value": value,
                        "ts": ts,
                        "question": answer.question if answer else None,
                        "abstained": answer.abstained if answer else None,
                    }
                )
            up = sum(1 for i in items if i["value"] == "up")
            return {"up": up, "down": len(items) - up, "answers": len(answers), "items": items}

    data = run(main)

    def text() -> str:
        lines = [f"answers: {data['answers']}  👍 {data['up']}  👎 {data['down']}"]
        for i in data["items"][-20:]:
            lines.append(
                f"{'👍' if i['value'] == 'up' else '👎'} {i['user_id']}: {(i['question'] or i['target'])[:80]}"
            )
        return "\n".join(lines)

    emit(data, as_json, text)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the QA commands to the ``guildhall`` CLI."""
    app.command("ask")(ask_command)
    app.command("search")(search_command)
    groups["index"].command("all")(index_all_command)
    groups["index"].command("docs")(index_docs_command)
    groups["index"].command("tune")(index_tune_command)
    groups["eval"].command("retrieval")(eval_retrieval_command)
    groups["eval"].command("feedback")(eval_feedback_command)

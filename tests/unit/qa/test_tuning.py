"""Encoder fine-tuning on a community's threads: which pairs it learns from, and that it learns."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.store import ChannelRow, MessageRow, open_store
from brain.qa.tuning import (
    NotEnoughPairsError,
    TrainingPair,
    TuneSettings,
    fine_tune,
    mine_hard_negatives,
    thread_pairs,
)

PUBLIC = ChannelRow("slack", "T1", "C1", "help", "public")
PRIVATE = ChannelRow("slack", "T1", "P1", "staff", "private")
CHANNELS = {(c.platform, c.workspace_id, c.channel_id): c for c in (PUBLIC, PRIVATE)}


def _msg(mid: str, author: str, text: str, *, thread: str | None, channel: str = "C1") -> MessageRow:
    return MessageRow("slack", "T1", mid, channel, author, float(mid), text, thread_id=thread)


def test_pairs_take_the_opening_and_the_rest_of_public_threads() -> None:
    messages = [
        _msg("1.0", "U1", "how do I pin a dependency?", thread="1.0"),
        _msg("2.0", "U2", "use == in requirements.txt", thread="1.0"),
        _msg("3.0", "U1", "thanks!", thread="1.0"),
        # Root deleted: the earliest reply opens, the discussion after it is the passage.
        _msg("5.0", "U3", "asyncio.run starts the loop", thread="4.0"),
        _msg("6.0", "U4", "and closes it at the end", thread="4.0"),
        # Only its own author replied: nothing to learn about answers.
        _msg("7.0", "U5", "anyone around?", thread="7.0"),
        _msg("8.0", "U5", "never mind", thread="7.0"),
        # Private channel: never used.
        _msg("9.0", "U6", "what is the deploy password?", thread="9.0", channel="P1"),
        _msg("10.0", "U7", "swordfish", thread="9.0", channel="P1"),
        # Not a thread at all.
        _msg("11.0", "U8", "hello everyone", thread=None),
    ]
    pairs = thread_pairs(messages, CHANNELS)
    assert pairs == [
        TrainingPair("how do I pin a dependency?", "use == in requirements.txt\nthanks!"),
        TrainingPair("asyncio.run starts the loop", "and closes it at the end"),
    ]
    assert all("swordfish" not in p.passage for p in pairs)
    # Messages of unknown channels are skipped like private ones.
    assert thread_pairs(messages, {}) == []


def test_too_few_pairs_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotEnoughPairsError, match="at least 16"):
        fine_tune("bundled:all-MiniLM-L6-v2", [TrainingPair("q", "p")] * 3, tmp_path / "m")


TOPICS = [
    ("how do I pin a package version?", "write the exact version with == in requirements.txt"),
    ("my docker build is slow", "order the Dockerfile so the dependency layer is cached"),
    ("what does asyncio.gather return?", "a list of the awaited results in the order given"),
    ("regex to match an email?", "use a simple pattern and validate by sending a message"),
    ("how to read a csv file?", "pandas.read_csv loads it into a DataFrame"),
    ("git undo last commit", "git reset --soft HEAD~1 keeps your changes staged"),
    ("virtualenv not activating on windows", "run .venv\\Scripts\\activate in PowerShell"),
    ("django migrations conflict", "run makemigrations --merge to reconcile the branches"),
]


def test_hard_negatives_are_other_threads_sharing_the_openings_words() -> None:
    import random

    pairs = [
        TrainingPair("docker build cache slow", "order the Dockerfile so the layer is cached"),
        TrainingPair("docker compose network", "docker compose puts services on one network"),
        TrainingPair("docker volume permissions", "docker volumes keep the host's uid"),
        TrainingPair("pandas csv", "read_csv loads a DataFrame"),
        TrainingPair("git undo", "git reset --soft HEAD~1"),
    ]
    negatives = mine_hard_negatives(pairs, random.Random(0), skip=0, depth=2)
    docker = {p.passage for p in pairs[1:3]}
    # The first opening's negative is another docker thread: never its own passage, never one
    # without a shared word.
    assert negatives[id(pairs[0])] in docker
    assert all(negatives[id(p)] != p.passage for p in pairs if id(p) in negatives)
    # skip drops the closest passages (likely false negatives): with skip=2 and only two docker
    # neighbours, the first opening has no candidate left.
    assert id(pairs[0]) not in mine_hard_negatives(pairs, random.Random(0), skip=2, depth=10)


@pytest.mark.slow
@pytest.mark.parametrize(("symmetric", "hard_negatives"), [(False, False), (True, False), (True, True)])
def test_fine_tuning_pulls_openings_towards_their_threads(
    tmp_path: Path, symmetric: bool, hard_negatives: bool
) -> None:
    from brain.qa.embedder import SentenceTransformerEmbedder

    pairs = [TrainingPair(f"{q} (case {i})", a) for i in range(2) for q, a in TOPICS]
    steps: list[tuple[int, int, float]] = []
    settings = TuneSettings(
        epochs=4,
        learning_rate=2e-4,
        batch_size=8,
        max_seq_length=64,
        symmetric=symmetric,
        hard_negatives=hard_negatives,
    )
    report = fine_tune(
        "bundled:all-MiniLM-L6-v2", pairs, tmp_path / "tuned", settings, on_step=lambda *s: steps.append(s)
    )
    assert report.pairs == 16 and report.steps == 8 and [s[0] for s in steps] == list(range(1, 9))
    assert steps[-1][1] == 8

    def margin(model: str) -> float:
        enc = SentenceTransformerEmbedder(model)
        q = enc.embed([p.query for p in pairs])
        p = enc.embed([p.passage for p in pairs])
        sims = q @ p.T
        own = np.diag(sims).mean()
        other = (sims.sum() - np.trace(sims)) / (sims.size - len(pairs))
        return float(own - other)

    # Matching passages move closer than the rest: the loss did what it is for.
    assert margin(str(tmp_path / "tuned")) > margin("bundled:all-MiniLM-L6-v2") + 0.05


async def _seed(db: Path) -> None:
    store = await open_store(f"sqlite:///{db}")
    await store.upsert_channels([PUBLIC, PRIVATE])
    rows = []
    for i, (q, a) in enumerate(TOPICS * 2):
        root = f"{100 + 2 * i}.0"
        rows += [_msg(root, f"A{i}", q, thread=root), _msg(f"{101 + 2 * i}.0", "B1", a, thread=root)]
    rows += [_msg("900.0", "U6", "deploy password?", thread="900.0", channel="P1")]
    rows += [_msg("901.0", "U7", "swordfish", thread="900.0", channel="P1")]
    await store.upsert_messages(rows)
    await store.close()


@pytest.mark.slow
def test_index_tune_command_writes_a_loadable_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path / 'g.db'}")
    monkeypatch.setenv("GUILDHALL_VECTORS__PATH", str(tmp_path / "chroma"))
    asyncio.run(_seed(tmp_path / "g.db"))
    runner = CliRunner()
    assert runner.invoke(app, ["index", "all"]).exit_code == 0
    out = runner.invoke(app, ["search", "pin package version", "--channel", "help", "--json"])
    assert "==" in json.loads(out.stdout)[0]["text"]
    out = runner.invoke(app, ["index", "tune", "--out", str(tmp_path / "tuned"), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    # 16 public threads; the private one is not learned from.
    assert report["pairs"] == 16 and report["steps"] == 1
    assert (tmp_path / "tuned" / "config.json").is_file()

    monkeypatch.setenv("GUILDHALL_EMBEDDINGS__MODEL", str(tmp_path / "tuned"))
    # The tuned encoder's collections start empty: nothing found until the history is re-indexed.
    out = runner.invoke(app, ["search", "pin package version", "--channel", "help", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == []
    out = runner.invoke(app, ["index", "all", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["units_upserted"] == 16
    out = runner.invoke(app, ["search", "pin package version", "--channel", "help", "--json"])
    assert "==" in json.loads(out.stdout)[0]["text"]

    empty = tmp_path / "empty.db"
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{empty}")
    out = runner.invoke(app, ["index", "tune", "--out", str(tmp_path / "t2")])
    assert out.exit_code == 1 and "at least 16" in out.output


def test_each_encoder_gets_its_own_collections(tmp_path: Path) -> None:
    from brain.qa.embedder import DEFAULT_MODEL, model_fingerprint

    # The bundled default keeps the plain collection names existing indexes were built under.
    assert model_fingerprint(DEFAULT_MODEL) == ""
    model = tmp_path / "tuned"
    model.mkdir()
    weights = model / "model.safetensors"
    weights.write_bytes(b"weights v1")
    first = model_fingerprint(str(model))
    assert len(first) == 10 and model_fingerprint(str(model)) == first
    # Re-tuning in place rewrites the weights: a new fingerprint, so old vectors are never mixed in.
    weights.write_bytes(b"weights v2, longer")
    assert model_fingerprint(str(model)) != first
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.safetensors").write_bytes(b"weights v1")
    assert model_fingerprint(str(other)) not in {"", first}

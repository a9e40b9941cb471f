"""The console end to end: typed lines through the REPL into the store and the command router, the
demo community answering a newcomer through the QA brain, and the ``guildhall run`` command itself."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.console.adapter import ConsoleAdapter
from adapters.console.demo import seed_demo
from bot.app import GuildhallApp
from bot.config import Settings
from bot.run_cli import PLATFORM_ADAPTERS, RunError, serve
from bot.testing import HashEmbedder, ScriptedLLM

ODD = "zoë 🐍 \u202eevil rtl\u202c \u0000nul \x1b[2J esc 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ﷽"
HUGE = "a" * 40_000


def attach_console(app: GuildhallApp) -> ConsoleAdapter:
    console = ConsoleAdapter(
        app.settings, command_names=lambda: [s.name for s in app.router.specs], clock=app.clock, session_id="e2e"
    )
    app.add_adapter(console)
    return console


async def run_lines(app: GuildhallApp, console: ConsoleAdapter, lines: list[str]) -> str:
    out = io.StringIO()
    await console.run_repl(io.StringIO("".join(line + "\n" for line in lines)), out)
    await app.bus.drain()
    return out.getvalue()


async def test_repl_stores_messages_answers_commands_and_survives_bad_input(make_app) -> None:
    app, _ = await make_app()
    console = attach_console(app)
    await console.start()
    lines = [
        "hello world",
        "",
        "   ",
        "/help",
        "/nonsense with args",
        ODD,
        HUGE,
        "/guildhall config set digest_size 7",
        "/as bob",
        "/guildhall config set digest_size 9",
        "/join #help",
        "@guildhall is anyone here?",
        "/quit",
        "typed after quit",
    ]
    text = await run_lines(app, console, lines)

    general = await app.store.channel_messages("console", "local", "general")
    stored = [m.text for m in general]
    assert stored[0] == "hello world"
    assert stored[1] == "zoë 🐍 \u202eevil rtl\u202c nul [2J esc 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ﷽"
    assert stored[2] == HUGE
    assert len(stored) == 3, "blank lines and commands are not messages"
    (question,) = await app.store.channel_messages("console", "local", "help")
    assert question.author_id == "bob"
    assert not any(m.text == "typed after quit" for m in general)

    assert "local operator and a platform admin" in text
    # The bots' Markdown is rendered for the terminal: no "**" around the heading.
    assert "Guildhall commands" in text and "**" not in text and "/forget-me" in text
    assert "Unknown command `/nonsense`" in text
    assert "for community admins" in text  # bob is not the operator
    assert await app.store.get_workspace_setting("console", "local", "digest_size") == 7
    assert "\x1b" not in text and "\x00" not in text
    assert text.rstrip().endswith("bye")


async def test_end_of_input_ends_the_repl_and_redelivery_is_harmless(make_app) -> None:
    app, _ = await make_app()
    console = attach_console(app)
    text = await run_lines(app, console, ["one", "two"])  # no /quit: EOF ends it
    assert text.rstrip().endswith("bye")
    rows = await app.store.channel_messages("console", "local", "general")
    assert [r.text for r in rows] == ["one", "two"]
    # The bus drops a redelivered event; the store would merge it by message id anyway.
    from adapters.console.normalize import console_channel, member, message_from_line

    again = message_from_line(
        "one",
        author=member("you"),
        channel=console_channel("general"),
        message_id=rows[0].message_id,
        ts=app.clock.now(),
    )
    assert again is not None
    assert await app.bus.publish(again) is False
    await app.bus.drain()
    assert len(await app.store.channel_messages("console", "local", "general")) == 2


async def test_newcomer_gets_a_cited_answer_from_the_demo(make_app) -> None:
    llm = ScriptedLLM(
        "Create the Slack app from adapters/slack/manifest.yaml and set SLACK_BOT_TOKEN and SLACK_APP_TOKEN [1]."
    )
    app, _ = await make_app(brains=["qa"], llm=llm, embedder=HashEmbedder())
    console = attach_console(app)
    report = await seed_demo(app)
    await app.bus.drain()
    assert report.messages > 150
    text = await run_lines(
        app,
        console,
        ["/guildhall index", "/as newcomer", "/join #help", "@guildhall how do I connect the bot to Slack?"],
    )
    assert "Indexed" in text
    answer = text[text.index("@guildhall how do I connect") :]
    assert "[#help › thread e2e-" in answer, answer
    assert "manifest" in answer
    assert "console://local/help/demo-" in answer, "the answer cites the demo thread"
    # The model saw the demo's Slack thread in its prompt.
    prompt = " ".join(m.content for m in llm.prompts[-1])
    assert "SLACK_APP_TOKEN" in prompt


async def test_serve_names_a_missing_platform_adapter(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(PLATFORM_ADAPTERS, "discord", "adapters.discord.not_built_yet:DiscordAdapter")
    settings = Settings(data_dir=str(tmp_path), store={"url": "sqlite://:memory:"}, brains=[], discord={"token": "x"})
    with pytest.raises(RunError, match="discord is configured but its adapter"):
        await serve(settings)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUILDHALL_", "DISCORD_", "SLACK_", "OPENAI_"))}
    env.update(
        GUILDHALL_STORE__URL=f"sqlite:///{tmp_path}/guildhall.db",
        GUILDHALL_DATA_DIR=str(tmp_path),
        GUILDHALL_BRAINS="[]",
        GUILDHALL_LOG_LEVEL="WARNING",
    )
    return env


def _guildhall_run(tmp_path: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "run", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        cwd=tmp_path,
        timeout=120,
    )


def _messages(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT author_id, channel_id, text FROM messages ORDER BY ts").fetchall()


def test_guildhall_run_on_the_console_seeds_once_and_stores_messages(tmp_path: Path) -> None:
    first = _guildhall_run(tmp_path, "hello\n/quit\n")
    assert first.returncode == 0, first.stderr
    assert "Demo community seeded" in first.stdout and "hello" in first.stdout
    rows = _messages(tmp_path / "guildhall.db")
    assert ("you", "general", "hello") in rows
    seeded = len(rows)
    assert seeded > 150

    second = _guildhall_run(tmp_path, "again\n")  # EOF instead of /quit
    assert second.returncode == 0, second.stderr
    assert "Demo community seeded" not in second.stdout
    assert len(_messages(tmp_path / "guildhall.db")) == seeded + 1


@pytest.mark.slow
def test_a_newcomers_first_question_on_guildhall_run_gets_a_cited_answer(tmp_path: Path) -> None:
    # The README's promise, with the bundled models: asked before the background indexing is done,
    # the question waits for it instead of being told the history has nothing.
    env = {k: v for k, v in _env(tmp_path).items() if k != "GUILDHALL_BRAINS"}  # the default brains
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "run"],
        input="/ask how do I connect the bot to Slack?\n/quit\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    answer = done.stdout[done.stdout.index("guildhall → /ask") :]
    assert "couldn't find" not in answer, answer
    assert "Sources:" in answer and "slack-setup.md" in answer, answer


def test_ctrl_c_stops_guildhall_run_with_the_interrupt_status(tmp_path: Path) -> None:
    """Ctrl-C ends the bot cleanly (the store closed, "stopped" said) with status 130, as shells and
    scripts expect of an interrupt; a piped /quit or end of input is 0 (above)."""
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "run", "--no-demo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()  # the console is up and reading
        assert "Guildhall console" in banner, banner
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "stopped" in err and "Traceback" not in err


def test_guildhall_run_without_demo(tmp_path: Path) -> None:
    done = _guildhall_run(tmp_path, "just me\n/quit\n", "--no-demo")
    assert done.returncode == 0, done.stderr
    assert _messages(tmp_path / "guildhall.db") == [("you", "general", "just me")]


def test_scale_out_roles_explain_what_they_need(monkeypatch) -> None:
    from bot.cli import app

    monkeypatch.setenv("GUILDHALL_BRAINS", "[]")
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--role", "worker"])
    assert result.exit_code == 2
    assert "needs the Redis bus" in result.output
    monkeypatch.setenv("GUILDHALL_BUS__KIND", "redis")
    result = runner.invoke(app, ["run", "--role", "gateway"])
    assert result.exit_code == 2 and "platform connections" in result.output
    assert runner.invoke(app, ["run", "--role", "bogus"]).exit_code == 2


async def test_serve_reports_platform_setup_errors_clearly(tmp_path: Path) -> None:
    # Slack in Socket Mode without the app-level token: the adapter names what is missing.
    settings = Settings(
        data_dir=str(tmp_path),
        store={"url": "sqlite://:memory:"},
        brains=[],
        slack={"bot_token": "xoxb-test", "mode": "socket", "api_base_url": "http://127.0.0.1:9/api/"},
    )
    with pytest.raises(RunError, match="SLACK_APP_TOKEN"):
        await serve(settings)


async def test_background_preparation_indexes_the_demo_and_its_docs(make_app) -> None:
    from adapters.console.demo import demo_doc_paths
    from bot.run_cli import prepare_qa
    from brain.qa.access import public_everywhere

    llm = ScriptedLLM("unused")
    app, _ = await make_app(brains=["qa"], llm=llm, embedder=HashEmbedder())
    await seed_demo(app)
    await app.bus.drain()
    notes: list[str] = []
    missing = Path("no-such-docs.md")
    await prepare_qa(app, index_history=True, doc_paths=[*demo_doc_paths(), missing], notice=notes.append)

    assert len(notes) == 1 and notes[0].startswith("Index ready (")
    units = int(notes[0].split("(")[1].split()[0])
    assert units > 20
    retriever = await app.brain("qa").retriever()  # type: ignore[attr-defined]
    found = await retriever.search("Privileged Gateway Intents MESSAGE CONTENT", public_everywhere(), k=5, mode="bm25")
    assert any(s.unit.kind == "doc" and "discord-setup.md" in s.unit.title for s in found)
    threads = await retriever.search("SLACK_APP_TOKEN socket mode", public_everywhere(), k=5, mode="bm25")
    assert any(s.unit.kind != "doc" for s in threads), "the seeded history is searchable too"


async def test_background_preparation_failure_is_logged_not_raised(make_app, caplog) -> None:
    from bot.run_cli import prepare_qa

    app, _ = await make_app(brains=["qa"], llm=ScriptedLLM("x"), embedder=HashEmbedder())

    async def broken(**_: object) -> None:
        raise RuntimeError("disk full")

    app.brain("qa").indexer = broken  # type: ignore[attr-defined,method-assign]
    await prepare_qa(app, index_history=True)
    assert "background indexing" in caplog.text and "disk full" in caplog.text


def test_a_second_guildhall_run_in_the_same_data_dir_is_refused_clearly(tmp_path: Path) -> None:
    # Two runs shared the SQLite file and the embedded Chroma index (not safe across processes) and
    # ran every schedule twice, without a word. The first run's lock is held here, as it would be.
    fcntl = pytest.importorskip("fcntl")
    with (tmp_path / "guildhall.lock").open("a+") as held:
        held.write("4242\n")
        held.flush()
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        second = _guildhall_run(tmp_path, "hello\n/quit\n", "--no-demo")
        assert second.returncode == 2
        assert "another guildhall (pid 4242) is running with data_dir" in second.stderr
        assert not (tmp_path / "guildhall.db").exists(), "refused before opening the store"
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    first = _guildhall_run(tmp_path, "hello\n/quit\n", "--no-demo")
    assert first.returncode == 0, first.stderr
    assert _messages(tmp_path / "guildhall.db") == [("you", "general", "hello")]

"""The scale-out vector store: a real Chroma server (``chroma run``, shipped with chromadb) behind
``vectors.kind = "http"``, shared by two processes' clients, with access control and forget-me."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, VectorSettings
from bot.events import CommandReply
from bot.ml import Unit
from bot.testing import HashEmbedder, command, make_message
from brain.qa.access import AccessScope
from brain.qa.brain import QABrain
from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client

pytestmark = pytest.mark.services


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChromaServer:
    """``chroma run`` on a free port with its own data folder; stoppable and restartable."""

    def __init__(self, folder: Path) -> None:
        binary = Path(sys.executable).with_name("chroma")
        executable = str(binary) if binary.exists() else shutil.which("chroma")
        assert executable, "the chroma CLI ships with the chromadb package; is the project installed?"
        self.executable = executable
        self.folder = folder
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def settings(self) -> VectorSettings:
        return VectorSettings(kind="http", host="127.0.0.1", port=self.port)

    def start(self) -> None:
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.executable,
                "run",
                "--path",
                str(self.folder / "data"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = (self.folder / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"chroma run did not start: {tail}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VectorSettings]:
    """A Chroma server shared by the module's tests."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    server.start()
    try:
        yield server.settings
    finally:
        server.stop()


def units() -> list[Unit]:
    return [
        Unit("pub", "slack", "T1", "C1", "how to rotate the deploy key", message_ids=("1",)),
        Unit("priv", "slack", "T1", "P1", "the deploy key is hunter2", message_ids=("2",), visibility="private"),
        Unit("dm", "slack", "T1", "D1", "deploy key for you: hunter2", message_ids=("3",), visibility="dm"),
    ]


async def test_two_processes_share_one_server_with_access_control(chroma_server: VectorSettings) -> None:
    embedder = HashEmbedder()
    # Two clients, as a gateway's and a worker's: what one writes, the other finds.
    writer = ChromaUnitIndex(open_chroma_client(chroma_server), "shared", embedder.dim)
    reader = ChromaUnitIndex(open_chroma_client(chroma_server), "shared", embedder.dim)
    us = units()
    await writer.upsert(us, embedder.embed([u.text for u in us]))
    q = embedder.embed(["deploy key"])[0]
    assert [s.unit.unit_id for s in await reader.query_scope(q, k=10, scope=AccessScope("slack", "T1"))] == ["pub"]
    member = await reader.query_scope(q, k=10, scope=AccessScope("slack", "T1", frozenset({"P1"})))
    assert {s.unit.unit_id for s in member} == {"pub", "priv"}
    assert next(s.unit for s in member if s.unit.unit_id == "priv") == us[1]  # metadata round-trips
    assert await reader.count() == 3
    await writer.delete(["priv"])
    member = await reader.query_scope(q, k=10, scope=AccessScope("slack", "T1", frozenset({"P1"})))
    assert {s.unit.unit_id for s in member} == {"pub"}


async def test_qa_brain_indexes_answers_and_forgets_on_the_server(
    make_app: Any, settings: Settings, chroma_server: VectorSettings
) -> None:
    collection = f"app{_free_port()}"  # one collection per run: the server outlives the test
    on_server = settings.model_copy(update={"vectors": chroma_server.model_copy(update={"collection": collection})})
    app, adapter = await make_app(brains=["qa"], settings_override=on_server)
    for event in (
        make_message("my secret sauce is paprika", author="erin", thread_id="t1", message_id="t1"),
        make_message("nice, I use paprika too", author="bob", thread_id="t1", minutes=1),
    ):
        await adapter.inject(event)
    await app.bus.drain()
    brain: QABrain = app.brain("qa")  # type: ignore[assignment]
    retriever = await brain.retriever()
    found = await retriever.search("paprika", AccessScope("console", "local"), k=5, mode="dense")
    assert any("secret sauce" in s.unit.text for s in found)
    # The units are on the server, not in a local folder: a fresh client sees them.
    remote = ChromaUnitIndex(open_chroma_client(chroma_server), collection, HashEmbedder().dim)
    assert any("secret sauce" in u.text for u in await remote.all_units())
    await adapter.inject(command("forget-me", "confirm", author="erin"))
    await app.bus.drain()
    assert "Done:" in adapter.of_type(CommandReply)[-1].text
    texts = [u.text for u in await remote.all_units()]
    assert texts and all("secret sauce" not in t for t in texts)


async def test_a_server_outage_loses_no_index_change_and_answers_say_so(
    make_app: Any, settings: Settings, tmp_path: Path
) -> None:
    from bot.events import SendMessage
    from bot.testing import ScriptedLLM

    server = ChromaServer(tmp_path)
    server.start()
    try:
        vectors = server.settings.model_copy(update={"collection": "outage"})
        app, adapter = await make_app(
            brains=["qa"],
            llm=ScriptedLLM(lambda messages: "NOT_FOUND"),
            settings_override=settings.model_copy(update={"vectors": vectors}),
        )
        await adapter.inject(make_message("my secret sauce is paprika", author="erin", thread_id="t1", message_id="t1"))
        await app.bus.drain()
        brain: QABrain = app.brain("qa")  # type: ignore[assignment]
        await brain.retriever()  # applies the pending change while the server is up
        server.stop()
        # During the outage: a reply (stored, its index change kept), a question and a forget-me.
        await adapter.inject(make_message("cumin goes in the sauce too", author="bob", thread_id="t1", minutes=1))
        await adapter.inject(command("ask", "what goes in the sauce?", author="cy"))
        await adapter.inject(command("forget-me", "confirm", author="erin"))
        await app.bus.drain()
        replies = [a.text for a in adapter.of_type(CommandReply)]
        assert any("I couldn't find" in r or "can't search" in r for r in replies), replies
        assert any("still in the search index, which is unreachable" in r for r in replies), replies
        assert await app.store.get_member_setting("console", "local", "erin", "forgotten") is True
        server.start()
        await brain.flush_index()  # the scheduler's minute job
        remote = ChromaUnitIndex(open_chroma_client(vectors), "outage", HashEmbedder().dim)
        texts = [u.text for u in await remote.all_units()]
        assert any("cumin" in t for t in texts), texts
        assert all("secret sauce" not in t for t in texts), texts
        assert not [a for a in adapter.of_type(SendMessage) if "Traceback" in a.text]
    finally:
        server.stop()

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


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VectorSettings]:
    """A Chroma server on a free port with its own data folder, stopped after the module."""
    binary = Path(sys.executable).with_name("chroma")
    executable = str(binary) if binary.exists() else shutil.which("chroma")
    assert executable, "the chroma CLI ships with the chromadb package; is the project installed?"
    port = _free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [executable, "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"chroma run did not start: {(folder / 'server.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)
        yield VectorSettings(kind="http", host="127.0.0.1", port=port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


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

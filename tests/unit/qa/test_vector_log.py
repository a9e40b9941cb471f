"""Erased text leaves Chroma's write-ahead log, not only its live rows."""

from __future__ import annotations

from pathlib import Path

from bot.config import VectorSettings
from bot.ml import Unit
from bot.testing import HashEmbedder
from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client
from tests.chroma_log import log_rows_with

SECRET = "zed's home address is 12 Elm Street"


async def test_purge_log_drops_deleted_units_text_from_the_log(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    index = ChromaUnitIndex(open_chroma_client(VectorSettings(path=str(tmp_path))), "t", embedder.dim)
    units = [
        Unit("zed", "console", "local", "general", SECRET, ("m1",), ("zed",)),
        Unit("pub", "console", "local", "general", "pin the dependency in pyproject", ("m2",), ("ana",)),
        Unit("priv", "console", "local", "ops", "rotate keys monthly", ("m3",), ("bob",), visibility="private"),
    ]
    await index.upsert(units, embedder.embed([u.text for u in units]))
    await index.delete(["zed"])
    assert log_rows_with(tmp_path, "Elm Street", unit_id="zed") > 0  # why purge_log exists: delete alone leaves it
    await index.purge_log()
    assert log_rows_with(tmp_path, "Elm Street", unit_id="zed") == 0
    assert await index.count() == 2  # the live units are untouched
    hits = await index.query(embedder.embed(["pin the dependency"])[0], k=1)
    assert [h.unit.unit_id for h in hits] == ["pub"]

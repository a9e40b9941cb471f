"""What Chroma's write-ahead log (``embeddings_queue`` in ``chroma.sqlite3``) still holds, as any
sqlite3 reader of the data folder sees it: erased text must leave it, not only the live rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def log_rows_with(chroma_dir: str | Path, needle: str, *, unit_id: str | None = None) -> int:
    """Rows of the log whose metadata holds ``needle`` (or whose id is ``unit_id``)."""
    with sqlite3.connect(Path(chroma_dir) / "chroma.sqlite3") as db:
        rows = db.execute("SELECT id, metadata FROM embeddings_queue").fetchall()
    return sum(1 for row_id, metadata in rows if needle in str(metadata) or (unit_id is not None and row_id == unit_id))

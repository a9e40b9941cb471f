"""Where thread vectors come from: the QA brain's unit index live, a disk cache offline.

"One embedding per unit, never computed twice": the live brain reads vectors the QA indexer
already stored (``unit_index.vectors``) and only embeds what the index lacks; the offline
evaluation caches vectors on disk keyed by id + text hash, and reuses the QA benchmarks' cache
(keyed by the text's SHA-1) when present.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from bot.ml import Embedder, UnitIndex, Vector


def text_hash(text: str) -> str:
    """SHA-1 of the text (the key format of the QA benchmarks' cache)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class DiskVectorCache:
    """Vectors keyed by ``<id>:<text sha1>``, saved as one ``.npz``; ``shared`` files keyed by the
    bare text SHA-1 (the QA engineer's cache) are read-only fallbacks.

    ``encoder`` names the model the vectors come from (e.g. its fingerprint). When it is given, a
    file saved under another name, or under none, is ignored and overwritten on save: vectors of
    two models must never be mixed, and a cache path is easy to reuse after changing
    ``embeddings.model``. Without it (the benchmarks' own files) any file is read.
    """

    def __init__(self, path: Path, *, shared: Sequence[Path] = (), encoder: str = "") -> None:
        self.path = path
        self.encoder = encoder
        self._own: dict[str, Vector] = {}
        self._shared: dict[str, Vector] = {}
        self.computed = 0
        self.stale = False  # the file on disk was written by another encoder
        if path.exists():
            data = np.load(path)
            saved = str(data["encoder"]) if "encoder" in data.files else ""
            if encoder and saved != encoder:  # untagged files predate the tag: their model is unknown
                self.stale = True
            else:
                self._own = {str(k): v for k, v in zip(data["keys"], data["vectors"], strict=True)}
        for extra in shared:
            if extra.exists():
                data = np.load(extra)
                self._shared.update({str(k): v for k, v in zip(data["keys"], data["vectors"], strict=True)})

    def vectors(
        self, items: Mapping[str, str], embedder: Embedder, *, batch: int = 2048, checkpoint: bool = False
    ) -> dict[str, Vector]:
        """Vectors of ``{id: text}``, embedding only what no cache holds.

        Missing texts are encoded shortest first in large batches (the encoder pads each batch to its
        longest text); with ``checkpoint`` the cache file is saved after every batch."""
        out: dict[str, Vector] = {}
        missing: list[tuple[str, str]] = []
        for item_id, text in items.items():
            h = text_hash(text)
            key = f"{item_id}:{h}"
            vec = self._own.get(key)
            if vec is None:
                vec = self._shared.get(h)
                if vec is not None:
                    self._own[key] = vec
            if vec is None:
                missing.append((key, text))
            else:
                out[item_id] = vec
        missing.sort(key=lambda kv: (len(kv[1]), kv[0]))
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            vecs = embedder.embed([t for _, t in chunk])
            for (key, _), vec in zip(chunk, vecs, strict=True):
                self._own[key] = vec
                out[key.rsplit(":", 1)[0]] = vec
            self.computed += len(chunk)
            if checkpoint:
                self.save()
        return out

    def save(self) -> None:
        """Write the cache file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._own), dtype=str)
        vecs = np.stack(list(self._own.values())) if self._own else np.zeros((0, 1), np.float32)
        np.savez(self.path, keys=keys, vectors=vecs, encoder=np.array(self.encoder))


async def index_vectors(
    index: UnitIndex | None, embedder: Embedder, texts: Mapping[str, str], *, unit_id: Callable[[str], str]
) -> dict[str, Vector]:
    """Live vectors of ``{thread id: text}``: the QA unit index's vector of the thread's first unit
    where stored, else embedded now (a thread the indexer has not reached, or no QA brain)."""
    found: dict[str, Vector] = {}
    if index is not None and texts:
        ids = {unit_id(t): t for t in texts}
        stored = await index.vectors(list(ids))
        found = {ids[uid]: vec for uid, vec in stored.items() if uid in ids}
    missing = [t for t in texts if t not in found]
    if missing:
        vecs = await asyncio.to_thread(embedder.embed, [texts[t][:2000] for t in missing])
        found.update(dict(zip(missing, vecs, strict=True)))
    return found

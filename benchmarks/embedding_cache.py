"""An on-disk embedding cache for benchmarks: re-runs skip minutes of CPU encoding.

Keyed by a hash of the text, stored per dataset under ``data/bench_cache`` (gitignored).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.ml import Embedder, Vector


class CachingEmbedder:
    """Wraps an embedder; vectors of texts seen before come from the cache file."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.path = path
        self._cache: dict[str, Vector] = {}
        self.misses = 0
        if path.exists():
            data = np.load(path)
            for key, vec in zip(data["keys"], data["vectors"], strict=True):
                self._cache[str(key)] = vec

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> Vector:
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            self.misses += len(missing)
            vecs = self.inner.embed([texts[i] for i in missing])
            for i, v in zip(missing, vecs, strict=True):
                self._cache[keys[i]] = v
        return (
            np.stack([self._cache[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, self.dim), np.float32)
        )

    def save(self) -> None:
        """Write the cache."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._cache), dtype="U40")
        vectors = np.stack(list(self._cache.values())) if self._cache else np.zeros((0, self.dim), np.float32)
        np.savez(self.path, keys=keys, vectors=vectors)

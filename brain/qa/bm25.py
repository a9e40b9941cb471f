"""An incremental BM25 (Okapi) index over retrieval units, with access-control masks.

Postings are append-only numeric arrays per token, so a query is a handful of vectorised numpy
operations even at 100k units; removed units leave tombstones that are masked out and compacted
away when they pile up. Units are kept in memory with their slots, which also makes this the
quick "unit by id" lookup for the retriever.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import numpy.typing as npt

from bot.ml import ScoredUnit, Unit
from brain.qa.access import AccessScope
from brain.qa.tokenize import tokenize


class BM25Index:
    """BM25 over units; ``add`` replaces a unit with the same id, ``remove`` deletes.

    Args:
        k1: Term-frequency saturation.
        b: Length normalisation.
        tokenizer: Text to tokens; the technical tokenizer by default.
    """

    def __init__(self, *, k1: float = 1.2, b: float = 0.75, tokenizer: Callable[[str], list[str]] = tokenize) -> None:
        self.k1 = k1
        self.b = b
        self._tokenize = tokenizer
        self._reset()

    def _reset(self) -> None:
        self._units: list[Unit | None] = []
        self._lengths = array("f")
        self._alive = array("b")
        self._terms: list[Counter[str]] = []
        self._slot_of: dict[str, int] = {}
        self._postings: dict[str, tuple[array[int], array[float]]] = {}
        self._df: Counter[str] = Counter()
        self._total_len = 0.0
        self._dead = 0
        self._scope_cache: dict[AccessScope, npt.NDArray[np.bool_]] = {}

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._slot_of

    def get(self, unit_id: str) -> Unit | None:
        """The indexed unit with this id, or None."""
        slot = self._slot_of.get(unit_id)
        return self._units[slot] if slot is not None else None

    def units(self) -> list[Unit]:
        """All live units (no particular order)."""
        return [u for u in self._units if u is not None]

    def add(self, units: Iterable[Unit]) -> None:
        """Index units, replacing any previous version with the same id."""
        for unit in units:
            if unit.unit_id in self._slot_of:
                self._remove_one(unit.unit_id)
            tokens = self._tokenize(f"{unit.title}\n{unit.text}" if unit.title else unit.text)
            counts = Counter(tokens)
            slot = len(self._units)
            self._units.append(unit)
            self._lengths.append(float(len(tokens)))
            self._alive.append(1)
            self._terms.append(counts)
            self._slot_of[unit.unit_id] = slot
            self._total_len += len(tokens)
            for term, tf in counts.items():
                posting = self._postings.get(term)
                if posting is None:
                    posting = (array("i"), array("f"))
                    self._postings[term] = posting
                posting[0].append(slot)
                posting[1].append(float(tf))
                self._df[term] += 1
        self._scope_cache.clear()

    def remove(self, unit_ids: Iterable[str]) -> int:
        """Delete units by id; returns how many existed."""
        removed = sum(1 for uid in unit_ids if self._remove_one(uid))
        if removed:
            self._scope_cache.clear()
        if self._dead > 1000 and self._dead > len(self._units) // 3:
            self._compact()
        return removed

    def _remove_one(self, unit_id: str) -> bool:
        slot = self._slot_of.pop(unit_id, None)
        if slot is None:
            return False
        self._alive[slot] = 0
        self._units[slot] = None
        self._total_len -= self._lengths[slot]
        for term in self._terms[slot]:
            self._df[term] -= 1
        self._terms[slot] = Counter()
        self._dead += 1
        return True

    def _compact(self) -> None:
        live = self.units()
        self._reset()
        self.add(live)

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        scope: AccessScope | None = None,
        hidden: Callable[[Unit], bool] | None = None,
    ) -> list[ScoredUnit]:
        """Top ``k`` units for ``query``; ``scope`` filters units (access control) before ranking.

        ``hidden`` (the retriever's tombstones) drops units before ranking too, so however many of
        the best matches it hides, the ``k`` best of the others come back.
        """
        n_live = len(self._slot_of)
        if n_live == 0:
            return []
        terms = list(dict.fromkeys(self._tokenize(query)))
        if not terms:
            return []
        lengths = np.frombuffer(self._lengths, dtype=np.float32)
        avg = max(self._total_len / n_live, 1.0)
        norm = self.k1 * (1.0 - self.b + self.b * lengths / avg)
        scores = np.zeros(len(self._units), dtype=np.float32)
        for term in terms:
            posting = self._postings.get(term)
            df = self._df.get(term, 0)
            if posting is None or df <= 0:
                continue
            idf = math.log(1.0 + (n_live - df + 0.5) / (df + 0.5))
            slots = np.frombuffer(posting[0], dtype=np.int32)
            tf = np.frombuffer(posting[1], dtype=np.float32)
            scores[slots] += idf * tf * (self.k1 + 1.0) / (tf + norm[slots])
        mask = np.frombuffer(self._alive, dtype=np.int8).astype(bool)
        if scope is not None:
            mask &= self._mask(scope)
        scores[~mask] = 0.0
        if hidden is not None:
            return self._top_visible(scores, k, hidden)
        return self._top(scores, k)

    def _mask(self, scope: AccessScope) -> npt.NDArray[np.bool_]:
        # Scopes repeat (every question in a public channel shares one) and a Python predicate over
        # 100k units costs more than the scoring itself, so masks are cached until the index changes.
        mask = self._scope_cache.get(scope)
        if mask is None:
            mask = np.fromiter(
                (u is not None and scope.allows(u) for u in self._units), dtype=bool, count=len(self._units)
            )
            if len(self._scope_cache) > 64:
                self._scope_cache.clear()
            self._scope_cache[scope] = mask
        return mask

    def _top(self, scores: npt.NDArray[np.float32], k: int) -> list[ScoredUnit]:
        positive = int(np.count_nonzero(scores > 0))
        k = min(k, positive)
        if k <= 0:
            return []
        idx = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        out = []
        for i in idx[:k]:
            unit = self._units[int(i)]
            if unit is not None and scores[i] > 0:
                out.append(ScoredUnit(unit, float(scores[i])))
        return out

    def _top_visible(self, scores: npt.NDArray[np.float32], k: int, hidden: Callable[[Unit], bool]) -> list[ScoredUnit]:
        # Tombstones change with every delete, so they are not cached as a mask: the matching slots
        # are walked best first and only as far as ``k`` visible ones (a hidden busy channel costs a
        # predicate call per hidden match above them, not one per unit).
        if k <= 0:
            return []
        matching = np.flatnonzero(scores > 0)
        order = matching[np.argsort(-scores[matching], kind="stable")]
        out: list[ScoredUnit] = []
        for i in order:
            unit = self._units[int(i)]
            if unit is None or hidden(unit):
                continue
            out.append(ScoredUnit(unit, float(scores[i])))
            if len(out) == k:
                break
        return out

    def stats(self) -> dict[str, float]:
        """Sizes for reports: live units, vocabulary, tombstones."""
        return {"units": float(len(self)), "terms": float(len(self._postings)), "tombstones": float(self._dead)}


def top_unit_ids(results: Sequence[ScoredUnit]) -> list[str]:
    """Ids of scored units, in order (handy in tests and reports)."""
    return [r.unit.unit_id for r in results]

"""Unit vectors in Chroma: embedded ``PersistentClient`` by default, ``HttpClient`` for a server.

Access control is a hard rule but filtered Chroma queries are far slower than plain ones (the
``where`` filter runs a metadata scan before the HNSW search), so units are *partitioned by
visibility*: public units live in one collection that is searched unfiltered with a small
over-fetch (then filtered in Python for the workspace), and private/DM units in a second, much
smaller collection searched with a ``channel_id`` filter only when the scope allows any of them.
``benchmarks/qa_retrieval.py`` measures this against a single filtered collection.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import numpy as np

from bot.config import VectorSettings
from bot.ml import ScoredUnit, Unit, Vector, VectorIndexUnavailable
from brain.qa.access import AccessScope

_T = TypeVar("_T")

_PAGE = 5000
# The public partition is over-fetched this many times k before filtering by scope; enough when
# one workspace dominates, and the loop widens it when filtering leaves too few.
_OVERFETCH = 4
# How long a cached collection size is trusted (see ChromaUnitIndex._sizes).
_SIZE_TTL_S = 5.0
# What a Chroma server that is down or unreachable raises through its HTTP client.
_UNREACHABLE = (httpx.TransportError, ConnectionError)


# A proxy or load balancer in front of a Chroma server that is restarting answers these.
_GATEWAY_STATUSES = frozenset({502, 503, 504})


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the Chroma server cannot be used now: down or unreachable, or a
    proxy's 502/503/504 page in front of it. chromadb raises a response that is not OK and
    carries no Chroma error as a plain ``Exception`` raised while handling the
    ``httpx.HTTPStatusError``: only those gateway statuses are an outage. A 401 of an auth proxy,
    a 404 of a wrong path or a 413 of a batch over a body limit stay errors, reported as such
    instead of the bot quietly answering from BM25 alone and retrying the same batch for ever."""
    if isinstance(exc, _UNREACHABLE):
        return True
    status = exc.__context__
    return (
        type(exc) is Exception
        and isinstance(status, httpx.HTTPStatusError)
        and status.response.status_code in _GATEWAY_STATUSES
    )


# Ids no unit ever has (unit ids are "<kind>:..." strings): deleting them only writes log records.
_PURGE_ID = "__guildhall_log_purge_"
_DEFAULT_SYNC_THRESHOLD = 1000  # Chroma's, for a collection whose configuration does not say


def _sync_threshold(collection: Any) -> int:
    """Records after which ``collection``'s vector segment syncs and Chroma prunes its log."""
    try:
        hnsw = (getattr(collection, "configuration", None) or {}).get("hnsw") or {}
        return max(1, int(hnsw.get("sync_threshold") or _DEFAULT_SYNC_THRESHOLD))
    except (AttributeError, TypeError, ValueError):
        return _DEFAULT_SYNC_THRESHOLD


def unit_metadata(unit: Unit) -> dict[str, str | int | float | bool]:
    """Chroma metadata for a unit (Chroma accepts only scalars, so lists are JSON strings)."""
    return {
        "platform": unit.platform,
        "workspace_id": unit.workspace_id,
        "channel_id": unit.channel_id,
        "thread_id": unit.thread_id or "",
        "ts_start": unit.ts_start,
        "ts_end": unit.ts_end,
        "visibility": unit.visibility,
        "kind": unit.kind,
        "url": unit.url,
        "title": unit.title,
        "message_ids": json.dumps(list(unit.message_ids)),
        "author_ids": json.dumps(list(unit.author_ids)),
        "extra": json.dumps(unit.extra),
    }


def unit_from_chroma(unit_id: str, text: str | None, meta: Any) -> Unit:
    """Rebuild a :class:`Unit` from what Chroma stored."""
    m = dict(meta or {})
    return Unit(
        unit_id=unit_id,
        platform=str(m.get("platform", "")),
        workspace_id=str(m.get("workspace_id", "")),
        channel_id=str(m.get("channel_id", "")),
        text=text or "",
        message_ids=tuple(json.loads(str(m.get("message_ids", "[]")))),
        author_ids=tuple(json.loads(str(m.get("author_ids", "[]")))),
        thread_id=str(m.get("thread_id")) or None,
        ts_start=float(m.get("ts_start", 0.0)),
        ts_end=float(m.get("ts_end", 0.0)),
        visibility=str(m.get("visibility", "public")),
        kind=str(m.get("kind", "thread")),
        url=str(m.get("url", "")),
        title=str(m.get("title", "")),
        extra=dict(json.loads(str(m.get("extra", "{}")))),
    )


def open_chroma_client(settings: VectorSettings) -> Any:
    """A Chroma client for the settings (telemetry off: this machine may have no network)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.kind == "http":
        try:
            return chromadb.HttpClient(host=settings.host, port=settings.port, settings=chroma_settings)
        except (ValueError, *_UNREACHABLE) as exc:  # chromadb says "Could not connect ..." as a ValueError
            raise VectorIndexUnavailable(f"Chroma server {settings.host}:{settings.port}: {exc}") from exc
    return chromadb.PersistentClient(path=settings.path, settings=chroma_settings)


class ChromaUnitIndex:
    """:class:`bot.ml.UnitIndex` on Chroma, partitioned by visibility.

    Args:
        client: A Chroma client (``PersistentClient``, ``HttpClient`` or ``EphemeralClient``).
        collection: Base collection name; ``_<dim>_public`` / ``_<dim>_restricted`` are appended
            so that switching embedding models never mixes vector sizes.
        dim: Vector size of the embedder.
    """

    def __init__(self, client: Any, collection: str, dim: int, *, family: str = "") -> None:
        self._client = client
        self.dim = dim
        # Collections named ``{family}_...`` hold units of other encoders (an earlier or tuned model):
        # unused for search, but their text is erased with the live index's (privacy, retention).
        self._family = family
        self._name = f"{collection}_{dim}"
        self._own = {f"{collection}_{dim}_public", f"{collection}_{dim}_restricted"}
        config = {"hnsw": {"space": "cosine"}}
        try:
            self._public = client.get_or_create_collection(f"{collection}_{dim}_public", configuration=config)
            self._restricted = client.get_or_create_collection(f"{collection}_{dim}_restricted", configuration=config)
        except Exception as exc:
            if not _unreachable(exc):
                raise
            raise VectorIndexUnavailable(f"the vector index is unreachable: {exc}") from exc
        self._lock = asyncio.Lock()
        # Chroma's count() is a SQL COUNT over the collection (~10 ms at 100k units), and a query
        # needed it several times; sizes are cached, dropped on our writes and after a few seconds
        # (another process may write to a shared Chroma server).
        self._sizes: dict[int, tuple[float, int]] = {}

    async def _run(self, call: Callable[..., _T], *args: Any) -> _T:
        """``call(*args)`` in a worker thread (Chroma's client blocks); an unreachable server
        becomes :class:`~bot.ml.VectorIndexUnavailable`."""
        try:
            return await asyncio.to_thread(call, *args)
        except Exception as exc:
            if not _unreachable(exc):
                raise
            raise VectorIndexUnavailable(f"the vector index is unreachable: {exc}") from exc

    def _collection_for(self, unit: Unit) -> Any:
        return self._public if unit.visibility == "public" else self._restricted

    # -- UnitIndex protocol ------------------------------------------------------------------
    async def upsert(self, units: Sequence[Unit], vectors: Vector) -> None:
        """Insert or replace units; a unit whose visibility changed moves between partitions."""
        if not units:
            return
        await self._run(self._upsert_sync, list(units), np.asarray(vectors, dtype=np.float32))

    def _upsert_sync(self, units: list[Unit], vectors: Vector) -> None:
        self._sizes.clear()
        ids = [u.unit_id for u in units]
        # Remove from both partitions first: visibility may have changed since the last index.
        self._public.delete(ids=ids)
        self._restricted.delete(ids=ids)
        for collection in (self._public, self._restricted):
            rows = [i for i, u in enumerate(units) if self._collection_for(u) is collection]
            for start in range(0, len(rows), _PAGE):
                part = rows[start : start + _PAGE]
                if part:
                    collection.upsert(
                        ids=[units[i].unit_id for i in part],
                        embeddings=vectors[part],
                        documents=[units[i].text for i in part],
                        metadatas=[unit_metadata(units[i]) for i in part],
                    )

    async def delete(self, unit_ids: Sequence[str]) -> None:
        """Remove units from both partitions."""
        ids = list(unit_ids)
        if ids:
            await self._run(self._delete_sync, ids)

    def _delete_sync(self, ids: list[str]) -> None:
        self._sizes.clear()
        for start in range(0, len(ids), _PAGE):
            self._public.delete(ids=ids[start : start + _PAGE])
            self._restricted.delete(ids=ids[start : start + _PAGE])

    async def query(
        self, vector: Vector, *, k: int, channel_ids: set[str] | None = None, workspace_id: str | None = None
    ) -> list[ScoredUnit]:
        """Nearest units, restricted to ``channel_ids`` / ``workspace_id`` when given."""

        def keep(u: Unit) -> bool:
            return (channel_ids is None or u.channel_id in channel_ids) and (
                workspace_id is None or u.workspace_id == workspace_id
            )

        restricted_where = {"channel_id": {"$in": sorted(channel_ids)}} if channel_ids else None
        search_restricted = channel_ids is None or bool(channel_ids)
        return await self._run(self._query_sync, vector, k, keep, restricted_where, search_restricted)

    async def query_scope(self, vector: Vector, *, k: int, scope: AccessScope) -> list[ScoredUnit]:
        """Nearest units an answer under ``scope`` may use (the QA retriever's entry point)."""
        restricted_where = None
        search_restricted = scope.everything or bool(scope.extra_channel_ids)
        if not scope.everything and scope.extra_channel_ids:
            restricted_where = {"channel_id": {"$in": sorted(scope.extra_channel_ids)}}
        # Without public units (a Slack Connect channel) the public partition is searched filtered
        # to the scope's own channels: over-fetching it would read it whole to keep nothing.
        public_where = restricted_where if not scope.everything and not scope.include_public else None
        if public_where is None and not scope.everything and not scope.include_public:
            return []
        return await self._run(
            self._query_sync, vector, k, scope.allows, restricted_where, search_restricted, public_where
        )

    async def vectors(self, unit_ids: Sequence[str]) -> dict[str, Vector]:
        """Stored vectors by unit id (the recommender reuses them instead of re-embedding)."""
        return await self._run(self._vectors_sync, list(unit_ids))

    # -- extras ----------------------------------------------------------------------------
    async def count(self) -> int:
        """Number of stored units."""
        return int(await self._run(lambda: self._public.count() + self._restricted.count()))

    async def all_units(self) -> list[Unit]:
        """Every stored unit (to rebuild the BM25 index on start)."""
        return await self._run(self._all_units_sync)

    async def units_by_ids(self, unit_ids: Sequence[str]) -> list[Unit]:
        """The stored units among ``unit_ids`` (text and metadata; ids not stored are left out).

        A process re-reads units another one wrote (:mod:`brain.qa.unit_log`)."""
        ids = list(dict.fromkeys(unit_ids))
        if not ids:
            return []
        return await self._run(self._units_by_ids_sync, ids)

    async def unit_ids_with_prefix(self, prefix: str) -> list[str]:
        """Stored ids starting with ``prefix`` (Chroma has no prefix query, so this scans ids)."""
        ids = await self._run(self._all_ids_sync)
        return [i for i in ids if i.startswith(prefix)]

    @property
    def encoder_key(self) -> tuple[str, str] | None:
        """``(family, name)`` of this encoder's collections among those of every encoder used with
        this vector store (:class:`brain.qa.indexer.Indexer` records up to where each is current);
        None when no other encoder's collections are kept apart (no family)."""
        return (self._family, self._name) if self._family else None

    async def erase_in_other_encoders(
        self,
        platform: str,
        workspace_id: str,
        *,
        author_id: str | None = None,
        before_ts: float | None = None,
        message_ids: Collection[str] = (),
        channel_ids: Collection[str] = (),
        thread_ids: Collection[str] = (),
        at_ts: Collection[float] = (),
    ) -> int:
        """Delete, from the collections of other encoders, the workspace's units ``author_id`` wrote
        part of, that began before ``before_ts`` (``/forget-me``, retention) or that hold one of
        ``message_ids`` (a deleted or edited message), with the later chunks of their thread or
        window (which open with their text). ``channel_ids`` and ``thread_ids`` limit the search to
        the units of those channels or of those threads; given alone, every such unit goes (a
        deleted channel). ``at_ts``: the times ``message_ids`` were posted, when known; only the units
        spanning them are read (an edit reads a few units, not its whole channel).

        Those collections are searched by no one until their encoder is configured again, and are
        then rebuilt (:meth:`brain.qa.indexer.Indexer.load` finds them stale): whole units go, the
        other messages they held included. Returns how many."""
        if author_id is None and before_ts is None and not message_ids and not channel_ids and not thread_ids:
            return 0
        return int(
            await self._run(
                self._erase_other_sync,
                platform,
                workspace_id,
                author_id,
                before_ts,
                set(message_ids),
                _Within(frozenset(channel_ids), frozenset(thread_ids), tuple(at_ts)),
            )
        )

    def _erase_other_sync(
        self,
        platform: str,
        workspace_id: str,
        author_id: str | None,
        before_ts: float | None,
        message_ids: set[str],
        within: _Within,
    ) -> int:
        if not self._family:
            return 0
        erased = 0
        whole = author_id is None and before_ts is None and not message_ids
        where = within.where(
            platform,
            workspace_id,
            before_ts=before_ts if author_id is None and not message_ids else None,
            by_time=bool(message_ids) and author_id is None and before_ts is None,
        )
        for collection in self._other_collections():
            doomed, holding = [], []
            for unit_id, meta in _metadatas(collection, where):
                wrote = author_id is not None and author_id in json.loads(str(meta.get("author_ids", "[]")))
                old = before_ts is not None and float(meta.get("ts_start", 0.0)) < before_ts
                held = bool(message_ids) and not message_ids.isdisjoint(json.loads(str(meta.get("message_ids", "[]"))))
                if whole or wrote or old or held:
                    doomed.append(unit_id)
                if held:
                    holding.append(unit_id)
            erased += _delete_with_later_chunks(collection, doomed, holding)
        return erased

    async def erase_deleted_in_other_encoders(self, deleted: Collection[tuple[str, str, str]]) -> int:
        """Delete, from the collections of other encoders, every unit holding one of the ``deleted``
        ``(platform, workspace, message id)``: erasures queued in memory are lost with a restart (or
        dropped when too many wait), the store's deleted rows are not. One pass over those
        collections' metadata; nothing is read when there are none. Returns how many."""
        if not deleted or not self._family:
            return 0
        return int(await self._run(self._erase_deleted_sync, set(deleted)))

    def _erase_deleted_sync(self, deleted: set[tuple[str, str, str]]) -> int:
        erased = 0
        for collection in self._other_collections():
            holding = []
            for unit_id, meta in _metadatas(collection):
                if str(meta.get("kind", "")) == "doc":
                    continue
                p, ws = str(meta.get("platform", "")), str(meta.get("workspace_id", ""))
                if any((p, ws, m) in deleted for m in json.loads(str(meta.get("message_ids", "[]")))):
                    holding.append(unit_id)
            erased += _delete_with_later_chunks(collection, holding, holding)
        return erased

    def _other_collections(self) -> Iterator[Any]:
        """The collections of this family's other encoders (a model switch leaves the old one's)."""
        for listed in self._client.list_collections():
            name = listed if isinstance(listed, str) else listed.name
            if name not in self._own and name.startswith(f"{self._family}_"):
                yield self._client.get_collection(name)

    async def purge_log(self) -> None:
        """Flush erased text out of Chroma's write-ahead log (after ``/forget-me`` and retention).

        Chroma logs every write, documents and metadata included, and prunes its log only when a
        collection's vector segment syncs, every ``sync_threshold`` (1,000) records: a forgotten
        member's text stayed readable in ``chroma.sqlite3`` until a thousand more writes, across
        restarts. Deleting that many ids that do not exist is a run of log records that carry no
        text and leave the HNSW graph as it is, and it makes the collection sync and prune.
        """
        await self._run(self._purge_log_sync)

    def _purge_log_sync(self) -> None:
        names = set(self._own)
        if self._family:
            for listed in self._client.list_collections():
                name = listed if isinstance(listed, str) else listed.name
                if name.startswith(f"{self._family}_"):
                    names.add(name)
        opened = {self._public.name: self._public, self._restricted.name: self._restricted}
        for name in sorted(names):
            collection = opened.get(name) or self._client.get_collection(name)
            threshold = _sync_threshold(collection)
            for start in range(0, threshold, _PAGE):
                collection.delete(ids=[f"{_PURGE_ID}{i}" for i in range(start, min(threshold, start + _PAGE))])

    # -- sync internals (run in a worker thread) --------------------------------------------
    def _query_sync(
        self,
        vector: Vector,
        k: int,
        keep: Callable[[Unit], bool],
        restricted_where: dict[str, Any] | None,
        search_restricted: bool,
        public_where: dict[str, Any] | None = None,
    ) -> list[ScoredUnit]:
        q = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if public_where is not None:
            found = [s for s in self._search(self._public, q, k, public_where) if keep(s.unit)]
        else:
            found = self._overfetch(self._public, q, k, keep)
        if search_restricted:
            found += [s for s in self._search(self._restricted, q, k, restricted_where) if keep(s.unit)]
        found.sort(key=lambda s: -s.score)
        return found[:k]

    def _overfetch(self, collection: Any, q: Vector, k: int, keep: Callable[[Unit], bool]) -> list[ScoredUnit]:
        total = self._size(collection)
        n = min(total, max(k * _OVERFETCH, 32))
        while n > 0:
            hits = self._search(collection, q, n, None)
            kept = [s for s in hits if keep(s.unit)]
            if len(kept) >= k or n >= total:
                return kept
            n = min(total, n * 4)
        return []

    def _size(self, collection: Any) -> int:
        now = time.monotonic()
        cached = self._sizes.get(id(collection))
        if cached is not None and now - cached[0] < _SIZE_TTL_S:
            return cached[1]
        size = int(collection.count())
        self._sizes[id(collection)] = (now, size)
        return size

    def _search(self, collection: Any, q: Vector, n: int, where: dict[str, Any] | None) -> list[ScoredUnit]:
        if n <= 0:
            return []
        n = min(n, self._size(collection))
        if n <= 0:
            return []
        res = collection.query(
            query_embeddings=q, n_results=n, where=where, include=["documents", "metadatas", "distances"]
        )
        ids = res["ids"][0]
        docs = (res.get("documents") or [[]])[0]
        metas = (res.get("metadatas") or [[]])[0]
        dists = (res.get("distances") or [[]])[0]
        return [
            ScoredUnit(unit_from_chroma(uid, doc, meta), 1.0 - float(dist))
            for uid, doc, meta, dist in zip(ids, docs, metas, dists, strict=True)
        ]

    def _vectors_sync(self, ids: list[str]) -> dict[str, Vector]:
        out: dict[str, Vector] = {}
        for collection in (self._public, self._restricted):
            res = collection.get(ids=ids, include=["embeddings"])
            for uid, emb in zip(res["ids"], res["embeddings"], strict=True):
                out[uid] = np.asarray(emb, dtype=np.float32)
        return out

    def _all_units_sync(self) -> list[Unit]:
        units: list[Unit] = []
        for collection in (self._public, self._restricted):
            offset = 0
            while True:
                res = collection.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
                if not res["ids"]:
                    break
                docs = res.get("documents") or [None] * len(res["ids"])
                metas = res.get("metadatas") or [None] * len(res["ids"])
                units.extend(unit_from_chroma(i, d, m) for i, d, m in zip(res["ids"], docs, metas, strict=True))
                offset += len(res["ids"])
        return units

    def _units_by_ids_sync(self, ids: list[str]) -> list[Unit]:
        units: list[Unit] = []
        for start in range(0, len(ids), _PAGE):
            part = ids[start : start + _PAGE]
            for collection in (self._public, self._restricted):
                res = collection.get(ids=part, include=["documents", "metadatas"])
                docs = res.get("documents") or [None] * len(res["ids"])
                metas = res.get("metadatas") or [None] * len(res["ids"])
                units.extend(unit_from_chroma(i, d, m) for i, d, m in zip(res["ids"], docs, metas, strict=True))
        return units

    def _all_ids_sync(self) -> list[str]:
        ids: list[str] = []
        for collection in (self._public, self._restricted):
            offset = 0
            while True:
                res = collection.get(include=[], limit=_PAGE, offset=offset)
                if not res["ids"]:
                    break
                ids.extend(res["ids"])
                offset += len(res["ids"])
        return ids


# Unit times come from the same store rows as a message's time; the slack absorbs float rounding.
_TS_SLACK = 1e-3


@dataclass(frozen=True, slots=True)
class _Within:
    """Where an erasure in another encoder's collections looks: channels, threads, message times."""

    channel_ids: frozenset[str]
    thread_ids: frozenset[str]
    at_ts: tuple[float, ...]

    def where(self, platform: str, workspace_id: str, *, before_ts: float | None, by_time: bool) -> dict[str, Any]:
        """The Chroma filter. ``by_time``: only units holding the messages go, so only those spanning
        their times are read; ``before_ts``: only units begun before it go."""
        clauses: list[dict[str, Any]] = [{"platform": platform}, {"workspace_id": workspace_id}]
        places: list[dict[str, Any]] = []
        if self.channel_ids:
            places.append({"channel_id": {"$in": sorted(self.channel_ids)}})
        if self.thread_ids:
            places.append({"thread_id": {"$in": sorted(self.thread_ids)}})
        if places:
            clauses.append(places[0] if len(places) == 1 else {"$or": places})
        if by_time and self.at_ts:
            # Only the units spanning the messages' times can hold them (chunks list their messages
            # in time order); the later chunks that open with their text are found by id.
            clauses.append({"ts_start": {"$lte": max(self.at_ts) + _TS_SLACK}})
            clauses.append({"ts_end": {"$gte": min(self.at_ts) - _TS_SLACK}})
        elif before_ts is not None:
            clauses.append({"ts_start": {"$lt": before_ts}})
        return {"$and": clauses}


def _metadatas(collection: Any, where: dict[str, Any] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each stored unit's id and metadata (``where`` they match), read :data:`_PAGE` at a time."""
    offset = 0
    while True:
        res = collection.get(where=where, include=["metadatas"], limit=_PAGE, offset=offset)
        if not res["ids"]:
            return
        for unit_id, meta in zip(res["ids"], res.get("metadatas") or [], strict=False):
            yield unit_id, meta or {}
        offset += len(res["ids"])


def _delete_with_later_chunks(collection: Any, doomed: Sequence[str], holding: Sequence[str]) -> int:
    """Delete the units ``doomed`` and the later chunks of those ``holding`` an erased message (each
    opens with the first chunk's text, :func:`_later_chunks`); returns how many were deleted."""
    ids = list(dict.fromkeys([*doomed, *(c for unit_id in holding for c in _later_chunks(collection, unit_id))]))
    for start in range(0, len(ids), _PAGE):
        collection.delete(ids=ids[start : start + _PAGE])
    return len(ids)


def _later_chunks(collection: Any, unit_id: str) -> list[str]:
    """Stored ids of the chunks after ``unit_id`` of its thread or window (``<base>#<n>``): each
    opens with the first chunk's text (:data:`brain.qa.units.CONTEXT_KEY`)."""
    base, sep, number = unit_id.rpartition("#")
    if not sep or not number.isdigit():
        return []
    found: list[str] = []
    start = int(number) + 1
    while True:
        wanted = [f"{base}#{n}" for n in range(start, start + _CHUNK_PAGE)]
        ids = list(collection.get(ids=wanted, include=[])["ids"])
        found.extend(ids)
        if len(ids) < len(wanted):
            return found
        start += _CHUNK_PAGE


_CHUNK_PAGE = 64

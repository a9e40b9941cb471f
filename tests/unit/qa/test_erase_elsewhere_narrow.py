"""An edit or delete erases its text from the other encoders' collections by reading the few units
spanning the message's time, not every unit of its channel (as it did, 1.5 s an edit in a channel
of 20,000 units), and the later chunks of its thread or window go too (they open with its text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chromadb
import numpy as np

from bot.ml import Unit
from brain.qa.units import CONTEXT_KEY
from brain.qa.vector_index import ChromaUnitIndex


class _Reads:
    """A collection that counts the metadata rows read from it."""

    def __init__(self, collection: Any, counter: list[int]) -> None:
        self._collection = collection
        self._counter = counter

    def get(self, **kwargs: Any) -> Any:
        res = self._collection.get(**kwargs)
        if kwargs.get("where") is not None:
            self._counter.append(len(res["ids"]))
        return res

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


def _windows(n: int) -> list[Unit]:
    return [
        Unit(
            f"win:discord:G:C:w{i}#0",
            "discord",
            "G",
            "C",
            f"text {i}",
            message_ids=tuple(f"m{i * 5 + j}" for j in range(5)),
            kind="window",
            ts_start=float(i * 5),
            ts_end=float(i * 5 + 4),
        )
        for i in range(n)
    ]


def _thread() -> list[Unit]:
    first = "root: my phone is 555 0100"
    return [
        Unit(
            "thread:discord:G:T#0",
            "discord",
            "G",
            "C",
            first,
            message_ids=("r",),
            thread_id="T",
            ts_start=7.0,
            ts_end=7.0,
        ),
        *(
            Unit(
                f"thread:discord:G:T#{k}",
                "discord",
                "G",
                "C",
                f"reply {k}",
                message_ids=(f"r{k}",),
                thread_id="T",
                ts_start=7.0 + k,
                ts_end=7.0 + k,
                extra={CONTEXT_KEY: first},
            )
            for k in range(1, 4)
        ),
    ]


async def _indexes(tmp_path: Path) -> tuple[ChromaUnitIndex, ChromaUnitIndex, list[int]]:
    client = chromadb.PersistentClient(path=str(tmp_path))
    old = ChromaUnitIndex(client, "gh_oldmodel", 8, family="gh")
    units = _windows(400) + _thread()
    await old.upsert(units, np.random.default_rng(0).random((len(units), 8), dtype=np.float32))
    new = ChromaUnitIndex(client, "gh_newmodel", 8, family="gh")
    reads: list[int] = []
    get_collection = client.get_collection
    client.get_collection = lambda name: _Reads(get_collection(name), reads)  # type: ignore[method-assign]
    return old, new, reads


async def test_an_edit_reads_the_units_spanning_its_time_only(tmp_path: Path) -> None:
    old, new, reads = await _indexes(tmp_path)
    erased = await new.erase_in_other_encoders("discord", "G", message_ids={"m1002"}, channel_ids={"C"}, at_ts=[1002.0])
    assert erased == 1
    assert sum(reads) <= 2
    left = {u.unit_id for u in await old.all_units()}
    assert "win:discord:G:C:w200#0" not in left
    assert len(left) == 403


async def test_a_thread_message_goes_with_the_later_chunks_opening_with_it(tmp_path: Path) -> None:
    old, new, reads = await _indexes(tmp_path)
    erased = await new.erase_in_other_encoders(
        "discord", "G", message_ids={"r"}, channel_ids={"C"}, thread_ids={"T"}, at_ts=[7.0]
    )
    left = {u.unit_id for u in await old.all_units()}
    assert not any(uid.startswith("thread:discord:G:T#") for uid in left)
    assert erased == 4
    assert sum(reads) <= 3  # the thread's unit and the window spanning 7.0


async def test_without_a_time_every_unit_of_the_channel_is_still_searched(tmp_path: Path) -> None:
    old, new, _ = await _indexes(tmp_path)
    assert await new.erase_in_other_encoders("discord", "G", message_ids={"m3"}, channel_ids={"C"}) == 1
    assert await new.erase_in_other_encoders("discord", "G", channel_ids={"T"}, thread_ids={"T"}) == 4
    assert len(await old.all_units()) == 400 - 1

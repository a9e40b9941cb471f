"""Start-up heap freezing: the collector skips what was alive at start-up, until thawed."""

from __future__ import annotations

import gc

from bot.heap import freeze_startup_heap, thaw_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector can free it


def test_frozen_objects_are_skipped_until_thawed() -> None:
    survivor = Node()
    try:
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 0
        assert not any(o is survivor for o in gc.get_objects())  # out of the scanned generations
        born_later = Node()
        assert any(o is born_later for o in gc.get_objects())  # new objects are collected as before
    finally:
        thaw_heap()
    assert gc.get_freeze_count() == 0
    assert any(o is survivor for o in gc.get_objects())

"""Serving-time interpreter settings: the collector skips the start-up heap, until restored."""

from __future__ import annotations

import gc
import sys

from bot.runtime import SWITCH_INTERVAL_S, restore_defaults, tune_for_serving


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector can free it


def test_tuning_freezes_the_heap_and_shortens_the_switch_interval_until_restored() -> None:
    before = sys.getswitchinterval()
    survivor = Node()
    try:
        frozen = tune_for_serving()
        assert frozen == gc.get_freeze_count() > 0
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S < before
        assert not any(o is survivor for o in gc.get_objects())  # out of the scanned generations
        born_later = Node()
        assert any(o is born_later for o in gc.get_objects())  # new objects are collected as before
    finally:
        restore_defaults()
    assert gc.get_freeze_count() == 0 and sys.getswitchinterval() == before
    assert any(o is survivor for o in gc.get_objects())

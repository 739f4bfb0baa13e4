"""kit/heap.settle(): what start-up left alive is frozen (no collection walks it again), its
garbage is collected first, and the youngest generation is collected less often."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bankfeeds.kit import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_settle_freezes_what_is_alive_and_collects_the_rest(restored_gc: None) -> None:
    alive = Node()
    gone = Node()
    gone.other = Node()
    gone.other.other = gone  # a cycle: only the cyclic collector frees it
    gone_ref = weakref.ref(gone.other)
    del gone

    frozen = heap.settle()

    assert frozen == gc.get_freeze_count() > 0
    tracked = {id(o) for o in gc.get_objects()}
    assert id(alive) not in tracked  # frozen: in no generation a collection walks
    assert gone_ref() is None  # the cycle was collected before the freeze
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD


def test_settle_keeps_a_higher_threshold(restored_gc: None) -> None:
    gc.set_threshold(heap.YOUNG_THRESHOLD * 2, 10, 10)
    heap.settle()
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD * 2, 10, 10)

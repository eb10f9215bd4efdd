"""The C heap is handed back after a burst of big work, not between its pieces."""

from __future__ import annotations

import pytest

from handlers import heap


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    done: list[str] = []
    monkeypatch.setattr(heap, "give_back", lambda: done.append("trim"))
    return done


def test_the_heap_is_given_back_once_the_last_of_overlapping_work_ends(trims: list[str]) -> None:
    with heap.giving_back_after():
        with heap.giving_back_after():
            pass
        assert trims == []  # another batch is still under way: its pages are still wanted
    assert trims == ["trim"]
    with heap.giving_back_after():
        pass
    assert trims == ["trim", "trim"]


def test_work_that_fails_still_counts_out_and_gives_the_heap_back(trims: list[str]) -> None:
    with pytest.raises(RuntimeError), heap.giving_back_after():
        raise RuntimeError("the batch failed")
    assert trims == ["trim"]
    with heap.giving_back_after():
        pass
    assert trims == ["trim", "trim"]

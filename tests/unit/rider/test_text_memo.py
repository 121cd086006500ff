"""The arrivals' memo of rendered stop texts counts them itself, and starts over past its bound."""

from __future__ import annotations

from web.rider.arrival_texts import TextMemo
from web.rider.live_boards import make_board


def test_the_count_follows_puts_forgets_and_clears() -> None:
    memo, board = TextMemo(), make_board([], None)
    memo.put(1, (3600.0, 20), board, 100.0, "[]")
    memo.put(1, (3600.0, 20), board, 101.0, "[1]")  # the same window again: still one text
    memo.put(1, (300.0, 3), board, 101.0, "[2]")
    memo.put(2, (3600.0, 20), board, 101.0, "[3]")
    assert len(memo) == 3
    assert memo.get(1, (3600.0, 20), board, 101.0) == "[1]"
    assert memo.get(1, (3600.0, 20), board, 100.0) is None, "another second"
    assert memo.get(1, (3600.0, 20), make_board([], None), 101.0) is None, "another board"
    memo.forget([1, 5])
    assert len(memo) == 1
    assert memo.get(2, (3600.0, 20), board, 101.0) == "[3]"
    memo.clear()
    assert len(memo) == 0
    assert memo.by_stop == {}


def test_past_its_bound_it_starts_over() -> None:
    memo, board = TextMemo(most=2), make_board([], None)
    for s in range(3):
        memo.put(s, (60.0, 1), board, 0.0, f"[{s}]")
    assert len(memo) == 1
    assert dict(memo.by_stop) == {2: {(60.0, 1): (board, 0.0, "[2]")}}

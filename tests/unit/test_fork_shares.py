"""The claim table of the suite's forked runner (tests/fork_shares.py): every item taken once, in ranges, stolen by
halves, and what a dead child held given back or named."""

from __future__ import annotations

import pytest

from fork_pool import children_for
from fork_shares import Shares


def drain(shares: Shares, child: int) -> list[int]:
    taken = []
    while (index := shares.claim(child)) is not None:
        taken.append(index)
        shares.finished(child, index)
    return taken


def test_each_child_takes_its_own_range_from_the_front() -> None:
    shares = Shares(10, 2)
    assert [shares.claim(0), shares.claim(1)] == [0, 5]
    shares.finished(0, 0)
    assert shares.claim(0) == 1


def test_a_child_out_of_work_steals_the_back_half_of_the_largest_range() -> None:
    shares = Shares(12, 3)  # ranges 0-3, 4-7, 8-11
    assert drain(shares, 0) == [0, 1, 2, 3, 6, 7, 10, 11, 5, 9, 4, 8]
    assert shares.claim(1) is None and shares.unclaimed() == 0


def test_every_item_is_taken_exactly_once_however_the_children_interleave() -> None:
    shares = Shares(101, 3)
    taken: list[int] = []
    order = [0, 1, 1, 2, 0, 2, 2, 1]
    step = 0
    while shares.unclaimed():
        child = order[step % len(order)]
        step += 1
        index = shares.claim(child)
        if index is not None:
            taken.append(index)
            shares.finished(child, index)
    assert sorted(taken) == list(range(101))


def test_a_stopped_run_hands_out_nothing_more() -> None:
    shares = Shares(10, 2)
    shares.claim(0)
    shares.stop()
    assert shares.claim(0) is None and shares.claim(1) is None


def test_a_child_cannot_hold_a_third_unfinished_item() -> None:
    shares = Shares(10, 2)
    shares.claim(0)
    shares.claim(0)
    with pytest.raises(RuntimeError, match="third item"):
        shares.claim(0)


def test_a_dead_child_gives_back_the_item_it_took_next_and_not_the_one_it_died_in() -> None:
    shares = Shares(10, 2)
    running, following = shares.claim(0), shares.claim(0)  # 0 runs, 1 is its nextitem
    assert shares.release(0, started={running}) == []
    assert shares.unclaimed_items() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert drain(shares, 1)[-4:] == [3, 4, 2, 1]  # 1 went back to child 0's range, which child 1 stole by halves
    assert following == 1


def test_a_death_between_tests_gives_back_both_items_it_had_taken_from_its_own_range() -> None:
    shares = Shares(6, 2)  # 0-2, 3-5
    assert [shares.claim(0), shares.claim(0)] == [0, 1]
    shares.finished(0, 0)
    assert shares.claim(0) == 2  # the nextitem of 1, which it had not started yet when it died
    assert shares.release(0, started={0}) == []
    assert drain(shares, 1) == [3, 4, 5, 2, 1]


def test_an_item_that_cannot_go_back_to_a_range_is_named() -> None:
    shares = Shares(4, 2)  # 0-1, 2-3
    assert [shares.claim(0), shares.claim(0)] == [0, 1]
    shares.finished(0, 0)
    assert shares.claim(0) == 3  # its range is empty: it stole the back half of child 1's
    # Died after finishing 0, before starting 1: 3 goes back to its new range, 1 belongs to no range any more.
    assert shares.release(0, started={0}) == [1]
    assert drain(shares, 1) == [2, 3]


@pytest.mark.parametrize(("wanted", "cpus", "elsewhere", "children"), [
    ("auto", 2, False, 3), ("auto", 1, False, 0), ("auto", 8, True, 0), ("3", 2, False, 3), ("1", 4, False, 0),
    ("0", 4, False, 0),
])
def test_how_many_children_a_run_forks(wanted: str, cpus: int, elsewhere: bool, children: int) -> None:
    assert children_for(wanted, cpus, elsewhere) == children


@pytest.mark.parametrize("wanted", ["two", "-1", ""])
def test_a_bad_fork_count_is_a_usage_error(wanted: str) -> None:
    with pytest.raises(pytest.UsageError, match="--forks takes a number of processes"):
        children_for(wanted, 2, False)


def test_the_test_a_child_runs_is_known_until_it_finishes_and_forgotten_when_it_dies() -> None:
    shares = Shares(4, 2)
    index = shares.claim(1)
    assert shares.running_item(1) is None  # taken as a nextitem is not running
    shares.begin(1, index)
    assert shares.running_item(1) == index and shares.running_item(0) is None
    shares.finished(1, index)
    assert shares.running_item(1) is None
    shares.begin(1, shares.claim(1))
    shares.release(1, started={index})
    assert shares.running_item(1) is None  # a child forked in its place starts between tests

"""Which collected tests each forked child of tests/fork_pool.py still owns, in memory all of them share.

Each child owns a contiguous range [lo, hi) of the items (neighbours share module fixtures, so a range keeps their
setups few) and takes from its front. A child whose range is empty takes the back half of the largest range left,
as xdist's worksteal does. A child holds at most two items it has taken and not finished: the one it runs and the
one it took to pass as `nextitem` (pytest tears down by it). Those are written here as they are taken, so when a
child dies the parent knows exactly what it held. The test it was running the parent reports as failed; the one
taken next is the front of the child's own range less one, so it is given back to that range for another child
to take. Nothing goes missing unseen: a held item that cannot be given back is returned for the parent to report.
Which of the two a child is running it writes here too, before its protocol starts: a child sends a test's events
only when the test is over, so a death mid-test is named from here, not from the pipe.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Collection

EMPTY = -1


class Shares:
    def __init__(self, items: int, children: int) -> None:
        self.children = children
        self.lock = multiprocessing.Lock()
        self.bounds = multiprocessing.RawArray("q", 2 * children)  # lo, hi of each child's range
        self.held = multiprocessing.RawArray("q", [EMPTY] * (2 * children))  # taken, not finished
        self.running = multiprocessing.RawArray("q", [EMPTY] * children)  # the item each child's protocol runs
        self.stopped = multiprocessing.RawValue("b", 0)
        step, extra = divmod(items, children)
        start = 0
        for child in range(children):
            end = start + step + (child < extra)
            self.bounds[2 * child], self.bounds[2 * child + 1] = start, end
            start = end

    def claim(self, child: int) -> int | None:
        """The next item for `child`, or None when every item is taken (or the run stops)."""
        with self.lock:
            if self.stopped.value:
                return None
            bounds = self.bounds
            if bounds[2 * child] >= bounds[2 * child + 1]:
                richest = max(range(self.children), key=lambda other: bounds[2 * other + 1] - bounds[2 * other])
                left = bounds[2 * richest + 1] - bounds[2 * richest]
                if left <= 0:
                    return None
                middle = bounds[2 * richest] + left // 2  # the back half, or the whole of a last one
                bounds[2 * child], bounds[2 * child + 1] = middle, bounds[2 * richest + 1]
                bounds[2 * richest + 1] = middle
            index = bounds[2 * child]
            bounds[2 * child] = index + 1
            slot = 2 * child if self.held[2 * child] == EMPTY else 2 * child + 1
            if self.held[slot] != EMPTY:
                raise RuntimeError(f"forked child {child} took a third item before finishing one")
            self.held[slot] = index
            return index

    def begin(self, child: int, index: int) -> None:
        self.running[child] = index  # one word, written by this child only: no lock

    def finished(self, child: int, index: int) -> None:
        with self.lock:
            for slot in (2 * child, 2 * child + 1):
                if self.held[slot] == index:
                    self.held[slot] = EMPTY
            self.running[child] = EMPTY

    def running_item(self, child: int) -> int | None:
        """The item `child` was running (read after it died: nothing writes it then), or None between tests."""
        index = self.running[child]
        return None if index == EMPTY else index

    def stop(self) -> None:
        self.stopped.value = 1

    def unclaimed(self) -> int:
        return len(self.unclaimed_items())

    def unclaimed_items(self) -> list[int]:
        with self.lock:
            return sorted(index for c in range(self.children)
                          for index in range(self.bounds[2 * c], self.bounds[2 * c + 1]))

    def release(self, child: int, started: Collection[int]) -> list[int]:
        """After `child` died: gives back what it held and had not started (`started`: the items whose start the
        parent saw, run or reported as the one it died in), and returns what it held that could not be given back."""
        lost = []
        with self.lock:
            held = sorted((self.held[slot] for slot in (2 * child, 2 * child + 1) if self.held[slot] != EMPTY),
                          reverse=True)
            self.held[2 * child] = self.held[2 * child + 1] = EMPTY
            self.running[child] = EMPTY  # a child forked in its place starts between tests
            for index in held:
                if index in started:
                    continue
                if index == self.bounds[2 * child] - 1:
                    self.bounds[2 * child] = index
                else:
                    lost.append(index)
        return sorted(lost)

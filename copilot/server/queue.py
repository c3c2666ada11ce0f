"""The queue for the model: bounded, fair between users, each waiter told how many are ahead.

The model is the server's bottleneck (one answer per model slot at a time), so
questions wait here for a slot.  The next slot goes to the waiting user served
longest ago, so one user's twenty questions cannot starve another's one; a
user's own questions keep their order.  Beyond `limit` waiting, a question is
refused at once ("busy, N ahead") rather than left to time out.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from copilot.core.errors import Busy, CopilotError


class FairQueue:
    def __init__(self, slots: int, limit: int):
        self.slots, self.limit = max(1, slots), max(0, limit)
        self._busy = 0
        self._waiting: list[tuple[int, str]] = []  # (ticket, user), in arrival order
        self._served: dict[str, int] = {}  # user → the grant count when last served
        self._grants = itertools.count(1)
        self._tickets = itertools.count()
        self._changed = threading.Condition()

    @contextmanager
    def slot(self, user: str, cancel: threading.Event | None = None,
             on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Hold a model slot for `user` while the block runs; wait until one is theirs, telling
        `on_wait` how many are ahead whenever that changes.  `Busy` if the queue is full; a
        `cancel` set while waiting leaves the queue (`Cancelled`)."""
        with self._changed:
            if self._busy >= self.slots and len(self._waiting) >= self.limit:
                raise Busy(f"the server is busy: {len(self._waiting)} questions ahead; ask again shortly")
            ticket = next(self._tickets)
            self._waiting.append((ticket, user))
            told = None
            try:
                while True:
                    ahead = self._ahead(ticket)
                    if ahead == 0 and self._busy < self.slots:
                        break
                    if cancel is not None and cancel.is_set():
                        raise Cancelled("left the queue")
                    waiting = ahead + (self._busy >= self.slots)  # those before it, and a slot to free
                    if on_wait is not None and waiting != told:
                        told = waiting
                        on_wait(waiting)
                    self._changed.wait(0.1)
            finally:  # served or gone, it waits no more: those behind it move up
                self._waiting.remove((ticket, user))
                self._changed.notify_all()
            self._busy += 1
            self._served[user] = next(self._grants)
        try:
            yield
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()

    def _ahead(self, ticket: int) -> int:
        """How many waiting questions will be served before `ticket`: the order the slots
        will go in, played out (each next slot to the user served longest ago)."""
        queues: dict[str, list[int]] = {}
        for t, u in self._waiting:
            queues.setdefault(u, []).append(t)
        served = dict(self._served)
        clock = itertools.count(10**9)
        for position in itertools.count():
            user = min(queues, key=lambda u: (served.get(u, 0), queues[u][0]))
            if queues[user][0] == ticket:
                return position
            queues[user].pop(0)
            if not queues[user]:
                del queues[user]
            served[user] = next(clock)
        raise AssertionError("unreachable")

    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)


class Cancelled(CopilotError):
    """The client went away while its question waited."""

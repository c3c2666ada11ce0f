"""The server's model queue: bounded, fair between users, each waiter told its place."""

from __future__ import annotations

import threading
import time

import pytest

from copilot.core.errors import Busy
from copilot.server.queue import Cancelled, FairQueue


def _enter(queue: FairQueue, user: str, order: list, places: dict, release: threading.Event,
           cancel: threading.Event | None = None) -> threading.Thread:
    def run() -> None:
        try:
            with queue.slot(user, cancel, on_wait=lambda n: places.setdefault(user + str(id(cancel)), []).append(n)):
                order.append(user)
                release.wait(5)
        except (Busy, Cancelled) as exc:
            order.append(f"{user}: {type(exc).__name__}")
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _settle(queue: FairQueue, waiting: int) -> None:
    deadline = time.monotonic() + 5
    while queue.waiting() != waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)


def test_the_next_slot_goes_to_the_user_served_longest_ago() -> None:
    """Alice asks five questions before Bob asks one: Bob's is answered second, not sixth."""
    queue, order, places = FairQueue(slots=1, limit=10), [], {}
    gates = [threading.Event() for _ in range(7)]
    threads = [_enter(queue, "alice", order, places, gates[0])]
    _settle(queue, 0)
    for i in range(1, 5):
        threads.append(_enter(queue, "alice", order, places, gates[i]))
        _settle(queue, i)
    threads.append(_enter(queue, "bob", order, places, gates[5]))
    _settle(queue, 5)
    for gate in gates:
        gate.set()
        time.sleep(0.15)
    for t in threads:
        t.join(5)
    assert order == ["alice", "bob", "alice", "alice", "alice", "alice"]


def test_a_waiting_question_hears_its_place_and_a_full_queue_says_busy() -> None:
    queue, order, places = FairQueue(slots=1, limit=2), [], {}
    release = threading.Event()
    first = _enter(queue, "alice", order, places, release)
    _settle(queue, 0)
    waiting = [_enter(queue, "bob", order, places, release), _enter(queue, "carol", order, places, release)]
    _settle(queue, 2)
    late = _enter(queue, "dave", order, places, release)
    late.join(5)
    assert order == ["alice", "dave: Busy"]
    assert sorted(places.values()) == [[1], [2]]  # bob: alice's answer ahead; carol: that and bob's
    release.set()
    for t in [first, *waiting]:
        t.join(5)
    assert sorted(order[2:]) == ["bob", "carol"]


def test_a_cancelled_waiter_leaves_the_queue_and_frees_its_place() -> None:
    queue, order, places = FairQueue(slots=1, limit=5), [], {}
    release, cancel = threading.Event(), threading.Event()
    holder = _enter(queue, "alice", order, places, release)
    _settle(queue, 0)
    leaver = _enter(queue, "bob", order, places, release, cancel)
    _settle(queue, 1)
    cancel.set()
    leaver.join(5)
    assert order == ["alice", "bob: Cancelled"] and queue.waiting() == 0
    release.set()
    holder.join(5)
    with queue.slot("carol"):  # the slot is free again: nothing leaked
        pass


@pytest.mark.parametrize("slots", [1, 3])
def test_never_more_at_the_model_than_it_has_slots(slots: int) -> None:
    queue, inside, peak, lock = FairQueue(slots=slots, limit=100), [0], [0], threading.Lock()

    def ask(user: str) -> None:
        with queue.slot(user):
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.01)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=ask, args=(f"user{i % 4}",)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak[0] == slots and inside[0] == 0

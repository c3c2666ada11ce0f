"""What each screen looks like, at 80×24 and 120×40 (pytest-textual-snapshot).

A change to a screen shows up as a failed snapshot with a visual diff in the
report; once the new look is right, `pytest tests/unit/test_tui_snapshots.py
--snapshot-update` records it.
"""

from __future__ import annotations

import time

import pytest

from copilot.core import offline
from tui.app import CopilotApp
from tui.saved import Conversations

from tui_fakes import FakeEngine

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def stable(monkeypatch):
    """The same screen on every machine and run: a clean guard, UTC, a fixed clock."""
    import textual._wait

    monkeypatch.setattr(textual._wait, "SLEEP_IDLE", textual._wait.SLEEP_GRANULARITY / 4)
    monkeypatch.setattr(offline, "attempts", lambda: [])
    monkeypatch.setattr(offline, "active", lambda: True)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def app_for(tmp_path, reply: str | None = None) -> CopilotApp:
    engine = FakeEngine(home=tmp_path, delay=0.0, **({"reply": reply} if reply else {}))
    clock = iter(range(1_700_000_000, 1_800_000_000, 60))
    store = Conversations(tmp_path / "conversations.sqlite", clock=lambda: float(next(clock)))
    return CopilotApp(engine, store)


async def answered(pilot, question: str = "how long are client matter files kept") -> None:
    for key in question:
        await pilot.press("space" if key == " " else key)
    await pilot.press("enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def with_two_conversations(pilot) -> None:
    await answered(pilot)
    await pilot.press("ctrl+n")
    await answered(pilot, "how long is e-mail kept")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_chat_with_an_answer(snap_compare, tmp_path, size) -> None:
    assert snap_compare(app_for(tmp_path), run_before=with_two_conversations, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_document_viewer(snap_compare, tmp_path, size) -> None:
    reply = "These obligations survive for five (5) years after the Agreement ends [1]."

    async def open_source(pilot) -> None:
        await answered(pilot, "how long do confidentiality obligations survive")
        await pilot.press("ctrl+o", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app_for(tmp_path, reply), run_before=open_source, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_index_screen(snap_compare, tmp_path, size) -> None:
    async def index_screen(pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.press("f2")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app_for(tmp_path), run_before=index_screen, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare, tmp_path, size) -> None:
    assert snap_compare(app_for(tmp_path), press=["f1"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_light_theme(snap_compare, tmp_path, size) -> None:
    async def light(pilot) -> None:
        await answered(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()

    assert snap_compare(app_for(tmp_path), run_before=light, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_review_screen(snap_compare, tmp_path, size) -> None:
    """A kept review, one cell accepted and one corrected, the cursor on the correction."""
    from copilot.review.columns import columns
    from copilot.review.grid import Review, rows_for
    from copilot.review.store import ReviewStore

    from tui_fakes import MSA

    app = app_for(tmp_path)
    app.reviews = tmp_path / "reviews"
    engine, reader = app.engine, app.engine.local_reader()
    with ReviewStore.named(app.reviews, "examples") as store:
        store.describe("examples", {"paths": [str(MSA.parent)]}, ["Retention of client matter files", "Governing law"])
        review = Review(engine, reader, store, rows_for(engine, reader, [MSA.parent]),
                        columns(["Retention of client matter files", "Governing law"], print))
        review.run()
        (retention, law), _ = review.cells()
        review.sign(retention, "accepted")
        review.sign(law, "corrected", "Not stated in the policy")

    async def reviewing(pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.press("f4")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("right", "right")
        await pilot.pause()

    assert snap_compare(app, run_before=reviewing, terminal_size=size)

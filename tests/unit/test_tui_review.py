"""The review screen, driven by key presses: a kept review's grid, the quote opened in the
viewer, cells accepted and corrected into the audit trail and shown after a restart, a run
stopped by Esc and resumed, a review started and written out from the screen."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from copilot.core import offline
from copilot.review.columns import columns
from copilot.review.grid import Review, rows_for
from copilot.review.store import ReviewStore, every
from tui.app import CopilotApp
from tui.review_screen import ReviewScreen, scope_of
from tui.viewer import Viewer

from tui_fakes import MSA, RETENTION, FakeEngine

COLUMNS = ("Retention of client matter files", "Governing law")
pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch):
    """As in test_tui.py: the pilot sees a busy machine as idle; a clean offline guard."""
    import textual._wait

    monkeypatch.setattr(textual._wait, "SLEEP_IDLE", textual._wait.SLEEP_GRANULARITY / 4)
    monkeypatch.setattr(offline, "attempts", lambda: [])
    monkeypatch.setattr(offline, "active", lambda: True)


def kept_review(engine: FakeEngine, folder: Path, asked: bool = True) -> None:
    """A review as `copilot review DOCS --ask …` leaves it (`asked`: every cell answered; else none)."""
    reader = engine.local_reader()
    with ReviewStore.named(folder, "examples") as store:
        store.describe("examples", {"paths": [str(MSA.parent)]}, COLUMNS)
        if asked:
            Review(engine, reader, store, rows_for(engine, reader, [MSA.parent]), columns(COLUMNS, print)).run()


def app_with_review(tmp_path: Path, asked: bool = True, delay: float = 0.0):
    engine = FakeEngine(home=tmp_path / "home", delay=delay)
    kept_review(engine, tmp_path / "reviews", asked)
    return CopilotApp(engine, reviews=tmp_path / "reviews"), engine


async def opened(pilot) -> ReviewScreen:
    await pilot.app.workers.wait_for_complete()
    await pilot.press("f4")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ReviewScreen)
    return pilot.app.screen


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def where(screen: ReviewScreen) -> str:
    return str(screen.query_one("#where").render())


async def test_enter_opens_the_document_at_the_quoted_sentence(tmp_path: Path) -> None:
    app, engine = app_with_review(tmp_path)
    async with app.run_test() as pilot:
        screen = await opened(pilot)
        assert [row[0].row.source for row in screen.grid] == [RETENTION.name, MSA.name]
        assert "2 documents · 4/4 cells answered · 0 accepted · 0 corrected · 4 open" in where(screen)
        await pilot.press("right")
        assert "seven (7) years" in str(screen.query_one("#quote").render())  # the quote under the grid
        await pilot.press("enter")
        await settle(pilot)
        viewer = app.screen
        assert isinstance(viewer, Viewer) and viewer.citation.path == str(RETENTION)
        assert "seven (7) years" in viewer.quote
        await pilot.press("escape")
        await pilot.press("down", "enter")  # a cell with nothing quoted: said, nothing opened
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)


async def test_accept_and_correct_are_audited_with_the_reader_and_shown_after_a_restart(tmp_path: Path) -> None:
    app, engine = app_with_review(tmp_path)
    async with app.run_test() as pilot:
        screen = await opened(pilot)
        await pilot.press("right", "right", "e")  # Governing law of the retention policy
        await pilot.pause()
        await pilot.press("ctrl+u", *"none", "enter")
        await settle(pilot)
        cell = screen.grid[0][1]
        assert cell.verdict.verdict == "corrected" and cell.text == "none"
        await pilot.press("left", "a")
        await settle(pilot)
        assert "1 accepted · 1 corrected · 2 open" in where(screen)
    records = [r for r in engine.audit().records() if "signoff" in r]
    assert [(r["user"], r["signoff"]["verdict"], r["signoff"]["correction"]) for r in records] == [
        ("tester", "corrected", "none"), ("tester", "accepted", "")]
    assert records[0]["answer"]["question"] == "What is the governing law?"

    again = CopilotApp(engine, reviews=tmp_path / "reviews")  # the app closed and opened again
    async with again.run_test() as pilot:
        screen = await opened(pilot)
        assert screen.grid[0][1].text == "none" and screen.grid[0][0].verdict.verdict == "accepted"
        table = screen.query_one("DataTable")
        assert str(table.get_cell_at((0, 1))).startswith("✓ ") and str(table.get_cell_at((0, 2))) == "✎ none"
        await pilot.press("right", "right")
        assert "corrected by tester; the copilot said:" in str(screen.query_one("#quote").render())


async def test_r_asks_the_missing_cells_and_esc_stops_the_run_keeping_what_was_answered(tmp_path: Path) -> None:
    app, engine = app_with_review(tmp_path, asked=False, delay=0.05)
    async with app.run_test() as pilot:
        screen = await opened(pilot)
        assert all(c.answer is None for row in screen.grid for c in row)
        await pilot.press("a")  # not asked yet: nothing to sign off
        await pilot.pause()
        assert not [r for r in engine.audit().records() if "signoff" in r]
        await pilot.press("r")
        while not any(c.answer is not None for row in screen.grid for c in row):
            await pilot.pause(0.05)
        await pilot.press("escape")  # stops the run, stays on the screen
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen) and screen.running is None
        answered = sum(c.answer is not None for row in screen.grid for c in row)
        assert 1 <= answered < 4
        assert every(tmp_path / "reviews")[0].cells == answered  # every cell shown is kept, and only those
        await pilot.press("r")
        await settle(pilot)
        assert all(c.answer is not None for row in screen.grid for c in row)
    # None asked twice but the one Esc stopped half-way (not kept, so asked again).
    assert len(set(engine.asked)) == 4 and len(engine.asked) - 4 <= 1


async def test_a_review_started_and_written_out_from_the_screen(tmp_path: Path) -> None:
    engine = FakeEngine(home=tmp_path / "home", delay=0.0)
    app = CopilotApp(engine, reviews=tmp_path / "reviews")
    out = tmp_path / "grid.csv"
    async with app.run_test() as pilot:
        screen = await opened(pilot)
        assert "No review yet" in where(screen)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("ctrl+u", *str(MSA.parent), "enter")
        await pilot.pause()
        await pilot.press(*"Governing law;Term", "enter")
        await settle(pilot)
        assert [c.name for c in screen.review.columns] == ["Governing law", "Term"]
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("right", "e")
        await pilot.pause()
        await pilot.press("ctrl+u", *"Ten years", "enter")
        await settle(pilot)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("ctrl+u", *str(out), "enter")
        await settle(pilot)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 4 and (rows[0]["answer"], rows[0]["signoff"]) == ("Ten years", "corrected")
    assert rows[0]["copilot_answer"] and rows[1]["signoff"] == ""
    [kept] = every(tmp_path / "reviews")
    assert kept.columns == ("Governing law", "Term") and kept.cells == 4


async def test_a_session_without_reviews_says_so_in_one_line(tmp_path: Path) -> None:
    app = CopilotApp(FakeEngine(home=tmp_path, delay=0.0), reviews=None)
    async with app.run_test() as pilot:
        screen = await opened(pilot)
        assert "No review yet" in where(screen)
        assert any("reviews are kept on the machine that runs them" in n.message for n in app._notifications)


async def test_a_new_review_covers_paths_or_a_collection() -> None:
    assert scope_of("collection: acme ") == ((), "acme")
    assert scope_of("/docs/a; /docs/b ;") == (("/docs/a", "/docs/b"), None)

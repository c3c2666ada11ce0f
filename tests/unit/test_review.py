"""`copilot review`: a grid of the same questions over many documents, each cell from its own
document alone, saved cell by cell, written out for a reviewer."""

from __future__ import annotations

import csv
import io
import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from copilot.cli.main import main
from copilot.core.answers import ACCEPTED, CORRECTED
from copilot.core.errors import BadQuestion, CopilotError
from copilot.core.indexing import Summary
from copilot.review import export
from copilot.review.columns import BadColumn, column, columns, question_for
from copilot.review.grid import EmptyReview, Review, SignOffs, rows_for
from copilot.review.store import ReviewStore

from tui_fakes import MSA, RETENTION, FakeEngine

COLUMNS = ("Retention of client matter files", "Law of the contract")


@pytest.fixture
def engine(tmp_path: Path) -> FakeEngine:
    return FakeEngine(home=tmp_path / "home", delay=0.0)


def review_of(engine: FakeEngine, tmp_path: Path, names=COLUMNS) -> Review:
    reader = engine.local_reader()
    return Review(engine, reader, ReviewStore(tmp_path / "review.sqlite"), rows_for(engine, reader, [MSA.parent]),
                  columns(names, lambda _l: None))


# Columns ---------------------------------------------------------------------------------

@pytest.mark.parametrize("field, question", [
    ("Governing Law", "What is the governing law?"),
    ("Cap on Liability", "What is the cap on liability?"),  # the head noun is "cap", before "on"
    ("Audit Rights", "What are the audit rights?"),
    ("Parties", "What are the parties?"),
    ("The address for notices", "What is the address for notices?"),  # "address": not a plural
    ("Landlord's obligations under clause 4", "What are the landlord's obligations under clause 4?"),
    ("Effective date of the LLC agreement", "What is the effective date of the LLC agreement?"),
])
def test_a_field_name_becomes_a_question_by_english_alone(field: str, question: str) -> None:
    assert question_for(field) == question
    assert column(field).question == question and column(field).name == field


@pytest.mark.parametrize("asked", ["How much notice ends it?", "Who signed it", "List the parties",
                                   "Does the tenant pay for repairs?"])
def test_a_question_is_asked_as_written(asked: str) -> None:
    assert column(asked).question == asked


def test_an_empty_or_repeated_column_is_one_line_and_the_rest_go_on() -> None:
    said: list[str] = []
    kept = columns(["Governing law", "  ", "governing LAW", "What is the governing law?", "Term"], said.append)
    assert [c.name for c in kept] == ["Governing law", "Term"]
    assert said == ["column 2 left out: an empty column",
                    "column 3 left out: 'governing LAW' asks what 'Governing law' asks",
                    "column 4 left out: 'What is the governing law?' asks what 'Governing law' asks"]
    with pytest.raises(BadColumn, match="no column to ask"):
        columns(["", " "], said.append)


# The grid --------------------------------------------------------------------------------

def test_every_cell_is_asked_of_its_own_document_alone(engine: FakeEngine, tmp_path: Path) -> None:
    review = review_of(engine, tmp_path)
    assert [r.source for r in review.rows] == [RETENTION.name, MSA.name]  # the scan lies outside the folder
    done = review.run()
    assert (done.done, done.total, done.asked) == (4, 4, 4)
    assert sorted(engine.asked) == sorted((c.question, str(d)) for d in (MSA, RETENTION) for c in review.columns)
    grid = {(c.row.source, c.column.name): c for row in review.cells() for c in row}
    kept = grid[(RETENTION.name, COLUMNS[0])]
    assert kept.found and "seven (7) years" in kept.quote and kept.citation.startswith(RETENTION.name)
    # The model says the same of the MSA, but the MSA's own sentences do not bear it out.
    assert not grid[(MSA.name, COLUMNS[0])].found
    assert grid[(MSA.name, COLUMNS[0])].text.startswith("not found")


def test_a_row_that_cannot_be_asked_says_why_and_is_never_asked(engine: FakeEngine, tmp_path: Path) -> None:
    reader = engine.local_reader()
    rows = rows_for(engine, reader)  # the whole index: the scan is a row too
    scan = next(r for r in rows if r.source == "scan.pdf")
    assert not scan.readable and scan.reason == "scanned: no text layer (needs OCR)"
    review = Review(engine, reader, ReviewStore(tmp_path / "r.sqlite"), rows, columns(["Term"], print))
    review.run()
    assert "/docs/scan.pdf" not in {d for _, d in engine.asked}
    assert review.cells()[[r.source for r in rows].index("scan.pdf")][0].text == f"({scan.reason})"


def test_nothing_to_review_is_one_clear_error(engine: FakeEngine, tmp_path: Path) -> None:
    reader = engine.local_reader()
    with pytest.raises(EmptyReview, match=f"no document tester may read in {tmp_path}"):
        rows_for(engine, reader, [tmp_path])
    with pytest.raises(EmptyReview, match="no document tester may read in the collection 'hr'"):
        rows_for(engine, reader, collection="hr")  # walled off or nonexistent: the same words


def test_a_stopped_review_goes_on_from_the_last_cell_none_asked_twice_none_lost(
        engine: FakeEngine, tmp_path: Path) -> None:
    review = review_of(engine, tmp_path)
    stop = threading.Event()

    def after_two(cell, progress) -> None:
        if progress.asked == 2:
            stop.set()

    first = review.run(after_two, stop)
    assert (first.done, first.asked) == (2, 2)
    again = review_of(engine, tmp_path)  # a new process: only the store is shared
    second = again.run()
    assert (second.done, second.total, second.asked) == (4, 4, 2)
    assert len(engine.asked) == len(set(engine.asked)) == 4
    assert all(c.answer is not None for row in again.cells() for c in row)


def test_a_changed_document_asks_its_row_again_and_a_new_column_only_itself(
        engine: FakeEngine, tmp_path: Path) -> None:
    review_of(engine, tmp_path).run()
    engine.asked.clear()
    review = review_of(engine, tmp_path)
    changed = [replace(r, sha256="new") if r.path == str(MSA) else r for r in review.rows]
    Review(engine, review.reader, review.store, changed, review.columns).run()
    assert sorted(d for _, d in engine.asked) == [str(MSA)] * 2
    engine.asked.clear()
    review_of(engine, tmp_path, COLUMNS + ("Term",)).run()
    assert engine.asked == [("What is the term?", str(RETENTION)), ("What is the term?", str(MSA))]


# Written out -----------------------------------------------------------------------------

def test_xlsx_csv_markdown_and_json_read_back_with_quote_citation_and_not_found(
        engine: FakeEngine, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    review = review_of(engine, tmp_path)
    review.run()
    grid = review.cells()
    for suffix in export.FORMATS:
        export.write(tmp_path / f"out{suffix}", grid)

    book = load_workbook(tmp_path / "out.xlsx")
    assert book.sheetnames == ["Review", "Sources", "Quotes", "Cells"]
    sheet = book["Review"]
    assert [c.value for c in sheet[1]] == ["Document", *COLUMNS]
    assert sheet["A2"].value == RETENTION.name and "seven (7) years" in sheet["B2"].value
    assert "seven (7) years" in sheet["B2"].comment.text and RETENTION.name in sheet["B2"].comment.text
    assert sheet["C2"].value.startswith("not found") and sheet["C2"].fill.fgColor.rgb.endswith("EEEEEE")
    assert sheet["B3"].value.startswith("not found")  # the MSA says nothing of retention
    assert sheet.freeze_panes == "B2" and sheet.column_dimensions["B"].width >= 30
    assert "seven (7) years" in book["Quotes"]["B2"].value
    sources = [[c.value for c in row] for row in book["Sources"].iter_rows()]
    assert sources[0] == ["File", "Page", "Section", "SHA-256", "Cited by", "Path"]
    [(file, page, section, sha256, cited_by, path)] = sources[1:]  # Markdown: a section, no page
    assert (file, page, sha256, cited_by, path) == (RETENTION.name, None, f"sha-{RETENTION.name}", COLUMNS[0],
                                                    str(RETENTION))
    assert section and section in grid[0][0].citation

    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8-sig"))))
    assert len(rows) == 4 and rows[0]["document"] == RETENTION.name and rows[0]["found"] == "True"
    assert RETENTION.name in rows[0]["citation"] and "seven (7) years" in rows[0]["quote"]
    assert rows[2]["document"] == MSA.name and rows[2]["found"] == "False" and rows[2]["reason"]
    assert rows[2]["answer"].startswith("not found") and not rows[2]["quote"]
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["rows"][0]["cells"][0]["record"]["quotes"][0]["text"] == grid[0][0].answer.quotes[0].text
    markdown = (tmp_path / "out.md").read_text()
    assert markdown.splitlines()[0] == f"| document | {COLUMNS[0]} | {COLUMNS[1]} |"
    assert f"1. {RETENTION.name} · {COLUMNS[0]}: “" in markdown


# Sign-off --------------------------------------------------------------------------------

def test_a_cell_accepted_or_corrected_is_audited_kept_and_shown_after_a_restart(
        engine: FakeEngine, tmp_path: Path) -> None:
    review = review_of(engine, tmp_path)
    review.run()
    (retention, law), (msa_retention, _msa_law) = review.cells()
    assert SignOffs.of(review.cells()) == SignOffs(0, 0, 4)
    accepted = review.sign(retention, ACCEPTED)
    corrected = review.sign(msa_retention, CORRECTED, "  Not stated: see the retention policy  ")
    assert accepted.verdict.verdict == ACCEPTED and accepted.text == retention.text
    assert corrected.text == "Not stated: see the retention policy"  # the correction is what the grid shows
    assert corrected.answered == msa_retention.text and corrected.answer == msa_retention.answer  # kept beside it
    *_, first, second = engine.audit().records()
    assert first["signoff"] == {"verdict": "accepted", "correction": ""} and first["user"] == "tester"
    assert first["document"] == str(RETENTION) and first["answer"]["answer"] == retention.answer.text
    assert second["signoff"] == {"verdict": "corrected", "correction": "Not stated: see the retention policy"}
    assert second["answer"] == json.loads(json.dumps(msa_retention.answer.to_dict()))  # what the copilot said
    assert engine.audit().verify() == (len(list(engine.audit().records())), None)

    review.store.close()  # a restart: the review read back from its file
    again = review_of(engine, tmp_path)
    grid = again.cells()
    assert grid[0][0].verdict.verdict == ACCEPTED and grid[0][0].verdict.user == "tester"
    assert grid[1][0].corrected and grid[1][0].text == "Not stated: see the retention policy"
    assert SignOffs.of(grid) == SignOffs(1, 1, 2)
    again.sign(grid[1][0], ACCEPTED)  # a verdict changed: the latest one stands, both are audited
    assert SignOffs.of(again.cells()) == SignOffs(2, 0, 2)
    assert list(engine.audit().records())[-1]["signoff"]["verdict"] == "accepted"
    with pytest.raises(BadQuestion, match="a correction needs the corrected answer"):
        again.sign(grid[0][1], CORRECTED, "   ")
    with pytest.raises(BadQuestion, match="a verdict is accepted or corrected"):
        again.sign(grid[0][1], "approved")
    assert grid[0][1].verdict is None and again.cells()[0][1].verdict is None  # nothing kept of either


def test_only_an_answered_cell_can_be_signed_off(engine: FakeEngine, tmp_path: Path) -> None:
    review = review_of(engine, tmp_path)
    (cell, _), _ = review.cells()  # not asked yet
    with pytest.raises(CopilotError, match="only an answered cell"):
        review.sign(cell, ACCEPTED)
    assert not [r for r in engine.audit().records() if "signoff" in r]


def test_the_exports_mark_a_correction_and_keep_the_copilots_answer(engine: FakeEngine, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    review = review_of(engine, tmp_path)
    review.run()
    (retention, law), _ = review.cells()
    review.sign(retention, CORRECTED, "Ten years")
    review.sign(law, ACCEPTED)
    grid = review.cells()
    for suffix in export.FORMATS:
        export.write(tmp_path / f"out{suffix}", grid)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8-sig"))))
    assert (rows[0]["answer"], rows[0]["signoff"], rows[0]["signed_by"]) == ("Ten years", "corrected", "tester")
    assert rows[0]["copilot_answer"] == retention.text and "seven (7) years" in rows[0]["quote"]
    assert (rows[1]["signoff"], rows[1]["copilot_answer"]) == ("accepted", "")
    assert rows[2]["signoff"] == "" and rows[2]["signed_by"] == ""  # still open
    sheet = load_workbook(tmp_path / "out.xlsx")["Review"]
    assert sheet["B2"].value == "Ten years" and sheet["B2"].fill.fgColor.rgb.endswith("FFF2CC")
    assert "corrected by tester" in sheet["B2"].comment.text and retention.text in sheet["B2"].comment.text
    assert "accepted by tester" in sheet["C2"].comment.text
    markdown = (tmp_path / "out.md").read_text()
    assert f"Ten years (corrected by tester; the copilot said: {retention.text.split()[0]}" in markdown


@pytest.mark.parametrize("name, error", [
    ("review.pdf", "write a review as .xlsx, .csv, .md, .json"),
    ("missing/review.xlsx", "the folder"),
    ("/proc/review.csv", "cannot write /proc/review.csv"),  # no one may write there, root neither
])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path: Path, name: str, error: str) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(main, ["--home", str(home), "review", str(tmp_path), "--ask", "Term",
                                       "--out", str(tmp_path / name)])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and error in result.output
    assert not home.exists() or not (home / "index").exists()  # nothing was indexed


def test_the_command_needs_a_scope_and_a_column(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "review", "--ask", "Term"])
    assert result.exit_code == 2 and "give the files or folders to review, or --collection" in result.output
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "review", str(tmp_path), "--ask", " "])
    assert result.exit_code == 1 and "no column to ask" in result.output


# The command line, over the fake engine --------------------------------------------------

@pytest.fixture
def cli(engine: FakeEngine, monkeypatch, tmp_path: Path):
    """`copilot review …` with the fake engine behind it; returns (run, engine)."""
    import copilot.cli.engine

    monkeypatch.setattr(copilot.cli.engine, "engine_for", lambda config, **_kw: engine)

    def run(*args: str):
        return CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "review", *args])

    return run


def test_a_review_is_kept_under_its_name_listed_and_shown_without_asking_again(
        cli, engine: FakeEngine, tmp_path: Path) -> None:
    folder = str(MSA.parent)
    done = cli(folder, "--ask", COLUMNS[0], "--ask", COLUMNS[1], "--name", "firm-policies", "--json")
    assert done.exit_code == 0, done.output
    grid = json.loads(done.stdout)
    assert [r["document"] for r in grid["rows"]] == [RETENTION.name, MSA.name]
    assert "seven (7) years" in grid["rows"][0]["cells"][0]["quote"]
    assert "review 'firm-policies': 2 documents × 2 columns: 1 answered, 3 not found; 4 asked now" in done.stderr
    assert (tmp_path / "home" / "reviews" / "firm-policies.sqlite").is_file()
    asked = len(engine.asked)

    listed = cli("--list")
    assert listed.exit_code == 0 and listed.stdout.startswith("firm-policies\t2 columns\t4 cells\t")
    assert listed.stdout.rstrip().endswith(str(MSA.parent))
    shown = cli("--show", "firm-policies", "--out", str(tmp_path / "grid.csv"))
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == f"| document | {COLUMNS[0]} | {COLUMNS[1]} |"
    assert len(list(csv.DictReader(io.StringIO((tmp_path / "grid.csv").read_text(encoding="utf-8-sig"))))) == 4
    assert len(engine.asked) == asked  # shown as kept: nothing asked

    again = cli(folder, "--ask", COLUMNS[0], "--ask", COLUMNS[1], "--ask", "Who leads the engagement?",
                "--name", "firm-policies")
    assert again.exit_code == 0, again.output
    assert [q for q, _ in engine.asked[asked:]] == ["Who leads the engagement?"] * 2  # only the new column


def test_the_default_name_comes_from_what_is_reviewed_not_from_its_columns(tmp_path: Path) -> None:
    from copilot.review.store import default_name

    a, b = tmp_path / "Client Leases (2024)", tmp_path / "other"
    assert default_name([a], None) == default_name([a / "." ], None)
    assert default_name([a], None).startswith("Client-Leases-2024-")
    assert default_name([a], None) != default_name([a, b], None) == default_name([b, a], None)
    assert default_name((), "acme matter") == "collection-acme-matter"


@pytest.mark.parametrize("args, error", [
    (["--show", "nothing-here"], "there is no review named 'nothing-here'"),
    (["--show", "../etc/passwd"], "a review's name is 1 to 64 letters"),
    ([".", "--ask", "Term", "--name", "a b"], "a review's name is 1 to 64 letters"),
])
def test_a_bad_review_name_is_one_line(cli, args: list[str], error: str) -> None:
    result = cli(*args)
    assert result.exit_code == 1 and result.output.count("\n") == 1 and error in result.output


def test_an_empty_folder_is_one_line(cli, engine: FakeEngine, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    engine.manifest.files = 0  # nothing is indexed there (the fake indexes five files anywhere)
    engine.index = lambda *a, **k: Summary()
    result = cli(str(empty), "--ask", "Term")
    assert result.exit_code == 1 and f"no document tester may read in {empty}" in result.output
    assert not engine.asked


def test_a_firm_server_out_of_reach_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "--server", "unix:/nowhere.sock", "review",
                                       str(tmp_path), "--ask", "Term"])
    assert result.exit_code == 6 and result.output.count("\n") == 1
    assert "cannot reach the server unix:/nowhere.sock" in result.output


def test_the_progress_line_gives_cells_done_pace_and_time_left() -> None:
    from copilot.cli.review import progress_line
    from copilot.review.grid import Progress

    assert progress_line(Progress(0, 12, 0, 0.0)) == "review: 0/12 cells"
    assert progress_line(Progress(5, 12, 3, 30.0)) == "review: 5/12 cells · 10.0 s a cell · 1 min 10 s left"
    assert progress_line(Progress(12, 12, 12, 60.0)) == "review: 12/12 cells · 5.0 s a cell"

"""A review through a firm's server: kept on the server for each reader, asked there cell by
cell in the fair queue, signed off against the answer the server kept.

The real gateway on a Unix socket, over the fake engine; each socket stands for one person (the
platform's identities are tested in tests/system/test_serve.py, with the real engine and walls).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from copilot.cli.main import main
from copilot.core.answers import ACCEPTED, CORRECTED
from copilot.core.config import Config
from copilot.core.contract import ReviewServer
from copilot.core.errors import BadQuestion, CopilotError, Unavailable
from copilot.core.walls import Reader, Walls
from copilot.engine.access import Person
from copilot.engine.remote import RemoteEngine
from copilot.review.desk import ServedReview, kept, open_review
from copilot.server.gateway import Gateway, UnixServer
from copilot.server.reviews import folder_for

from tui_fakes import MSA, RETENTION, FakeEngine

COLUMNS = ["Retention of client matter files", "Law of the contract"]


class PersonServer(UnixServer):
    """A socket whose every connection is `user` (as a certificate or the kernel would say)."""

    def __init__(self, path: Path, gateway: Gateway, user: str):
        self.user = user
        super().__init__(path, gateway)

    def peer(self, conn) -> Person:
        return Person(self.user, frozenset())


@pytest.fixture
def firm(tmp_path: Path):
    engine = FakeEngine(home=tmp_path / "server", delay=0.01)
    config = Config(home=tmp_path / "server")
    gateway = Gateway(engine, config, log=open(tmp_path / "serve.log", "w"),
                      reader_of=lambda person: Reader(person.user, Walls.everything()))
    clients = {}
    for user in ("alice", "bob"):
        gateway.servers.append(PersonServer(tmp_path / f"{user}.sock", gateway, user))
        clients[user] = RemoteEngine(Config(home=tmp_path / f"client-{user}", server=f"unix:{tmp_path}/{user}.sock"))
    thread = threading.Thread(target=gateway.serve_forever, daemon=True)
    thread.start()
    yield {"engine": engine, "config": config, "gateway": gateway, **clients}
    for client in clients.values():
        client.close()
    gateway.shutdown()


def opened(client: RemoteEngine, name: str = "contracts", texts=COLUMNS) -> ServedReview:
    scope = {"paths": [str(MSA.parent)]}
    return open_review(client, Path("/nonexistent"), client.local_reader(), name, scope if texts else None, texts)


def test_a_served_review_is_asked_and_kept_on_the_server_for_its_reader(firm, tmp_path: Path) -> None:
    alice = firm["alice"]
    assert isinstance(alice, ReviewServer)
    review = opened(alice)
    assert isinstance(review, ServedReview) and [r.source for r in review.rows] == [RETENTION.name, MSA.name]
    done = review.run()
    assert (done.done, done.total, done.asked) == (4, 4, 4)
    assert sorted(firm["engine"].asked) == sorted((c, str(d)) for c in [
        "What is the retention of client matter files?", "What is the law of the contract?"] for d in (MSA, RETENTION))
    kept_file = folder_for(firm["config"], "alice") / "contracts.sqlite"
    assert kept_file.is_file() and not (tmp_path / "client-alice" / "reviews").exists()  # nothing on the client
    # A new client, the same reader: the grid as kept, nothing asked again.
    again = opened(alice, texts=None)
    firm["engine"].asked.clear()
    assert again.run().asked == 0 and not firm["engine"].asked
    assert [[c.text for c in row] for row in again.cells()] == [[c.text for c in row] for row in review.cells()]
    assert [s.name for s in kept(alice, Path("/nonexistent"))] == ["contracts"]
    # Another reader has reviews of their own: alice's is neither listed nor opened for bob.
    assert kept(firm["bob"], Path("/nonexistent")) == []
    with pytest.raises(CopilotError, match="there is no review named 'contracts'"):
        opened(firm["bob"], texts=None)


def test_a_sign_off_judges_the_answer_the_server_kept_and_is_audited_as_its_reader(firm) -> None:
    alice = firm["alice"]
    review = opened(alice)
    review.run()
    cell = review.cells()[0][0]
    signed = review.sign(cell, CORRECTED, "Seven years")
    assert (signed.verdict.verdict, signed.verdict.correction, signed.verdict.user) == (CORRECTED, "Seven years", "alice")
    record = firm["engine"].audit().last()
    assert record["user"] == "alice" and record["signoff"]["verdict"] == CORRECTED
    assert record["answer"]["answer"] == cell.answer.text  # the answer the server kept
    # A client's own copy of the answer is never sent: a forged one changes nothing signed.
    assert "answer" not in review._request(cell.row, cell.column)
    shown = opened(alice, texts=None).cells()[0][0]
    assert shown.corrected and shown.text == "Seven years" and shown.answered == cell.answered
    with pytest.raises(BadQuestion, match="a verdict is accepted or corrected"):
        review.sign(cell, "approved")
    with pytest.raises(CopilotError, match="no cell of this review"):
        alice.review_sign({"name": "contracts", "document": "/docs/scan.pdf", "question": cell.column.question,
                           "verdict": ACCEPTED})


def test_a_cell_not_yet_asked_cannot_be_signed_nor_a_question_outside_the_review_asked(firm) -> None:
    alice = firm["alice"]
    review = opened(alice)
    row, column = review.rows[0], review.columns[0]
    with pytest.raises(CopilotError, match="only an answered cell"):
        alice.review_sign({"name": "contracts", "document": row.path, "question": column.question,
                           "verdict": ACCEPTED})
    with pytest.raises(CopilotError, match="no cell of this review"):
        alice.review_cell({"name": "contracts", "document": row.path, "question": "What is the CEO's salary?"})
    assert not firm["engine"].asked


def test_a_single_question_waits_behind_one_cell_of_a_long_review_at_most(firm) -> None:
    """Bob asks while alice's review fills: the next slot is his, not her next cell's."""
    engine = firm["engine"]
    engine.answerer.generator.delay = 0.03  # a cell takes a few tenths of a second
    review = opened(firm["alice"], texts=COLUMNS + ["Who signs it?", "What does it cost?", "When does it end?"])
    filled: list[float] = []
    running = threading.Thread(target=lambda: review.run(lambda cell, _p: filled.append(time.monotonic())))
    running.start()
    while len(filled) < 2:
        time.sleep(0.01)
    asked = time.monotonic()
    answer = firm["bob"].ask("How long are client matter files kept?", firm["bob"].local_reader())
    answered = time.monotonic()
    running.join(60)
    assert answer.text and len(filled) == 10
    behind = sum(1 for t in filled if asked < t < answered)
    assert behind <= 1, f"bob waited behind {behind} cells"
    assert filled[-1] > answered  # the review went on after him


def test_a_server_gone_mid_review_is_one_line_and_the_review_resumes_from_the_last_kept_cell(
        firm, tmp_path: Path) -> None:
    alice = firm["alice"]
    review = opened(alice)
    gateway = firm["gateway"]
    stop_after_one = []

    def on_cell(cell, progress) -> None:
        stop_after_one.append(cell)
        if len(stop_after_one) == 1:
            gateway.shutdown()  # the server stops between cells

    with pytest.raises(Unavailable, match="cannot reach the server|the server .* failed"):
        review.run(on_cell)
    # The server is back (a new process would open the same files): one cell kept, three to ask.
    gateway.servers.append(PersonServer(tmp_path / "alice.sock", gateway, "alice"))
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    firm["engine"].asked.clear()
    # A new client, as the command run again is (in process, the old server's connections live on).
    resumed = opened(RemoteEngine(alice.config))
    done = resumed.run()
    assert (done.done, done.asked, len(firm["engine"].asked)) == (4, 3, 3)


def test_the_command_line_reviews_through_the_server(firm, tmp_path: Path) -> None:
    env = {"COPILOT_HOME": str(tmp_path / "cli-alice"), "COPILOT_SERVER": f"unix:{tmp_path}/alice.sock"}
    result = CliRunner(env=env).invoke(main, ["review", str(MSA.parent), "--ask", COLUMNS[0], "--name", "mine"])
    assert result.exit_code == 0, result.output
    assert "review 'mine': 2 documents × 1 columns" in result.output and "seven (7) years" in result.output
    assert not firm["engine"].indexed  # IT indexes the server's documents: the client does not
    listed = CliRunner(env=env).invoke(main, ["review", "--list"])
    assert listed.exit_code == 0 and listed.output.startswith("mine\t1 columns\t2 cells")
    shown = CliRunner(env=env).invoke(main, ["review", "--show", "mine", "--json"])
    assert shown.exit_code == 0 and "seven (7) years" in shown.output

"""The terminal app for real: `copilot` in a tmux pane with the tiny model, driven by keys.

It reads the screen the way a user does (tmux capture-pane): the answer and a
source appear, the source opens at its page, and Esc cancels a second answer.
"""

from __future__ import annotations

import re
import time
import shutil
import sys
from pathlib import Path

import pytest

from copilot.core.config import Config
from copilot.engine.local import Copilot

from conftest import ROOT, no_network_prefix
from terminal import Terminal

pytestmark = pytest.mark.slow

SOURCE = re.compile(r"\[1\] \S+\.(md|pdf|txt)")  # a line of the sources list, not a marker in the text
VIEWER = re.compile(r"(page|section) \d+ of \d+")


@pytest.fixture
def home(tmp_path: Path, tiny_model: Path, models_home: Path) -> dict[str, str]:
    """A home with examples/ indexed, and the environment that points `copilot` at it."""
    assert shutil.which("tmux"), "this test drives the app through tmux: install tmux"
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "examples", docs)
    config = Config(home=tmp_path / "home", model=str(tiny_model), models_home=str(models_home))
    Copilot(config).index([docs])
    return {"COPILOT_HOME": str(config.home), "COPILOT_MODEL": str(tiny_model),
            "COPILOT_MODELS_HOME": str(models_home), "COPILOT_MAX_TOKENS": "400",
            "COPILOT_GUARD": "fail",  # any connection attempt ends the app: the test would see it
            "HOME": str(tmp_path), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}


def test_ask_read_the_source_and_cancel_in_the_real_app(home) -> None:
    copilot = str(Path(sys.executable).parent / "copilot")
    with Terminal([*no_network_prefix(), copilot], home) as term:  # no network at all, and the guard fails
        term.wait_for("Ask about your documents", timeout=20)
        term.keys("How long are client matter files kept?", literal=True)
        term.keys("Enter")
        shown = term.wait_until(lambda s: SOURCE.search(s) is not None, timeout=120)
        assert "› How long are client matter files kept?" in shown
        assert "Traceback" not in shown

        term.keys("C-o")
        time.sleep(0.5)  # as a person would: keys sent in one burst can outrun the focus change
        term.keys("Enter")
        term.wait_until(lambda s: VIEWER.search(s) is not None and "Back to chat" in s, timeout=20)
        term.keys("Escape")
        term.wait_for("Ask about your documents", timeout=10)

        term.keys("Summarise every policy in these documents in detail.", literal=True)
        term.keys("Enter")
        term.wait_for("› Summarise every policy", timeout=10)
        term.keys("Escape")
        shown = term.wait_for("(cancelled)", timeout=20) and term.screen()
        assert "Traceback" not in shown

        term.keys("C-q")
        term.wait_until(lambda s: "Ask about your documents" not in s, timeout=20)
        assert "Traceback" not in term.screen()
    log = Path(home["COPILOT_HOME"]) / "offline.log"
    assert not log.exists() or log.read_text() == "", "the app tried to reach the network"


def test_a_review_is_signed_off_in_the_real_app(home, tmp_path: Path) -> None:
    """`copilot review` leaves a grid; in the app F4 shows it, a accepts a cell, e corrects one,
    and both are in the audit trail with the reader."""
    import json
    import subprocess

    copilot = str(Path(sys.executable).parent / "copilot")
    docs = str(tmp_path / "docs")
    ran = subprocess.run([copilot, "review", docs, "--ask", "Governing law", "--name", "firm"], env=home,
                         capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    with Terminal([*no_network_prefix(), copilot], home) as term:
        term.wait_for("Ask about your documents", timeout=20)
        term.keys("F4")
        term.wait_for("0 accepted · 0 corrected · 5 open", timeout=30)
        term.keys("Right")
        time.sleep(0.3)
        term.keys("a")
        term.wait_for("1 accepted · 0 corrected · 4 open", timeout=20)
        term.keys("Down")
        time.sleep(0.3)
        term.keys("e")
        term.wait_for("Correct Governing law of", timeout=10)
        # The cell says not found: its correction starts empty (no Ctrl+U, a binding Textual runs once the
        # key has bubbled back to the app, which can be after the letters sent with it: it cleared them).
        term.keys("Delaware", literal=True)
        term.wait_for("Delaware", timeout=10)  # typed in the dialog (the grid has no Delaware yet)
        term.keys("Enter")
        shown = term.wait_for("1 accepted · 1 corrected · 3 open", timeout=20) and term.screen()
        assert "✎ Delaware" in shown and "Traceback" not in shown
        term.keys("Escape")
        term.wait_for("Ask about your documents", timeout=10)
        term.keys("C-q")
        term.wait_until(lambda s: "Ask about your documents" not in s, timeout=20)
    trail = Path(home["COPILOT_HOME"]) / "audit" / "audit.jsonl"
    signed = [r["signoff"] for r in map(json.loads, trail.read_text().splitlines()) if "signoff" in r]
    assert signed == [{"verdict": "accepted", "correction": ""}, {"verdict": "corrected", "correction": "Delaware"}]

"""Kill -9 at random points, concurrent writers and readers: the index stays consistent.

These run the real `copilot` command in subprocesses on real CUAD contracts,
as an IT team would, and check the index from outside after each kill.
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from copilot.core.walls import Walls
from index.manifest import Manifest
from index.store import ChromaStore

from conftest import EXAMPLE_QUESTIONS, EXAMPLES, cuad_sample

EVERYONE = Walls.everything()  # no wall: the walls themselves are tested in test_walls.py

pytestmark = pytest.mark.slow
COPILOT = str(Path(sys.executable).with_name("copilot"))


def copilot(home: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "COPILOT_HOME": str(home)}
    return subprocess.run([COPILOT, *args], capture_output=True, text=True, env=env, timeout=600, **kw)


def start(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "COPILOT_HOME": str(home)}
    return subprocess.Popen([COPILOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def indexed_rows(home: Path) -> int:
    db = home / "index" / "manifest.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM documents WHERE status='indexed'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # the table is not created yet


def check_consistent(home: Path) -> dict[str, str]:
    """What a reader sees must be whole: every indexed file has exactly its chunks."""
    manifest = Manifest(home / "index" / "manifest.sqlite")
    store = ChromaStore(home / "index" / "chroma")
    try:
        got = store._col.get(include=["metadatas"])
        seen: dict[tuple[str, str], set[int]] = {}
        for meta in got["metadatas"]:
            numbers = seen.setdefault((meta["path"], meta["sha256"]), set())
            assert meta["chunk"] not in numbers, f"duplicate chunk {meta['path']}#{meta['chunk']}"
            numbers.add(meta["chunk"])
        pending = set(manifest.pending())
        versions = manifest.indexed_versions(EVERYONE)
        lexical: dict[tuple[str, str], list[int]] = {}
        for path, sha, number in manifest._rows("SELECT path, sha256, chunk FROM passages"):
            lexical.setdefault((path, sha), []).append(number)
        for entry in manifest.entries():
            if entry.status == "indexed" and entry.path not in pending:
                assert seen.get((entry.path, entry.sha256)) == set(range(entry.chunks)), entry.source
                # The lexical index is written with the manifest row: always the same passages.
                assert sorted(lexical.pop((entry.path, entry.sha256))) == list(range(entry.chunks))
        assert all(path in pending for path, _ in lexical), "lexical passages of no indexed file"
        # Chunks of any other version are invisible to readers and belong to a pending file.
        for path, sha in seen:
            if versions.get(path) != sha:
                assert path in pending, f"orphan chunks of {path}"
        return versions
    finally:
        manifest.close()


@pytest.fixture
def share(tmp_path: Path) -> Path:
    folder = tmp_path / "share"
    folder.mkdir()
    for pdf in cuad_sample(8):
        os.symlink(pdf, folder / pdf.name)
    for doc in (p for p in EXAMPLES.iterdir() if p != EXAMPLE_QUESTIONS):
        os.symlink(doc, folder / doc.name)
    return folder


def test_kill_9_at_random_points_then_resume(tmp_path: Path, share: Path) -> None:
    home = tmp_path / "home"
    rng = random.Random(20261121)
    finished: dict[str, str] = {}
    for attempt in range(4):
        proc = start(home, "index", str(share))
        target = indexed_rows(home) + rng.randint(0, 2)
        deadline = time.monotonic() + 300
        while indexed_rows(home) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))  # somewhere inside the next file: read, embed or write
        if proc.poll() is not None:
            break  # it finished before we could kill it
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        visible = check_consistent(home)
        assert finished.items() <= visible.items()  # nothing finished is lost
        finished = visible
    assert finished, "no file was finished before the kills: the test proves nothing"
    out = copilot(home, "index", "--json", str(share))
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["unchanged"] >= len(finished)  # finished files are not embedded again
    assert summary["indexed"] + summary["unchanged"] == summary["files"] == len(list(share.iterdir()))
    visible = check_consistent(home)
    manifest = Manifest(home / "index" / "manifest.sqlite")
    assert not manifest.pending()
    store = ChromaStore(home / "index" / "chroma")
    assert store.paths() == {e.path: e.chunks for e in manifest.entries() if e.status == "indexed"}
    assert len(visible) == summary["files"]


def test_readers_answer_and_writers_are_refused_while_indexing(tmp_path: Path, share: Path, tiny_model) -> None:
    home = tmp_path / "home"
    assert copilot(home, "index", str(EXAMPLES)).returncode == 0
    proc = start(home, "index", str(share))
    try:
        deadline = time.monotonic() + 120
        while indexed_rows(home) < 7 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the indexer ended before the check"
        busy = copilot(home, "index", str(share))
        assert busy.returncode == 5
        assert busy.stderr.strip() == (
            f"error: index is being updated by PID {proc.pid}; try again when it ends"
        )
        answer = copilot(home, "--model", str(tiny_model), "ask", "--json", "--max-tokens", "16",
                         "How long are client matter files kept?")
        assert answer.returncode == 0, answer.stderr
        sources = json.loads(answer.stdout)["sources"]
        assert any(s["source"] == "data-retention-policy.md" for s in sources)
    finally:
        proc.kill()
        proc.wait()
    check_consistent(home)


def test_a_cancelled_run_keeps_what_it_finished_and_records_itself(config, corpus) -> None:
    """The app's Ctrl+G: the run stops between files or batches; the index stays consistent."""
    from copilot.core.errors import IndexCancelled
    from copilot.core.indexing import Silent
    from copilot.engine.local import Copilot

    class StopAfterTwo(Silent):
        done_files = 0

        def file(self, source, size):
            if self.done_files == 2:
                raise IndexCancelled("indexing cancelled")

        def done(self, source):
            self.done_files += 1

    engine = Copilot(config)
    with pytest.raises(IndexCancelled):
        engine.index([corpus], progress=StopAfterTwo())
    assert engine.last_run()["outcome"] == "cancelled"
    assert len(engine.manifest.indexed_versions(EVERYONE)) == 2 and engine.manifest.pending() == []
    assert set(engine.store.paths()) == set(engine.manifest.indexed_versions(EVERYONE))
    summary = engine.index([corpus])  # the next run finishes the job
    assert (summary.indexed, summary.unchanged) == (3, 2)
    assert engine.last_run()["outcome"] == "done" and engine.last_run()["line"] == summary.line()

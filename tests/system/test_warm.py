"""The warm engine: `copilot ask` from a shell answered by a resident engine of the user's own.

Real processes, the real tiny model and examples/: the first `ask` starts the
engine, the next ones reach it over its private socket; it answers as the
in-process engine does, sees what is indexed after it started, is replaced
when killed, leaves when idle, and never opens a network connection.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EXAMPLES, no_network_prefix

from copilot.core import config as config_mod
from copilot.core.resident import Resident

COPILOT = str(Path(sys.executable).with_name("copilot"))
QUESTION = "How long does the firm keep client matter files?"


@pytest.fixture
def shell(tmp_path: Path, tiny_model: Path):
    """`copilot ARGS` as a user's shell runs it (keep_alive 60 s unless told), and the warm
    engine for those settings; any engine left is stopped at the end."""
    env = os.environ | {"COPILOT_HOME": str(tmp_path / "home"), "COPILOT_MODEL": str(tiny_model),
                        "COPILOT_MAX_TOKENS": "32", "COPILOT_KEEP_ALIVE": "60", "COPILOT_GUARD": "fail"}
    started: list[Resident] = []

    class Shell:
        def __call__(self, *args: str, prefix: tuple[str, ...] = (), stdin: str | None = None,
                     **extra: str) -> subprocess.CompletedProcess:
            run_env = env | extra
            started.append(resident_for(run_env))
            return subprocess.run([*prefix, COPILOT, *args], env=run_env, capture_output=True, text=True,
                                  input=stdin, timeout=600)

        def resident(self, **extra: str) -> Resident:
            return resident_for(env | extra)

        @property
        def env(self) -> dict[str, str]:
            started.append(resident_for(env))
            return env

    subprocess.run([COPILOT, "index", str(EXAMPLES)], env=env, capture_output=True, check=True, timeout=600)
    yield Shell()
    for resident in started:
        pid = (resident.describe() or {}).get("pid")
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def resident_for(env: dict[str, str]) -> Resident:
    return Resident.of(config_mod.load(env=env))


def as_in_a_terminal() -> None:
    """Ctrl+C as a shell's foreground command gets it: a test run in the background (CI) has
    SIGINT ignored, and a child would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cold_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def pid_of(resident: Resident) -> int | None:
    return (resident.describe() or {}).get("pid")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_the_second_ask_is_answered_by_the_engine_the_first_started(shell, tmp_path: Path) -> None:
    first = shell("ask", "--json", QUESTION, prefix=tuple(no_network_prefix()))
    assert first.returncode == 0, first.stderr
    resident = shell.resident()
    pid = pid_of(resident)
    assert pid and alive(pid) and resident.socket.exists()
    assert oct(resident.socket.stat().st_mode & 0o777) == "0o600"  # the user's alone
    assert oct(resident.folder.stat().st_mode & 0o777) == "0o700"

    second = shell("ask", "--json", QUESTION, prefix=tuple(no_network_prefix()))
    assert second.returncode == 0, second.stderr
    assert pid_of(resident) == pid  # the same engine: nothing loaded again

    here = shell("ask", "--json", QUESTION, COPILOT_KEEP_ALIVE="0")  # answered in this process
    assert here.returncode == 0, here.stderr
    warm, cold = json.loads(second.stdout), json.loads(here.stdout)
    for field in ("answer", "found", "citations", "quotes", "sources", "draft"):
        assert warm[field] == cold[field], field  # the same model, greedy: the same answer
    trail = [json.loads(line) for line in (tmp_path / "home" / "audit" / "audit.jsonl").open()]
    assert [r["question"] for r in trail].count(QUESTION) == 3  # every answer recorded, warm ones too
    assert {r["user"] for r in trail} == {cold_user()}  # the same reader in the engine as in process
    log = (tmp_path / "home" / "offline.log")
    assert not log.exists() or not log.read_text().strip()  # no connection attempted, guard set to fail

    streamed = shell("ask", QUESTION)  # the plain form streams through it as well
    assert streamed.returncode == 0 and "data-retention-policy.md" in streamed.stdout
    piped = shell("ask", "--json", "-", stdin=QUESTION)  # and a question read from stdin
    assert piped.returncode == 0 and json.loads(piped.stdout)["answer"] == warm["answer"]
    assert pid_of(resident) == pid
    doctor = shell("doctor")
    assert f"running: pid {pid}" in doctor.stdout and "yours alone" in doctor.stdout


def test_the_engine_answers_from_what_is_indexed_now(shell, tmp_path: Path) -> None:
    question = "What is the launch code of the Zebulon project?"
    assert "Not found" in shell("ask", question).stdout
    pid = pid_of(shell.resident())
    docs = tmp_path / "more"
    docs.mkdir()
    (docs / "zebulon.txt").write_text("The launch code of the Zebulon project is 4471-QX, set by the board.\n")
    assert shell("index", str(docs)).returncode == 0  # another process writes the index
    answer = json.loads(shell("ask", "--json", question).stdout)
    assert pid_of(shell.resident()) == pid  # the same engine, reading the index as it is now
    assert [s["source"] for s in answer["sources"]][:1] == ["zebulon.txt"]


def test_a_killed_engine_is_replaced_and_an_idle_one_leaves(shell) -> None:
    assert shell("ask", QUESTION, COPILOT_KEEP_ALIVE="3").returncode == 0
    resident = shell.resident(COPILOT_KEEP_ALIVE="3")
    killed = pid_of(resident)
    os.kill(killed, signal.SIGKILL)  # the socket stays behind, nobody answering on it
    for _ in range(100):
        if not alive(killed):
            break
        time.sleep(0.05)
    assert resident.socket.exists()

    again = shell("ask", QUESTION, COPILOT_KEEP_ALIVE="3")
    assert again.returncode == 0 and again.stderr == "", again.stderr  # replaced, and nothing said of it
    successor = pid_of(resident)
    assert successor and successor != killed and alive(successor)

    deadline = time.monotonic() + 30  # three idle seconds, then it goes and takes its files along
    while time.monotonic() < deadline and (alive(successor) or resident.socket.exists()):
        time.sleep(0.2)
    assert not alive(successor) and not resident.socket.exists() and resident.describe() is None


def test_no_engine_is_started_when_keep_alive_is_zero_or_it_cannot_start(shell, tmp_path: Path) -> None:
    assert shell("ask", QUESTION, COPILOT_KEEP_ALIVE="0").returncode == 0
    assert not shell.resident(COPILOT_KEEP_ALIVE="0").socket.exists()
    log = tmp_path / "home" / "logs" / "engine.log"

    here = shell("ask", QUESTION, COPILOT_KEEP_ALIVE="0", COPILOT_MODEL="no-such-model")
    there = shell("ask", QUESTION, COPILOT_MODEL="no-such-model")  # refused before any engine starts
    assert there.returncode == here.returncode != 0
    assert here.stderr == there.stderr and not log.exists()

    here = shell("ask", QUESTION, COPILOT_KEEP_ALIVE="0", COPILOT_EMBEDDER="no-such-embedder")
    there = shell("ask", QUESTION, COPILOT_EMBEDDER="no-such-embedder")  # the engine fails to load it
    assert there.returncode == here.returncode != 0
    assert "did not start" in there.stderr  # then the question is answered here, with the same error
    assert here.stderr.strip().splitlines()[-1] == there.stderr.strip().splitlines()[-1]


def test_two_shells_at_once_start_one_engine_and_both_get_answers(shell, tmp_path: Path) -> None:
    env = shell.env
    questions = (QUESTION, "Who approves exceptions to the retention schedule?")
    both = [subprocess.Popen([COPILOT, "ask", "--json", q], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for q in questions]
    results = [p.communicate(timeout=600) for p in both]
    assert [p.returncode for p in both] == [0, 0], [err for _out, err in results]
    assert [json.loads(out)["question"] for out, _err in results] == list(questions)
    log = (tmp_path / "home" / "logs" / "engine.log").read_text()
    assert log.count("warm engine for") == 1  # the second waited for the first one's engine
    assert alive(pid_of(shell.resident()))


def test_ctrl_c_in_the_shell_cancels_the_answer_in_the_engine(shell, tmp_path: Path) -> None:
    assert shell("ask", QUESTION, COPILOT_MAX_TOKENS="400").returncode == 0  # the engine is up
    resident = shell.resident(COPILOT_MAX_TOKENS="400")
    engine = pid_of(resident)
    log = tmp_path / "home" / "logs" / "engine.log"
    seen = log.read_text().count("POST /v1/ask")
    client = subprocess.Popen([COPILOT, "ask", "List every retention period in full, with its reasons."],
                              env=shell.env | {"COPILOT_MAX_TOKENS": "400"}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, preexec_fn=as_in_a_terminal)
    deadline = time.monotonic() + 60
    while log.read_text().count("POST /v1/ask") == seen and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(engine, signal.SIGSTOP)  # hold the engine mid-answer while the shell's Ctrl+C arrives
    try:
        client.send_signal(signal.SIGINT)
        client.communicate(timeout=30)
        assert client.returncode != 0  # the shell's question was given up
    finally:
        os.kill(engine, signal.SIGCONT)
    deadline = time.monotonic() + 30
    while "(cancelled)" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "(cancelled)" in log.read_text()  # the engine stopped writing an answer nobody reads
    again = shell("ask", "--json", QUESTION, COPILOT_MAX_TOKENS="400")
    assert again.returncode == 0 and pid_of(resident) == engine  # and it is free for the next


def test_a_changed_setting_replaces_the_engine_and_copilot_stop_ends_it(shell) -> None:
    assert shell("ask", QUESTION).returncode == 0
    first = pid_of(shell.resident())
    assert shell("ask", QUESTION, COPILOT_TOP_K="3").returncode == 0  # config.toml or a flag changed
    second = pid_of(shell.resident(COPILOT_TOP_K="3"))
    assert second and second != first and alive(second)
    deadline = time.monotonic() + 15
    while alive(first) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(first)  # one home, one model in memory

    stopped = shell("stop")  # this user's engines, those of other homes too
    assert stopped.returncode == 0 and str(second) in stopped.stdout.split("pid ", 1)[-1]
    assert not alive(second) and not shell.resident(COPILOT_TOP_K="3").socket.exists()
    assert shell("stop").stdout.strip() == "no warm engine runs"
    assert "none running" in shell("doctor").stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_another_user_can_neither_connect_nor_see_the_socket(shell) -> None:
    assert shell("ask", QUESTION).returncode == 0
    resident = shell.resident()
    probe = (f"import socket, os\n"
             f"try:\n    os.listdir({str(resident.folder)!r}); print('listed')\n"
             f"except PermissionError: print('cannot list')\n"
             f"s = socket.socket(socket.AF_UNIX)\n"
             f"try:\n    s.connect({str(resident.socket)!r}); print('connected')\n"
             f"except PermissionError: print('cannot connect')\n")
    other = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                            probe], capture_output=True, text=True, timeout=60)
    assert other.stdout.split("\n")[:2] == ["cannot list", "cannot connect"], other.stderr


def test_a_hung_engine_is_stopped_and_replaced(shell) -> None:
    assert shell("ask", QUESTION).returncode == 0
    resident = shell.resident()
    hung = pid_of(resident)
    os.kill(hung, signal.SIGSTOP)  # it holds its socket and answers nothing
    try:
        again = shell("ask", "--json", QUESTION)
        assert again.returncode == 0 and again.stderr == "", again.stderr
        successor = pid_of(resident)
        assert successor != hung and alive(successor) and not alive(hung)
    finally:
        if alive(hung):
            os.kill(hung, signal.SIGKILL)


def test_an_engine_killed_mid_answer_is_said_in_one_line_and_the_next_ask_answers(shell, tmp_path: Path) -> None:
    assert shell("ask", QUESTION).returncode == 0
    resident = shell.resident()
    engine = pid_of(resident)
    log = tmp_path / "home" / "logs" / "engine.log"
    seen = log.read_text().count("POST /v1/ask")
    client = subprocess.Popen([COPILOT, "ask", QUESTION], env=shell.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while log.read_text().count("POST /v1/ask") == seen and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(engine, signal.SIGKILL)
    _out, err = client.communicate(timeout=60)
    assert client.returncode == 6 and len(err.strip().splitlines()) == 1, err
    assert "the warm engine stopped before answering" in err and "Traceback" not in err
    again = shell("ask", QUESTION)
    assert again.returncode == 0 and pid_of(resident) not in (None, engine)

"""Finding, starting and stopping the user's warm engine (see copilot.core.resident).

`copilot ask` from a shell would otherwise load the model, the embedder and
the index for every question.  The first one starts a warm engine (its own
process, `python -m copilot.server.resident`, in a session of its own so it
outlives the shell's Ctrl+C); later ones reach it over its private socket in
milliseconds.  A socket nobody answers on, or an engine that no longer
answers, is replaced; an engine for settings that have since changed is
stopped when its successor starts, so one home holds one model in memory;
an engine that cannot start leaves the question to be answered in process,
as if there were none, so nothing ever fails for want of one.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from copilot.core.config import Config, settings_of
from copilot.core.errors import ConfigError, Unavailable
from copilot.core.hashing import ProgressFn
from copilot.core.resident import Resident
from copilot.engine.remote import RemoteEngine

PROBE_S = 15.0  # a live engine answers /v1/health at once, even mid-answer; a hung one is replaced
START_S = 600.0  # the first start may assemble the model from its packages (minutes, once)
LOG_BYTES = 8 << 20  # the engine's log, before it is rotated
STOP_S = 10.0  # SIGTERM lets an answer in progress end and the engine remove its files; then SIGKILL


def warm_engine(config: Config, note: Callable[[str], None] = lambda _line: None,
                model_progress: ProgressFn | None = None) -> WarmEngine | None:
    """The warm engine for `config`, started if none runs; None where there is none to have
    (`keep_alive` 0, a firm's server set, or it could not start: `note` says why).  The model
    is prepared here first, so its first-use assembly shows `model_progress` on this terminal
    and a bad model setting fails as it would in process."""
    if config.server or config.keep_alive <= 0:
        return None
    if not (config.index_dir / "manifest.sqlite").is_file():
        return None  # nothing indexed: the answer is an error, at once, and no engine need stay
    if not config.endpoints:
        from copilot.llama.models import resolve_llm

        resolve_llm(config.model, config.models_dir, model_progress)
    resident = Resident.of(config)
    try:
        resident.private_folder()
    except (ConfigError, OSError) as exc:
        note(f"no warm engine: {exc}")
        return None
    found = reach(config, resident, tidy=False)  # another shell may be starting it: nothing removed
    if found is not None:
        return found
    with open(resident.lock_file, "a") as lock:  # one starter at a time; the others find its engine
        fcntl.flock(lock, fcntl.LOCK_EX)
        return reach(config, resident) or _start(config, resident, note)


def reach(config: Config, resident: Resident, tidy: bool = True) -> WarmEngine | None:
    """A client of the engine answering on `resident`'s socket, or None (with `tidy`, a stale
    socket is removed, and an engine that holds it without answering is stopped)."""
    if health(resident, tidy) is None:
        return None
    return WarmEngine(dataclasses.replace(config, server=f"unix:{resident.socket}"))


class WarmEngine(RemoteEngine):
    """The warm engine's client: the server's contract, its failures said as the user knows it."""

    def _said(self, exc: Unavailable) -> Unavailable:
        log = self.config.home / "logs" / "engine.log"
        return Unavailable(f"the warm engine stopped before answering (see {log}); ask again: "
                           f"a new one starts ({exc})")

    def local_reader(self):
        try:
            return super().local_reader()
        except Unavailable as exc:
            raise self._said(exc) from None

    def ask(self, *args, **kwargs):
        try:
            return super().ask(*args, **kwargs)
        except Unavailable as exc:
            raise self._said(exc) from None


def health(resident: Resident, tidy: bool = True) -> dict | None:
    """What the engine on `resident`'s socket says of itself now (pid, rss_bytes, busy,
    idle_s; asking does not count as using it), or None if none answers there.  An engine
    that holds the socket without answering is stopped; with `tidy` (only under the starters'
    lock: a socket is bound a moment before it listens), a socket nobody listens on is removed."""
    if not resident.socket.exists():
        return None
    import httpx

    transport = httpx.HTTPTransport(uds=str(resident.socket))
    try:
        with httpx.Client(transport=transport, timeout=PROBE_S) as probe:
            reply = probe.get("http://copilot/v1/health")
        if reply.status_code == 200:
            return reply.json()
        return {}  # it answers, if not this (an older engine): still one to ask
    except httpx.TimeoutException:  # it took the connection and said nothing: not a start, a hang
        stop(resident, wait=False)  # it holds the socket but no longer answers
    except (httpx.HTTPError, ValueError):
        if not tidy or _ours((resident.describe() or {}).get("pid")):
            return None  # alive, and not listening yet or no more: its socket is its own to remove
    resident.socket.unlink(missing_ok=True)  # nobody listens: left by an engine that was killed
    return None


def running(config: Config) -> list[tuple[Resident, dict]]:
    """This user's warm engines that are alive, each with what it wrote of itself."""
    resident = Resident.of(config)
    if not resident.folder.is_dir():
        return []
    found = []
    for each in resident.every():
        about = each.describe()
        if about and _ours(about.get("pid")):
            found.append((each, about))
        elif about is not None:  # left by an engine that was killed: its files go with it
            each.socket.unlink(missing_ok=True)
            each.pid_file.unlink(missing_ok=True)
    return found


def stop(resident: Resident, wait: bool = True) -> int | None:
    """End the engine that wrote `resident`'s pid file, if it is alive and a warm engine
    (a pid is reused once its process is gone); its pid, or None.  `wait`: SIGTERM first
    and up to STOP_S for it to leave, else SIGKILL at once (it no longer answers)."""
    pid = (resident.describe() or {}).get("pid")
    if not _ours(pid):
        return None
    try:
        os.kill(pid, signal.SIGTERM if wait else signal.SIGKILL)
        deadline = time.monotonic() + (STOP_S if wait else 0)
        while _ours(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _ours(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if not _ours(pid):  # a killed one could not remove its own files
        resident.socket.unlink(missing_ok=True)
        resident.pid_file.unlink(missing_ok=True)
    return pid


def _start(config: Config, resident: Resident, note: Callable[[str], None]) -> WarmEngine | None:
    for other, about in running(config):  # the same home under settings since changed: replaced
        if other.key != resident.key and about.get("home") == str(config.home):
            stop(other)
    log = config.home / "logs" / "engine.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.is_file() and log.stat().st_size > LOG_BYTES:  # a line a request: kept to the last two
        log.replace(log.with_suffix(".log.1"))
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "copilot.server.resident"], stdin=subprocess.PIPE, stdout=out, stderr=out,
            start_new_session=True, close_fds=True)  # its own session: the shell's Ctrl+C is not for it
    try:
        # Its socket is named here, by the starter: the one it waits on, whatever the engine's
        # own reading of the settings would make of them.
        process.stdin.write(json.dumps({"socket_key": resident.key, "settings": settings_of(config)}).encode())
        process.stdin.close()
    except OSError:  # it died at once: said below, from its exit status
        pass
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            note(f"the warm engine did not start (exit {process.returncode}; see {log}): answering here")
            return None
        # Its pid file is written once it listens: the socket file exists a moment before that
        # (bound, not listening), and a probe then would be refused.
        if (resident.describe() or {}).get("pid") == process.pid and (found := reach(config, resident)):
            return found
        time.sleep(0.05)
    process.kill()
    note(f"the warm engine took over {START_S:.0f} s to start (see {log}): answering here")
    return None


def _ours(pid: object) -> bool:
    """Whether `pid` is a live warm engine of this user (not a zombie, not a reused pid)."""
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            if fh.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"copilot.server.resident" in fh.read() and os.stat(f"/proc/{pid}").st_uid == os.getuid()
    except (OSError, IndexError):
        return False

"""The offline guard: nothing this process does may reach the network.

Two layers.  `set_flags()` tells the libraries we use (Hugging Face, Chroma)
to stay offline and send no telemetry; it must run before they are imported.
`install()` adds a `sys.addaudithook` hook that sees every socket connect,
send and name lookup made from Python, refuses each one that is not to the
loopback interface or a local socket, and records it, in memory and in an
append-only log under `$COPILOT_HOME` that `copilot doctor` reads back.

Audit hooks cannot be removed, so once installed the guard lasts as long as
the process.  Code in C that opens sockets without going through Python's
socket module is out of its reach; the flags cover the libraries we ship.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from copilot.core.errors import NetworkRefused

if TYPE_CHECKING:
    from copilot.core.config import Config

FLAGS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma's switch for its telemetry
    "DO_NOT_TRACK": "1",
}

_WATCHED = {
    "socket.connect",
    "socket.connect_ex",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyname_ex",
    "socket.gethostbyaddr",
}


@dataclass(frozen=True)
class Attempt:
    """One refused connection or lookup."""

    time: float
    event: str
    target: str
    where: str  # the innermost frame outside the socket module


_attempts: list[Attempt] = []
_lock = threading.Lock()
_state = {"installed": False, "log": None, "fail": False, "allowed": frozenset()}
_probe = threading.local()  # set while self_test() runs: refuse, but record nothing


def set_flags() -> dict[str, str]:
    """Set the libraries' offline and no-telemetry switches; return them."""
    os.environ.update(FLAGS)
    return dict(FLAGS)


def flags_status() -> dict[str, str | None]:
    """Each offline switch and its current value in this process."""
    return {name: os.environ.get(name) for name in FLAGS}


def is_local(host: object) -> bool:
    """True for loopback addresses, `localhost`, no host at all, and the firm's own hosts
    that the configuration names (`allow`)."""
    if host in (None, "", b""):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0]
    if host.lower() == "localhost" or host.lower().endswith(".localhost") or host.lower() in _state["allowed"]:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _target(event: str, args: tuple) -> tuple[object, str] | None:
    """The host an event reaches for and a printable target; None if local."""
    if event in ("socket.connect", "socket.connect_ex", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if not isinstance(address, tuple):  # AF_UNIX paths and the like
            return None
        host = address[0]
        shown = f"{host}:{address[1]}" if len(address) > 1 else str(host)
    else:
        host = args[0] if args else None
        shown = str(host) + (f":{args[1]}" if len(args) > 1 and args[1] else "")
    return None if is_local(host) else (host, shown)


def _where() -> str:
    for frame in reversed(traceback.extract_stack()[:-3]):
        if not frame.filename.endswith(("socket.py", "offline.py")):
            return f"{frame.filename}:{frame.lineno}"
    return "?"


def _hook(event: str, args: tuple) -> None:
    if event not in _WATCHED:
        return
    target = _target(event, args)
    if target is None:
        return
    if getattr(_probe, "active", False):
        raise NetworkRefused(f"self-test: refused {target[1]}")
    attempt = Attempt(time.time(), event, target[1], _where())
    with _lock:
        _attempts.append(attempt)
        log = _state["log"]
        if log is not None:
            try:
                with open(log, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(asdict(attempt)) + "\n")
            except OSError:
                pass  # the refusal below matters more than the record
    message = f"offline guard refused a network connection to {target[1]} ({event}) from {attempt.where}"
    if _state["fail"]:
        # Fail-on-attempt: a library that catches the refusal and carries on must not hide it.
        os.write(2, f"copilot: {message}; stopping (guard = \"fail\")\n".encode())
        os._exit(70)
    raise NetworkRefused(message)


def install(log: Path | None = None, fail: bool = False) -> None:
    """Set the flags and install the guard (once per process); log attempts to `log`.

    With `fail`, any attempt ends the process at once (exit 70) after it is logged.
    """
    set_flags()
    _state["fail"] = _state["fail"] or fail
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        _state["log"] = log
    if not _state["installed"]:
        sys.addaudithook(_hook)
        _state["installed"] = True


def allow(hosts: tuple[str, ...]) -> None:
    """Let connections reach the firm's own servers that the configuration names (the index's
    Chroma server, the model servers): by name and by the addresses the name has now.  Nothing
    else is let through; a name that does not resolve is allowed by name only."""
    import socket

    new = [h for h in hosts if h.lower() not in _state["allowed"]]  # each engine built asks again: resolve once
    names = set(_state["allowed"]) | {h.lower() for h in new}
    _state["allowed"] = frozenset(names)  # the names first: resolving them is a lookup the guard sees
    for host in new:
        try:
            names.update(info[4][0] for info in socket.getaddrinfo(host, None))
        except OSError:
            pass  # not resolvable now: connections to it fail on their own, and say so
    _state["allowed"] = frozenset(names)


def guard(config: Config) -> None:
    """The guard as `config` sets it: installed, logging to its file, ending the process on an
    attempt if it says `guard = "fail"`, letting through only the firm's own servers it names.

    The command line calls it before any command's work; every engine calls it when built, so
    code that makes one without the command line (the server, `copilot eval`, tests) is guarded
    too.  Idempotent: the hook is installed once per process."""
    install(config.offline_log, fail=config.guard == "fail")
    allow(config.firm_hosts)


def settings() -> tuple[Path | None, bool]:
    """This process's guard log and fail mode, for a child process to install the same guard."""
    return _state["log"], _state["fail"]


def active() -> bool:
    """Whether the guard is installed in this process."""
    return bool(_state["installed"])


def self_test() -> bool:
    """Try a real outbound connection and a name lookup; True if both are refused."""
    import socket

    if not active():
        return False
    _probe.active = True
    refused = 0
    try:
        for attempt in (
            lambda: socket.getaddrinfo("example.com", 443),
            lambda: socket.create_connection(("192.0.2.1", 9), timeout=0.5),  # TEST-NET-1
        ):
            try:
                attempt()
            except NetworkRefused:
                refused += 1
            except OSError:
                pass  # reached the network stack: the guard failed
    finally:
        _probe.active = False
    return refused == 2


def attempts() -> list[Attempt]:
    """Connection attempts refused in this process so far."""
    with _lock:
        return list(_attempts)


def logged_attempts(log: Path) -> list[Attempt]:
    """Every attempt recorded in the log, by any run of the product."""
    if not log.is_file():
        return []
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            out.append(Attempt(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return out

"""Drive a real program in a tmux pane: send keys, read the screen (tests and bench/bench_tui.py)."""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence


class Terminal:
    """A detached tmux session running one command at a fixed size."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], size=(120, 40)) -> None:
        self.name = f"copilot-{uuid.uuid4().hex[:8]}"
        # Only `env` (and a UTF-8 locale): an inherited COLUMNS or LINES would fix the app's size.
        env = {"LANG": "C.UTF-8", "TERM": "xterm-256color", **env}
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # `remain-on-exit` keeps a crashed program's last screen readable.
        # A server of its own (-L): a user's tmux and its settings (sizes) stay out of it.
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", self.name, "-x", str(size[0]),
                  "-y", str(size[1]), f"env -i {exports} {shlex.join(command)}")
        self.tmux("set-option", "-t", self.name, "remain-on-exit", "on")
        self.started = time.perf_counter()

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a tmux command against this terminal's own server."""
        return subprocess.run(["tmux", "-L", self.name, *args], check=check, capture_output=True,
                              text=True)

    def screen(self) -> str:
        """The pane's text now."""
        return self.tmux("capture-pane", "-p", "-t", self.name, check=False).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        """Send keys (tmux names: Enter, Escape, C-o) or, with `literal`, text as typed."""
        self.tmux("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)

    def wait_for(self, text: str, timeout: float = 30.0, poll: float = 0.01) -> float:
        """Seconds until `text` is on screen; AssertionError with the screen if it never is."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if text in self.screen():
                return time.perf_counter() - start
            time.sleep(poll)
        raise AssertionError(f"{text!r} not on screen after {timeout:.0f} s:\n{self.screen()}")

    def wait_until(self, test, timeout: float = 30.0, poll: float = 0.01) -> str:
        """The first screen for which `test(screen)` is true."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            shown = self.screen()
            if test(shown):
                return shown
            time.sleep(poll)
        raise AssertionError(f"condition not met after {timeout:.0f} s:\n{self.screen()}")

    def close(self) -> None:
        self.tmux("kill-server", check=False)

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

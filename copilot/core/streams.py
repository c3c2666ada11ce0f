"""Stopping a streamed HTTP response from another thread, at once and safely.

A stream is read in one thread (the answer's), and a cancel comes from another
(Esc, a client gone).  Closing an httpx response from a second thread while
the first is blocked reading it can deadlock on the connection pool's locks
(it did: the cancelled answer's thread never ended and held the model's slot).
Shutting the socket underneath instead makes the blocked read return at once
with an error, and the reading thread closes the response itself; the server
at the other end sees the connection go, and stops.
"""

from __future__ import annotations

import socket
import threading


def cut(response) -> None:
    """Shut the connection under a streamed `httpx` response (any thread may call it)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing left to stop


def cut_on(response, cancel: threading.Event) -> threading.Event:
    """Watch `cancel` while `response` is read; `cut` it once it is set.  Set the returned
    event when the reading is over (the watcher then ends)."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if cancel.wait(0.05):
                if not done.is_set():
                    cut(response)
                return

    threading.Thread(target=watch, daemon=True, name="cut-on-cancel").start()
    return done

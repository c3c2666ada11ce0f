"""The server's HTTP face: a few routes over the engine contract, each for the connection's reader.

Plain HTTP/1.1 over a Unix socket (local users) or mutual TLS (laptops).  The
reader is made on every request from the connection's identity and the policy
file as it is now (a changed policy applies at once); nothing in a request
body or header says who is asking.  An answer streams as JSON lines:
`{"queued": n}` while it waits for the model, `{"token": "..."}` as it is
written, then `{"answer": {...}}` (or `{"error": ...}`).  Closing the
connection cancels the question, whether it waits, is read or is written.
A review's cell streams the same way (`/v1/review/cell`, ending `{"cell": {...}}`):
the reviews themselves are kept here, each reader's own (`copilot.server.reviews`).
"""

from __future__ import annotations

import json
import os
import select
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from copilot.core.answers import Answer
from copilot.core.config import Config
from copilot.core.errors import AccessDenied, Busy, CopilotError, Unavailable
from copilot.core.walls import Reader
from copilot.engine.access import Person, load
from copilot.server.identity import certificate_peer, own_peer, unix_peer
from copilot.server.queue import FairQueue
from copilot.server.reviews import ReviewDesk

MAX_BODY = 4 << 20  # a question and its conversation; anything larger is refused


class Gateway:
    """One engine, its model queue and the policy, shared by every connection."""

    def __init__(self, engine, config: Config, log=sys.stderr,
                 reader_of: Callable[[Person], Reader] | None = None, slots: int = 1):
        self.engine, self.config, self.log = engine, config, log
        self._reader_of = reader_of
        self.queue = FairQueue(slots, config.queue_limit)  # answers at once: the model servers' slots
        self.reviews = ReviewDesk(engine, config)
        self.servers: list[socketserver.BaseServer] = []
        self._calls, self._last_call = 0, time.monotonic()
        self._activity = threading.Lock()

    def reader(self, person: Person) -> Reader:
        """`person`'s walls under the policy as it is now (`AccessDenied` if none), or as
        `reader_of` says (a warm engine: its one user's, as the engine itself reads them)."""
        if self._reader_of is not None:
            return self._reader_of(person)
        return load(self.config.policy_path, person).reader

    def listen(self, listeners: tuple[str, ...], private: bool = False) -> list[str]:
        """Open each listener ("unix:/path" or "https://host:port"); what was opened, as URLs.
        `private`: a Unix socket only this process's own OS user may use (a warm engine)."""
        opened = []
        for spec in listeners:
            if spec.startswith("unix:"):
                path = Path(spec[5:])
                server = UnixServer(path, self, private)
                opened.append(f"unix:{path}")
            elif spec.startswith("https://"):
                parts = urlsplit(spec)
                server = TLSServer((parts.hostname or "0.0.0.0", parts.port or 8443), self, self._tls())
                opened.append(f"https://{parts.hostname}:{server.server_address[1]}")
            else:
                raise CopilotError(f"listen {spec!r}: give unix:/path or https://host:port "
                                   "(plain http would let anyone claim any user)")
            self.servers.append(server)
        return opened

    def _tls(self) -> ssl.SSLContext:
        c = self.config
        missing = [n for n in ("tls_cert", "tls_key", "tls_client_ca") if not getattr(c, n)]
        if missing:
            raise CopilotError(f"an https listener needs {', '.join(missing)} in config.toml")
        try:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH,
                                                 cafile=str(Path(c.tls_client_ca).expanduser()))
            context.load_cert_chain(str(Path(c.tls_cert).expanduser()), str(Path(c.tls_key).expanduser()))
        except (OSError, ssl.SSLError) as exc:
            raise CopilotError(f"cannot load the server's TLS files: {exc}") from None
        context.verify_mode = ssl.CERT_REQUIRED  # no certificate from the firm's CA, no service
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def serve_forever(self) -> None:
        started = list(self.servers)
        threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in started]
        for t in threads:
            t.start()
        try:
            for t in threads:
                t.join()
        finally:
            # Only those it started and nobody has stopped yet: a server put in their place
            # meanwhile (on the same socket path) is another's to stop.
            self.shutdown([s for s in started if s in self.servers])

    def shutdown(self, servers: list | None = None) -> None:
        servers = list(self.servers) if servers is None else servers
        self.servers = [s for s in self.servers if s not in servers]
        for s in servers:
            s.shutdown()
            s.server_close()

    @contextmanager
    def call(self) -> Iterator[None]:
        """Count a request while it runs: a warm engine leaves only when none has run for a while."""
        with self._activity:
            self._calls += 1
        try:
            yield
        finally:
            with self._activity:
                self._calls -= 1
                self._last_call = time.monotonic()

    def busy(self) -> int:
        """Requests running now."""
        with self._activity:
            return self._calls

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one runs."""
        with self._activity:
            return 0.0 if self._calls else time.monotonic() - self._last_call

    def note(self, line: str) -> None:
        print(time.strftime("%Y-%m-%d %H:%M:%S"), line, file=self.log, flush=True)


BACKLOG = 128  # connections waiting for accept(): a firm's Monday morning, not socketserver's 5


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = BACKLOG  # past it, a Unix socket's connect() fails at once (EAGAIN)

    def __init__(self, path: Path, gateway: Gateway, private: bool = False):
        self.gateway, self.private = gateway, private
        if path.exists():
            probe = socket.socket(socket.AF_UNIX)
            try:
                probe.connect(str(path))
                raise CopilotError(f"{path}: another server is listening there")
            except (ConnectionRefusedError, FileNotFoundError):
                path.unlink()  # left by a server that stopped without cleaning up
            finally:
                probe.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(str(path), Handler)
        # Shared: anyone may connect, who they are is the kernel's word, not access to this file.
        os.chmod(path, 0o600 if private else 0o666)

    def peer(self, conn) -> Person:
        return own_peer(conn) if self.private else unix_peer(conn)

    def server_close(self) -> None:
        super().server_close()
        Path(self.server_address).unlink(missing_ok=True)


class TLSServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = BACKLOG

    def __init__(self, address, gateway: Gateway, context: ssl.SSLContext):
        self.gateway, self.context = gateway, context
        super().__init__(address, Handler)

    def get_request(self):
        conn, address = super().get_request()
        # The handshake happens in the connection's own thread: a slow client cannot stall accept().
        return self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), address

    def peer(self, conn) -> Person:
        return certificate_peer(conn.getpeercert())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "copilot-serve"
    timeout = 600

    def setup(self) -> None:
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            except (OSError, ssl.SSLError):
                self.close_connection = True
                self.person = None
                return
            self.request.settimeout(self.timeout)
        try:
            self.person = self.server.peer(self.request)
        except CopilotError as exc:
            self.person, self.refusal = None, str(exc)

    def handle(self) -> None:
        if getattr(self, "person", None) is None and not hasattr(self, "refusal"):
            return  # the TLS handshake failed: nobody to answer
        super().handle()

    # Routing ------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        routes = {("GET", "/v1/whoami"): self.whoami, ("POST", "/v1/ask"): self.ask,
                  ("GET", "/v1/status"): self.status, ("GET", "/v1/totals"): self.totals,
                  ("GET", "/v1/last_run"): self.last_run, ("GET", "/v1/model"): self.model,
                  ("GET", "/v1/document"): self.document, ("GET", "/v1/audit"): self.audit,
                  ("GET", "/v1/audit/verify"): self.verify, ("GET", "/v1/superseded"): self.superseded,
                  ("GET", "/v1/health"): self.health,
                  ("GET", "/v1/reviews"): self.reviews, ("POST", "/v1/review"): self.review,
                  ("POST", "/v1/review/cell"): self.review_cell, ("POST", "/v1/review/sign"): self.review_sign}
        route = routes.get((method, url.path))
        if route is None:
            return self._json(404, {"error": f"no such call: {method} {url.path}", "kind": "CopilotError"})
        try:
            if getattr(self, "person", None) is None:
                raise AccessDenied(getattr(self, "refusal", "no identity"))
            reader = self.server.gateway.reader(self.person)
            if route == self.health:  # looking at the engine is not using it: its idle time goes on
                route(reader, query)
            else:
                with self.server.gateway.call():
                    route(reader, query)
        except CopilotError as exc:
            self._error(exc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug: one line to the client, the whole of it in the log
            self.server.gateway.note(f"unexpected {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            self._json(500, {"error": f"the server failed: {type(exc).__name__}: {exc}", "kind": "CopilotError"})

    # Calls --------------------------------------------------------------------------

    def health(self, _reader: Reader, _query) -> None:
        """The process as it is now: pid, memory, requests running, idle seconds."""
        gateway = self.server.gateway
        self._json(200, {"pid": os.getpid(), "rss_bytes": _resident_bytes(), "busy": gateway.busy(),
                         "idle_s": round(gateway.idle_for(), 1)})

    def whoami(self, reader: Reader, _query) -> None:
        self._json(200, {"user": reader.user, "collections": reader.walls.names()})

    def status(self, reader: Reader, _query) -> None:
        rows = self.server.gateway.engine.status(reader)
        self._json(200, {"rows": [[state, asdict(entry)] for state, entry in rows]})

    def totals(self, reader: Reader, _query) -> None:
        self._json(200, asdict(self.server.gateway.engine.totals(reader)))

    def last_run(self, reader: Reader, _query) -> None:
        """When the index was last brought up to date, and how that went; the folders it read and
        its counts only to a reader who may see every collection (they name other matters)."""
        run = self.server.gateway.engine.last_run()
        if run and reader.walls.collections is not None:
            run = {k: v for k, v in run.items() if k in ("time", "outcome")}
        self._json(200, {"last_run": run})

    def model(self, _reader: Reader, _query) -> None:
        self._json(200, asdict(self.server.gateway.engine.load_models()))

    def document(self, reader: Reader, query) -> None:
        self._json(200, asdict(self.server.gateway.engine.document(query.get("path", ""), reader)))

    def audit(self, reader: Reader, query) -> None:
        """The reader's own records (all of them, or record `n`): another's questions are theirs."""
        own = [r for r in self.server.gateway.engine.audit().records() if r.get("user") == reader.user]
        if "n" in query:
            found = [r for r in own if str(r.get("n")) == query["n"]]
            if not found:
                raise CopilotError(f"record {query['n']} is not one of your answers")
            own = found
        self._json(200, {"records": own})

    def verify(self, _reader: Reader, _query) -> None:
        trail = self.server.gateway.engine.audit()
        count, broken = trail.verify()
        self._json(200, {"count": count, "broken": asdict(broken) if broken else None})

    def superseded(self, reader: Reader, _query) -> None:
        found = [s for s in self.server.gateway.engine.superseded() if s.record.get("user") == reader.user]
        self._json(200, {"superseded": [{"record": s.record, "gone": [list(g) for g in s.gone]} for s in found]})

    def reviews(self, reader: Reader, _query) -> None:
        self._json(200, {"reviews": self.server.gateway.reviews.listing(reader)})

    def review(self, reader: Reader, _query) -> None:
        """Start, go on with, or open the reader's review: the grid as they may see it."""
        self._json(200, self.server.gateway.reviews.opened(reader, self._body()))

    def review_sign(self, reader: Reader, _query) -> None:
        self._json(200, {"cell": self.server.gateway.reviews.sign(reader, self._body())})

    def review_cell(self, reader: Reader, _query) -> None:
        """Stream one cell of the reader's review, asked in its turn in the fair queue and kept."""
        request = self._body()
        gateway = self.server.gateway

        def work(cancel: threading.Event, on_token) -> dict:
            def slot():
                return gateway.queue.slot(reader.user, cancel, on_wait=lambda n: self._line({"queued": n}, cancel))

            return {"cell": gateway.reviews.cell(reader, request, slot, on_token, cancel)}

        self._stream(reader, work, "a review's cell")

    def ask(self, reader: Reader, _query) -> None:
        """Stream an answer; the question waits for a model slot in the fair queue."""
        body = self._body()
        question, document = body.get("question"), body.get("document")
        if not isinstance(question, str) or not isinstance(document, (str, type(None))):
            raise CopilotError("give a question")
        history = [Answer.from_dict(a) for a in body.get("history") or []]  # "user" and the like: ignored
        gateway = self.server.gateway

        def work(cancel: threading.Event, on_token) -> dict:
            with gateway.queue.slot(reader.user, cancel, on_wait=lambda n: self._line({"queued": n}, cancel)):
                answer = gateway.engine.ask(question, reader, on_token=on_token, cancel=cancel, history=history,
                                            document=document)
            return {"answer": answer.to_dict()}

        self._stream(reader, work, "answered")

    def _stream(self, reader: Reader, work: Callable, what: str) -> None:
        """Run `work(cancel, on_token)` for a client that reads JSON lines as they come: its
        tokens, then what it returns, or the error; the client gone cancels it."""
        gateway = self.server.gateway
        cancel, done = threading.Event(), threading.Event()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        threading.Thread(target=self._watch, args=(cancel, done), daemon=True).start()
        started = time.monotonic()
        try:
            result = work(cancel, lambda t: self._line({"token": t}, cancel))
            self._line(result, cancel)
            gateway.note(f"{reader.user}: {what} in {time.monotonic() - started:.1f} s"
                         + (" (cancelled)" if cancel.is_set() else ""))
        except CopilotError as exc:
            self._line(_error(exc), cancel)
        except Exception as exc:  # a bug: the client hears one line, the log has the whole of it
            gateway.note(f"{reader.user}: unexpected {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            self._line({"error": f"the server failed: {type(exc).__name__}: {exc}", "kind": "CopilotError",
                        "exit_code": 1}, cancel)
        finally:
            done.set()

    # Plumbing -----------------------------------------------------------------------

    def _watch(self, cancel: threading.Event, done: threading.Event) -> None:
        """Cancel the question when the client goes away: it has sent all it will send, so
        its end of the connection becoming readable means it closed it."""
        while not done.is_set():
            try:
                readable, _, _ = select.select([self.request], [], [], 0.1)
            except (OSError, ValueError):
                readable = True
            if readable:
                cancel.set()
                return

    def _line(self, obj: dict, cancel: threading.Event) -> None:
        if cancel.is_set():
            return
        try:
            self.wfile.write((json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8"))
            self.wfile.flush()
        except OSError:  # the client is gone: stop the work done for it
            cancel.set()

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise CopilotError(f"the request is {length:,} bytes; the most is {MAX_BODY:,}")
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise CopilotError("the request is not JSON") from None
        if not isinstance(data, dict):
            raise CopilotError("the request is not a JSON object")
        return data

    def _json(self, status: int, obj: dict) -> None:
        data = json.dumps(obj, ensure_ascii=False, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, exc: CopilotError) -> None:
        status = 403 if isinstance(exc, AccessDenied) else 503 if isinstance(exc, (Unavailable, Busy)) else 400
        self._json(status, _error(exc))

    def log_message(self, format: str, *args) -> None:
        user = self.person.user if getattr(self, "person", None) else "-"
        self.server.gateway.note(f"{user} {format % args}")


def _resident_bytes() -> int:
    """This process's resident memory now (Linux's VmRSS; 0 where there is none to read)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _error(exc: CopilotError) -> dict:
    return {"error": str(exc), "kind": type(exc).__name__, "exit_code": exc.exit_code}

"""The engine of a firm-wide server, seen from a thin client: the `Engine` contract over HTTP.

The CLI and the app use it exactly as they use the local engine (`copilot
--server URL`, or `server = "..."` in config.toml); the server answers, with
the walls and the audit trail it keeps, for whoever the connection shows the
client to be.  The `reader` the contract passes is not sent: the server does
not take a client's word for who it is.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from copilot.core import errors
from copilot.core.admin import AuditBreak, ModelInfo, ModelState, Superseded, Totals
from copilot.core.answers import Answer, SignOff
from copilot.core.config import Config
from copilot.core.errors import ConfigError, CopilotError, Unavailable
from copilot.core.hashing import ProgressFn
from copilot.core.indexing import Progress, Summary
from copilot.core.protocols import TokenFn
from copilot.core.records import Document, Entry, Page
from copilot.core.streams import cut_on
from copilot.core.walls import Reader, Walls

BASE = "http://copilot"  # the host part of URLs over a Unix socket (never resolved)


class RemoteEngine:
    """Everything `copilot.core.contract.Engine` offers, asked of `config.server`."""

    def __init__(self, config: Config):
        import httpx

        self.config, server = config, config.server
        timeout = httpx.Timeout(600.0, connect=10.0)
        if server.startswith("unix:"):
            self.base = BASE
            self._http = httpx.Client(transport=httpx.HTTPTransport(uds=server[5:]), timeout=timeout)
        elif server.startswith("https://"):
            if not (config.client_cert and config.client_key):
                raise ConfigError("an https server needs client_cert and client_key (your certificate "
                                  "from the firm's CA) in config.toml")
            import ssl

            try:
                context = ssl.create_default_context(cafile=_path(config.server_ca) or None)
                context.load_cert_chain(_path(config.client_cert), _path(config.client_key))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot load your certificate: {exc}") from None
            self.base = server.rstrip("/")
            self._http = httpx.Client(verify=context, timeout=timeout)
        else:
            raise ConfigError(f"server {server!r}: give unix:/path/to/socket or https://host:port")
        self._model: ModelState | None = None

    # The contract ---------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self.config.server

    def local_reader(self) -> Reader:
        """Who the server takes this client for, and what they may read."""
        who = self._get("/v1/whoami")
        names = who["collections"]
        return Reader(who["user"], Walls.everything() if names == ["*"] else Walls.only(names))

    def ask(self, question: str, reader: Reader, on_token: TokenFn | None = None,
            cancel: threading.Event | None = None, history: Sequence[Answer] = (),
            on_wait: Callable[[int], None] | None = None, document: str | None = None) -> Answer:
        body = {"question": question, "history": [a.to_dict() for a in history], "document": document}
        event = self._stream("/v1/ask", body, on_token, cancel, on_wait)
        return Answer(question, "", False, cancelled=True) if event is None else Answer.from_dict(event["answer"])

    # Reviews kept on the server (`copilot.core.contract.ReviewServer`) -------------------------

    def reviews(self) -> list[dict]:
        return self._get("/v1/reviews")["reviews"]

    def review_open(self, request: dict) -> dict:
        return self._post("/v1/review", request)

    def review_cell(self, request: dict, on_token: TokenFn | None = None, cancel: threading.Event | None = None,
                    on_wait: Callable[[int], None] | None = None) -> dict | None:
        event = self._stream("/v1/review/cell", request, on_token, cancel, on_wait)
        return None if event is None else event["cell"]

    def review_sign(self, request: dict) -> dict:
        return self._post("/v1/review/sign", request)["cell"]

    def index(self, paths: Iterable[Path], progress: Progress | None = None, passwords: Sequence[str] = (),
              collection: str | None = None, folders: Mapping[Path, str] | None = None) -> Summary:
        raise CopilotError("documents are indexed on the server, by IT (`copilot index` on the server host)")

    def status(self, reader: Reader) -> list[tuple[str, Entry]]:
        return [(state, Entry(**entry)) for state, entry in self._get("/v1/status")["rows"]]

    def totals(self, reader: Reader) -> Totals:
        return Totals(**self._get("/v1/totals"))

    def last_run(self) -> dict | None:
        return self._get("/v1/last_run")["last_run"]

    def models(self, hashes: bool = True,
               progress: Callable[[str], ProgressFn] | None = None) -> list[ModelInfo]:
        state = self.load_models()
        return [ModelInfo(self.config.server, "server", state.quant, 0, "", None, f"serves {state.name}")]

    def load_models(self) -> ModelState:
        if self._model is None:
            self._model = ModelState(**self._get("/v1/model"))
        return self._model

    def use_model(self, setting: str) -> ModelState:
        if setting == self.config.server:
            return self.load_models()
        raise ConfigError("the firm's server chooses the model; ask IT for another")

    def document(self, path: str, reader: Reader) -> Document:
        data = self._get("/v1/document", {"path": path})
        return Document(tuple(Page(**p) for p in data["pages"]), data["title"], data["meta"],
                        tuple(data["problems"]))

    def sign_off(self, signoff: SignOff, reader: Reader) -> dict:
        """Refused: through a server a cell is signed off in the review the server keeps, against
        the answer it kept (`review_sign`), never an answer a client sends."""
        raise CopilotError("through a firm's server, a review's cell is signed off in that review on the "
                           "server (`copilot review` or the review screen)")

    def audit(self) -> RemoteAudit:
        return RemoteAudit(self)

    def superseded(self) -> list[Superseded]:
        return [Superseded(s["record"], tuple((g[0], g[1]) for g in s["gone"]))
                for s in self._get("/v1/superseded")["superseded"]]

    # Plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def _stream(self, path: str, body: dict, on_token: TokenFn | None, cancel: threading.Event | None,
                on_wait: Callable[[int], None] | None) -> dict | None:
        """POST `body` and read the server's JSON lines: tokens to `on_token`, places in the queue
        to `on_wait`, then the result's line (None when `cancel` cut the stream on purpose)."""
        import httpx

        done = threading.Event()
        failure = "closed the connection before answering"
        try:
            with self._http.stream("POST", self.base + path, json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise _raised(response)
                if cancel is not None:  # Esc: the connection goes, and the server stops the work
                    done = cut_on(response, cancel)
                for line in response.iter_lines():
                    if not line:
                        continue
                    event = json.loads(line)
                    if "token" in event:
                        if on_token is not None:
                            on_token(event["token"])
                    elif "queued" in event:
                        if on_wait is not None:
                            on_wait(event["queued"])
                    elif "error" in event:
                        raise _typed(event)
                    else:
                        return event
        except (httpx.HTTPError, httpx.StreamError) as exc:
            failure = f"failed: {exc}"
        finally:
            done.set()
        if cancel is not None and cancel.is_set():  # Esc: the stream was cut on purpose
            return None
        raise Unavailable(f"the server {self.config.server} {failure}")

    def _get(self, path: str, params: dict | None = None) -> dict:
        return self._call("GET", path, params=params)

    def _post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, json=body)

    def _call(self, method: str, path: str, **request) -> dict:
        import httpx

        try:
            response = self._http.request(method, self.base + path, **request)
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach the server {self.config.server}: {exc}") from None
        if response.status_code != 200:
            raise _raised(response)
        return response.json()


class RemoteAudit:
    """Your own answers in the server's audit trail (IT reads the whole of it on the server)."""

    def __init__(self, engine: RemoteEngine):
        self._engine = engine
        self.file = Path(engine.config.server)

    def records(self):
        yield from self._engine._get("/v1/audit")["records"]

    def last(self) -> dict | None:
        records = self._engine._get("/v1/audit")["records"]
        return records[-1] if records else None

    def get(self, n: int) -> dict:
        return self._engine._get("/v1/audit", {"n": str(n)})["records"][0]

    def verify(self) -> tuple[int, AuditBreak | None]:
        data = self._engine._get("/v1/audit/verify")
        return data["count"], AuditBreak(**data["broken"]) if data["broken"] else None


def _path(setting: str) -> str:
    return str(Path(setting).expanduser()) if setting else ""


def _raised(response) -> CopilotError:
    try:
        return _typed(response.json())
    except ValueError:
        return Unavailable(f"the server said {response.status_code}: {response.text[:200]}")


def _typed(event: dict) -> CopilotError:
    """The server's error as the same typed exception the local engine would raise."""
    kind = getattr(errors, str(event.get("kind", "")), None)
    if isinstance(kind, type) and issubclass(kind, CopilotError):
        return kind(event["error"])
    error = CopilotError(event.get("error", "the server failed"))
    error.exit_code = int(event.get("exit_code", 1))
    return error

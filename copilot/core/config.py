"""The one place settings come from.

Precedence, lowest to highest: built-in defaults, `$COPILOT_HOME/config.toml`,
`COPILOT_*` environment variables, then flags given on the command line.
`load()` is the only code in the product that reads the environment.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from copilot.core.errors import ConfigError

APP_NAME = "copilot"


def default_home() -> Path:
    """The platform's user data folder (e.g. ~/.local/share/copilot on Linux)."""
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


@dataclass(frozen=True)
class Config:
    """Every setting the product has, with its default."""

    home: Path = dataclasses.field(default_factory=default_home)
    model: str = "qwen2.5-coder-1.5b"  # a packaged model's name or a GGUF path (bench/RESULTS.md: why this one)
    embedder: str = ""  # a sentence-transformers folder; empty: the packaged MiniLM
    embed_backend: str = "onnx-int8"  # onnx-int8 (fastest), onnx (fp32) or torch (sentence-transformers)
    models_home: str = ""  # where prepared models are kept; empty: $COPILOT_HOME/models
    context_window: int = 4096
    max_tokens: int = 512
    temperature: float = 0.0
    threads: int = 0  # 0: let llama.cpp choose
    gpu_layers: int = 0
    top_k: int = 5  # passages listed as sources
    retrieval: str = "hybrid"  # hybrid (BM25 + vectors, fused), dense or lexical
    retrieval_depth: int = 24  # passages whose sentences are weighed as evidence
    min_score: float = 0.25  # cosine similarity below which a passage is unrelated
    evidence_tokens: int = 240  # what the evidence sentences shown to the model may take: most of the wait
    evidence_sentences: int = 8  # at most this many evidence sentences, however short
    evidence_window: int = 45  # a longer sentence is shown as this many tokens around the question's words
    min_confidence: float = -1.0  # below it, "not found"; -1: the model's calibrated floor, 0: never
    # Whether an answer is shown: "floor", the draft's calibrated confidence against its fitted
    # floor; "choice", the model picks the numbered sentence that answers, or none (no fitted value).
    decision: str = "floor"
    chunk_tokens: int = 200
    chunk_overlap: int = 32
    max_file_mb: int = 256  # larger files are skipped, with the reason; 0: no limit
    ocr: str = "auto"  # read scanned pages by OCR where the engine is installed; "off": skip them, saying so
    embed_batch: int = 0  # texts per model call; 0: the backend's best (ONNX 4, torch 32)
    theme: str = "dark"  # the terminal app's colours: dark or light
    guard: str = "refuse"  # on a connection attempt: refuse it (and log), or "fail": stop the process
    policy_file: str = ""  # who may read which collections (IT's); empty: $COPILOT_HOME/policy.toml
    # A firm-wide server (README, "Serving a whole firm").  Client side:
    server: str = ""  # the firm's `copilot serve`: "unix:/run/copilot/copilot.sock" or "https://host:8443"
    client_cert: str = ""  # this user's certificate (PEM, issued by the firm's CA) for an https server
    client_key: str = ""  # its private key (PEM)
    server_ca: str = ""  # the CA that signed the server's certificate (PEM)
    # Server side (`copilot serve`):
    listen: str = ""  # where to serve, comma-separated: "unix:/run/copilot/copilot.sock", "https://0.0.0.0:8443"
    tls_cert: str = ""  # the server's certificate and key (PEM), for an https listener
    tls_key: str = ""
    tls_client_ca: str = ""  # the firm's CA: only clients with a certificate it signed are served
    chroma_url: str = ""  # a `chroma run` server holding the index's vectors; empty: on disk in the home
    model_endpoints: str = ""  # OpenAI-compatible model servers, comma-separated; empty: llama.cpp in process
    queue_limit: int = 32  # questions waiting at most; beyond it: "busy, N ahead"
    # Seconds the warm engine of `copilot ask` stays after its last question (Ollama's name and
    # meaning: "5m", "90s", "1h" or seconds; 0: none, each ask loads the model itself).
    keep_alive: int = 300
    runtime_dir: str = ""  # where warm engines keep their sockets; empty: $XDG_RUNTIME_DIR, else /tmp

    @property
    def config_file(self) -> Path:
        return self.home / "config.toml"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def models_dir(self) -> Path:
        """Assembled GGUF files and embedder exports (shareable between homes)."""
        return Path(self.models_home).expanduser() if self.models_home else self.home / "models"

    @property
    def policy_path(self) -> Path:
        """The ethical walls' policy (see copilot.engine.access)."""
        return Path(self.policy_file).expanduser() if self.policy_file else self.home / "policy.toml"

    @property
    def audit_file(self) -> Path:
        """The append-only, hash-chained record of every answer (see copilot.engine.audit)."""
        return self.home / "audit" / "audit.jsonl"

    @property
    def reviews_dir(self) -> Path:
        """The reviews, one SQLite file each, kept cell by cell (see copilot.review.store)."""
        return self.home / "reviews"

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The model servers, in order (empty: the model runs in this process)."""
        return tuple(u.strip().rstrip("/") for u in self.model_endpoints.split(",") if u.strip())

    @property
    def listeners(self) -> tuple[str, ...]:
        return tuple(u.strip() for u in self.listen.split(",") if u.strip())

    @property
    def firm_hosts(self) -> tuple[str, ...]:
        """The hosts this configuration itself names (the index's Chroma server, the model servers):
        the only ones the offline guard lets a connection reach besides this machine."""
        from urllib.parse import urlsplit

        urls = [self.chroma_url, *self.endpoints] + ([self.server] if self.server.startswith("https:") else [])
        return tuple(dict.fromkeys(urlsplit(u).hostname for u in urls if u and urlsplit(u).hostname))

    @property
    def offline_log(self) -> Path:
        return self.home / "offline.log"

    @property
    def conversations_file(self) -> Path:
        """The terminal app's saved conversations."""
        return self.home / "conversations.sqlite"

    def replace(self, **changes: Any) -> "Config":
        """A copy with some settings changed (None values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **_coerce_all(changes, "flag"))


_FIELDS = {f.name: f for f in fields(Config)}
CHOICES = {
    "embed_backend": ("onnx-int8", "onnx", "torch"),
    "retrieval": ("hybrid", "dense", "lexical"),
    "theme": ("dark", "light"),
    "guard": ("refuse", "fail"),
    "ocr": ("auto", "off"),
    "decision": ("choice", "floor"),
}
_DEFAULTS = Config(home=Path("."))
DURATIONS = ("keep_alive",)  # settings given in seconds or as "30s", "5m", "1h"
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def duration(value: Any) -> int:
    """Whole seconds from 300, "300", "90s", "5m" or "1h" (`ValueError` otherwise, or if negative)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        unit = text[-1:] if text[-1:] in _UNITS else ""
        seconds = float(text[: len(text) - len(unit)]) * _UNITS[unit]
    if seconds < 0 or seconds != seconds:
        raise ValueError(value)
    return int(round(seconds))


def _coerce(name: str, value: Any, origin: str) -> Any:
    if name not in _FIELDS:
        raise ConfigError(f"unknown setting {name!r} in {origin}")
    kind = type(getattr(_DEFAULTS, name))
    try:
        if name == "home":
            return Path(str(value)).expanduser()
        if name in DURATIONS:
            return duration(value)
        value = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting {name!r} in {origin} should be "
            f"{'seconds, or a duration like 90s, 5m, 1h' if name in DURATIONS else kind.__name__}, got {value!r}"
        ) from None
    if name in CHOICES and value not in CHOICES[name]:
        raise ConfigError(
            f"setting {name!r} in {origin} should be one of {', '.join(CHOICES[name])}, got {value!r}"
        )
    return value


def _coerce_all(values: Mapping[str, Any], origin: str) -> dict[str, Any]:
    return {k: _coerce(k, v, origin) for k, v in values.items()}


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    prefix = "COPILOT_"
    out = {}
    for key, value in env.items():
        if key.startswith(prefix) and key[len(prefix):].lower() in _FIELDS:
            out[key[len(prefix):].lower()] = value
    return _coerce_all(out, "the environment")


def _from_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    data.pop("home", None)  # the file lives in home: it cannot move it
    return _coerce_all(data, str(path))


def load(
    env: Mapping[str, str] | None = None, **flags: Any
) -> Config:
    """Build the Config from file, then environment, then flags."""
    env = os.environ if env is None else env
    from_env = _from_env(env)
    flags = _coerce_all({k: v for k, v in flags.items() if v is not None}, "flag")
    home = flags.get("home") or from_env.get("home") or default_home()
    settings = _from_file(Path(home) / "config.toml")
    settings.update(from_env)
    settings.update(flags)
    settings["home"] = Path(home).expanduser().resolve()
    if not settings.get("runtime_dir"):  # the user's runtime dir, as systemd/logind make it
        settings["runtime_dir"] = env.get("XDG_RUNTIME_DIR", "")
    return Config(**settings)


def settings_of(config: Config) -> str:
    """Every setting as one JSON object: what a warm engine is started with (`from_settings`)."""
    return json.dumps({f.name: str(v) if isinstance(v := getattr(config, f.name), Path) else v
                       for f in fields(Config)}, sort_keys=True)


def from_settings(text: str) -> Config:
    """The Config `settings_of` wrote, checked as flags are (`ConfigError` if it is not one)."""
    try:
        values = json.loads(text)
    except ValueError:
        raise ConfigError("the settings given are not JSON") from None
    if not isinstance(values, dict):
        raise ConfigError("the settings given are not a JSON object")
    return Config(**_coerce_all(values, "the settings given"))


def as_toml(config: Config) -> str:
    """The settings as config.toml text (what `copilot config` prints)."""
    lines = []
    for f in fields(Config):
        value = getattr(config, f.name)
        if isinstance(value, (str, Path)):
            value = json.dumps(str(value))  # a JSON string is a TOML basic string
        lines.append(f"{f.name} = {value}")
    return "\n".join(lines) + "\n"

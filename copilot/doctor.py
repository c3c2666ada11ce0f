"""`copilot doctor`: what an IT team checks before trusting the install."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from copilot import offline
from copilot.config import Config
from copilot.errors import CopilotError
from copilot.models import PACKAGED, resolve_embedder, verify_llm


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def report(config: Config, echo: Callable[[str], None]) -> bool:
    """Print every check; True when all pass."""
    ok = True

    def line(good: bool, what: str, detail: str) -> None:
        nonlocal ok
        ok &= good
        echo(f"{'ok ' if good else 'BAD'}  {what:<18} {detail}")

    echo(f"home: {config.home}")
    try:
        path, verdict = verify_llm(config.model, config.models_dir)
        line(True, "language model", f"{config.model}: {path} ({verdict})")
    except CopilotError as exc:
        line(False, "language model", str(exc))
    try:
        line(True, "embedding model", str(resolve_embedder(config.embedder)))
    except CopilotError as exc:
        line(False, "embedding model", str(exc))
    echo(f"     {'packaged models':<18} {', '.join(PACKAGED)}")

    manifest = config.index_dir / "manifest.sqlite"
    if manifest.is_file():
        from index.manifest import Manifest

        db = Manifest(manifest)
        t = db.totals()
        db.close()
        line(True, "index", (
            f"{config.index_dir}, {_size(config.index_dir) / 1e6:.1f} MB: {t['files']} files, "
            f"{t['pages']} pages, {t['chunks']} chunks, {t['skipped']} skipped"
        ))
    else:
        line(True, "index", f"{config.index_dir}: empty (run: copilot index FOLDER)")

    flags = offline.flags_status()
    flags_ok = all(flags[k] == v for k, v in offline.FLAGS.items())
    line(flags_ok, "offline flags", " ".join(f"{k}={v}" for k, v in flags.items()))
    line(offline.self_test(), "offline guard", "active: outbound connections and lookups are refused")
    seen = offline.logged_attempts(config.offline_log)
    line(not seen, "connections", f"{len(seen)} attempts recorded in {config.offline_log}")
    for a in seen[-5:]:
        echo(f"       {a.event} {a.target} from {a.where}")
    return ok

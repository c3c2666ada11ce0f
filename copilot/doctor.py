"""`copilot doctor`: what an IT team checks before trusting the install."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from copilot import offline
from copilot.config import Config
from copilot.errors import CopilotError
from copilot.models import PACKAGED, local_models, resolve_embedder, verify_llm


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
        from index.embedding import export_dir

        folder = resolve_embedder(config.embedder)
        exported = export_dir(folder, config.models_dir / "embedders")
        state = "exported" if exported.is_dir() else "exported on first use"
        detail = f"{folder} ({config.embed_backend}"
        line(True, "embedding model", detail + (f", {state})" if config.embed_backend != "torch" else ")"))
    except CopilotError as exc:
        line(False, "embedding model", str(exc))
    local = list(local_models(config.models_dir))
    echo(f"     {'models available':<18} {', '.join([*PACKAGED, *local])} (details: copilot models)")

    try:
        from copilot.access import load

        access = load(config.policy_path)
        line(True, "ethical walls", access.describe())
    except CopilotError as exc:
        fresh = not config.policy_path.exists() and not (config.index_dir / "manifest.sqlite").is_file()
        line(fresh, "ethical walls", f"no policy yet at {config.policy_path}: the first `copilot index` "
             "writes one giving you every collection" if fresh else str(exc))

    manifest = config.index_dir / "manifest.sqlite"
    if manifest.is_file():
        from index.manifest import Manifest

        db = Manifest(manifest)
        t, built_with, pending = db.totals(), db.setting("embedder"), db.pending()
        db.close()
        line(not pending, "index", (
            f"{config.index_dir}, {_size(config.index_dir) / 1e6:.1f} MB: {t['files']} files, "
            f"{t['pages']} pages, {t['chunks']} chunks, {t['skipped']} skipped; embedder {built_with}"
            + (f"; {len(pending)} files left half-written by a stopped run (the next index fixes them)"
               if pending else "")
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

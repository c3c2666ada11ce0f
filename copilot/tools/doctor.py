"""`copilot doctor`: what an IT team checks before trusting the install."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from copilot.core import offline
from copilot.core.config import Config
from copilot.core.errors import CopilotError
from copilot.core.present import Checks
from copilot.llama.models import PACKAGED, local_models, resolve_embedder, verify_llm


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def report(config: Config, echo: Callable[[str], None], strict: bool = False) -> bool:
    """Print every check; True when all pass.  `strict` adds the checks a risk team signs
    off on: every file of the installed model packages against pip's RECORD hashes, a
    local model against its recorded sha256, and the index databases' integrity."""
    line = Checks(echo)
    echo(f"home: {config.home}")
    path = None
    try:
        path, verdict = verify_llm(config.model, config.models_dir)
        line(True, "language model", f"{config.model}: {path} ({verdict})")
    except CopilotError as exc:
        line(False, "language model", str(exc))
    try:
        from copilot.llama.runtime import backends, layers_of

        found = backends()
        line(True, "llama.cpp", found.describe())
        used, how = found.gpu_use(config.gpu_layers, layers_of(path) if path else 0)
        line(used, "GPU", how)
    except CopilotError as exc:
        line(False, "llama.cpp", str(exc))
    try:
        from index import onnx_export

        folder = resolve_embedder(config.embedder)
        file = onnx_export.INT8 if config.embed_backend == "onnx-int8" else onnx_export.FP32
        export = onnx_export.exported(folder, config.models_dir / "embedders", file)
        missing = [] if export or config.embed_backend == "torch" else onnx_export.missing_for_export()
        state = f"ONNX export: {export}" if export else "exported on first use" if not missing else (
            f"no ONNX export installed, and no {' or '.join(missing)} here to make one: reinstall from the "
            "offline bundle")
        detail = f"{folder} ({config.embed_backend}"
        line(not missing, "embedding model", detail + (f", {state})" if config.embed_backend != "torch" else ")"))
    except CopilotError as exc:
        line(False, "embedding model", str(exc))
    if config.ocr == "off":
        line(True, "OCR", "turned off (ocr in config.toml): scanned pages are skipped, with the reason")
    else:
        from index import ocr

        engine = ocr.describe()
        line(engine is not None, "OCR", engine or "not installed: scanned pages are skipped (reinstall, or "
             "set ocr = \"off\")")
    local = list(local_models(config.models_dir))
    echo(f"     {'models available':<18} {', '.join([*PACKAGED, *local])} (details: copilot models)")

    try:
        from copilot.engine.access import load

        access = load(config.policy_path)
        line(True, "ethical walls", access.describe())
    except CopilotError as exc:
        fresh = not config.policy_path.exists() and not (config.index_dir / "manifest.sqlite").is_file()
        line(fresh, "ethical walls", f"no policy yet at {config.policy_path}: the first `copilot index` "
             "writes one giving you every collection" if fresh else str(exc))

    manifest = config.index_dir / "manifest.sqlite"
    if manifest.is_file():
        from copilot.core.walls import Walls
        from index.manifest import Manifest

        db = Manifest(manifest)
        t, built_with, pending = db.totals(Walls.everything()), db.setting("embedder"), db.pending()
        db.close()
        line(not pending, "index", (
            f"{config.index_dir}, {_size(config.index_dir) / 1e6:.1f} MB: {t.files} files, "
            f"{t.pages} pages, {t.chunks} chunks, {t.skipped} skipped; embedder {built_with}"
            + (f"; {len(pending)} files left half-written by a stopped run (the next index fixes them)"
               if pending else "")
        ))
    else:
        line(True, "index", f"{config.index_dir}: empty (run: copilot index FOLDER)")

    if not config.server:
        _warm(config, line)

    flags = offline.flags_status()
    flags_ok = all(flags[k] == v for k, v in offline.FLAGS.items())
    line(flags_ok, "offline flags", " ".join(f"{k}={v}" for k, v in flags.items()))
    line(offline.self_test(), "offline guard", "active: outbound connections and lookups are refused")
    seen = offline.logged_attempts(config.offline_log)
    line(not seen, "connections", f"{len(seen)} attempts recorded in {config.offline_log}")
    for a in seen[-5:]:
        echo(f"       {a.event} {a.target} from {a.where}")
    if strict:
        _strict(config, line)
    return line.ok


def _warm(config: Config, line: Callable[[bool, str, str], None]) -> None:
    """The warm engine `copilot ask` uses: off, none yet, or running (pid, model, memory, idle
    time, how long it took to load), and any other of this user's for other settings."""
    import time

    from copilot.core.resident import Resident
    from copilot.engine.warm import health, running

    resident = Resident.of(config)
    others = [(r, a) for r, a in running(config) if r.key != resident.key]
    for _other, about in others:
        line(True, "warm engine", f"pid {about['pid']} runs for other settings of {about.get('home')} "
             f"(`copilot stop` ends it)")
    if config.keep_alive <= 0:
        line(True, "warm engine", "off (keep_alive = 0): each `copilot ask` loads the model itself")
        return
    try:
        resident.private_folder()
    except (CopilotError, OSError) as exc:
        line(False, "warm engine", str(exc))
        return
    now = health(resident, tidy=False)  # an ask may be starting it: the doctor only looks
    about = resident.describe() if now is not None else None
    if now is None or about is None:
        line(True, "warm engine", "none running: the next "
             f"`copilot ask` starts one, which stays {config.keep_alive} s after its last question")
        return
    loaded = ", ".join(f"{k} {v:.1f} s" for k, v in about.get("load_s", {}).items())
    memory = f"{now['rss_bytes'] / 2**30:.2f} GB resident" if now.get("rss_bytes") else "memory unknown"
    idle = "answering now" if now.get("busy") else f"idle {now.get('idle_s', 0):.0f} s"
    line(True, "warm engine", f"running: pid {about['pid']}, {about['model']}, {memory}, up "
         f"{time.time() - about['started']:.0f} s, {idle}, leaves after {about['keep_alive']} s idle "
         f"(`copilot stop` ends it now); {resident.socket} (yours alone); loaded in {loaded}")


def _strict(config: Config, line: Callable[[bool, str, str], None]) -> None:
    import sqlite3

    from copilot.core.hashing import sha256_of
    from copilot.llama.models import EMBEDDER_PACKAGE, recorded_sha256, resolve_llm
    from index.ocr import PACKAGES as OCR_PACKAGES

    if config.model not in PACKAGED:  # packaged ones were hashed above against their published hash
        try:
            path = resolve_llm(config.model, config.models_dir)
            want = recorded_sha256(path)
            same = bool(want) and sha256_of(path) == want  # hashed once: a GGUF is hundreds of MB
            line(same, "model checksum", f"{path.name}: " + (
                "matches the sha256 recorded when it was listed" if same else
                "differs from its recorded sha256" if want else
                "no recorded sha256 (run `copilot models` once, on a trusted copy)"))
        except CopilotError as exc:
            line(False, "model checksum", str(exc))
    for dist in ("llama-cpp-python", EMBEDDER_PACKAGE.replace("_", "-"), *OCR_PACKAGES):
        bad, checked = _record_mismatches(dist)
        line(checked > 0 and not bad, "package files",
             f"{dist}: {checked} files match pip's RECORD" if checked and not bad else
             f"{dist}: " + (", ".join(bad[:3]) + " differ from pip's RECORD" if bad else "no RECORD to check"))
    for db in (config.index_dir / "manifest.sqlite", config.index_dir / "chroma" / "chroma.sqlite3"):
        if not db.is_file():
            continue
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            (verdict,) = con.execute("PRAGMA integrity_check").fetchone()
            con.close()
        except sqlite3.Error as exc:
            verdict = str(exc)
        line(verdict == "ok", "index integrity", f"{db.name}: {verdict}")


def _record_mismatches(dist: str) -> tuple[list[str], int]:
    """Files of an installed distribution whose sha256 differs from its RECORD; how many were checked."""
    import base64
    from importlib import metadata

    from copilot.core.hashing import sha256_of

    try:
        files = metadata.distribution(dist).files or []
    except metadata.PackageNotFoundError:
        return [f"{dist} is not installed"], 0
    bad, checked = [], 0
    for f in files:
        if f.hash is None or f.hash.mode != "sha256":
            continue
        file = Path(f.locate())
        checked += 1
        # RECORD writes the digest as unpadded urlsafe base64, not hex
        got = (base64.urlsafe_b64encode(bytes.fromhex(sha256_of(file))).rstrip(b"=").decode()
               if file.is_file() else "")
        if got != f.hash.value:
            bad.append(str(f))
    return bad, checked

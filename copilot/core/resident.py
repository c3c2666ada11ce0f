"""Where a user's warm engine lives: its socket, its pid file, the lock its starters take.

A warm engine is `copilot serve` on a Unix socket private to one OS user,
for one configuration: `copilot ask` finds it, or starts it, and the model,
the embedder and the index stay loaded between questions until it has been
idle `keep_alive` seconds.  Its files are in a folder only that user can
enter (`copilot-<uid>` in the user's runtime dir, else in /tmp; checked as
tmux checks its own), named by a digest of every setting and of the
product's code, so a changed config.toml, flag or install gets an engine of
its own (the old one is stopped: see copilot.engine.warm) and never answers
with the settings of another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from copilot.core.config import Config, settings_of
from copilot.core.errors import ConfigError

FALLBACK_ROOT = Path("/tmp")  # not $TMPDIR: every copilot of this user must find the same folder


@dataclass(frozen=True)
class Resident:
    """The files of the warm engine for one user and one configuration."""

    folder: Path
    key: str

    @classmethod
    def of(cls, config: Config) -> Resident:
        """The engine's files for `config`, named by the digest of its settings and the code."""
        return cls.named(config, hashlib.sha256((_build() + "\n" + settings_of(config)).encode()).hexdigest()[:16])

    @classmethod
    def named(cls, config: Config, key: str) -> Resident:
        """The files under `key` (the name its starter gave), in `config`'s runtime folder."""
        root = Path(config.runtime_dir) if config.runtime_dir else FALLBACK_ROOT
        return cls(root / f"copilot-{os.getuid()}", key)

    @property
    def socket(self) -> Path:
        return self.folder / f"engine-{self.key}.sock"

    @property
    def pid_file(self) -> Path:
        return self.folder / f"engine-{self.key}.json"

    @property
    def lock_file(self) -> Path:
        return self.folder / f"engine-{self.key}.lock"

    def private_folder(self) -> Path:
        """The folder, made if need be; `ConfigError` if someone else owns it or can enter it
        (another user could then put a socket of theirs where ours is looked for)."""
        self.folder.mkdir(mode=0o700, exist_ok=True)
        st = self.folder.lstat()
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise ConfigError(f"{self.folder} is not a folder private to you (owner uid {st.st_uid}, "
                              f"mode {stat.S_IMODE(st.st_mode):o}): remove it to use a warm engine")
        return self.folder

    def describe(self) -> dict | None:
        """What the engine wrote of itself when it started (pid, model, keep_alive, started),
        or None if there is no such file."""
        try:
            return json.loads(self.pid_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def every(self) -> list[Resident]:
        """This user's warm engines for any configuration (what `copilot doctor` lists)."""
        return [dataclasses.replace(self, key=p.stem.removeprefix("engine-"))
                for p in sorted(self.folder.glob("engine-*.json"))]


def _build() -> str:
    """The installed product: its version and its code's latest change (an upgrade, or an
    edit of a development checkout, must not be answered by an engine running the old code)."""
    import copilot

    package = Path(copilot.__file__).parent
    newest = max((p.stat().st_mtime_ns for root in (package, package.parent / "index")
                  for p in root.rglob("*.py")), default=0)
    return f"{copilot.__version__} {newest}"

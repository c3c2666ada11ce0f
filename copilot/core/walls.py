"""Collections and the walls between them: the one rule of who may see what.

Documents belong to collections (a matter, a team), named when they are
indexed (`check_name`, `resolver`).  A reader sees only the collections their
`Walls` open; every read of the index takes them, and each store applies them
the one way written here.  Who gets which walls is the access policy's
business (`copilot.engine.access`); this module only says what walls are.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from copilot.core.errors import CopilotError

EVERYTHING = "*"
DEFAULT_COLLECTION = "general"


@dataclass(frozen=True)
class Walls:
    """What one reader may see: the collections open to them, or every one (`collections` None).

    The rule of the ethical walls lives here and nowhere else, with the one
    way each store applies it inside its query: Chroma's `where()`, SQL's
    `sql(column)`, and `allows()` for a passage already in hand.  Every read
    of the index takes a `Walls` (no default), so no read can forget them.
    """

    collections: frozenset[str] | None

    @classmethod
    def everything(cls) -> Walls:
        """No wall: IT's and the indexer's own reads, and a reader given "*"."""
        return cls(None)

    @classmethod
    def only(cls, collections: Iterable[str]) -> Walls:
        return cls(frozenset(collections))

    @property
    def blind(self) -> bool:
        """Whether nothing at all can be seen through them."""
        return self.collections is not None and not self.collections

    def allows(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections

    def where(self) -> dict | None:
        """Chroma's metadata filter for them (None: none needed)."""
        return None if self.collections is None else {"collection": {"$in": sorted(self.collections)}}

    def sql(self, column: str) -> tuple[str, tuple[str, ...]]:
        """" AND column IN (...)" and its parameters, for a column of collection names."""
        if self.collections is None:
            return "", ()
        names = tuple(sorted(self.collections))
        return f" AND {column} IN ({','.join('?' * len(names)) or 'NULL'})", names

    def names(self) -> list[str]:
        """How the audit trail records them: the collections, or ["*"]."""
        return [EVERYTHING] if self.collections is None else sorted(self.collections)

    def __str__(self) -> str:
        return "every collection" if self.collections is None else ", ".join(sorted(self.collections))


@dataclass(frozen=True)
class Reader:
    """Who is asking, and what they may see.  Every read of the index and every audit
    record is made for one, passed in with the call: the CLI and the app pass the OS
    user's (`load(policy).reader`), a server its authenticated client's."""

    user: str
    walls: Walls


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(name: str) -> str:
    """A collection name: letters, digits, `.`, `_`, `-` (it goes into queries and filters)."""
    if not NAME.match(name):
        raise CopilotError(f"collection name {name!r}: use letters, digits, '.', '_' or '-' (up to 64)")
    return name


def collection_map(file: Path) -> dict[Path, str]:
    """A mapping file's folders → collections:

        [folders]
        "/srv/matters/1234" = "matter-1234"
        "hr" = "hr"                      # relative to the mapping file's folder
    """
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CopilotError(f"cannot read the collections file {file}: {exc}") from None
    folders = data.get("folders")
    if not isinstance(folders, dict) or not all(isinstance(v, str) for v in folders.values()):
        raise CopilotError(f"{file}: expected a [folders] table of \"folder\" = \"collection\"")
    return {(file.parent / Path(k).expanduser()).resolve(): check_name(v) for k, v in folders.items()}


def resolver(default: str | None, mapping: dict[Path, str]) -> Callable[[Path], str]:
    """A file's collection: the deepest mapped folder holding it, else `default`, else "general"."""
    fallback = check_name(default) if default else DEFAULT_COLLECTION
    ordered = sorted(mapping.items(), key=lambda kv: -len(kv[0].parts))

    def collection_of(file: Path) -> str:
        for folder, name in ordered:
            if file == folder or folder in file.parents:
                return name
        return fallback

    return collection_of

"""Ethical walls: which collections of documents the person at the keyboard may read.

Documents belong to collections (a matter, a team), set when they are
indexed.  A policy file that IT owns maps OS users and groups to the
collections they may read:

    # /etc/copilot/policy.toml (or $COPILOT_HOME/policy.toml)
    [users]
    alice = ["matter-1234", "general"]
    [groups]
    litigation = ["matter-1234"]
    partners = ["*"]              # every collection

Everything that reads the index takes the reader's `Walls` (from their
`Access`): what they may see, and the one way each store applies it.  An
unknown user, a missing or unreadable policy, means no access, said in one
line.
"""

from __future__ import annotations

import getpass
import os
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from copilot.errors import CopilotError

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


class AccessDenied(CopilotError):
    """The person has no access to the index (no policy, or not in it); the message says why."""

    exit_code = 4


@dataclass(frozen=True)
class Person:
    """Who is at the keyboard, as the operating system says."""

    user: str
    groups: frozenset[str]

    @classmethod
    def current(cls) -> Person:
        import grp

        user = getpass.getuser()
        names = set()
        for gid in {os.getgid(), *os.getgroups()}:
            try:
                names.add(grp.getgrgid(gid).gr_name)
            except KeyError:  # a group id with no name: it cannot be in a policy
                continue
        return cls(user, frozenset(names))


@dataclass(frozen=True)
class Access:
    """The collections one person may read (`everything` for "*")."""

    person: Person
    collections: frozenset[str]
    policy: Path

    @property
    def everything(self) -> bool:
        return EVERYTHING in self.collections

    @property
    def walls(self) -> Walls:
        """What this person may see, as every read of the index applies it."""
        return Walls.everything() if self.everything else Walls.only(self.collections)

    @property
    def reader(self) -> Reader:
        return Reader(self.person.user, self.walls)

    def describe(self) -> str:
        what = "every collection" if self.everything else ", ".join(sorted(self.collections))
        return f"{self.person.user} may read {what} (policy {self.policy})"


def load(policy: Path, person: Person | None = None) -> Access:
    """The access `person` (default: the current OS user) has under `policy`."""
    person = person or Person.current()
    try:
        data = tomllib.loads(policy.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AccessDenied(f"no access policy at {policy}: nothing can be read until IT provides one "
                           "(see README, 'Ethical walls')") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AccessDenied(f"the access policy {policy} cannot be read ({exc}): nothing can be read") from None
    allowed: set[str] = set()
    users, groups = data.get("users", {}), data.get("groups", {})
    if not isinstance(users, dict) or not isinstance(groups, dict):
        raise AccessDenied(f"the access policy {policy} is malformed: [users] and [groups] must be tables")
    for table, names in ((users, {person.user}), (groups, person.groups)):
        for name in names & set(table):
            value = table[name]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise AccessDenied(f"the access policy {policy} is malformed at {name!r}: "
                                   "give a list of collection names")
            allowed.update(value)
    if not allowed:
        raise AccessDenied(f"{person.user} has no collections in the access policy {policy}: "
                           "ask IT for access")
    return Access(person, frozenset(allowed), policy)


def first_policy(policy: Path, person: Person | None = None) -> bool:
    """On a new install, write a policy giving the installing user every collection.

    A single-user laptop works out of the box; a firm replaces the file with
    its own (owned by IT, not writable by users) to set walls.  Never
    overwrites one.  True if it wrote the file.
    """
    person = person or Person.current()
    if policy.exists():
        return False
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(
        "# Who may read which collections of documents (copilot's ethical walls).\n"
        "# Written for the first user of this install; IT replaces it to set walls:\n"
        "#   [users] name = [\"collection\", ...]   [groups] name = [...]   \"*\" = every collection\n"
        f"[users]\n{_key(person.user)} = [\"{EVERYTHING}\"]\n\n[groups]\n",
        encoding="utf-8",
    )
    return True


def _key(name: str) -> str:
    bare = name.replace("-", "").replace("_", "").isalnum() and name.isascii()
    return name if bare else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


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

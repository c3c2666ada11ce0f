"""The access policy: which collections of documents the person at the keyboard may read.

Documents belong to collections (a matter, a team), set when they are
indexed.  A policy file that IT owns maps OS users and groups to the
collections they may read:

    # /etc/copilot/policy.toml (or $COPILOT_HOME/policy.toml)
    [users]
    alice = ["matter-1234", "general"]
    [groups]
    litigation = ["matter-1234"]
    partners = ["*"]              # every collection

This module turns the policy into a `Reader` (who, and their `Walls`, defined
in `copilot.core.walls` with the one way each store applies them); every read
of the index takes one.  An unknown user, a missing or unreadable policy,
means no access, said in one line.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from copilot.core.errors import AccessDenied
from copilot.core.walls import EVERYTHING, Reader, Walls

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


def tables(policy: Path) -> tuple[dict, dict]:
    """The policy's [users] and [groups] tables; `AccessDenied` (why, in one line) if the file
    is missing, unreadable or not made of those two tables."""
    try:
        data = tomllib.loads(policy.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AccessDenied(f"no access policy at {policy}: nothing can be read until IT provides one "
                           "(see README, 'Ethical walls')") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AccessDenied(f"the access policy {policy} cannot be read ({exc}): nothing can be read") from None
    users, groups = data.get("users", {}), data.get("groups", {})
    if not isinstance(users, dict) or not isinstance(groups, dict):
        raise AccessDenied(f"the access policy {policy} is malformed: [users] and [groups] must be tables")
    return users, groups


def load(policy: Path, person: Person | None = None) -> Access:
    """The access `person` (default: the current OS user) has under `policy`."""
    person = person or Person.current()
    users, groups = tables(policy)
    allowed: set[str] = set()
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



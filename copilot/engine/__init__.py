"""The engine: the one place the stages, the index and the model are wired together.

    local   `Copilot`, this machine's index and model behind the `Engine` contract
    remote  the same contract over HTTP, to a firm's server (it imports only core)
    warm    finding or starting the user's warm engine: that server, private, for `copilot ask`
    access  the ethical walls' policy: who may read which collections
    audit   the append-only, hash-chained record of every answer

The edges (the command line, the server, the tools) get an engine from
`open_engine` and never reach the stages themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from copilot.core.config import Config
from copilot.core.contract import Engine
from copilot.core.hashing import ProgressFn

if TYPE_CHECKING:
    from copilot.engine.local import Copilot


def open_engine(config: Config, model_progress: ProgressFn | None = None, warm: bool = False,
                note: Callable[[str], None] = lambda _line: None) -> Engine:
    """The engine for `config`: the firm's server when one is set, else this machine's.
    `warm`: this machine's warm engine, started if need be (`copilot.engine.warm`), where
    `keep_alive` allows one; `note` hears why there is none when one was wanted."""
    if config.server:
        from copilot.engine.remote import RemoteEngine

        return RemoteEngine(config)
    if warm:
        from copilot.engine.warm import warm_engine

        found = warm_engine(config, note, model_progress)
        if found is not None:
            return found
    return local_engine(config, model_progress)


def stop_warm(config: Config) -> list[int]:
    """End this user's warm engines (every configuration's: `copilot stop`); their pids."""
    from copilot.engine.warm import running, stop

    return [pid for resident, _about in running(config) if (pid := stop(resident)) is not None]


def local_engine(config: Config, model_progress: ProgressFn | None = None) -> Copilot:
    """This machine's engine, whatever `config.server` says: what a server serves, and what
    `copilot eval` measures."""
    from copilot.engine.local import Copilot

    return Copilot(config, model_progress=model_progress)

"""The engine: the one place the stages, the index and the model are wired together.

    local   `Copilot`, this machine's index and model behind the `Engine` contract
    remote  the same contract over HTTP, to a firm's server (it imports only core)
    access  the ethical walls' policy: who may read which collections
    audit   the append-only, hash-chained record of every answer

The edges (the command line, the server, the tools) get an engine from
`open_engine` and never reach the stages themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from copilot.core.config import Config
from copilot.core.contract import Engine
from copilot.core.hashing import ProgressFn

if TYPE_CHECKING:
    from copilot.engine.local import Copilot


def open_engine(config: Config, model_progress: ProgressFn | None = None) -> Engine:
    """The engine for `config`: the firm's server when one is set, else this machine's."""
    if config.server:
        from copilot.engine.remote import RemoteEngine

        return RemoteEngine(config)
    return local_engine(config, model_progress)


def local_engine(config: Config, model_progress: ProgressFn | None = None) -> Copilot:
    """This machine's engine, whatever `config.server` says: what a server serves, and what
    `copilot eval` measures."""
    from copilot.engine.local import Copilot

    return Copilot(config, model_progress=model_progress)

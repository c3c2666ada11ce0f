"""The engine the commands talk to: the one place the command line names one.

Everything else in `copilot.cli` sees only `copilot.core.contract.Engine`:
this machine's index and model, or the firm's server (`server` set).
"""

from __future__ import annotations

import sys

import click

from copilot.core.config import Config
from copilot.core.contract import Engine


def percent(label: str):
    """A (done, total) progress callback that shows "label: 42%" on a terminal's stderr."""
    def tick(done: int, total: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r{label}: {done * 100 // total}%", err=True, nl=done >= total)
    return tick


def engine_for(config: Config) -> Engine:
    """The engine for `config`: the firm's server when one is set, else this machine's."""
    if config.server:
        from copilot.remote import RemoteEngine

        return RemoteEngine(config)
    from copilot.engine import Copilot

    return Copilot(config, model_progress=percent("preparing model"))

"""The engine the commands talk to: the one place the command line names the local one.

Everything else in `copilot.cli` sees only `copilot.core.contract.Engine`; a
client of a firm-wide server would return its remote engine here instead.
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
    """The engine for `config`: this machine's index and model."""
    from copilot.engine import Copilot

    return Copilot(config, model_progress=percent("preparing model"))

"""The engine the commands talk to, from the engine's one factory.

Everything in `copilot.cli` sees only `copilot.core.contract.Engine`: this
machine's index and model, or the firm's server (`server` set).
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


def engine_for(config: Config, warm: bool = False) -> Engine:
    """The engine for `config`, its model's first-use preparation shown on the terminal;
    `warm`: the user's warm engine where `keep_alive` allows one (`copilot ask`)."""
    from copilot.engine import open_engine

    return open_engine(config, model_progress=percent("preparing model"), warm=warm,
                       note=lambda line: click.echo(line, err=True))

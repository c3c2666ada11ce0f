"""`copilot audit …`: check the answer log's chain, export it, replay an answer, find stale ones."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from copilot.cli.engine import engine_for
from copilot.core.contract import AuditTrail


@click.group("audit")
def audit_group() -> None:
    """The audit trail: every answer, what it was drawn from, hash-chained."""


def _log(ctx: click.Context) -> AuditTrail:
    return engine_for(ctx.obj).audit()


@audit_group.command("verify")
@click.pass_context
def verify_cmd(ctx: click.Context) -> None:
    """Check the chain; name the first broken record (exit 1 if any)."""
    log = _log(ctx)
    count, broken = log.verify()
    if broken:
        click.secho(f"BROKEN at record {broken.n}: {broken.reason} ({log.file})", fg="red")
        ctx.exit(1)
    last = log.last()
    click.echo(f"ok: {count} records, chain intact" + (f"; last hash {last['hash']}" if last else "")
               + f" ({log.file})")


@audit_group.command("export")
@click.option("--since", help="Only records from this date or time on (ISO, e.g. 2026-11-01).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write here instead of stdout.")
@click.pass_context
def export_cmd(ctx: click.Context, since: str | None, out: Path | None) -> None:
    """Write the records as JSON lines, for the firm's records system."""
    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise click.BadParameter(f"{since!r}: give a date like 2026-11-01 or 2026-11-01T09:00") from None
    fh = out.open("w", encoding="utf-8") if out else sys.stdout
    count = 0
    try:
        for record in _log(ctx).records():
            when = datetime.fromisoformat(record["time"])
            if start and when.replace(tzinfo=None) < start.replace(tzinfo=None):
                continue
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    finally:
        if out:
            fh.close()
    if out:
        click.echo(f"{count} records written to {out}", err=True)


@audit_group.command("show")
@click.argument("n", type=int)
@click.pass_context
def show_cmd(ctx: click.Context, n: int) -> None:
    """Replay record N: the question and the answer as the user saw them, with its sources."""
    from copilot.core.answers import Answer

    record = _log(ctx).get(n)
    answer = Answer.from_dict(record["answer"])
    click.echo(f"record {n} · {record['time']} · {record['user']} · collections "
               f"{', '.join(record['collections'])} · model {record['model']['file']}")
    click.echo(f"\nQ: {answer.question}\n\n{answer.text}")
    for c in answer.citations:
        click.echo(f"  {c.label()}")
    if answer.sources:
        click.echo("\nSources retrieved:")
        for c in answer.sources:
            click.echo(f"  {c.label()} (score {c.score:.2f})")


@audit_group.command("stale")
@click.pass_context
def stale_cmd(ctx: click.Context) -> None:
    """Past answers that cited passages of documents since changed or removed from the index."""
    found = engine_for(ctx.obj).superseded()
    for stale in found:
        record = stale.record
        click.echo(f"record {record['n']} · {record['time']} · {record['user']}: {record['question']}")
        for r, what in stale.gone:
            click.echo(f"    {r['source']}{', page ' + str(r['page']) if r['page'] else ''}: {what} since")
    click.echo(f"{len(found)} answers cite superseded passages" if found else "no answer cites a superseded passage")

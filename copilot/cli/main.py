"""The `copilot` command: the thin edge between a terminal and an engine.

It speaks to the engine only through `copilot.core.contract.Engine` (built by
`copilot.engine.open_engine`, through `copilot.cli.engine`), besides the
stand-alone tools it dispatches to (doctor, eval, bundle, quantize).  Only
light modules are imported here so `copilot --help` is instant; every
user-fixable error arrives as a `CopilotError` and leaves as one line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from copilot.cli.engine import engine_for, percent
from copilot.core import config as config_mod
from copilot.core import offline
from copilot.core.errors import CopilotError, IndexEmpty


class Group(click.Group):
    """A click group that turns `CopilotError` into one line and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CopilotError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(exc.exit_code)



@click.group(cls=Group, invoke_without_command=True)
@click.option("--home", type=click.Path(path_type=Path), help="Data folder (default: $COPILOT_HOME or the user data folder).")
@click.option("--model", help="A model name from `copilot models`, or a GGUF file.")
@click.option("--server", help="Ask the firm's server (unix:/path or https://host:port) instead of this machine.")
@click.version_option(package_name="firm-copilot", prog_name="copilot")
@click.pass_context
def main(ctx: click.Context, home: Path | None, model: str | None, server: str | None) -> None:
    """An offline copilot for your firm's documents: index, ask, cite.

    With no command, opens the terminal app.
    """
    ctx.obj = config_mod.load(home=home, model=model, server=server)
    offline.guard(ctx.obj)
    if ctx.invoked_subcommand is None:
        from tui.app import run_app

        run_app(engine_for(ctx.obj), ctx.obj)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Passwords to try on encrypted files, one per line (# starts a comment).")
@click.option("--status", "show_status", is_flag=True,
              help="Print the manifest: every file indexed, skipped (with reason) or stale.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary (or --status) as JSON.")
@click.option("--collection", help='The collection these files belong to (default "general"): who may read '
                                   "them is set by the access policy.")
@click.option("--collections", "collections_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A TOML file mapping folders to collections ([folders] \"path\" = \"name\").")
@click.pass_context
def index(ctx: click.Context, paths: tuple[Path, ...], password_file: Path | None,
          show_status: bool, as_json: bool, collection: str | None, collections_file: Path | None) -> None:
    """Index documents in PATHS, incrementally.

    Reads PDF, Word (.docx), HTML, e-mail (.eml), Markdown and text files.
    Exit status: 0 when every file was read, 1 when some were skipped (each
    is listed with its reason), 2 or more on errors.
    """
    from copilot.cli.progress import IndexBar
    from copilot.cli.status import read_passwords, show
    from copilot.core.walls import collection_map

    engine = engine_for(ctx.obj)
    if show_status:
        try:
            rows = engine.status(engine.local_reader())
        except IndexEmpty:  # a new install: no policy before the first index, and nothing to list
            rows = []
        show(rows, as_json, click.echo)
        return
    if not paths:
        raise click.UsageError("give one or more files or folders to index (or --status)")
    passwords = read_passwords(password_file, warn=lambda m: click.secho(m, fg="yellow", err=True)) if password_file else ()
    folders = collection_map(collections_file) if collections_file else {}
    with IndexBar(enabled=sys.stderr.isatty() and not as_json) as bar:
        summary = engine.index(paths, bar, passwords, collection, folders)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        click.echo(summary.line())
        for source, reason in summary.skipped:
            click.echo(f"  skipped {source}: {reason}")
        for source, problem in summary.partial:
            click.echo(f"  partly read {source}: {problem}")
    ctx.exit(1 if summary.skipped else 0)


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of streaming text.")
@click.option("--top-k", type=int, help="How many passages to retrieve.")
@click.option("--max-tokens", type=int, help="Longest answer, in tokens.")
@click.option("--keep-alive", metavar="DURATION",
              help="How long the warm engine stays after this question (300, 90s, 5m, 1h; 0: none, "
                   "answer in this process). Default: keep_alive in config.toml, 5m.")
@click.pass_context
def ask(ctx: click.Context, question: str, as_json: bool, top_k: int | None, max_tokens: int | None,
        keep_alive: str | None) -> None:
    """Answer QUESTION from the indexed documents, with citations (QUESTION "-": read it from stdin).

    The first question starts a warm engine of your own (a private socket, no port), which keeps
    the model loaded for the next ones until it has been idle keep_alive; `copilot stop` ends it.
    """
    ctx.obj = ctx.obj.replace(top_k=top_k, max_tokens=max_tokens, keep_alive=keep_alive)
    if question == "-":  # a long question, or one a script writes, without argv's limits
        question = sys.stdin.buffer.read(1 << 20).decode("utf-8", "replace")
    engine = engine_for(ctx.obj, warm=True)

    streamed: list[str] = []

    def show(piece: str) -> None:
        streamed.append(piece)
        click.echo(piece, nl=False)
        sys.stdout.flush()

    def waiting(ahead: int) -> None:
        if sys.stderr.isatty() and not as_json:
            click.echo(f"\rwaiting for the model: {ahead} ahead ", err=True, nl=False)

    answer = engine.ask(question, engine.local_reader(), on_token=None if as_json else show, on_wait=waiting)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), indent=2))
        return
    click.echo()
    if not answer.found and "".join(streamed).strip() != answer.text:
        click.echo(answer.text)  # the model said it its own way, or its draft failed the check
    from copilot.core.present import quote_lines, report

    for line in quote_lines(answer) + report(answer.claims, answer.found):
        click.echo(line)
    if answer.shown_sources:
        click.echo(f"\n{answer.sources_heading}:")
    for c in answer.shown_sources:
        score = "" if answer.found else f" (score {c.score:.2f})"
        click.echo(f"  {c.label()}{score}")


@main.command("eval")
@click.argument("benchmark", type=click.Choice(["scifact", "cuad"]))
@click.argument("data", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--limit", type=int, default=0, help="Only this many queries (SciFact) or questions (CUAD).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the JSON results (default: $COPILOT_HOME/eval/BENCHMARK.json).")
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the benchmark's own index lives (default: $COPILOT_HOME/eval/BENCHMARK).")
@click.option("--part", type=click.Choice(["all", "dev", "test"]), default="all", show_default=True,
              help="CUAD: only the contracts of one half (tune on dev, report test).")
@click.option("--questions", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="CUAD: other questions about DATA's documents, in qa.jsonl's form (default: DATA/qa.jsonl).")
@click.pass_context
def evaluate(ctx: click.Context, benchmark: str, data: Path, limit: int, out: Path | None,
             workdir: Path | None, part: str, questions: Path | None) -> None:
    """Measure answer quality on BENCHMARK's data in DATA (a BEIR SciFact or a CUAD folder).

    SciFact: nDCG@10 and recall@5 for dense, lexical and hybrid retrieval.
    CUAD: evidence hit@5, answer accuracy, refusals, citation accuracy and
    latency, with the configured model, for all the contracts and for each of
    two fixed halves (dev, test).  The data set is indexed into its own home
    (kept, so the next run only asks); your own index is not touched.
    """
    from functools import partial

    from copilot.cli.progress import IndexBar
    from copilot.tools.eval import cuad, scifact
    config = ctx.obj
    # Each data set keeps an index of its own (CUAD's in eval/cuad, as before).
    named = benchmark if data.resolve().name == benchmark else f"{benchmark}-{data.resolve().name}"
    workdir = workdir or config.home / "eval" / named
    out = out or config.home / "eval" / f"{benchmark}.json"
    run = {"scifact": scifact.run, "cuad": partial(cuad.run, part=part, questions_file=questions)}[benchmark]
    live = sys.stderr.isatty()

    def progress(done: int, total: int, what: str) -> None:
        if live:
            click.echo(f"\r{benchmark}: {done}/{total} {what:<40}", err=True, nl=done >= total)

    with IndexBar(enabled=live) as bar:
        report = run(data, config, workdir, limit, progress, bar)
    report.write(out)
    click.echo(report.table())
    click.echo(f"results: {out}")


@main.command()
@click.option("--strict", is_flag=True,
              help="Also check every model and package file against its checksum and the index's integrity.")
@click.pass_context
def doctor(ctx: click.Context, strict: bool) -> None:
    """Check models, index, ethical walls and the offline guard; exit 1 if anything fails."""
    from copilot.tools.doctor import report

    ok = report(ctx.obj, click.echo, strict)
    ctx.exit(0 if ok else 1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """List the models the app can use: packaged, converted and quantized.

    Pick one with `copilot --model NAME` (or `model = "NAME"` in config.toml),
    or in the app with F3.  A local file is hashed once; its sha256 is then
    recorded beside it.
    """
    from copilot.cli.status import show_models

    engine = engine_for(ctx.obj)
    show_models(engine.models(progress=lambda name: percent(f"hashing {name}")), engine.model, as_json,
                click.echo)


@main.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("dist"),
              show_default=True, help="Folder to write the archive into.")
@click.option("--model", "extra", multiple=True,
              help="Another model to carry (a name from `copilot models`, or a GGUF path); repeatable.")
@click.option("--no-models", is_flag=True, help="Carry no language model (for a shared model folder).")
@click.option("--llama-wheel", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="The llama-cpp-python wheel to carry (default: the one installed here).")
@click.option("--python", "pythons", multiple=True, metavar="X.Y",
              help="A Python series to carry wheels for; repeatable (default: 3.11 and 3.12).")
@click.pass_context
def bundle(ctx: click.Context, out_dir: Path, extra: tuple[str, ...], no_models: bool,
           llama_wheel: Path | None, pythons: tuple[str, ...]) -> None:
    """Build the offline installer: one archive with every wheel, the models and install.sh.

    Run it on a connected Linux build machine of the target's architecture: pip
    fetches the dependency wheels it has not cached, for every Python series the
    bundle installs on (--python; default 3.11 and 3.12).
    """
    from copilot.tools.bundle import PYTHONS, build, models_to_carry, size_report

    models = models_to_carry(ctx.obj.models_dir, extra, no_models, percent("preparing model"))
    built = build(out_dir, models, ctx.obj.models_dir / "embedders", llama_wheel, pythons or PYTHONS,
                  lambda s: click.echo(s, err=True))
    for line in size_report(built):
        click.echo(line)
    click.echo(f"checksum: {built.path}.sha256 (publish it apart from the archive)")


@main.command()
@click.option("--check", is_flag=True, help="Check the index's Chroma server, the model servers, the policy and "
                                            "the audit chain, then exit (1 if anything fails).")
@click.pass_context
def serve(ctx: click.Context, check: bool) -> None:
    """Serve the whole firm: one index, one model, walls and audit kept here.

    Listens where `listen` says (unix:/path for users of this host, https://host:port
    with client certificates for laptops); clients use `copilot --server URL`.
    """
    from copilot.server.run import check_report, run

    if check:
        ctx.exit(0 if check_report(ctx.obj, click.echo) else 1)
    run(ctx.obj, click.echo)


@main.command()
@click.pass_context
def stop(ctx: click.Context) -> None:
    """End your warm engines now (they leave by themselves after keep_alive idle)."""
    from copilot.engine import stop_warm

    stopped = stop_warm(ctx.obj)
    click.echo(f"stopped the warm engine{'s' if len(stopped) > 1 else ''} (pid {', '.join(map(str, stopped))})"
               if stopped else "no warm engine runs")


@main.command("config")
@click.pass_context
def show_config(ctx: click.Context) -> None:
    """Print the settings in force, as config.toml text."""
    click.echo(f"# {ctx.obj.config_file}")
    click.echo(config_mod.as_toml(ctx.obj), nl=False)


from quantize.commands import quantize_group  # noqa: E402  (click only: --help stays instant)

main.add_command(quantize_group)

from copilot.cli.audit import audit_group  # noqa: E402  (click only)

main.add_command(audit_group)

from copilot.cli.review import review  # noqa: E402  (click only)

main.add_command(review)

"""`copilot quantize …`: convert a Hugging Face model, quantize it, and judge quants on the firm's text.

Only click is imported here; the work modules load when a command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

DEFAULT_TYPES = "Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0"


def _size(text: str | None) -> int | None:
    """"8G", "512M", "1.5GiB" → bytes."""
    if not text:
        return None
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    try:
        return int(float(t[:-1]) * units[t[-1]]) if t[-1] in units else int(t)
    except (ValueError, IndexError):
        raise click.BadParameter(f"{text!r}: give a size like 4G or 512M") from None


def _say(text: str) -> None:
    click.echo(text, err=True)


def _model(ctx: click.Context, setting: str) -> Path:
    """A model named as `copilot models` lists it, or a GGUF path."""
    from copilot.llama.models import resolve_llm

    return resolve_llm(setting, ctx.obj.models_dir)


def _stem(setting: str, path: Path) -> str:
    """The name quants of a model are written under: "qwen2.5-coder-0.5b" → "qwen2.5-coder-0.5b.Q4_0"."""
    from copilot.llama.models import PACKAGED
    from quantize.quantizer import FULL, TYPES

    stem = setting if setting in PACKAGED else path.name.removesuffix(".gguf")
    head, _, tail = stem.rpartition(".")
    return head if head and tail.upper().removesuffix("-IMATRIX") in {*TYPES, *FULL} else stem


def _importance(ctx: click.Context, path: Path, stem: str, out_dir: Path, text: Path | None,
                tokens: int) -> dict:
    """Collect the importance matrix from the firm's text through the source model, and keep it."""
    from quantize.evaluate import index_text, tokens_of
    from quantize.imatrix import collect, save
    from quantize.table import text_of

    source = text_of(text) if text else index_text(ctx.obj.index_dir / "manifest.sqlite", tokens * 6)
    ids = tokens_of(path, source, tokens)

    def tick(done: int, total: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\rimportance matrix: window {done} of {total}", err=True, nl=done >= total)

    found = collect(path, ids, progress=tick, gpu_layers=ctx.obj.gpu_layers)
    kept = out_dir / f"{stem}.imatrix.npz"
    save(found, kept)
    click.echo(f"importance matrix: {len(found.sums)} weight matrices, {found.tokens} tokens of "
               f"{'your index' if text is None else text.name} in {found.seconds:.1f} s -> {kept}")
    return found.means()


@click.group("quantize")
def quantize_group() -> None:
    """Make the GGUF quant that fits this machine, judged on your own documents."""


@quantize_group.command("convert")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="GGUF file to write.")
@click.option("--type", "out_type", type=click.Choice(["f32", "f16", "bf16"]), default="f16", show_default=True)
@click.pass_context
def convert_cmd(ctx: click.Context, folder: Path, out: Path | None, out_type: str) -> None:
    """Convert a Hugging Face model FOLDER (llama or qwen2, safetensors) to GGUF."""
    from quantize.convert import convert

    out = out or ctx.obj.models_dir / f"{folder.name}.{out_type.upper()}.gguf"
    done = convert(folder, out, out_type)
    click.echo(f"{done.path}: {done.arch}, {done.out_type.upper()}, {done.tensors} tensors, "
               f"{done.bytes / 2**20:.1f} MiB in {done.seconds:.1f} s")


@quantize_group.command("make")
@click.argument("source")
@click.option("--type", "qtypes", default="Q4_K_M", show_default=True,
              help=f"One or more of {DEFAULT_TYPES} (comma-separated).")
@click.option("--out-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where to write (default: the models folder).")
@click.option("--allow-requantize", is_flag=True, help="Quantize a file that is already quantized.")
@click.option("--imatrix", "use_imatrix", is_flag=True,
              help="Weigh rounding errors by an importance matrix collected from your documents.")
@click.option("--imatrix-file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Reuse an importance matrix saved by an earlier --imatrix run (.npz).")
@click.option("--text", type=click.Path(path_type=Path, exists=True),
              help="Collect the importance matrix from this file or folder instead of the index.")
@click.option("--imatrix-tokens", default=4096, show_default=True, help="Tokens of text to collect it from.")
@click.pass_context
def make_cmd(ctx: click.Context, source: str, qtypes: str, out_dir: Path | None, allow_requantize: bool,
             use_imatrix: bool, imatrix_file: Path | None, text: Path | None, imatrix_tokens: int) -> None:
    """Quantize SOURCE (an F32/F16/BF16 GGUF, by name or path) with llama.cpp's quantizer.

    Each quant is written as NAME.TYPE.gguf in the models folder, where
    `copilot models` lists it and `copilot --model NAME.TYPE` uses it
    (NAME.TYPE-imatrix with an importance matrix).
    """
    from quantize.quantizer import quantize

    from quantize.imatrix import load

    path = _model(ctx, source)
    out_dir = out_dir or ctx.obj.models_dir
    stem = _stem(source, path)
    imatrix = (load(imatrix_file) if imatrix_file else
               _importance(ctx, path, stem, out_dir, text, imatrix_tokens) if use_imatrix else None)
    suffix = "-imatrix" if imatrix else ""
    for qtype in [t.strip().upper() for t in qtypes.split(",") if t.strip()]:
        def tick(seconds: float, written: int, qtype=qtype) -> None:
            if sys.stderr.isatty():
                click.echo(f"\r{qtype}: {written / 2**20:.0f} MiB written, {seconds:.0f} s", err=True, nl=False)

        done = quantize(path, out_dir / f"{stem}.{qtype}{suffix}.gguf", qtype, allow_requantize,
                        tick=tick, imatrix=imatrix)
        click.echo(f"\r{done.path}: {done.type} from {done.source_type}, "
                   f"{done.bytes / 2**20:.1f} MiB in {done.seconds:.1f} s")


@quantize_group.command("eval")
@click.argument("reference")
@click.argument("candidates", nargs=-1)
@click.option("--text", type=click.Path(path_type=Path, exists=True),
              help="Judge on this file or folder's documents instead of the index's passages.")
@click.option("--tokens", default=2048, show_default=True, help="Tokens of text to judge on.")
@click.option("--window", default=512, show_default=True, help="Tokens per evaluation window.")
@click.option("--max-kld", default=0.05, show_default=True, help="Largest mean KL-divergence accepted.")
@click.option("--max-ram", help="Largest peak memory accepted, e.g. 4G.")
@click.pass_context
def eval_cmd(ctx: click.Context, reference: str, candidates: tuple[str, ...], text: Path | None,
             tokens: int, window: int, max_kld: float, max_ram: str | None) -> None:
    """Measure CANDIDATES against REFERENCE (the highest-precision model) on your documents.

    Models go by name (`copilot models`) or path.
    """
    from quantize.evaluate import evaluate, index_text, recommend, tokens_of
    from quantize.table import table, text_of

    budget = _size(max_ram)
    source = text_of(text) if text else index_text(ctx.obj.index_dir / "manifest.sqlite", tokens * 6)
    ref = _model(ctx, reference)
    ids = tokens_of(ref, source, tokens)
    results = evaluate(ref, [_model(ctx, c) for c in candidates], ids, window, _say,
                       ctx.obj.context_window, ctx.obj.gpu_layers)
    click.echo(table(results))
    best, why = recommend(results, max_kld, budget)
    click.echo(f"\nrecommended: {why}" if best else f"\nno recommendation: {why}")

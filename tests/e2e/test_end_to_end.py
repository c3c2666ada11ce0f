"""The paths users take, on the real embedder, Chroma and llama.cpp (tiny model)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from copilot.answer.answerer import NOT_FOUND
from copilot.core import offline
from copilot.core.errors import IndexEmpty
from copilot.engine.local import Copilot

from conftest import ROOT, cuad_sample

pytestmark = pytest.mark.slow

UNRELATED = "What is the boiling point of liquid nitrogen in Kelvin?"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, tiny_model):
    """One home with examples/ and three CUAD contracts indexed."""
    from copilot.core.config import Config

    base = tmp_path_factory.mktemp("e2e")
    docs = base / "docs"
    shutil.copytree(ROOT / "examples", docs)
    for pdf in cuad_sample(3):
        shutil.copy(pdf, docs / pdf.name)
    config = Config(home=base / "home", model=str(tiny_model), max_tokens=48)
    engine = Copilot(config)
    before = len(offline.attempts())
    summary = engine.index([docs])
    return engine, docs, summary, before


def test_index_summary(indexed) -> None:
    _engine, _docs, summary, _ = indexed
    assert summary.files == 8 and summary.indexed == 8 and summary.skipped == []
    assert summary.pages > 8 and summary.chunks > summary.pages


def test_answer_streams_and_cites_real_files_and_pages(indexed) -> None:
    engine, docs, _, _ = indexed
    pieces: list[str] = []
    answer = engine.ask("Can Bluefield terminate the agreement for convenience?", engine.local_reader(), on_token=pieces.append)
    # The tiny model's answer may well fail the grounding check (then: not found, draft
    # flagged); the mechanics hold either way: it streamed, was checked, cites real pages.
    assert len(pieces) > 1
    assert answer.claims if answer.found else answer.reason in ("unsupported", "sources silent")
    assert answer.timings.first_token_ms > 0 and answer.timings.completion_tokens > 0
    assert answer.sources
    for c in answer.sources + answer.citations:
        file = docs / c.source
        assert file.is_file() and c.path == str(file)
        if file.suffix.lower() == ".pdf":
            reader = PdfReader(file)
            assert 1 <= c.page <= len(reader.pages)
            assert c.text.split()[0] in reader.pages[c.page - 1].extract_text()
    top = answer.sources[0]  # the termination clause
    assert (top.source, top.page) == ("master-services-agreement-acme-bluefield.pdf", 3)


def test_unrelated_question_gets_not_found(indexed) -> None:
    engine, _, _, _ = indexed
    pieces: list[str] = []
    answer = engine.ask(UNRELATED, engine.local_reader(), on_token=pieces.append)
    assert not answer.found and answer.text == NOT_FOUND and answer.citations == ()


def test_indexing_and_answering_made_no_connection_attempt(indexed) -> None:
    engine, _, _, before = indexed
    engine.ask("How long are client matter files kept?", engine.local_reader())
    assert offline.active()
    assert offline.attempts()[before:] == []
    assert not engine.config.offline_log.exists()


def test_missing_model_is_one_clear_line(indexed, tmp_path: Path) -> None:
    engine, _, _, _ = indexed
    out = _copilot(engine.config.home, "--model", str(tmp_path / "nope.gguf"), "ask", "q")
    assert out.returncode == 3
    assert out.stderr == f"error: model file not found: {tmp_path / 'nope.gguf'}\n"


def test_empty_index_is_a_clear_error(config) -> None:
    from copilot.core.walls import Reader, Walls

    engine = Copilot(config)
    with pytest.raises(IndexEmpty, match="copilot index"):  # a new install: no policy yet, nothing indexed
        engine.ask("anything", engine.local_reader())
    with pytest.raises(IndexEmpty, match="copilot index"):
        engine.ask("anything", Reader("someone", Walls.everything()))


def _copilot(home: Path, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("copilot")
    return subprocess.run(
        [*prefix, str(exe), "--home", str(home), *args],
        capture_output=True, text=True, timeout=600,
    )


def test_cli_index_and_ask_json(tmp_path: Path, tiny_model: Path) -> None:
    home = tmp_path / "home"
    out = _copilot(home, "index", str(ROOT / "examples"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("5 files: 5 indexed (5 pages")
    out = _copilot(home, "--model", str(tiny_model), "ask", "--json", "How long are e-mails kept?")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["found"] and data["sources"][0]["source"] == "data-retention-policy.md"
    assert set(data["timings"]) >= {"retrieval_ms", "first_token_ms", "tokens_per_s"}
    assert data["quotes"] and {q["n"] for q in data["quotes"]} <= {c["n"] for c in data["citations"]}
    assert set(data["confidence"]) == {  # what was read before the draft, and off it
        "refusal", "similarity", "terms", "value", "floor", "answer_logprob", "least_logprob", "support",
        "quote_rank", "quote_similarity", "quote_coverage", "coverage", "verified"}
    assert data["draft"] == data["answer"] and data["evidence"]
    out = _copilot(home, "--model", str(tiny_model), "ask", UNRELATED)
    assert out.returncode == 0 and NOT_FOUND in out.stdout
    out = _copilot(home, "doctor")
    assert "offline guard" in out.stdout and "0 attempts recorded" in out.stdout


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="unshare -n is not permitted here")
def test_runs_with_no_network_at_all(tmp_path: Path, tiny_model: Path) -> None:
    home = tmp_path / "home"
    no_net = ("unshare", "-n")
    out = _copilot(home, "index", str(ROOT / "examples"), prefix=no_net)
    assert out.returncode == 0, out.stderr
    out = _copilot(home, "--model", str(tiny_model), "ask", "How long are e-mails kept?", prefix=no_net)
    assert out.returncode == 0, out.stderr
    assert "data-retention-policy.md, Harbor & Vale LLP" in out.stdout  # cited or consulted, by heading


def test_the_window_stops_at_the_trained_length_and_priming_changes_no_answer(tiny_model: Path) -> None:
    from copilot.answer.prompt import SYSTEM
    from copilot.llama.generator import LlamaGenerator

    gen = LlamaGenerator(tiny_model, context_window=1 << 20)
    assert gen.context_window == 8192  # SmolLM2's trained length, not the 1M asked for
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Say hello."}]
    cold = "".join(gen.stream(messages, 16))
    gen._llm.reset()
    gen.prime(SYSTEM)
    assert gen._llm.n_tokens > gen.count_tokens(SYSTEM)  # the system prompt is in the cache
    assert "".join(gen.stream(messages, 16)) == cold  # reusing it changes nothing


def test_a_cancel_stops_the_model_while_it_reads_the_prompt_and_leaves_it_sound(tiny_model: Path) -> None:
    import threading

    from copilot.llama.generator import LlamaGenerator

    gen = LlamaGenerator(tiny_model, context_window=4096)
    short = [{"role": "user", "content": "Say hello."}]
    fresh = "".join(gen.stream(short, 16))
    long = [{"role": "user", "content": "Records are kept for audit. " * 400 + "How long?"}]
    cancel = threading.Event()
    cancel.set()  # as if Esc came while the prompt was being read
    assert list(gen.stream(long, 16, cancel)) == []
    assert gen._llm.n_tokens < gen.count_tokens(long[0]["content"])  # it stopped part-way
    assert gen._llm.ctx is not None and gen._cancel is None
    assert "".join(gen.stream(short, 16)) == fresh  # the next answer is as if nothing happened
    assert "".join(gen.stream(long, 4))  # and a long prompt is read whole again


def test_the_models_first_token_probabilities_and_an_avoided_opening(tiny_model: Path) -> None:
    """What the answer path reads of llama.cpp: the chance a reply opens a given way, read from the
    prompt it then streams from; and a reply kept from opening a given way."""
    import threading

    from copilot.llama.generator import LlamaGenerator

    gen = LlamaGenerator(tiny_model, context_window=4096)
    messages = [{"role": "user", "content": "Reply with one word: is water wet? Yes or No."}]
    plain = "".join(gen.stream(messages, 8))
    first = plain.split()[0]
    p_first = gen.opening_probability(messages, [first])
    assert 0.0 < p_first <= 1.0 and gen.opening_probability(messages, [first, "Zebra"]) >= p_first
    each = gen.opening_probabilities(messages, [first, "Zebra", "0", "1"])  # one evaluation, one figure each
    assert abs(each[0] - p_first) < 1e-6 and sum(each) <= 1.0 + 1e-6 and each[1] < each[0]
    assert "".join(gen.stream(messages, 8)) == plain  # reading the probabilities changed nothing
    other = "".join(gen.stream(messages, 8, avoid=[first]))
    assert other and not other.startswith(first) and gen.last_completion_tokens >= 1
    # The opening read with the reply (one evaluation) is the model's own, before it is kept out.
    kept_out = gen.complete(messages, 8, avoid=[first], opening=[first])
    assert kept_out.text == other and abs(kept_out.opening - p_first) < 1e-3
    assert gen.complete(messages, 8).opening is None
    cancel = threading.Event()
    cancel.set()
    long = [{"role": "user", "content": "Records are kept for audit. " * 400 + "How long?"}]
    assert gen.opening_probability(long, ["Yes"], cancel) == 0.0  # Esc while the prompt is read
    assert gen.opening_probabilities(long, ["0", "1"], cancel) == [0.0, 0.0]
    assert "".join(gen.stream(messages, 8)) == plain  # and the model is sound after it

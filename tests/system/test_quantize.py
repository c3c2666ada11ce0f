"""`copilot quantize`: tiny models built here (no hub), converted, quantized, judged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from copilot.cli.main import main
from copilot.llama.runtime import load_llama
from quantize.convert import ConvertError, convert
from quantize.evaluate import evaluate, recommend, tokens_of
from quantize.quantizer import QuantizeError, file_type, quantize

import tiny_hf
from conftest import CUAD_PDFS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def converted(request, tmp_path_factory) -> tuple[str, Path, Path]:
    """A tiny model of each architecture and its F32 GGUF."""
    folder = tiny_hf.model(tmp_path_factory.mktemp(request.param) / "hf", request.param)
    return request.param, folder, convert(folder, folder.parent / "model.F32.gguf", "f32").path


def test_the_converted_model_computes_what_transformers_computes(converted) -> None:
    arch, folder, gguf_file = converted
    tokens = list(range(3, 60))
    # F32 KV cache: the default F16 cache alone differs from transformers by ~4e-4.
    llm = load_llama(gguf_file, n_ctx=128, logits_all=True, type_k=0, type_v=0)
    llm.eval(tokens)
    got = np.asarray(llm.scores[: len(tokens)])
    want = tiny_hf.logits(folder, tokens)
    assert np.abs(got - want).max() / np.abs(want).max() <= 1e-4
    assert llm.metadata["general.architecture"] == arch
    assert llm.metadata["tokenizer.chat_template"] == tiny_hf.CHAT_TEMPLATE
    assert llm.token_eos() == json.loads((folder / "tokenizer.json").read_text())["added_tokens"][2]["id"]


def test_quants_load_generate_and_lose_more_the_smaller_they_are(converted, tmp_path) -> None:
    _arch, _folder, reference = converted
    q8 = quantize(reference, tmp_path / "m.Q8_0.gguf", "Q8_0")
    q4 = quantize(reference, tmp_path / "m.Q4_K_M.gguf", "Q4_K_M")
    assert (file_type(q8.path), file_type(q4.path)) == ("Q8_0", "Q4_K_M")
    assert q4.bytes < q8.bytes < reference.stat().st_size
    for q in (q8, q4):
        out = load_llama(q.path, n_ctx=64).create_completion("Client files", max_tokens=8)
        assert out["usage"]["completion_tokens"] > 0
    text = tiny_hf.TEXT.read_text(encoding="utf-8")
    ref, m8, m4 = evaluate(reference, [q8.path, q4.path], tokens_of(reference, text, 512), 256)
    assert ref.kld == 0.0 and 0 < m8.kld < m4.kld
    assert m8.same_top > m4.same_top and min(m.peak_rss for m in (ref, m8, m4)) > 0


def test_an_unsupported_architecture_is_named_with_those_supported(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["MambaForCausalLM"]}))
    with pytest.raises(ConvertError, match="MambaForCausalLM is not supported; supported: LlamaForCausalLM, Qwen2ForCausalLM"):
        convert(tmp_path, tmp_path / "x.gguf")


def test_requantizing_is_refused_unless_allowed(tiny_model, tmp_path) -> None:
    with pytest.raises(QuantizeError, match=r"already quantized \(Q4_1\).*--allow-requantize"):
        quantize(tiny_model, tmp_path / "x.gguf", "Q4_0")
    assert not (tmp_path / "x.gguf").exists()
    done = quantize(tiny_model, tmp_path / "x.gguf", "Q4_0", allow_requantize=True)
    assert done.source_type == "Q4_1" and file_type(done.path) == "Q4_0"


def test_the_recommendation_is_the_smallest_quant_within_the_kld_and_ram_budgets() -> None:
    from quantize.evaluate import Measured

    def m(name, size, kld, rss):
        return Measured(Path(name), "", size, 1.0, kld, kld, 1.0, 1.0, 1.0, rss)

    ref, q8, q4, q3 = m("f16", 400, 0.0, 900), m("q8", 200, 0.01, 500), m("q4", 120, 0.04, 300), m("q3", 90, 0.2, 250)
    assert recommend([ref, q8, q4, q3], 0.05, None)[0] is q4
    assert recommend([ref, q8, q4, q3], 0.02, None)[0] is q8
    assert recommend([ref, q8, q4, q3], 0.05, 280)[0] is None


def test_copilot_quantize_eval_judges_smollm2_on_cuad_text(tmp_path, monkeypatch) -> None:
    """The packaged SmolLM2 (Q4_1, no higher precision shipped) as reference, requantized to Q4_0.

    Models go by name: the quant is written to the models folder as NAME.TYPE,
    `copilot models` lists it, and `eval` and `--model` take that name.
    """
    monkeypatch.setenv("COPILOT_MODELS_HOME", str(tmp_path / "models"))
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    out = runner.invoke(main, [*home, "quantize", "make", "smollm2-135m", "--type", "Q4_0"])
    assert out.exit_code == 1 and "already quantized (Q4_1)" in out.output
    out = runner.invoke(main, [*home, "quantize", "make", "smollm2-135m", "--type", "Q4_0",
                               "--allow-requantize"])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "models" / "smollm2-135m.Q4_0.gguf").is_file()
    listed = runner.invoke(main, [*home, "models", "--json"])
    assert {"name": "smollm2-135m.Q4_0", "quant": "Q4_0"}.items() <= {
        r["name"]: r for r in json.loads(listed.output)}["smollm2-135m.Q4_0"].items()
    contract = sorted(CUAD_PDFS.glob("*.[pP][dD][fF]"))[0]
    out = runner.invoke(main, [*home, "quantize", "eval", "smollm2-135m", "smollm2-135m.Q4_0",
                               "--text", str(contract), "--tokens", "512", "--window", "256"])
    assert out.exit_code == 0, out.output
    lines = [line for line in out.output.splitlines() if line.startswith("| ")]
    assert len(lines) == 3 and "KLD mean" in lines[0]
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in lines[1] and "Q4_0" in lines[2]
    assert "recommended:" in out.output or "no recommendation:" in out.output

    out = runner.invoke(main, [*home, "quantize", "make", "smollm2-135m", "--type", "Q4_0",
                               "--allow-requantize", "--imatrix", "--text", str(contract),
                               "--imatrix-tokens", "512"])
    assert out.exit_code == 0, out.output
    assert "importance matrix: 210 weight matrices, 512 tokens of" in out.output
    saved = tmp_path / "models" / "smollm2-135m.imatrix.npz"
    assert saved.is_file() and (tmp_path / "models" / "smollm2-135m.Q4_0-imatrix.gguf").is_file()
    out = runner.invoke(main, [*home, "quantize", "make", "smollm2-135m.Q4_0-imatrix", "--type", "IQ4_XS",
                               "--allow-requantize", "--imatrix-file", str(saved)])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "models" / "smollm2-135m.IQ4_XS-imatrix.gguf").is_file()  # named after its stem


def test_an_importance_matrix_from_the_documents_covers_every_layer_and_lowers_kld(tiny_model, tmp_path) -> None:
    """SmolLM2 requantized to Q4_0 with and without a matrix from one contract, judged on another."""
    from quantize.imatrix import collect, load, save
    from quantize.table import text_of

    pdfs = sorted(CUAD_PDFS.glob("*.[pP][dD][fF]"))
    found = collect(tiny_model, tokens_of(tiny_model, text_of(pdfs[1]), 1024), window=256)
    assert found.tokens == 1024 and len(found.sums) == 30 * 7  # 30 layers: q k v o gate up down
    means = found.means()
    assert all(v.shape == (576,) or v.shape == (1536,) for v in means.values())  # input widths
    assert all(np.isfinite(v).all() and (v > 0).all() for v in means.values())
    save(found, tmp_path / "m.npz")
    assert {k: v.tolist() for k, v in load(tmp_path / "m.npz").items()} == {k: v.tolist() for k, v in means.items()}

    with pytest.raises(QuantizeError, match="IQ4_XS needs an importance matrix"):
        quantize(tiny_model, tmp_path / "x.gguf", "IQ4_XS", allow_requantize=True)
    plain = quantize(tiny_model, tmp_path / "plain.gguf", "Q4_0", allow_requantize=True)
    weighted = quantize(tiny_model, tmp_path / "weighted.gguf", "Q4_0", allow_requantize=True, imatrix=means)
    iq4 = quantize(tiny_model, tmp_path / "iq4.gguf", "IQ4_XS", allow_requantize=True, imatrix=means)
    assert file_type(iq4.path) == "IQ4_XS"
    held_out = tokens_of(tiny_model, text_of(pdfs[2]), 1024)
    ref, p, w = evaluate(tiny_model, [plain.path, weighted.path], held_out, 256)
    assert w.kld < p.kld, (w.kld, p.kld)

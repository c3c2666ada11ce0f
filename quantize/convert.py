"""Hugging Face model folder (safetensors + tokenizer) → GGUF, for the llama and qwen2 architectures.

Written with the `gguf` package (its tensor-name maps, vocab and special-token
helpers), following what llama.cpp's own converter does for these two
architectures, so the file loads in llama.cpp exactly as one made there:
llama's query and key weights are permuted from Hugging Face's rotary layout
to llama.cpp's; norms and biases stay F32 whatever the file type; the chat
template and special tokens travel in the tokenizer metadata.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from copilot.core.errors import CopilotError

ARCHITECTURES = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}
OUT_TYPES = ("f32", "f16", "bf16")


class ConvertError(CopilotError):
    """The folder is not a model this converter handles; the message says why."""


@dataclass(frozen=True)
class Converted:
    """What a conversion wrote."""

    path: Path
    arch: str
    out_type: str
    tensors: int
    bytes: int
    seconds: float


def read_config(folder: Path) -> tuple[dict, str]:
    """The model's config.json and its architecture ("llama" or "qwen2")."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConvertError(f"{folder} has no readable config.json: {exc}") from None
    names = config.get("architectures") or []
    for name in names:
        if name in ARCHITECTURES:
            return config, ARCHITECTURES[name]
    supported = ", ".join(sorted(ARCHITECTURES))
    raise ConvertError(f"{folder}: architecture {', '.join(names) or '(none given)'} is not supported; "
                       f"supported: {supported}")


def permute(weights, n_head: int, n_head_kv: int | None):
    """Hugging Face's rotary layout (halves) → llama.cpp's (interleaved pairs), per head."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def hf_tensors(folder: Path) -> Iterator[tuple[str, object]]:
    """(name, float32 numpy array) for every tensor in the folder's safetensors files."""
    import numpy as np
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ConvertError(f"{folder} holds no .safetensors files")
    for file in files:
        with safe_open(file, framework="pt") as f:  # "pt": bf16 has no numpy dtype
            for name in f.keys():
                yield name, f.get_tensor(name).float().numpy().astype(np.float32, copy=False)


def convert(folder: Path, out: Path, out_type: str = "f16",
            progress: Callable[[str], None] | None = None) -> Converted:
    """Write `folder`'s model to `out` as a GGUF of `out_type` (f32, f16 or bf16)."""
    import gguf
    import numpy as np

    if out_type not in OUT_TYPES:
        raise ConvertError(f"output type {out_type!r}: choose one of {', '.join(OUT_TYPES)}")
    started = time.perf_counter()
    config, arch = read_config(folder)
    model_arch = {"llama": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2}[arch]
    n_layer = config["num_hidden_layers"]
    n_head = config["num_attention_heads"]
    n_head_kv = config.get("num_key_value_heads", n_head)
    names = gguf.TensorNameMap(model_arch, n_layer)

    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[model_arch])
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "bf16": gguf.LlamaFileType.MOSTLY_BF16}[out_type]
    _hyperparameters(writer, config, folder, ftype)
    _vocab(writer, folder, arch, config["vocab_size"])

    count = 0
    for name, data in hf_tensors(folder):
        if name.endswith(".rotary_emb.inv_freq"):
            continue  # recomputed by llama.cpp from the rope base
        if arch == "llama" and name.endswith("q_proj.weight"):
            data = permute(data, n_head, n_head)
        elif arch == "llama" and name.endswith("k_proj.weight"):
            data = permute(data, n_head, n_head_kv)
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ConvertError(f"{folder}: tensor {name} has no GGUF name for {arch}")
        data, qtype = _as(data, out_type, gguf, np)
        writer.add_tensor(new, data, raw_dtype=qtype)
        count += 1
        if progress:
            progress(new)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Converted(out, arch, out_type, count, out.stat().st_size, time.perf_counter() - started)


def _as(data, out_type: str, gguf, np):
    """A tensor in the file's type: vectors (norms, biases) stay F32, as llama.cpp expects."""
    if data.ndim == 1 or out_type == "f32":
        return data.astype(np.float32), gguf.GGMLQuantizationType.F32
    if out_type == "f16":
        return data.astype(np.float16), gguf.GGMLQuantizationType.F16
    return gguf.quants.quantize(data, gguf.GGMLQuantizationType.BF16), gguf.GGMLQuantizationType.BF16


def _hyperparameters(writer, config: dict, folder: Path, ftype) -> None:
    n_head = config["num_attention_heads"]
    writer.add_name(folder.name)
    writer.add_context_length(config.get("max_position_embeddings", 2048))
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(config.get("num_key_value_heads", n_head))
    writer.add_layer_norm_rms_eps(config.get("rms_norm_eps", 1e-6))
    writer.add_rope_freq_base(config.get("rope_theta", 10000.0))
    writer.add_rope_dimension_count(config.get("head_dim") or config["hidden_size"] // n_head)
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(ftype)


def _vocab(writer, folder: Path, arch: str, n_vocab: int) -> None:
    """A byte-level BPE vocabulary (tokenizer.json), padded to the model's vocab size."""
    import gguf

    try:
        tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConvertError(f"{folder}: no readable tokenizer.json ({exc}); "
                           "only byte-level BPE tokenizers are supported") from None
    if tok.get("model", {}).get("type") != "BPE":
        raise ConvertError(f"{folder}: tokenizer is {tok.get('model', {}).get('type')}, "
                           "only byte-level BPE tokenizers are supported")
    vocab = dict(tok["model"]["vocab"])
    special = {}
    for added in tok.get("added_tokens", []):
        vocab[added["content"]] = added["id"]
        special[added["id"]] = added.get("special", False)
    by_id = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(n_vocab):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL if i not in special else
                         gguf.TokenType.CONTROL if special[i] else gguf.TokenType.USER_DEFINED)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(tok, arch))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(folder, load_merges=True, n_vocab=n_vocab).add_to_gguf(writer)


def _pre_tokenizer(tok: dict, arch: str) -> str:
    """The name llama.cpp knows the tokenizer's word-splitting rule by."""
    text = json.dumps(tok.get("pre_tokenizer"))
    if arch == "qwen2" and "Split" in text:
        return "qwen2"
    if "Split" not in text:
        return "default"  # the plain byte-level (GPT-2) rule
    if "(?i:'s|'t|'re|'ve|'m|'ll|'d)" in text and "\\\\p{N}{1,3}" in text:
        return "llama-bpe"  # Llama 3's rule
    raise ConvertError("the tokenizer's pre-tokenizer is not one llama.cpp is known to support here "
                       "(byte-level GPT-2, Llama 3 or Qwen2)")

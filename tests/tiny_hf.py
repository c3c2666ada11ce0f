"""Tiny Hugging Face models built on the spot (no hub): a trained BPE tokenizer and random weights."""

from __future__ import annotations

import json
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TEXT = (Path(__file__).resolve().parent.parent / "examples" / "data-retention-policy.md")


def tokenizer(folder: Path, vocab_size: int = 400) -> int:
    """Train a byte-level BPE tokenizer on an example document; save it; return its size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TEXT.read_text(encoding="utf-8").splitlines(), trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "chat_template": CHAT_TEMPLATE, "model_max_length": 256,
    }))
    return tok.get_vocab_size()


def model(folder: Path, arch: str, seed: int = 0, dtype: str = "float32", **shape) -> Path:
    """A 2-layer `arch` ("llama" or "qwen2") model with random weights, saved as safetensors.

    256 wide: llama.cpp's K-quants work in blocks of 256, narrower rows fall back to others.
    `shape` overrides the config (the benchmark builds one as deep and wide as a real model),
    `dtype` the weights' type on disk ("bfloat16", as models are published).
    """
    import torch
    import transformers

    vocab = tokenizer(folder)
    common = dict(vocab_size=vocab, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  rms_norm_eps=1e-5, tie_word_embeddings=False, rope_theta=10000.0)
    common.update(shape)
    torch.manual_seed(seed)
    if arch == "llama":
        net = transformers.LlamaForCausalLM(transformers.LlamaConfig(**common))
    else:
        net = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**common))
    with torch.no_grad():  # random init is tiny; larger weights make quantization error visible
        for p in net.parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.08)
    net.to(getattr(torch, dtype)).save_pretrained(folder, safe_serialization=True)
    return folder


def logits(folder: Path, tokens: list[int]):
    """transformers' logits for `tokens` (float32 numpy, one row per token)."""
    import torch
    import transformers

    net = transformers.AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32)
    with torch.no_grad():
        return net(torch.tensor([tokens])).logits[0].numpy()

"""Models of the default models' exact shapes with random weights, for the GPU machine.

The real GGUFs (491 MB and 1.1 GB) cannot travel to the device machine (64 MiB
a call); speed depends on a model's shape, not on its weights' values, so a
model with the same architecture, layers, heads, KV heads, FFN width and
vocabulary, quantized the same way (Q4_K_M), runs at the same speed.  Its
answers are noise: figures measured with it are speed only, and say so.

  python bench/gpu/shapes.py skeleton REAL.gguf SKELETON.gguf
      (here) every key of REAL, tokenizer and chat template included, and its
      tensors' names and shapes, without a byte of weights: a few MB.
  python bench/gpu/shapes.py build SKELETON.gguf OUT.gguf
      (there) the model again, with random F16 weights (F32 for norms and
      biases), ready for llama-quantize.
"""

from __future__ import annotations

import json
import sys

import numpy as np

TENSORS = "copilot.skeleton.tensors"  # the skeleton's list of [name, ggml shape]


def _copy_keys(reader, writer, skip: set[str]) -> None:
    import gguf

    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key in skip:
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), vtype, sub_type=sub)


def skeleton(real: str, out: str) -> None:
    import gguf

    reader = gguf.GGUFReader(real)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(out, arch)
    _copy_keys(reader, writer, {"general.architecture"})
    writer.add_string(TENSORS, json.dumps([[t.name, [int(n) for n in t.shape]] for t in reader.tensors]))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def build(skeleton_path: str, out: str, seed: int = 0) -> None:
    import gguf

    reader = gguf.GGUFReader(skeleton_path)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(out, arch)
    _copy_keys(reader, writer, {"general.architecture", "general.file_type", TENSORS})
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    rng = np.random.default_rng(seed)
    for name, shape in json.loads(reader.fields[TENSORS].contents()):
        dims = tuple(reversed(shape))  # ggml lists the fastest-varying dimension first
        if len(dims) == 1:  # norms near 1, biases near 0: activations stay finite
            values = np.ones(dims, np.float32) if name.endswith("norm.weight") else np.zeros(dims, np.float32)
        else:
            values = ((rng.random(dims, dtype=np.float32) - 0.5) * 0.04).astype(np.float16)
        writer.add_tensor(name, values)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    {"skeleton": skeleton, "build": build}[sys.argv[1]](*sys.argv[2:4])

"""The GPU path: a CUDA build of llama.cpp offloads every layer, and without a usable GPU the CPU answers.

These run where llama.cpp has a GPU backend and a model is named in
COPILOT_TEST_GPU_MODEL: bench/gpu.sh does both on the device machine (a model of
the default's exact shape, random weights).  Elsewhere, CI included, they are
skipped: the CPU machines have no GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MODEL = os.environ.get("COPILOT_TEST_GPU_MODEL", "")
pytestmark = pytest.mark.skipif(not MODEL, reason="no GPU model named (COPILOT_TEST_GPU_MODEL): a GPU machine's test")

ASK = [{"role": "user", "content": "Which court has jurisdiction over disputes under this agreement?"}]


def test_every_layer_goes_to_the_gpu_and_the_model_answers_from_there() -> None:
    from copilot.llama.generator import LlamaGenerator
    from copilot.llama.runtime import backends, gpus_now
    from copilot.llama.runtime import layers_of

    found = backends()
    assert found.gpu_backend == "CUDA" and found.gpus, found
    layers = layers_of(Path(MODEL))
    used, how = found.gpu_use(99, layers)
    assert used and how.startswith(f"{layers} of {layers} layers on CUDA0 (") and "GiB" in how
    before = gpus_now()[0].free
    generator = LlamaGenerator(Path(MODEL), context_window=2048, gpu_layers=99)
    try:
        taken = before - gpus_now()[0].free
        assert taken > 0.8 * Path(MODEL).stat().st_size  # the weights are in the GPU's memory
        text = "".join(generator.stream(ASK, max_tokens=16))
        assert generator.last_completion_tokens > 0 and isinstance(text, str)
    finally:
        generator.close()


FALLBACK = """
import json, sys
from pathlib import Path
from copilot.llama.generator import LlamaGenerator
from copilot.llama.runtime import backends
from copilot.llama.runtime import layers_of
found = backends()
generator = LlamaGenerator(Path(sys.argv[1]), context_window=1024, gpu_layers=99)
list(generator.stream([{"role": "user", "content": "Hello"}], max_tokens=8))
print(json.dumps({"use": found.gpu_use(99, layers_of(Path(sys.argv[1]))), "tokens": generator.last_completion_tokens}))
"""


def test_with_no_usable_gpu_the_cpu_answers_and_says_so() -> None:
    """The CUDA backend loads but finds no device (as on a machine without the driver or a card)."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run([sys.executable, "-c", FALLBACK, MODEL], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    said = json.loads(run.stdout.strip().splitlines()[-1])
    assert said["tokens"] > 0
    assert said["use"] == [False, "gpu_layers = 99, but this llama.cpp's CUDA backend found no usable GPU or "
                                  "driver: the CPU answers"]


def test_the_importance_matrix_reads_an_offloaded_model() -> None:
    """`copilot quantize --imatrix` collects through the GPU when gpu_layers asks for it."""
    import numpy as np
    from llama_cpp import Llama

    from copilot.llama.runtime import layers_of
    from quantize.imatrix import collect

    vocab = Llama(model_path=MODEL, vocab_only=True, verbose=False)
    tokens = vocab.tokenize(("The parties agree to the terms of this agreement. " * 80).encode())[:512]
    found = collect(Path(MODEL), tokens, window=256, gpu_layers=99)
    assert len(found.sums) >= 7 * layers_of(Path(MODEL))  # q, k, v, o, gate, up, down in every layer
    assert all(np.isfinite(v).all() and (v >= 0).all() for v in found.sums.values())
    assert found.tokens >= 256

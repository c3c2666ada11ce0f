"""llama.cpp's CPU kernels: the portable build runs the best ones this CPU has, and says which."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from copilot.llama.runtime import BUILT_IN, backends


def test_the_kernels_in_use_are_named_and_are_the_best_this_cpu_can_run() -> None:
    used = backends()
    if not used.carried:
        assert used.variant == BUILT_IN and "one CPU" in used.describe()
        pytest.skip("llama.cpp here is built for this CPU alone (LLAMA_BUILD=native): nothing to choose")
    assert {"x64", "haswell", "skylakex", "icelake", "zen4", "alderlake"} <= set(used.carried)
    assert "sapphirerapids" not in used.carried  # its AMX kernels crash where the kernel refuses AMX
    assert used.variant in used.carried and used.variant in used.describe()
    # Each variant scores itself against this CPU (0: cannot run here); the one loaded is the best.
    # Scored in another process: loading every variant here would leave them all mapped.
    script = ("import ctypes, json, llama_cpp._ggml as g, pathlib;"
              "lib = pathlib.Path(g.libggml_base_path);"
              "print(json.dumps({p.name[12:-3]: ctypes.CDLL(str(p)).ggml_backend_score() "
              "for p in lib.glob('libggml-cpu-*.so')}))")
    scores = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                       check=True).stdout)
    assert scores[used.variant] == max(scores.values()) > 0
    assert scores["x64"] > 0  # the baseline runs anywhere


def test_a_model_answers_on_them(tiny_model) -> None:
    from copilot.llama.generator import LlamaGenerator

    generator = LlamaGenerator(tiny_model, context_window=512, threads=1)
    try:
        text = "".join(generator.stream([{"role": "user", "content": "Say hello."}], max_tokens=8))
    finally:
        generator.close()
    assert text.strip() and generator.last_completion_tokens > 0


GREEDY = """
import sys
from copilot.llama.runtime import backends
used = backends(sys.argv[2])
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
print(used.variant, repr(llm.create_completion("The capital of France is", max_tokens=8, temperature=0)["choices"][0]["text"]))
"""


def test_the_kernels_an_avx2_laptop_or_any_x86_64_gets_answer_as_this_cpus_best_do(tiny_model) -> None:
    """haswell: what an AVX2-only CPU (2013 on) runs; x64: the baseline for anything older."""
    if not backends().carried:
        pytest.skip("llama.cpp here is built for this CPU alone (LLAMA_BUILD=native)")
    said = {}
    for variant in ("", "haswell", "x64"):  # "": ggml's choice for this CPU
        run = subprocess.run([sys.executable, "-c", GREEDY, str(tiny_model), variant], capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        loaded, text = run.stdout.strip().split(" ", 1)
        assert loaded == (variant or backends().variant)
        said[loaded] = text
    assert len(set(said.values())) == 1 and "Paris" in next(iter(said.values())), said


def test_doctor_says_whether_the_gpu_takes_the_layers_and_why_not() -> None:
    from copilot.llama.runtime import Backends, Gpu

    h200 = Gpu("CUDA0", "NVIDIA H200", 150_109_880_320, 149_557_477_376)
    cpu_only, cuda_no_driver = Backends("zen4", ("zen4",)), Backends("zen4", ("zen4",), "CUDA")
    with_gpu = Backends("zen4", ("zen4",), "CUDA", (h200,))
    assert cpu_only.gpu_use(0, 28) == (True, "not used (gpu_layers = 0)")
    assert with_gpu.gpu_use(0, 28) == (True, "not used (gpu_layers = 0); CUDA0 (NVIDIA H200, 139.8 GiB, 139.3 free) found")
    assert with_gpu.gpu_use(99, 28) == (True, "28 of 28 layers on CUDA0 (NVIDIA H200, 139.8 GiB, 139.3 free)")
    assert with_gpu.gpu_use(10, 28)[1].startswith("10 of 28 layers")
    assert cpu_only.gpu_use(99, 28) == (False, "gpu_layers = 99, but this llama.cpp has no GPU backend "
                                               "(LLAMA_BUILD=cuda builds one): the CPU answers")
    assert cuda_no_driver.gpu_use(99, 28) == (False, "gpu_layers = 99, but this llama.cpp's CUDA backend found no "
                                                     "usable GPU or driver: the CPU answers")


def test_the_layers_gpu_layers_counts_are_read_from_the_model(tiny_model) -> None:
    from copilot.llama.runtime import layers_of

    assert layers_of(tiny_model) == 30  # SmolLM2-135M

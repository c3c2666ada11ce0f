"""The model servers of `copilot serve`, as this install starts them.

llama.cpp's own `llama-server` is the default: scripts/setup.sh builds it
from the same llama.cpp source as the in-process model, against the same
ggml and CPU kernels, into `<venv>/libexec/llama-server` (bundles carry it,
deploy/copilot-model.service runs it).  It answers on `--parallel` slots at
once (continuous batching), keeps each slot's last prompt cached, and gives
first-token probabilities and logit bias.  llama-cpp-python's server
(`python -m copilot.server.model`) is the fallback: one answer at a time.

The flags that matter are here once, for the tests and benches that start
servers and as the deploy unit writes them: `--ctx-size` is shared by the
slots, so each gets `context` of its own; `--flash-attn off` keeps the
in-process model's attention, so a greedy answer through the server is the
laptop's, token for token (and the confidence calibrated on those answers
holds); `--metrics` gives the prompt tokens it evaluated.
"""

from __future__ import annotations

import sys
from pathlib import Path

LLAMA_SERVER = "llama-server"
LLAMA_CPP_SERVER = "llama_cpp.server"
KINDS = (LLAMA_SERVER, LLAMA_CPP_SERVER)


def llama_server_folder() -> Path | None:
    """The folder holding llama-server, its libraries and the CPU kernels it loads (what
    scripts/setup.sh built into this environment), or None where there is none."""
    folder = Path(sys.prefix) / "libexec" / "llama-server"
    return folder if (folder / "llama-server").is_file() else None


def command(kind: str, model: Path, port: int, slots: int = 1, context: int = 4096,
            threads: int | None = None, gpu_layers: int = 0, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves `model` on `host:port`, `slots` answers at once with
    `context` tokens each (llama_cpp.server has one slot)."""
    if kind == LLAMA_SERVER:
        folder = llama_server_folder()
        if folder is None:
            raise FileNotFoundError(f"no llama-server in {sys.prefix}: run scripts/setup.sh")
        line = [str(folder / "llama-server"), "--model", str(model), "--host", host, "--port", str(port),
                "--parallel", str(slots), "--ctx-size", str(context * slots), "--flash-attn", "off",
                "--n-gpu-layers", str(gpu_layers), "--metrics"]
        return line + (["--threads", str(threads)] if threads else [])
    if kind == LLAMA_CPP_SERVER:
        if slots != 1:
            raise ValueError("llama_cpp.server answers one at a time (slots = 1)")
        line = [sys.executable, "-m", "copilot.server.model", "--model", str(model), "--host", host,
                "--port", str(port), "--interrupt_requests", "False", "--n_ctx", str(context),
                "--n_gpu_layers", str(gpu_layers)]
        return line + (["--n_threads", str(threads)] if threads else [])
    raise ValueError(f"a model server is one of {', '.join(KINDS)}, not {kind!r}")
